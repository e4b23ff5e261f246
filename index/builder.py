"""Build, update or reuse the index of a corpus folder, streaming documents in batches.

Each batch of documents is read, cleaned, chunked, embedded and written in one database
transaction, with the files it came from: a build killed at any point keeps every batch it
committed, and the next run goes on from the first file not yet written. Changed files are
replaced and removed ones deleted in place; only a change of the processing rules or the
chunking (or ``rebuild``) builds a new database, in a folder of its own that becomes live
when it is complete (a killed rebuild resumes too).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import analysis as A
from .config import IndexConfig
from .embed.embedder import Embedder
from .embed.ray_embed import RaySettings, embed_on_ray
from .errors import CorpusError
from .ingest.loader import SourceFile, scan_corpus
from .prepare import Prepared, embed_batch, prepare_batch
from .records import Document
from .storage.db import DB_NAME, FORMAT_VERSION, connect, read_meta, spans_blob, spans_from_blob, to_blob, write_meta
from .storage.lexical import load_lexical, write_snapshot
from .storage.milvus import MilvusVectors, client, drop_collection_of, index_type_for, is_server
from .storage.store import IndexStore, check_model, read_index
from .storage.vectors import load_vectors, record, write_main

log = logging.getLogger(__name__)

# The code that turns files into passages and terms. Its fingerprint is stored with the
# index, so an index made by older rules is rebuilt rather than silently reused.
_PIPELINE_FILES = ("ingest/cleaning.py", "ingest/sentences.py", "ingest/chunking.py", "ingest/loader.py",
                   "analysis.py")
# Documents per transaction: large enough to embed in full batches, small enough that a
# killed build loses seconds of work and memory stays bounded.
BATCH_DOCUMENTS = 64
# Documents from which a build reads them in processes of their own.
PROCESS_MIN_DOCUMENTS = 256


@lru_cache(maxsize=1)
def pipeline_fingerprint() -> str:
    """sha256 over the source of the cleaning, sentence-splitting, chunking, loading and
    term-analysis code."""
    digest = hashlib.sha256()
    for name in _PIPELINE_FILES:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class BuildReport:
    """What ``open_index`` did: reuse, or which files it embedded anew."""

    reused: bool
    embedded: list[str] = field(default_factory=list)  # doc ids read and embedded
    kept: list[str] = field(default_factory=list)  # doc ids left as they were
    removed: list[str] = field(default_factory=list)  # doc ids gone from the corpus
    skipped: list[str] = field(default_factory=list)  # unreadable files
    chunks: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0


def rebuild_hint(corpus_dir: Path, index_dir: Path | None = None, config: IndexConfig | None = None) -> str:
    """The command that rebuilds the index of ``corpus_dir`` from scratch (in the store of ``config``)."""
    hint = f"rag index --rebuild --corpus {corpus_dir}"
    hint = f"{hint} --index-dir {index_dir}" if index_dir is not None else hint
    if config is not None and config.store != "faiss":
        hint += f" --store {config.store}" + (f" --milvus-uri {config.milvus_uri}" if config.milvus_uri else "")
    return hint


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Serialise builds of one index folder across processes."""
    import fcntl

    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _settings(config: IndexConfig, embedder: Embedder) -> dict[str, object]:
    """What an index is built by: a database made by other settings is not added to."""
    return {"format_version": FORMAT_VERSION,
            "model": {"name": embedder.name, "weights_sha256": embedder.weights_hash,
                      "dimension": embedder.dimension},
            "chunking": config.chunking_params(), "pipeline": pipeline_fingerprint(), "store": config.store_record()}


