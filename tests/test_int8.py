"""Documents embedded through the int8 copy of the model (`rag index --int8`)."""

from pathlib import Path

import numpy as np
import pytest

from index import IndexConfig, open_index

PROJECT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.integration


def _vectors(store) -> np.ndarray:
    rows = store.query("SELECT d.doc_id, s.idx, s.vector FROM sentences s JOIN docs d ON d.id = s.doc ORDER BY 1, 2")
    return np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1)


def test_int8_documents_stay_close_to_the_float_vectors_and_switching_rebuilds_nothing(embedder, tmp_path):
    from rag.chatbot import make_embedder
    from rag.config import RagConfig

    int8 = make_embedder(RagConfig.from_kwargs(document_encoder="int8"))
    fast, report = open_index(PROJECT / "corpus", tmp_path / "int8", IndexConfig(document_encoder="int8"), int8)
    plain, _ = open_index(PROJECT / "corpus", tmp_path / "plain", IndexConfig(), embedder)
    cosine = (_vectors(fast) * _vectors(plain)).sum(axis=1)
    assert cosine.mean() >= 0.99 and np.percentile(cosine, 5) >= 0.985 and cosine.min() >= 0.95, cosine.min()
    assert fast.manifest["document_encoder"] == "int8"
    # The same index opened with the float encoder is reused, not rebuilt.
    again, report = open_index(PROJECT / "corpus", tmp_path / "int8", IndexConfig(), embedder)
    assert report.reused and len(again) == len(fast)
    # Questions are still encoded in float: the best passage for one is the same in both.
    query = embedder.encode_queries(["Who led the Hamas delegation that met Khamenei?"])[0]
    assert fast.chunk_at(fast.search(query, 1)[0]).chunk_id == plain.chunk_at(plain.search(query, 1)[0]).chunk_id
