"""Reading and embedding on a local Ray (``rag index --ray``): the same vectors as one
process, failures as one line, and a failed or killed ingestion that resumes."""

import os
from pathlib import Path

import numpy as np
import pytest

from index import IndexConfig, builder, open_index, verify_index
from index.embed.ray_embed import RayIngestError, RaySettings
from tests.conftest import FakeEmbedder

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", autouse=True)
def _ray():
    yield
    import ray

    ray.shutdown()


def _write_docs(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"{i:03d}.txt").write_text(f"Report {i}\n\nMilitants fired {i + 2} rockets on day {i}. "
                                             f"The mayor number {i} asked for calm.\n", encoding="utf-8")


def _vectors(store) -> tuple[list, np.ndarray, np.ndarray]:
    chunks = store.query("SELECT chunk_id, vector FROM chunks ORDER BY chunk_id")
    sentences = store.query("SELECT d.doc_id, s.idx, s.vector FROM sentences s JOIN docs d ON d.id = s.doc "
                            "ORDER BY d.doc_id, s.idx")
    return ([c[0] for c in chunks], np.frombuffer(b"".join(c[1] for c in chunks), dtype=np.float32),
            np.frombuffer(b"".join(s[2] for s in sentences), dtype=np.float32))


class Poisoned(FakeEmbedder):
    """Fails on any text holding "poison", in whichever process embeds it."""

    def encode_documents(self, texts, progress=False):
        if any("poison" in t for t in texts):
            raise RuntimeError("cannot embed this batch")
        return super().encode_documents(texts, progress)


class DiesOnce(FakeEmbedder):
    """Kills its own worker process the first time it meets "poison" (a marker file says so)."""

    def __init__(self, marker: Path):
        super().__init__()
        self.marker = marker

    def encode_documents(self, texts, progress=False):
        if any("poison" in t for t in texts) and not self.marker.exists():
            self.marker.write_text("died")
            os._exit(1)
        return super().encode_documents(texts, progress)


def test_a_failing_ray_worker_is_one_line_and_the_rerun_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(builder, "BATCH_DOCUMENTS", 2)
    corpus = tmp_path / "corpus"
    _write_docs(corpus, 4)
    first, _ = open_index(corpus, tmp_path / "idx", IndexConfig(max_tokens=64), FakeEmbedder(), ray=RaySettings())
    first.close()
    _write_docs(corpus, 7)
    (corpus / "zzz.txt").write_text("Last\n\nThis poison text cannot be embedded.\n", encoding="utf-8")
    with pytest.raises(RayIngestError) as err:
        open_index(corpus, tmp_path / "idx", IndexConfig(max_tokens=64), Poisoned(), ray=RaySettings())
    message = str(err.value)
    assert "\n" not in message and "cannot embed this batch" in message and "run the same command again" in message
    live, _ = open_index(corpus, tmp_path / "idx", IndexConfig(max_tokens=64), FakeEmbedder(), update=False)
    assert {f"{i:03d}.txt" for i in range(4)} <= set(live.docs) and "zzz.txt" not in live.docs  # usable as it was
    live.close()
    (corpus / "zzz.txt").write_text("Last\n\nThis text is fine now.\n", encoding="utf-8")
    store, report = open_index(corpus, tmp_path / "idx", IndexConfig(max_tokens=64), FakeEmbedder(),
                               ray=RaySettings())
    # What was written stays written; only the rest is read and embedded again.
    assert {f"{i:03d}.txt" for i in range(4)} <= set(report.kept) and "zzz.txt" in report.embedded
    assert sorted(report.kept + report.embedded) == sorted(p.name for p in corpus.iterdir())
    assert len(store.docs) == 8 and verify_index(tmp_path / "idx") == []


def test_a_ray_worker_that_dies_is_replaced_and_nothing_is_lost(tmp_path, monkeypatch):
    monkeypatch.setattr(builder, "BATCH_DOCUMENTS", 2)
    corpus = tmp_path / "corpus"
    _write_docs(corpus, 4)
    (corpus / "poison.txt").write_text("Odd\n\nA poison pill for the worker.\n", encoding="utf-8")
    marker = tmp_path / "died"
    try:
        store, _ = open_index(corpus, tmp_path / "idx", IndexConfig(max_tokens=64), DiesOnce(marker),
                                   ray=RaySettings())
    except RayIngestError as exc:  # Ray gave up on the batch: one line, and a rerun finishes it
        assert "\n" not in str(exc)
        store, _ = open_index(corpus, tmp_path / "idx", IndexConfig(max_tokens=64), DiesOnce(marker),
                                   ray=RaySettings())
    assert marker.exists() and len(store.docs) == 5
    plain, _ = open_index(corpus, tmp_path / "plain", IndexConfig(max_tokens=64), FakeEmbedder())
    ids, chunks, sentences = _vectors(store)
    assert (ids, chunks.tolist(), sentences.tolist()) == tuple(x if isinstance(x, list) else x.tolist()
                                                               for x in _vectors(plain))


@pytest.mark.integration
def test_two_ray_workers_give_the_vectors_of_one_process(embedder, tmp_path):
    corpus = PROJECT / "corpus"
    on_ray, report = open_index(corpus, tmp_path / "ray", IndexConfig(), embedder, ray=RaySettings(workers=2))
    assert len(report.embedded) == 5
    plain, _ = open_index(corpus, tmp_path / "plain", IndexConfig(), embedder)
    ids, chunks, sentences = _vectors(on_ray)
    plain_ids, plain_chunks, plain_sentences = _vectors(plain)
    assert ids == plain_ids and len(sentences) == len(plain_sentences)
    # The same export, the same texts: the same floats (batches differ only in padding).
    assert np.abs(chunks - plain_chunks).max() < 1e-5 and np.abs(sentences - plain_sentences).max() < 1e-5