def open_index(
    corpus_dir: Path,
    index_dir: Path,
    config: IndexConfig,
    embedder: Embedder,
    rebuild: bool = False,
    progress: bool = False,
    fix: str | None = None,
    extra: Mapping[str, Path] | None = None,
    update: bool = True,
    workers: int = 1,
    ray: RaySettings | None = None,
) -> tuple[IndexStore, BuildReport]:
    """Return the index of ``corpus_dir`` (and of the ``extra`` folders, see ``scan_corpus``),
    building or updating it in ``index_dir`` as needed.

    An unchanged corpus reuses the index without loading the model; a changed one embeds
    only new or changed files. ``update=False`` opens an existing index without looking at
    the corpus at all (an archive's folder takes a while to list). ``workers`` > 1 reads a
    large batch of files in that many processes; ``ray`` reads and embeds them on Ray instead.
    Raises CorpusError, IndexMismatchError, IndexCorruptError or StoreUnavailableError.
    """
    corpus_dir, index_dir = Path(corpus_dir), Path(index_dir)
    fix = fix or rebuild_hint(corpus_dir, config=config)
    if config.milvus_uri and is_server(config.milvus_uri):
        client(config.milvus_uri)  # unreachable: said before anything is written
    live = None if rebuild else _live(index_dir, fix)
    if live is not None:
        check_model(live.manifest, embedder, fix)
        if not update:
            return live, BuildReport(reused=True, chunks=len(live))
    sources = scan_corpus(corpus_dir, extra)
    settings = _settings(config, embedder)
    if live is not None and all(live.manifest.get(k) == v for k, v in settings.items()):
        changes = _changes(live, sources)
        if not changes.any and not live.vectors.merge_needed(config.faiss_factory):
            return live, BuildReport(reused=True, kept=changes.kept, skipped=changes.skipped, chunks=len(live))
        with build_lock(index_dir):
            if _written_since(live):  # another build ran meanwhile
                live.close()
                live = read_index(_folder(index_dir), fix)
                assert live is not None
            return _update(live, _changes(live, sources), config, embedder, progress, corpus_dir, workers, ray)
    if live is not None:
        live.close()
    with build_lock(index_dir):
        return _rebuild(index_dir, sources, settings, config, embedder, progress, corpus_dir, fix, workers, ray)


def _written_since(store: IndexStore) -> bool:
    """Whether the index's database changed after ``store`` was opened."""
    now = {k: json.loads(v) for k, v in store.query("SELECT key, value FROM meta")}
    return any(now.get(k) != store.manifest.get(k) for k in ("counts", "vectors", "lexical", "built_at"))


def _folder(index_dir: Path) -> Path:
    """The live database folder of ``index_dir`` (named by its CURRENT file)."""
    pointer = index_dir / "CURRENT"
    return index_dir / pointer.read_text().strip() if pointer.is_file() else index_dir / "-"


def _live(index_dir: Path, fix: str) -> IndexStore | None:
    return read_index(_folder(index_dir), fix) if (index_dir / "CURRENT").is_file() else None


@dataclass
class _Changes:
    """How the corpus on disk differs from what the index holds."""

    new: list[SourceFile] = field(default_factory=list)  # to read and (re)write
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # unreadable before, unchanged since
    touched: list[SourceFile] = field(default_factory=list)  # same bytes, new size or time

    @property
    def any(self) -> bool:
        return bool(self.new or self.removed or self.touched)


def _changes(store: IndexStore, sources: list[SourceFile]) -> _Changes:
    """Compare the files on disk with those recorded; a file whose size and modification
    time are unchanged is not read again, one whose bytes are unchanged is not re-indexed."""
    seen = {doc_id: (h, size, mtime, status) for doc_id, h, size, mtime, status in
            store.query("SELECT doc_id, content_hash, size, mtime_ns, status FROM files")}
    out = _Changes()
    on_disk = set()
    for source in sources:
        on_disk.add(source.doc_id)
        before = seen.get(source.doc_id)
        if before is None or (before[1], before[2]) != (source.size, source.mtime_ns):
            if before is None or before[0] != source.content_hash:
                out.new.append(source)
                continue
            out.touched.append(source)
        if before[3] == "skipped":
            out.skipped.append(source.doc_id)
        else:
            out.kept.append(source.doc_id)
    out.removed = sorted(set(seen) - on_disk)
    return out


