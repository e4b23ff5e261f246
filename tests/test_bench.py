import json

import numpy as np
import pytest

from rag.bench import load_questions, percentile
from rag.cli import main


def test_percentile_matches_numpy():
    values = [12.0, 3.0, 7.5, 100.0, 1.0, 9.0]
    for q in (0, 50, 95, 100):
        assert percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_bench_has_at_least_fifty_distinct_questions():
    questions = load_questions()
    assert len(questions) >= 50 and len(set(questions)) == len(questions)


@pytest.mark.integration
def test_bench_json_last_line_has_the_figures(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["bench", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("cold_start_s", "build_s", "warm_p50_ms", "warm_p95_ms", "embed_chunks_per_s", "peak_rss_mb"):
        assert figures[key] > 0
    assert figures["questions"] >= 50
    assert figures["warm_p50_ms"] <= figures["warm_p95_ms"]
