"""The citation check of generated answers, driven by a scripted generator.

The tiny model's tokenizer still builds and budgets the prompt; only the generation step is
replaced with fixed text, so each case of the check is deterministic.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rag.chatbot import Chatbot
from rag.generate.lm import GeneratorError
from rag.generate.prompt import INSTRUCTIONS, MIN_PASSAGE_TOKENS, fit_prompt
from rag.records import UNCERTAIN_LEAD, Passage
from rag.verify.citations import is_refusal, parse_generated

from .tiny_lm import build_tiny_lm, train_tokenizer

AROURI = "Who led the Hamas delegation that met Khamenei?"
PAID = "How much did Iran pay to the families of those killed in the Gaza protests?"


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("tiny-lm") / "chat", train_tokenizer())


def scripted(bot: Chatbot, lm_dir: Path, text: str | list[str], **config) -> Chatbot:
    """A transformers bot whose model "writes" ``text`` (pieces, as a streamer yields them)."""
    cfg = replace(bot.config, answerer="transformers", generator_model=str(lm_dir), **config)
    gbot = Chatbot(bot.store, bot.embedder, cfg, bot.corpus_dir, bot.build_report, bot.index_dir)
    pieces = [text] if isinstance(text, str) else text
    gbot.answerer.generate = lambda prompt: iter(pieces)
    return gbot


def said(answer) -> str:
    """The answer's text without the lead-in that marks an uncertain answer (what the model
    wrote, as checked; whether the answer is uncertain is the selector's, tested apart)."""
    return answer.text.removeprefix(UNCERTAIN_LEAD + " ")


def number_of(bot: Chatbot, question: str, needle: str) -> int:
    """The [n] of the first retrieved passage containing ``needle``, as numbered in the prompt."""
    prompt = bot.answerer.prompt_for(question, bot.retriever.retrieve(question))
    return next(i for i, p in enumerate(prompt.passages, start=1) if needle in p.text)


# -- parsing ---------------------------------------------------------------------------------------
def test_markers_are_read_wherever_the_model_puts_them():
    parsed = parse_generated("Hamas met Iran [1]. Haniyeh stayed in Gaza.[2, 3] He said no. [4] Then he left")
    assert [(s.text, s.markers) for s in parsed] == [
        ("Hamas met Iran.", [1]), ("Haniyeh stayed in Gaza.", [2, 3]), ("He said no.", [4]), ("Then he left", [])]
    assert [s.complete for s in parsed] == [True, True, True, False]
    assert parse_generated("") == [] and parse_generated("[1][2]") == []


def test_refusals_are_recognised_in_their_usual_wordings():
    assert is_refusal("The articles don't say.") and is_refusal("The passages do not mention it.")
    assert is_refusal("The articles don\u2019t say that.") and not is_refusal("The article says Iran paid.")


# -- budgeting maths, with one token per word --------------------------------------------------------
class WordModel:
    """Renders system and user text one after the other; every word is one token."""

    context_size = 400

    def render(self, system: str, user: str) -> str:
        return f"{system}\n{user}"

    def encode(self, prompt: str) -> list[int]:
        return list(range(len(prompt.split())))

    def truncate(self, text: str, max_tokens: int) -> str:
        return " ".join(text.split()[:max_tokens])


def _passage(i: int, words: int) -> Passage:
    return Passage(f"c{i}", f"d{i}.txt", f"T{i}", None, " ".join(["w"] * words), 0, 1, 1.0 / i)


def test_the_lowest_ranked_passage_is_cut_or_dropped_first():
    model = WordModel()
    # Instructions, "Passages:", "Question: who?"; each passage adds "[n]" and its words.
    fixed = len(INSTRUCTIONS.split()) + 1 + 2
    first, long = _passage(1, 30), _passage(2, 1000)
    budget = model.context_size - 20
    prompt = fit_prompt(model, "who?", [first, long], 20)
    assert prompt.cut and prompt.passages == [first, long]
    assert len(prompt.ids) == budget  # the cut passage takes exactly the room left
    assert prompt.text.split().count("w") == budget - fixed - 2
    # Room for fewer than MIN_PASSAGE_TOKENS of the second passage: it is dropped, not cut.
    max_new = model.context_size - (fixed + 31 + 1 + MIN_PASSAGE_TOKENS - 1)
    prompt = fit_prompt(model, "who?", [first, long], max_new)
    assert not prompt.cut and prompt.passages == [first] and len(prompt.ids) == fixed + 31
    # The best passage alone too long: it is cut.
    prompt = fit_prompt(model, "who?", [long, first], 20)
    assert prompt.cut and prompt.passages == [long] and len(prompt.ids) == budget
    with pytest.raises(GeneratorError, match="cannot hold"):
        fit_prompt(model, "who?", [long], model.context_size - fixed - 1 - MIN_PASSAGE_TOKENS + 1)


