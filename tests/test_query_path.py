"""The question path without torch: the ONNX export of the embedding model, thread pinning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import CORPUS

pytestmark = pytest.mark.integration


def corpus_sentences(store) -> list[str]:
    return [d.text[a:b] for d in store.docs.values() for a, b in d.sentences]


def test_onnx_question_vectors_match_sentence_transformers_on_the_corpus(embedder, bot):
    assert embedder.query_backend == "onnx"
    sentences = corpus_sentences(bot.store)
    assert len(sentences) > 90  # every sentence of the five articles
    torch_vectors = embedder._encode(sentences, False)  # sentence-transformers (torch)
    onnx_vectors = embedder._query_encoder().encode(sentences)  # one batch, padded
    one_by_one = np.stack([embedder._query_encoder().encode([s])[0] for s in sentences[:40]])
    assert (torch_vectors * onnx_vectors).sum(axis=1).min() >= 0.999
    assert (torch_vectors[:40] * one_by_one).sum(axis=1).min() >= 0.999
    assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-4)


def test_documents_are_embedded_and_counted_through_the_export_alike(embedder, bot):
    """Index builds use the same graph on every core: the same vectors, the same token counts."""
    from index.ingest.chunking import embedding_text

    chunks = list(bot.store.iter_chunks())
    passages = [embedding_text(bot.store.docs[c.doc_id].title, c.text) for c in chunks]
    assert (embedder.encode_documents(passages) * embedder._encode(passages, False)).sum(axis=1).min() >= 0.999
    tokenizer = embedder._load().tokenizer
    for text in passages + corpus_sentences(bot.store)[:50]:
        assert embedder.count_tokens(text) == len(tokenizer(text, add_special_tokens=False)["input_ids"])
    stored = bot.store.chunk_vectors([bot.store.row_of(c.chunk_id) for c in chunks])
    assert np.allclose(stored, embedder.encode_documents(passages), atol=1e-4)


def test_the_export_is_cached_with_its_own_sha256_and_a_damaged_one_is_made_again(embedder, tmp_path: Path):
    from index import SentenceTransformerEmbedder
    from index.embed.onnx_encoder import ONNX_FILE, RECORD_FILE, onnx_folder

    fresh = SentenceTransformerEmbedder(onnx_cache=tmp_path)
    question = "Who led the Hamas delegation that met Khamenei?"
    first = fresh.encode_queries([question])[0]
    folder = onnx_folder(tmp_path, fresh.name, fresh.weights_hash)
    record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
    assert record["weights_sha256"] == fresh.weights_hash and len(record["onnx_sha256"]) == 64
    with open(folder / ONNX_FILE, "r+b") as fh:  # flip bytes in the middle of the graph's weights
        fh.seek(os.path.getsize(folder / ONNX_FILE) // 2)
        fh.write(b"\x00" * 64)
    again = SentenceTransformerEmbedder(onnx_cache=tmp_path)
    assert again.query_backend == "onnx"  # exported anew, not a wrong vector
    assert float(again.encode_queries([question])[0] @ first) >= 0.9999


def test_a_model_the_export_cannot_reproduce_stays_on_sentence_transformers(tmp_path: Path, embedder):
    from index import SentenceTransformerEmbedder
    from index.embed.onnx_encoder import supported

    model_dir = tmp_path / "cls-model"
    for path in embedder.model_dir.rglob("*"):
        if path.is_file():
            target = model_dir / path.relative_to(embedder.model_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    pooling = model_dir / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text(encoding="utf-8"))
    pooling.unlink()
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}),
                       encoding="utf-8")
    assert supported(embedder.model_dir) and not supported(model_dir)
    other = SentenceTransformerEmbedder(str(model_dir), onnx_cache=tmp_path / "cache")
    assert other.query_backend == "torch" and not (tmp_path / "cache").exists()


def test_answering_on_a_built_index_never_imports_torch(bot, embedder):
    """`import rag`, opening the index and answering: tokenizers and ONNX Runtime only."""
    script = (
        "import sys, rag\n"
        f"bot = rag.Chatbot.from_corpus({str(CORPUS)!r}, index_dir={str(bot.store.path.parent)!r})\n"
        "answer = bot.ask('Who led the Hamas delegation that met Khamenei?')\n"
        "print(answer.text)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "RAG_CACHE_DIR": os.environ["RAG_CACHE_DIR"]}).stdout.splitlines()
    assert "Arouri" in out[0] and "[1]" in out[0]
    assert out[-1] == "[]"


def test_single_questions_run_on_the_configured_threads(embedder, tmp_path: Path):
    import faiss
    from threadpoolctl import threadpool_info

    import rag

    rag.Chatbot.from_corpus(CORPUS, index_dir=tmp_path / "index", embedder=embedder, query_threads=1)
    assert faiss.omp_get_max_threads() == 1
    assert all(lib["num_threads"] == 1 for lib in threadpool_info() if lib["user_api"] == "blas")
    assert embedder.query_threads == 1
    with pytest.raises(ValueError, match="query_threads"):
        rag.RagConfig(query_threads=0)