def _rebuild(index_dir: Path, sources: list[SourceFile], settings: dict[str, object], config: IndexConfig,
             embedder: Embedder, progress: bool, corpus_dir: Path, fix: str,
             workers: int, ray: RaySettings | None = None) -> tuple[IndexStore, BuildReport]:
    """Build a new database in a folder of its own (resuming one a killed rebuild left with
    the same settings) and make it live when complete."""
    index_dir.mkdir(parents=True, exist_ok=True)
    building = index_dir / "BUILDING"
    folder = index_dir / building.read_text().strip() if building.is_file() else None
    if folder is not None and folder.is_dir():
        try:
            con = connect(folder / DB_NAME)
            same = {k: v for k, v in read_meta(con).items() if k in settings} == settings
            con.close()
        except (OSError, sqlite3.DatabaseError, ValueError):
            same = False
        if not same:
            shutil.rmtree(folder, ignore_errors=True)
            folder = None
    if folder is None or not folder.is_dir():
        folder = index_dir / f"db-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}"
        folder.mkdir()
        con = connect(folder / DB_NAME, create=True)
        write_meta(con, {**settings, "counts": {"documents": 0, "chunks": 0, "sentences": 0, "terms": 0}})
        con.close()
        _replace_file(building, folder.name)
    store = read_index(folder, fix)
    assert store is not None
    store, report = _update(store, _changes(store, sources), config, embedder, progress, corpus_dir, workers, ray)
    store.close()
    if not store.counts.get("documents"):
        raise CorpusError(f"No readable document in {corpus_dir}: every file was skipped")
    _replace_file(index_dir / "CURRENT", folder.name)
    building.unlink(missing_ok=True)
    for old in index_dir.iterdir():
        if old.is_dir() and old != folder and old.name.startswith(("db-", "build-", ".tmp-")):
            drop_collection_of(old)
            shutil.rmtree(old, ignore_errors=True)
    live = read_index(folder, fix)
    assert live is not None
    return live, report