# -- the four cases of the check ------------------------------------------------------------------------
def test_out_of_range_markers_are_removed(bot, lm_dir):
    probe = scripted(bot, lm_dir, "")
    n = number_of(probe, AROURI, "Saleh al-Arouri")
    text = f"The visiting Palestinian terror group was led by Saleh al-Arouri, who is Hamas Deputy Chief [{n}][99]."
    answer = scripted(bot, lm_dir, text).ask(AROURI)
    (record,) = answer.verification
    assert record["action"] == "marker_removed" and record["markers_before"] == [n, 99]
    assert record["markers_after"] == [1] and "[99] name no passage" in record["reason"]
    assert said(answer) == text.replace(f" [{n}][99].", ". [1]")
    assert "Saleh al-Arouri" in answer.citations[0].quote and not answer.refused


@pytest.mark.parametrize("policy", ["drop", "flag"])
def test_an_unsupported_sentence_with_a_changed_figure_is_dropped_or_flagged(bot, lm_dir, policy):
    n = number_of(scripted(bot, lm_dir, ""), PAID, "651,000")
    right = "It also paid $651,000 to the families of those killed in the Gaza protests"
    text = [f"{right} [{n}]. ", f"It also paid $615,000 to the families of those killed in the Gaza protests [{n}]."]
    answer = scripted(bot, lm_dir, text, unsupported_policy=policy, generator_answer_sentences=2).ask(PAID)
    kept, changed = answer.verification
    assert kept["action"] == "kept" and kept["supported"] is True
    assert changed["supported"] is False and "615,000" in changed["reason"]
    if policy == "drop":
        assert changed["action"] == "dropped" and changed["markers_after"] == []
        assert said(answer) == f"{right}. [1]"
    else:
        assert changed["action"] == "flagged" and changed["markers_after"] == [1]
        assert "$615,000" in answer.text and answer.text.count("[1]") == 2


def test_an_uncited_sentence_gets_the_passage_that_supports_it(bot, lm_dir):
    n = number_of(scripted(bot, lm_dir, ""), AROURI, "Saleh al-Arouri")
    text = "The visiting Palestinian terror group was led by Saleh al-Arouri."
    answer = scripted(bot, lm_dir, text).ask(AROURI)
    (record,) = answer.verification
    assert record["action"] == "cited_added" and record["markers_before"] == [] and record["markers_after"] == [1]
    assert f"[{n}]" in record["reason"] or record["reason"].startswith("uncited; passage")
    assert said(answer) == text + " [1]" and answer.citations[0].quote.startswith(text[:-1])


def test_an_answer_with_no_supported_sentence_falls_back_to_extractive_or_refuses(bot, lm_dir):
    text = "Hamas fired 500 rockets at Tel Aviv [1]. The talks took place on the moon [2]. Nobody came"
    answer = scripted(bot, lm_dir, text).ask(AROURI)
    assert [r["action"] for r in answer.verification] == ["dropped", "dropped", "dropped", "fallback"]
    extractive = bot.ask(AROURI)
    assert answer.text == extractive.text and answer.citations == extractive.citations
    refused = scripted(bot, lm_dir, text, generator_fallback="refuse").ask(AROURI)
    assert refused.refused and refused.text == "The articles don't say." and not refused.citations
    assert refused.verification[-1]["action"] == "refused"


def test_flagged_sentences_alone_do_not_make_an_answer(bot, lm_dir):
    answer = scripted(bot, lm_dir, "Hamas fired 500 rockets at Tel Aviv [1].", unsupported_policy="flag").ask(AROURI)
    assert [r["action"] for r in answer.verification] == ["dropped", "fallback"]
    assert answer.text == bot.ask(AROURI).text


