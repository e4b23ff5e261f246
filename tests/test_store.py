"""Index building, reuse, incremental updates, killed builds and damaged indexes (fake embedder)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from index import IndexConfig, IndexCorruptError, IndexMismatchError, open_index, verify_index
from index import builder as builder_module
from index.builder import _folder
from index.storage import db as db_module
from index.storage import vectors as vectors_module

PROJECT = Path(__file__).resolve().parent.parent


def _open(corpus: Path, index_dir: Path, embedder, **kw):
    return open_index(corpus, index_dir, IndexConfig(max_tokens=64), embedder, **kw)


def _db(index_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(_folder(index_dir) / db_module.DB_NAME)


def _write_docs(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"{i:03d}.txt").write_text(f"Report {i}\n\nMilitants fired {i + 2} rockets on day {i}. "
                                             f"The mayor number {i} asked for calm.\n", encoding="utf-8")


def test_build_records_model_chunking_and_counts_and_finds_passages(small_corpus, tmp_path, fake_embedder):
    store, report = _open(small_corpus, tmp_path / "idx", fake_embedder)
    assert not report.reused and sorted(report.embedded) == ["a.txt", "b.md", "world/c.html"]
    meta = store.manifest
    assert meta["format_version"] == db_module.FORMAT_VERSION
    assert meta["model"] == {"name": "fake-embedder", "weights_sha256": "f" * 64, "dimension": 32}
    assert meta["chunking"] == {"max_tokens": 64, "overlap_sentences": 1}
    chunks = list(store.iter_chunks())
    assert meta["counts"]["documents"] == 3 and meta["counts"]["chunks"] == len(chunks) == store.vectors.ntotal
    assert sorted(store.docs) == ["a.txt", "b.md", "world/c.html"]
    # Every passage is found again by its own vector and by its own words.
    for chunk in chunks:
        row = store.row_of(chunk.chunk_id)
        vector = store.chunk_vectors([row])[0]
        assert vector.dtype == np.float32 and store.search(vector, 1) == [row]
        assert row in store.bm25(store.passage_terms(row), 10)
    assert verify_index(tmp_path / "idx") == []


def test_unchanged_corpus_reuses_the_index_without_embedding(small_corpus, tmp_path, fake_embedder):
    _open(small_corpus, tmp_path / "idx", fake_embedder)
    fake_embedder.encoded.clear()
    store, report = _open(small_corpus, tmp_path / "idx", fake_embedder)
    assert report.reused and fake_embedder.encoded == []
    assert len(store) == report.chunks


def test_changed_corpus_re_embeds_only_new_or_changed_files(small_corpus, tmp_path, fake_embedder):
    first, _ = _open(small_corpus, tmp_path / "idx", fake_embedder)
    kept_ids = {c.chunk_id for c in first.iter_chunks() if c.doc_id == "world/c.html"}
    (small_corpus / "a.txt").write_text("Rocket attack\n\nA new first sentence. And another one.\n", encoding="utf-8")
    (small_corpus / "d.txt").write_text("Fresh news\n\nSomething else happened today.\n", encoding="utf-8")
    (small_corpus / "b.md").unlink()
    fake_embedder.encoded.clear()
    store, report = _open(small_corpus, tmp_path / "idx", fake_embedder)
    assert sorted(report.embedded) == ["a.txt", "d.txt"]
    assert report.kept == ["world/c.html"] and report.removed == ["b.md"]
    assert not any("fund pledged" in t for t in fake_embedder.encoded)
    assert kept_ids <= {c.chunk_id for c in store.iter_chunks()}  # citations to it survive the update
    assert "b.md" not in store.docs and "Cairo" not in " ".join(c.text for c in store.iter_chunks())
    # The removed article's words are gone from the vocabulary, the new ones are in it.
    assert store.has_words(["cairo", "fresh"]) == {"fresh"}
    assert verify_index(tmp_path / "idx") == []


def test_a_store_updated_in_place_reads_the_new_rows_of_a_changed_document(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sentence = " ".join(["word"] * 23)
    (corpus / "a.txt").write_text(f"Long\n\nOne {sentence}. Two {sentence}. Three {sentence}.\n")
    store, _ = _open(corpus, tmp_path / "idx", fake_embedder)
    before = {c.chunk_id: store.row_of(c.chunk_id) for c in store.iter_chunks()}  # remembered rows
    (corpus / "a.txt").write_text(f"Long\n\nOne {sentence}. Two {sentence}. Three {sentence}. Four {sentence}.\n")
    store, report = _open(corpus, tmp_path / "idx", fake_embedder)
    kept = [c for c in before if c in {x.chunk_id for x in store.iter_chunks()}]
    assert report.embedded == ["a.txt"] and kept  # unchanged passages keep their ids ...
    for chunk_id in kept:  # ... under new rows, which the updated store reads
        assert store.row_of(chunk_id) != before[chunk_id] and store.chunk(chunk_id).doc_id == "a.txt"


def test_a_touched_but_unchanged_file_is_not_embedded_again(small_corpus, tmp_path, fake_embedder):
    _open(small_corpus, tmp_path / "idx", fake_embedder)
    os.utime(small_corpus / "a.txt", ns=(1, 1))
    fake_embedder.encoded.clear()
    _, report = _open(small_corpus, tmp_path / "idx", fake_embedder)
    assert fake_embedder.encoded == [] and report.embedded == []
    _, again = _open(small_corpus, tmp_path / "idx", fake_embedder)
    assert again.reused  # the new modification time was recorded


def test_a_skipped_bad_file_does_not_force_rebuilds(small_corpus, tmp_path, fake_embedder):
    (small_corpus / "bad.txt").write_bytes(b"\xff\xfe\x00\x00")
    _, first = _open(small_corpus, tmp_path / "idx", fake_embedder)
    assert first.skipped == ["bad.txt"]
    _, second = _open(small_corpus, tmp_path / "idx", fake_embedder)
    assert second.reused and second.skipped == ["bad.txt"]


def test_without_update_an_index_opens_without_looking_at_the_corpus(small_corpus, tmp_path, fake_embedder):
    _open(small_corpus, tmp_path / "idx", fake_embedder)
    (small_corpus / "d.txt").write_text("Fresh news\n\nSomething else happened today.\n", encoding="utf-8")
    store, report = _open(small_corpus, tmp_path / "idx", fake_embedder, update=False)
    assert report.reused and "d.txt" not in store.docs


_KILLED_BUILD = """
import sys, time
from pathlib import Path
from index import IndexConfig, builder, open_index
from tests.conftest import FakeEmbedder