def _replace_file(path: Path, text: str) -> None:
    """Write ``path`` atomically (a reader sees the old or the new content, never a mix)."""
    tmp = path.with_name(f"{path.name}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _update(store: IndexStore, changes: _Changes, config: IndexConfig, embedder: Embedder, progress: bool,
            corpus_dir: Path, workers: int = 1, ray: RaySettings | None = None) -> tuple[IndexStore, BuildReport]:
    """Apply ``changes`` to ``store`` in place, a batch of documents per transaction."""
    started = time.perf_counter()
    report = BuildReport(reused=False, kept=changes.kept, removed=changes.removed, skipped=list(changes.skipped))
    con = connect(store.path / DB_NAME)
    try:
        counts = Counter(store.counts)
        if changes.removed:
            with _transaction(con):
                for doc_id in changes.removed:
                    _delete(con, doc_id, store, counts)
                    con.execute("DELETE FROM files WHERE doc_id=?", (doc_id,))
                write_meta(con, {"counts": dict(counts), "vectors": record(store.vectors)})
        if changes.touched:
            with _transaction(con):
                con.executemany("UPDATE files SET size=?, mtime_ns=? WHERE doc_id=?",
                                [(s.size, s.mtime_ns, s.doc_id) for s in changes.touched])
        if ray is not None:
            with _progress(progress, len(changes.new)) as advance:
                for prepared, chunk_vectors, sentence_vectors in embed_on_ray(changes.new, config, embedder, ray,
                                                                              BATCH_DOCUMENTS):
                    _write_batch(con, store, prepared, embedder, counts, report, (chunk_vectors, sentence_vectors))
                    advance(len(prepared))
            changes.new = []
        with _progress(progress, len(changes.new)) as advance, ThreadPoolExecutor(1) as reader, \
                _readers(len(changes.new), workers) as pool:
            batches = [changes.new[i:i + BATCH_DOCUMENTS] for i in range(0, len(changes.new), BATCH_DOCUMENTS)]
            # The next batch is read and chunked while this one is embedded (ONNX and the
            # tokenizer leave the interpreter free).
            pending = reader.submit(prepare_batch, batches[0], config, embedder, pool) if batches else None
            for i in range(len(batches)):
                prepared = pending.result() if pending else []
                pending = reader.submit(prepare_batch, batches[i + 1], config, embedder, pool) \
                    if i + 1 < len(batches) else None
                _write_batch(con, store, prepared, embedder, counts, report)
                advance(len(batches[i]))
        with _transaction(con):
            write_meta(con, {"counts": dict(counts), "corpus": str(corpus_dir.resolve()),
                             "faiss_factory": config.faiss_factory, "document_encoder": config.document_encoder,
                             "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        if isinstance(store.vectors, MilvusVectors):
            store.vectors.collection.sync(con, index_type_for(config.faiss_factory, int(counts["chunks"])))
        elif store.vectors.merge_needed(config.faiss_factory):
            _write_snapshots(store, con, config.faiss_factory)
        elif store.vectors.pending:  # the rows written since the snapshots: searched from memory
            meta = read_meta(con)
            store.vectors = load_vectors(store.path, con, meta, store.dimension, reuse=store.vectors)
            store.lexical = load_lexical(store.path, con, meta)
        store.manifest = {**read_meta(con), "faiss_index": store.vectors.factory}
        store.forget()
    finally:
        con.close()
    report.chunks = len(store)
    report.seconds = time.perf_counter() - started
    log.info("indexed %d documents (%d passages embedded) in %.1fs", len(report.embedded), report.embedded_chunks,
             report.seconds)
    return store, report


def _write_snapshots(store: IndexStore, con: sqlite3.Connection, factory: str) -> None:
    """Write the vector and BM25 indexes of every row anew and make them live together
    (one commit names both); the files they replace are removed after."""
    vectors = write_main(store.path, con, store.vectors, factory)
    lexical_dir, lexical = write_snapshot(store.path, con)
    with _transaction(con):
        write_meta(con, {"vectors": record(vectors), "lexical": {"dir": lexical_dir}})
    store.vectors, store.lexical = vectors, lexical
    for old in store.path.iterdir():
        stale = old.name.startswith(("vectors-", ".vectors-")) and old.name != vectors.main_file
        stale |= old.name.startswith(("lexical-", ".lexical-")) and old.name != lexical_dir
        if stale:
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)


@contextmanager
def _transaction(con: sqlite3.Connection) -> Iterator[None]:
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextmanager
def _progress(show: bool, total: int) -> Iterator:
    """A callback that advances a progress bar (documents, rate and time left) when shown."""
    if not show or total < 2:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("indexing", total=total, rate="")
        started = time.perf_counter()
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.update(task, advance=n, rate=f"{rate:6.1f} docs/s")

        yield advance


@contextmanager
def _readers(documents: int, workers: int) -> Iterator[Executor | None]:
    """``workers`` processes that read documents, for a build large enough to repay starting
    them (they start as new interpreters: a script that asks for them needs the usual
    ``if __name__ == "__main__":`` guard, as the ``rag`` command has)."""
    if documents < PROCESS_MIN_DOCUMENTS or workers < 2:
        yield None
        return
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def _write_batch(con: sqlite3.Connection, store: IndexStore, batch: list[Prepared], embedder: Embedder,
                 counts: Counter, report: BuildReport, vectors: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Embed a batch's passages and sentences (unless ``vectors`` holds them, embedded
    elsewhere) and write them, with their files, in one transaction."""
    chunk_vectors, sentence_vectors = vectors if vectors is not None else embed_batch(batch, embedder)
    added_rows: list[int] = []
    c_at = s_at = 0
    with _transaction(con):
        for p in batch:
            source = p.source
            _delete(con, source.doc_id, store, counts)  # a changed file: its old version goes
            status = "skipped" if p.doc is None else "indexed"
            con.execute("INSERT INTO files(doc_id, content_hash, size, mtime_ns, status) VALUES(?, ?, ?, ?, ?) "
                        "ON CONFLICT(doc_id) DO UPDATE SET content_hash=excluded.content_hash, size=excluded.size, "
                        "mtime_ns=excluded.mtime_ns, status=excluded.status",
                        (source.doc_id, source.content_hash, source.size, source.mtime_ns, status))
            if p.doc is None:
                report.skipped.append(source.doc_id)
                continue
            doc = p.doc
            number = con.execute("INSERT INTO docs(doc_id, title, date, text, content_hash, sentences) "
                                 "VALUES(?, ?, ?, ?, ?, ?)", (doc.doc_id, doc.title, doc.date, doc.text,
                                                              doc.content_hash, spans_blob(doc.sentences))).lastrowid
            for chunk in p.chunks:
                terms = A.passage_terms(doc.title, chunk.text)
                row = con.execute("INSERT INTO chunks(chunk_id, doc, start, end, first_sentence, last_sentence, "
                                  "vector, terms) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                                  (chunk.chunk_id, number, chunk.start, chunk.end, chunk.first_sentence,
                                   chunk.last_sentence, to_blob(chunk_vectors[c_at]), " ".join(terms))).lastrowid
                added_rows.append(row)
                counts["terms"] += len(terms)
                c_at += 1
            con.executemany("INSERT INTO sentences(doc, idx, vector) VALUES(?, ?, ?)",
                            [(number, i, to_blob(sentence_vectors[s_at + i])) for i in range(len(doc.sentences))])
            s_at += len(doc.sentences)
            _count_vocabulary(con, doc, +1)
            counts.update({"documents": 1, "chunks": len(p.chunks), "sentences": len(doc.sentences)})
            report.embedded.append(doc.doc_id)
            report.embedded_chunks += len(p.chunks)
        write_meta(con, {"counts": dict(counts), "vectors": record(store.vectors)})
    store.vectors.pending += len(added_rows)


def _delete(con: sqlite3.Connection, doc_id: str, store: IndexStore, counts: Counter) -> None:
    """Remove a document, its passages, sentences and their share of the vocabulary."""
    found = con.execute("SELECT id, title, date, text, content_hash, sentences FROM docs WHERE doc_id=?",
                        (doc_id,)).fetchone()
    if found is None:
        return
    number = found[0]
    doc = Document(doc_id, found[1], found[2], found[3], found[4], spans_from_blob(found[5]))
    found_rows = con.execute("SELECT row, terms FROM chunks WHERE doc=?", (number,)).fetchall()
    rows = [r for r, _ in found_rows]
    con.execute("DELETE FROM chunks WHERE doc=?", (number,))
    con.execute("DELETE FROM sentences WHERE doc=?", (number,))
    con.execute("DELETE FROM docs WHERE id=?", (number,))
    _count_vocabulary(con, doc, -1)
    counts.subtract({"documents": 1, "chunks": len(rows), "sentences": len(doc.sentences),
                     "terms": sum(len(t.split()) for _, t in found_rows)})
    store.vectors.drop(set(rows))
    store.lexical.drop(set(rows))
    if isinstance(store.vectors, MilvusVectors):  # until the collection drops them too
        con.executemany("INSERT OR IGNORE INTO dropped(row) VALUES(?)", [(r,) for r in rows])


def _count_vocabulary(con: sqlite3.Connection, doc: Document, sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) a document's share of the term and word counts:
    terms count the sentences holding them (idf), words the titles, dates and sentences."""
    terms: Counter[str] = Counter()
    words: Counter[str] = Counter()
    for unit in (doc.title, doc.date or ""):
        words.update(set(A.words(unit)))
    for i in range(len(doc.sentences)):
        sentence = doc.sentence(i)
        terms.update(set(A.content_terms(sentence)))
        words.update(A.sentence_words(sentence))
    for table, column, counter in (("terms", "term", terms), ("words", "word", words)):
        count = "df" if table == "terms" else "n"
        con.executemany(f"INSERT INTO {table}({column}, {count}) VALUES(?, ?) ON CONFLICT({column}) "
                        f"DO UPDATE SET {count} = {count} + excluded.{count}",
                        [(k, sign * v) for k, v in counter.items()])
        if sign < 0:
            con.executemany(f"DELETE FROM {table} WHERE {column}=? AND {count} <= 0", [(k,) for k in counter])


