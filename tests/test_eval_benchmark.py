"""The benchmark end to end (real model, real FAISS) and the regression gate."""

import json

import pytest

from eval.gate import BASELINE, GATED, regressions
from rag.cli import main

from .conftest import CORPUS

pytestmark = pytest.mark.integration
SUMMARY = ("fact_recall", "token_f1", "on_topic", "faithfulness", "citation_precision", "faithfulness_checker",
           "citation_precision_checker", "citation_recall_checker", "refusal_recall", "false_refusal_rate",
           "conflicts_shown", "conflicts_on_agreeing", "generated_dropped", "generated_fallbacks", "generated_kept",
           "recall_at_5", "mrr",
           "latency_p50_ms", "latency_p95_ms")


@pytest.fixture(scope="module")
def report(tmp_path_factory, embedder):
    out = tmp_path_factory.mktemp("eval")
    index_dir = tmp_path_factory.mktemp("eval-index")
    # The public CLI, as `make eval` runs it, on the test split.
    assert main(["eval", "--out", str(out), "--corpus", str(CORPUS), "--index-dir", str(index_dir)]) == 0
    return out


def test_rag_eval_writes_the_three_reports_with_every_key(report):
    data = json.loads((report / "report.json").read_text())
    figures = data["answerers"]["extractive"]
    for key in SUMMARY:
        assert key in figures
    assert figures["errors"] == 0 and data["questions"] >= 50
    assert set(data["checker_meta"]["detection"]) == {
        "entity_swap", "number_change", "negation", "appended_clause", "wrong_citation", "citation_removed"}
    assert 0 <= data["checker_meta"]["false_positive_rate"] <= 1
    md = (report / "report.md").read_text()
    assert "by question type" in md and "the 10 worst items" in md
    # Each judged column says who judged it, and the generated-answer repairs are in the table.
    assert "`faithfulness` by gold evidence" in md and "| generated_fallbacks |" in md
    for png in ("report.png", "refusal.png"):
        assert (report / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_default_answerer_keeps_the_recorded_figures(report):
    """The regression gate: a change that makes answers worse fails here."""
    data = json.loads((report / "report.json").read_text())
    assert set(GATED) <= set(json.loads(BASELINE.read_text()))
    assert regressions(data) == []


def test_the_benchmark_is_deterministic(report, tmp_path):
    assert main(["eval", "--out", str(tmp_path), "--corpus", str(CORPUS),
                 "--index-dir", str(report.parent / "again")]) == 0
    first = json.loads((report / "report.json").read_text())["answerers"]["extractive"]
    second = json.loads((tmp_path / "report.json").read_text())["answerers"]["extractive"]
    for key in SUMMARY:
        if not key.startswith("latency"):
            assert first[key] == second[key], key