class Slow(FakeEmbedder):
    calls = 0
    def encode_documents(self, texts, progress=False):
        Slow.calls += 1
        if Slow.calls == 2 * int(sys.argv[3]) + 1:  # passages and sentences of N batches written
            Path(sys.argv[4]).write_text("ready")
            time.sleep(600)  # killed here, in the middle of the next batch
        return super().encode_documents(texts, progress)

builder.BATCH_DOCUMENTS = 2
open_index(Path(sys.argv[1]), Path(sys.argv[2]), IndexConfig(max_tokens=64, store=sys.argv[6]), Slow(),
           rebuild=sys.argv[5] == "1")
"""


def _kill_build_after(corpus: Path, index_dir: Path, batches: int, marker: Path, rebuild: bool = False,
                      store: str = "faiss") -> None:
    """Run a build in another process and SIGKILL it once ``batches`` batches are committed."""
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_BUILD, str(corpus), str(index_dir), str(batches),
                             str(marker), "1" if rebuild else "0", store], cwd=PROJECT)
    try:
        while not marker.exists():
            assert proc.poll() is None, "the build ended before it could be killed"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_killed_build_keeps_what_it_committed_and_resumes_where_it_stopped(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    _write_docs(corpus, 9)
    _kill_build_after(corpus, tmp_path / "idx", 2, tmp_path / "marker")
    # A first build is made live when complete: killed, it left none, and its work is resumed.
    assert not (tmp_path / "idx" / "CURRENT").exists()
    store, report = _open(corpus, tmp_path / "idx", fake_embedder)
    assert sorted(report.embedded) == [f"{i:03d}.txt" for i in range(4, 9)]  # 4 were committed
    assert len(store.docs) == 9 and verify_index(tmp_path / "idx") == []

    # An update killed half-way leaves a usable index holding the batches it committed.
    _write_docs(tmp_path / "more", 0)
    for i in range(9, 15):
        (corpus / f"{i:03d}.txt").write_text(f"Later {i}\n\nIt changed on day {i}.\n", encoding="utf-8")
    _kill_build_after(corpus, tmp_path / "idx", 1, tmp_path / "marker2")
    partial, _ = _open(corpus, tmp_path / "idx", fake_embedder, update=False)
    assert len(partial.docs) == 11 and verify_index(tmp_path / "idx") == []
    assert partial.search(fake_embedder.encode_queries(["It changed on day 10."])[0], 1)
    fake_embedder.encoded.clear()
    store, report = _open(corpus, tmp_path / "idx", fake_embedder)
    assert sorted(report.embedded) == [f"{i:03d}.txt" for i in range(11, 15)]
    assert len(store.docs) == 15 and verify_index(tmp_path / "idx") == []


def test_a_killed_rebuild_leaves_the_previous_index_live_and_resumes(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    _write_docs(corpus, 7)
    before, _ = _open(corpus, tmp_path / "idx", fake_embedder)
    ids = sorted(c.chunk_id for c in before.iter_chunks())
    _kill_build_after(corpus, tmp_path / "idx", 1, tmp_path / "marker", rebuild=True)
    live, report = _open(corpus, tmp_path / "idx", fake_embedder, update=False)
    assert sorted(c.chunk_id for c in live.iter_chunks()) == ids  # the old one, whole
    _, report = _open(corpus, tmp_path / "idx", fake_embedder, rebuild=True)
    assert len(report.embedded) == 5 and len(report.kept) == 2  # resumed, not started over
    assert len([p for p in (tmp_path / "idx").iterdir() if p.is_dir()]) == 1  # the old folder is gone


def test_a_vector_file_write_killed_leaves_the_previous_one_live(small_corpus, tmp_path, fake_embedder, monkeypatch):
    index_dir = tmp_path / "idx"
    _open(small_corpus, index_dir, fake_embedder)
    (small_corpus / "d.txt").write_text("Later news\n\nIt changed.\n", encoding="utf-8")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies while writing

    monkeypatch.setattr("faiss.write_index", crash)
    with pytest.raises(KeyboardInterrupt):
        _open(small_corpus, index_dir, fake_embedder)
    monkeypatch.undo()
    store, _ = _open(small_corpus, index_dir, fake_embedder, update=False)
    assert "d.txt" in store.docs  # its rows were committed; its vector is searched from memory
    row = store.row_of(next(c.chunk_id for c in store.iter_chunks() if c.doc_id == "d.txt"))
    assert store.search(store.chunk_vectors([row])[0], 1) == [row]
    assert not [p for p in _folder(index_dir).iterdir() if p.name.startswith(".vectors-")]


def test_adding_to_a_large_index_leaves_its_vector_file_alone(tmp_path, fake_embedder, monkeypatch):
    corpus = tmp_path / "corpus"
    _write_docs(corpus, 12)
    monkeypatch.setattr(vectors_module, "MERGE_MIN_ROWS", 4)
    store, _ = _open(corpus, tmp_path / "idx", fake_embedder)
    file = store.vectors.main_file
    (corpus / "new.txt").write_text("Brand new\n\nA ceasefire was agreed at noon.\n", encoding="utf-8")
    (corpus / "000.txt").unlink()
    store, report = _open(corpus, tmp_path / "idx", fake_embedder)
    assert report.embedded == ["new.txt"] and store.vectors.main_file == file  # not rewritten
    new = store.row_of(next(c.chunk_id for c in store.iter_chunks() if c.doc_id == "new.txt"))
    assert store.search(fake_embedder.encode_queries(["A ceasefire was agreed at noon."])[0], 1) == [new]
    hits = store.search(fake_embedder.encode_queries(["Militants fired 2 rockets on day 0."])[0], 20)
    assert all(store.chunk_at(r).doc_id != "000.txt" for r in hits) and len(hits) == len(store)
    assert verify_index(tmp_path / "idx") == []


def test_corrupt_database_gives_a_clear_error_with_the_fix(small_corpus, tmp_path, fake_embedder):
    _open(small_corpus, tmp_path / "idx", fake_embedder)
    (_folder(tmp_path / "idx") / db_module.DB_NAME).write_bytes(b"garbage" * 100)
    with pytest.raises(IndexCorruptError, match="rag index --rebuild"):
        _open(small_corpus, tmp_path / "idx", fake_embedder)
    _, report = _open(small_corpus, tmp_path / "idx", fake_embedder, rebuild=True)  # --rebuild repairs it
    assert not report.reused


def test_corrupt_vector_file_gives_a_clear_error(small_corpus, tmp_path, fake_embedder):
    store, _ = _open(small_corpus, tmp_path / "idx", fake_embedder)
    (store.path / store.vectors.main_file).write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError, match=r"vectors unreadable.*rag index --rebuild"):
        _open(small_corpus, tmp_path / "idx", fake_embedder)


def test_verify_reports_what_does_not_add_up(small_corpus, tmp_path, fake_embedder):
    _open(small_corpus, tmp_path / "idx", fake_embedder)
    with _db(tmp_path / "idx") as con:
        con.execute("DELETE FROM sentences WHERE idx = 0")
    problems = verify_index(tmp_path / "idx")
    assert any("sentence vectors" in p for p in problems)


def test_index_from_another_model_gives_a_clear_error(small_corpus, tmp_path, fake_embedder):
    _open(small_corpus, tmp_path / "idx", fake_embedder)

    class Other(type(fake_embedder)):
        name = "other-model"
        weights_hash = "0" * 64

    with pytest.raises(IndexMismatchError, match=r"built with model fake-embedder.*Rebuild it: rag index"):
        _open(small_corpus, tmp_path / "idx", Other(dimension=16))


def test_index_of_another_format_version_gives_a_clear_error(small_corpus, tmp_path, fake_embedder):
    _open(small_corpus, tmp_path / "idx", fake_embedder)
    with _db(tmp_path / "idx") as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (json.dumps(999),))
    with pytest.raises(IndexMismatchError, match="format version 999"):
        _open(small_corpus, tmp_path / "idx", fake_embedder)


def test_an_index_of_the_older_json_layout_is_rebuilt_by_itself(small_corpus, tmp_path, fake_embedder):
    old = tmp_path / "idx" / "build-20261101-000000-abcd1234"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text('{"format_version": 1}')
    (tmp_path / "idx" / "CURRENT").write_text(old.name + "\n")
    store, report = _open(small_corpus, tmp_path / "idx", fake_embedder)
    assert not report.reused and len(store.docs) == 3 and not old.exists()


def test_changing_chunking_parameters_rebuilds(small_corpus, tmp_path, fake_embedder):
    _open(small_corpus, tmp_path / "idx", fake_embedder)
    _, report = open_index(small_corpus, tmp_path / "idx", IndexConfig(max_tokens=48), fake_embedder)
    assert not report.reused and len(report.embedded) == 3


def test_an_index_made_by_older_processing_code_is_rebuilt(small_corpus, tmp_path, fake_embedder, monkeypatch):
    _open(small_corpus, tmp_path / "idx", fake_embedder)
    monkeypatch.setattr(builder_module, "pipeline_fingerprint", lambda: "changed-rules")
    _, report = _open(small_corpus, tmp_path / "idx", fake_embedder)
    assert not report.reused and len(report.embedded) == 3  # every file read and embedded again


def test_auto_search_is_exact_below_the_threshold_and_hnsw_above(small_corpus, tmp_path, fake_embedder, monkeypatch):
    """"auto" builds exact search for small corpora; above the threshold an HNSW index, searched
    with today's settings when read back from its file."""
    store, _ = _open(small_corpus, tmp_path / "a", fake_embedder)
    assert IndexConfig().faiss_factory == "auto" and store.manifest["faiss_index"] == "Flat"
    monkeypatch.setattr(vectors_module, "ANN_MIN_VECTORS", 1)
    big, _ = _open(small_corpus, tmp_path / "b", fake_embedder)
    assert big.manifest["faiss_index"] == vectors_module.HNSW_FACTORY
    import faiss

    again, report = _open(small_corpus, tmp_path / "b", fake_embedder)  # read back from the file
    inner = faiss.downcast_index(again.vectors.main.index)
    assert report.reused and inner.hnsw.efSearch == vectors_module.HNSW_EF_SEARCH
    monkeypatch.setattr(vectors_module, "HNSW_EF_SEARCH", 77)  # a file written with another value
    later, _ = _open(small_corpus, tmp_path / "b", fake_embedder)
    assert faiss.downcast_index(later.vectors.main.index).hnsw.efSearch == 77
    assert vectors_module.resolve_factory("Flat", 10**9) == "Flat"  # an explicit factory is kept


