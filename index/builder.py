"""Build, update or reuse the index of a corpus folder."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .chunking import chunk_document, embedding_text
from .config import IndexConfig
from .embedder import Embedder
from .errors import CorpusError
from .loader import SourceFile, read_document, scan_corpus
from .records import Chunk, Document
from .store import (
    FORMAT_VERSION,
    IndexStore,
    build_faiss,
    build_lock,
    check_model,
    read_index,
    resolve_factory,
    write_index,
)

log = logging.getLogger(__name__)

# The code that turns files into passages. Its fingerprint is stored in the manifest, so an
# index made by older cleaning or chunking rules is rebuilt rather than silently reused.
_PIPELINE_FILES = ("cleaning.py", "sentences.py", "chunking.py", "loader.py")


@lru_cache(maxsize=1)
def pipeline_fingerprint() -> str:
    """sha256 over the source of the cleaning, sentence-splitting, chunking and loading code."""
    digest = hashlib.sha256()
    for name in _PIPELINE_FILES:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class BuildReport:
    """What ``open_index`` did: reuse, or which files it embedded anew."""

    reused: bool
    embedded: list[str] = field(default_factory=list)  # doc ids read and embedded
    kept: list[str] = field(default_factory=list)  # doc ids whose vectors were reused
    removed: list[str] = field(default_factory=list)  # doc ids gone from the corpus
    skipped: list[str] = field(default_factory=list)  # unreadable files
    chunks: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0


def rebuild_hint(corpus_dir: Path, index_dir: Path | None = None) -> str:
    """The command that rebuilds the index of ``corpus_dir`` from scratch."""
    hint = f"rag index --rebuild --corpus {corpus_dir}"
    return f"{hint} --index-dir {index_dir}" if index_dir is not None else hint


def _up_to_date(store: IndexStore, sources: list[SourceFile], config: IndexConfig) -> bool:
    manifest = store.manifest
    seen = {**manifest.get("files", {}), **manifest.get("skipped", {})}
    return (
        manifest.get("pipeline") == pipeline_fingerprint()
        and manifest.get("chunking") == config.chunking_params()
        and manifest.get("faiss_factory") == config.faiss_factory
        and seen == {s.doc_id: s.content_hash for s in sources}
    )


def open_index(
    corpus_dir: Path,
    index_dir: Path,
    config: IndexConfig,
    embedder: Embedder,
    rebuild: bool = False,
    progress: bool = False,
    fix: str | None = None,
    extra: Mapping[str, Path] | None = None,
) -> tuple[IndexStore, BuildReport]:
    """Return the index of ``corpus_dir`` (and of the ``extra`` folders, see ``scan_corpus``),
    building or updating it in ``index_dir`` as needed.

    An unchanged corpus reuses the index without loading the model; a changed one re-embeds
    only new or changed files. Raises CorpusError, IndexMismatchError or IndexCorruptError.
    """
    corpus_dir, index_dir = Path(corpus_dir), Path(index_dir)
    fix = fix or rebuild_hint(corpus_dir)
    sources = scan_corpus(corpus_dir, extra)
    old = None if rebuild else read_index(index_dir, fix)
    if old is not None:
        check_model(old.manifest, embedder, fix)
        if _up_to_date(old, sources, config):
            report = BuildReport(reused=True, kept=list(old.docs), chunks=len(old.chunks))
            report.skipped = list(old.manifest.get("skipped", {}))
            return old, report
    with build_lock(index_dir):
        return _build(corpus_dir, index_dir, sources, config, embedder, old, progress)


def _build(
    corpus_dir: Path,
    index_dir: Path,
    sources: list[SourceFile],
    config: IndexConfig,
    embedder: Embedder,
    old: IndexStore | None,
    progress: bool,
) -> tuple[IndexStore, BuildReport]:
    started = time.perf_counter()
    report = BuildReport(reused=False)
    reusable = (old is not None and old.manifest.get("chunking") == config.chunking_params()
                and old.manifest.get("pipeline") == pipeline_fingerprint())
    old_chunks: dict[str, list[int]] = {}
    if reusable:
        for row, chunk in enumerate(old.chunks):
            old_chunks.setdefault(chunk.doc_id, []).append(row)

    docs: dict[str, Document] = {}
    chunks: list[Chunk] = []
    chunk_rows: list[np.ndarray | None] = []  # reused vector, or None to embed
    sentence_rows: list[np.ndarray | None] = []
    skipped: dict[str, str] = {}
    for source in sources:
        prev = old.docs.get(source.doc_id) if reusable else None
        if prev is not None and prev.content_hash == source.content_hash:
            docs[source.doc_id] = prev
            for row in old_chunks.get(source.doc_id, []):
                chunks.append(old.chunks[row])
                chunk_rows.append(old.chunk_vectors[row])
            offset = old.sentence_offset[source.doc_id]
            sentence_rows.extend(old.sentence_vectors[offset:offset + len(prev.sentences)])
            report.kept.append(source.doc_id)
            continue
        doc = read_document(source)
        if doc is None:
            skipped[source.doc_id] = source.content_hash
            continue
        doc, doc_chunks = chunk_document(
            doc, embedder.count_tokens, config.max_tokens, config.overlap_sentences
        )
        docs[doc.doc_id] = doc
        chunks.extend(doc_chunks)
        chunk_rows.extend([None] * len(doc_chunks))
        sentence_rows.extend([None] * len(doc.sentences))
        report.embedded.append(doc.doc_id)
    if not docs:
        raise CorpusError(f"No readable document in {corpus_dir}: every file was skipped")
    if old is not None:
        report.removed = sorted(set(old.docs) - set(docs) - set(skipped))

    chunk_vectors = _fill(chunk_rows, [embedding_text(docs[c.doc_id].title, c.text) for c in chunks],
                          embedder, progress)
    sentence_texts = [d.sentence(i) for d in docs.values() for i in range(len(d.sentences))]
    sentence_vectors = _fill(sentence_rows, sentence_texts, embedder, progress)
    report.embedded_chunks = sum(row is None for row in chunk_rows)

    manifest = {
        "format_version": FORMAT_VERSION,
        "model": {"name": embedder.name, "weights_sha256": embedder.weights_hash,
                  "dimension": embedder.dimension},
        "chunking": config.chunking_params(),
        "pipeline": pipeline_fingerprint(),
        "faiss_factory": config.faiss_factory,
        "faiss_index": resolve_factory(config.faiss_factory, len(chunks)),
        "files": {d.doc_id: d.content_hash for d in docs.values()},
        "skipped": skipped,
        "counts": {"documents": len(docs), "chunks": len(chunks), "sentences": len(sentence_texts)},
        "corpus": str(corpus_dir.resolve()),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    store = IndexStore(manifest, docs, chunks, chunk_vectors, sentence_vectors,
                       build_faiss(chunk_vectors, config.faiss_factory))
    write_index(index_dir, store)
    report.skipped = list(skipped)
    report.chunks = len(chunks)
    report.seconds = time.perf_counter() - started
    log.info("indexed %d documents, %d passages (%d embedded) in %.1fs",
             len(docs), len(chunks), report.embedded_chunks, report.seconds)
    return store, report


def _fill(rows: list[np.ndarray | None], texts: list[str], embedder: Embedder, progress: bool) -> np.ndarray:
    """Stack reused vectors with freshly encoded ones for the rows that have none."""
    missing = [i for i, row in enumerate(rows) if row is None]
    fresh = embedder.encode_documents([texts[i] for i in missing], progress=progress)
    out = np.zeros((len(rows), embedder.dimension), dtype=np.float32)
    for i, row in enumerate(rows):
        if row is not None:
            out[i] = row
    if missing:
        out[missing] = fresh
    return out