def test_refusals_are_the_selectors_and_the_extractive_contract_is_unchanged(bot, lm_dir):
    # The selector refuses before anything is generated ...
    answer = scripted(bot, lm_dir, "Hamas fired 500 rockets [1].").ask("How many rockets did Hamas fire in 2019?")
    assert answer.refused and [r["action"] for r in answer.verification] == ["selector"]
    # ... and a small model's refusal of a question the selector answers gives the extractive answer.
    answer = scripted(bot, lm_dir, "The article does not provide the answer to the question.").ask(AROURI)
    assert [r["action"] for r in answer.verification] == ["refused", "fallback"]
    assert answer.text == bot.ask(AROURI).text
    extractive = bot.ask(AROURI).to_json()
    assert set(extractive) == {"id", "question", "answer", "refused", "status", "short_answer", "citations",
                               "conflicts", "confidence", "timings_ms"}


# -- what SmolLM2-135M-Instruct writes (its outputs on the seed questions, kept verbatim) -----------------
def test_lead_ins_list_numbers_and_other_marker_forms_are_read_as_plain_cited_sentences():
    parsed = parse_generated("1. The answer is: Arouri led it [Passage 1].\n2. He met Khamenei (2).\n"
                             "- Iran paid $651,000 [^3] and more 【4】.\n"
                             "The article states that Iran donated money [1, 2].")
    assert [(s.text, s.markers, s.complete) for s in parsed] == [
        ("Arouri led it.", [1], True), ("He met Khamenei.", [2], True),
        ("Iran paid $651,000 and more.", [3, 4], True), ("Iran donated money.", [1, 2], True)]
    # A year in brackets is not a marker.
    assert parse_generated("The war began (2011) in Syria.")[0].markers == []
    # The real model's own lead-in (SmolLM2 on ONNX Runtime, seed test split).
    assert parse_generated("The answer to this question is: The group was led by Arouri. [1]")[0].text == (
        "The group was led by Arouri.")


def test_unfinished_sentences_are_unfinished_wherever_they_stand():
    parsed = parse_generated("The members of the delegation were: [1] Iran paid $651,000 to the families [2].")
    assert [(s.text, s.complete) for s in parsed] == [
        ("The members of the delegation were:", False), ("Iran paid $651,000 to the families.", True)]


def test_singular_refusals_are_refusals():
    for text in ("The article does not provide the answer to the question.", "The passage doesn't say.",
                 "This is not mentioned in the passages.", "There is no information about the population."):
        assert is_refusal(text), text
    assert not is_refusal("Egypt did not allow him to leave Gaza.")


def test_a_sentence_that_restates_the_question_is_dropped(bot, lm_dir):
    question = "Who met Saleh Al-Arouri?"
    text = "The person who met Saleh Al-Arouri is Saleh Al-Arouri. [1]"
    answer = scripted(bot, lm_dir, text).ask(question)
    assert answer.verification[0]["action"] == "dropped"
    assert answer.verification[0]["reason"] == "says nothing beyond the question"
    assert answer.verification[-1]["action"] == "fallback" and "Saleh Al-Arouri is Saleh" not in answer.text


def test_a_true_sentence_with_the_wrong_marker_is_cited_to_its_passage(bot, lm_dir):
    probe = scripted(bot, lm_dir, "")
    prompt = probe.answerer.prompt_for(AROURI, probe.retriever.retrieve(AROURI))
    assert len(prompt.passages) == 2
    right = number_of(probe, AROURI, "Saleh al-Arouri")
    wrong = 3 - right
    text = f"The visiting Palestinian terror group was led by Saleh al-Arouri [{wrong}]."
    answer = scripted(bot, lm_dir, text).ask(AROURI)
    (record,) = answer.verification
    assert record["action"] == "recited" and record["markers_before"] == [wrong] and record["supported"] is True
    assert "Saleh al-Arouri" in answer.citations[0].quote


def test_only_checked_sentences_stream_and_generation_stops_after_enough_of_them(bot, lm_dir):
    good = "The visiting Palestinian terror group was led by Saleh al-Arouri."
    pieces = ["Saleh Al-Arouli met ", "Hamas on the moon. ", good[:30], good[30:] + " ", "It met Khamenei. ",
              "A third sentence. ", "Never reached. "]
    gbot = scripted(bot, lm_dir, pieces)  # one sentence is asked for
    steps = list(gbot.stream(AROURI))
    partial, final = steps[:-1], steps[-1]
    assert [a.text for a in partial] == [good]  # the hallucination was never shown
    assert final.complete and said(final) == good + " [1]"
    assert [r["action"] for r in final.verification] == ["dropped", "cited_added"]


