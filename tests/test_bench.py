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


@pytest.mark.integration
def test_scale_bench_indexes_a_synthetic_archive_through_the_project_code(tmp_path, monkeypatch, capsys, caplog):
    from rag.bench_scale import _PASSAGES_PER_DOC

    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["bench", "--scale", "64", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["synthetic_vectors"] is True and figures["documents"] == round(64 / _PASSAGES_PER_DOC)
    assert 32 <= figures["passages"] <= 128
    # Made of cleaned sentences, no synthetic article is page furniture the cleaner drops.
    assert "skipped" not in caplog.text
    for key in ("build_s", "build_rate_per_s", "disk_mb", "rss_mb", "open_s", "p50_ms", "p95_ms",
                "add_one_article_s", "vector_search_p50_ms", "vector_search_p95_ms"):
        assert figures[key] > 0
    assert figures["recall_at_10"] == 1.0 and figures["vector_index"] == "Flat"  # exact below the ANN threshold
    assert figures["p50_ms"] <= figures["p95_ms"]
    # One month of the four years the synthetic reports span: every answer kept to it.
    assert figures["period_answers_inside"] == 1.0 and 0 < figures["period_p50_ms"] <= figures["period_p95_ms"]


def test_synthetic_documents_vary_names_and_figures(tmp_path):
    from rag.bench_scale import SyntheticEmbedder, write_corpus

    source = ["Minister Alvarez said on Monday that 42 schools in Porto would reopen next week."] * 3
    assert write_corpus(source, 68, tmp_path) == 3  # 22.7 passages an article
    texts = [p.read_text(encoding="utf-8") for p in sorted(tmp_path.iterdir())]
    assert len(set(texts)) == 3
    assert " ".join(texts).count("42 schools") <= 3  # of 123 sentences: the figures are drawn anew
    assert " ".join(texts).count("Alvarez said") == 0  # and the names are swapped
    vectors = SyntheticEmbedder().encode_documents(["a b c", "a b c", "d e f"])
    assert np.allclose(vectors[0], vectors[1]) and abs(float(vectors[0] @ vectors[2])) < 0.99
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