def test_hnsw_as_configured_finds_the_exact_neighbours_of_low_rank_vectors():
    """The HNSW settings reach recall@10 >= 0.95 against exact search on 20k vectors with the
    low-rank structure of sentence embeddings (the README has the figures on real ones)."""
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((48, 384)).astype(np.float32)
    x = rng.standard_normal((20_000, 48)).astype(np.float32) @ basis
    x += 0.3 * rng.standard_normal(x.shape).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    queries, base = x[:200], np.ascontiguousarray(x[200:])
    index = vectors_module.new_faiss(384, vectors_module.HNSW_FACTORY)
    index.add_with_ids(base, np.arange(len(base), dtype=np.int64))
    _, found = index.search(queries, 10)
    exact = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    assert np.mean([len(set(a) & set(e)) / 10 for a, e in zip(found, exact, strict=True)]) >= 0.95


def _dated_reports(folder: Path, january: int, june: int) -> Path:
    """Reports of one story: many in January 2021, a few in June, all sharing their words."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(january + june):
        date = f"2021-01-{i % 28 + 1:02d}" if i < january else f"2021-06-{i - january + 1:02d}"
        (folder / f"r{i:03d}.txt").write_text(f"Date: {date}\nHarbour report {i}\n\nThe harbour crane number {i} "
                                              f"lifted {i + 3} containers on the quay.\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("store_kind", ["faiss", "milvus"])
def test_a_search_keeps_to_the_rows_it_is_allowed_however_far_down_they_rank(tmp_path, fake_embedder, store_kind):
    config = IndexConfig(max_tokens=64, store=store_kind)
    store, _ = open_index(_dated_reports(tmp_path / "corpus", 40, 2), tmp_path / "idx", config, fake_embedder)
    june = store.rows_published("2021-06-01", "2021-06-30")
    assert len(june) == 2 and {store.chunk_at(int(r)).doc_id for r in june} == {"r040.txt", "r041.txt"}
    assert len(store.rows_published(None, "2021-01-31")) == 40 and len(store.rows_published("2022-01-01", None)) == 0
    january_row = int(store.rows_published("2021-01-01", "2021-01-01")[0])
    query = store.chunk_vectors([january_row])[0]  # a January report's own vector: it ranks first unfiltered
    assert store.search(query, 1) == [january_row]
    assert sorted(store.search(query, 5, june)) == sorted(int(r) for r in june)
    words = store.passage_terms(january_row)
    assert set(store.bm25(words, 5, june)) == {int(r) for r in june}
    assert store.search(query, 5, np.zeros(0, dtype=np.int64)) == [] and store.bm25(words, 5, june[:0]) == []
    store.close()


def test_rows_added_since_the_main_index_are_filtered_too():
    index = vectors_module.VectorIndex(4)
    index.add(np.array([1, 2, 3], dtype=np.int64), np.eye(4, dtype=np.float32)[:3])
    rows, scores = index.search(np.array([1, 0, 0, 0], dtype=np.float32), 3, np.array([2, 3], dtype=np.int64))
    assert sorted(rows.tolist()) == [2, 3] and np.all(np.isfinite(scores))