def test_a_typed_answer_naming_another_than_the_selector_chose_is_dropped(bot, lm_dir):
    from rag.verify.citations import CitationVerifier
    from rag.verify.support import LexicalChecker

    passage = Passage("c1", "a.txt", "T", None, "Maria Lund and Saleh al-Arouri led the delegation.", 0, 1, 1.0)
    verifier = CitationVerifier(bot.store, LexicalChecker())
    draft = verifier.verify("Maria Lund led the delegation [1].", [passage], "Who led the delegation?",
                            expected=["Saleh al-Arouri"])
    (record,) = draft.verification
    assert not draft.sentences and record["action"] == "dropped" and record["supported"] is True
    assert record["reason"] == "gives another person than the selected passages"
    # The selector quotes the Arouri sentence: the model may rephrase that answer.
    same = "Saleh al-Arouri led the visiting Palestinian terror group [1]."
    assert scripted(bot, lm_dir, same).ask(AROURI).verification[0]["action"] == "kept"


def test_a_true_sentence_that_is_not_the_selectors_best_does_not_answer(bot):
    from rag.answer.draft import Support
    from rag.verify.citations import CitationVerifier
    from rag.verify.support import LexicalChecker

    chunk = next(c for c in bot.store.iter_chunks() if c.last_sentence - c.first_sentence >= 2)
    doc = bot.store.docs[chunk.doc_id]
    best, other = doc.sentence(chunk.first_sentence), doc.sentence(chunk.first_sentence + 1)
    passage = Passage(chunk.chunk_id, doc.doc_id, doc.title, None, f"{best} {other}", 0, 1, 1.0)
    anchor = Support(chunk.chunk_id, doc.doc_id, *doc.sentences[chunk.first_sentence])
    verifier = CitationVerifier(bot.store, LexicalChecker())
    draft = verifier.verify(f"{other} [1]", [passage], anchor=anchor)
    (record,) = draft.verification
    assert not draft.sentences and record["action"] == "dropped" and record["supported"] is True
    assert record["reason"] == "restates another sentence than the selector's best"
    # The selector's best sentence, then one more that adds to it: both stand.
    draft = verifier.verify(f"{best} [1] {other} [1]", [passage], anchor=anchor)
    assert [r["action"] for r in draft.verification] == ["kept", "kept"] and len(draft.sentences) == 2


def test_a_rephrasing_that_leaves_out_what_the_best_sentence_adds_is_dropped(bot):
    from rag.answer.draft import Support
    from rag.verify.citations import KEEP_SHARE, CitationVerifier, kept_share
    from rag.verify.support import LexicalChecker

    question = "What happened to the ground water level?"
    best = "The rate of flow was increased and the ground water level fell significantly."
    assert kept_share("The ground water level fell significantly as the rate of flow increased.", best, question) == 1
    lost = "The passage describes the ground water level and the rate of flow."
    assert kept_share(lost, best, question) < KEEP_SHARE
    assert kept_share("Anything at all.", "The ground water level.", question) == 1.0  # nothing beyond the question
    doc = bot.store.docs["000_510b0e118f588ad4.txt"]
    chunk = next(c for c in bot.store.iter_chunks() if c.doc_id == doc.doc_id and c.first_sentence == 0)
    anchor = Support(chunk.chunk_id, doc.doc_id, *doc.sentences[0])
    text = doc.sentence(0)
    assert "Al-Akhbar newspaper reports that Hamas wants to strengthen its relationship" in text
    passage = Passage(chunk.chunk_id, doc.doc_id, doc.title, None, text, 0, 1, 1.0)
    verifier = CitationVerifier(bot.store, LexicalChecker())
    short = "Lebanon's Al-Akhbar newspaper reports on Hamas."  # true to the passage, but the rest is gone
    assert verifier.checker.check(short, text).supported
    asked = "What does the Lebanese paper report about Hamas?"
    (record,) = verifier.verify(f"{short} [1]", [passage], asked, anchor=anchor).verification
    assert record["action"] == "dropped" and record["reason"].startswith("keeps ")
    (record,) = verifier.verify(f"{text} [1]", [passage], asked, anchor=anchor).verification
    assert record["action"] == "kept"
