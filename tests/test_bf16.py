"""Documents embedded through a bfloat16 copy of the model (`rag index --bf16`)."""

from pathlib import Path

import numpy as np
import pytest

from index import IndexConfig, open_index
from index.embed import embedder as embedder_module
from index.embed.embedder import SentenceTransformerEmbedder, native_bf16

PROJECT = Path(__file__).resolve().parent.parent


def _vectors(store) -> np.ndarray:
    rows = store.query("SELECT d.doc_id, s.idx, s.vector FROM sentences s JOIN docs d ON d.id = s.doc ORDER BY 1, 2")
    return np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1)


def test_bf16_is_refused_on_a_cpu_without_bf16_units(monkeypatch) -> None:
    monkeypatch.setattr(embedder_module, "native_bf16", lambda: False)
    with pytest.raises(ValueError, match="no bfloat16 matrix units"):
        SentenceTransformerEmbedder(document_precision="bf16")


def test_the_index_config_knows_the_document_encoders() -> None:
    assert IndexConfig(document_encoder="bf16").document_encoder == "bf16"
    with pytest.raises(ValueError, match="'fp32', 'int8' or 'bf16'"):
        IndexConfig(document_encoder="fp16")


@pytest.mark.integration
@pytest.mark.skipif(not native_bf16(), reason="this CPU has no bfloat16 matrix units")
def test_bf16_documents_keep_the_float_vectors_and_switching_rebuilds_nothing(embedder, tmp_path) -> None:
    from rag.chatbot import make_embedder
    from rag.config import RagConfig

    bf16 = make_embedder(RagConfig.from_kwargs(document_encoder="bf16"))
    fast, _ = open_index(PROJECT / "corpus", tmp_path / "bf16", IndexConfig(document_encoder="bf16"), bf16)
    plain, _ = open_index(PROJECT / "corpus", tmp_path / "plain", IndexConfig(), embedder)
    cosine = (_vectors(fast) * _vectors(plain)).sum(axis=1)
    assert cosine.min() >= 0.999, cosine.min()
    assert np.allclose(np.linalg.norm(_vectors(fast), axis=1), 1.0, atol=1e-5)
    assert fast.manifest["document_encoder"] == "bf16"
    again, report = open_index(PROJECT / "corpus", tmp_path / "bf16", IndexConfig(), embedder)
    assert report.reused and len(again) == len(fast)
    query = embedder.encode_queries(["Who led the Hamas delegation that met Khamenei?"])[0]
    assert fast.chunk_at(fast.search(query, 5)[0]).chunk_id == plain.chunk_at(plain.search(query, 5)[0]).chunk_id


@pytest.mark.integration
def test_a_large_float_build_tips_the_bf16_encoder_where_the_cpu_has_it(tmp_path, corpus_copy, capsys,
                                                                          monkeypatch) -> None:
    from rag import cli

    monkeypatch.setattr(cli, "_BF16_TIP_FILES", 1)
    for native, tip in ((False, False), (True, True)):
        monkeypatch.setattr(embedder_module, "native_bf16", lambda native=native: native)
        assert cli.main(["index", "--rebuild", "--corpus", str(corpus_copy), "--index-dir", str(tmp_path / "i")]) == 0
        assert ("--bf16" in capsys.readouterr().out) == tip
