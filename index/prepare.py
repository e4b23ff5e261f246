"""Files made ready to write: read, cleaned and chunked (``prepare_batch``), then embedded
(``embed_batch``). Shared by the builder and by the Ray workers that embed for it."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from .config import IndexConfig
from .embed.embedder import Embedder
from .ingest.chunking import chunk_document, embedding_text
from .ingest.loader import SourceFile, read_document
from .records import Chunk, Document


@dataclass
class Prepared:
    """A file read, cleaned and chunked, ready to embed (``doc`` None: unreadable)."""

    source: SourceFile
    doc: Document | None
    chunks: list[Chunk]


def prepare_batch(batch: Sequence[SourceFile], config: IndexConfig, embedder: Embedder,
                  pool: Executor | None = None) -> list[Prepared]:
    """Read, clean and chunk a batch of files (in ``pool``'s processes where given)."""
    # Reading, cleaning and sentence splitting are pure Python: on a large build, processes
    # do them on every core.
    docs = list(pool.map(read_document, batch, chunksize=4)) if pool is not None else [read_document(s) for s in batch]
    # Every sentence and title of the batch counted in one call where the embedder can (its
    # tokenizer runs natively on every core); the rest, as cut pieces, one by one.
    texts = [t for d in docs if d is not None for t in [d.title, *(d.sentence(i) for i in range(len(d.sentences)))]]
    many = getattr(embedder, "count_tokens_many", None)
    known = dict(zip(texts, many(texts), strict=True)) if many is not None and texts else {}

    def count(text: str) -> int:
        size = known.get(text)
        return embedder.count_tokens(text) if size is None else size

    out = []
    for source, doc in zip(batch, docs, strict=True):
        if doc is None:
            out.append(Prepared(source, None, []))
            continue
        doc, chunks = chunk_document(doc, count, config.max_tokens, config.overlap_sentences)
        out.append(Prepared(source, doc, chunks))
    return out


def embed_batch(batch: Sequence[Prepared], embedder: Embedder) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of a batch's passages (with their titles) and of its sentences, in order."""
    docs = [p for p in batch if p.doc is not None]
    passages = [embedding_text(p.doc.title, c.text) for p in docs for c in p.chunks]
    sentences = [p.doc.sentence(i) for p in docs for i in range(len(p.doc.sentences))]
    empty = np.zeros((0, embedder.dimension), dtype=np.float32)
    return (embedder.encode_documents(passages) if passages else empty,
            embedder.encode_documents(sentences) if sentences else empty)
