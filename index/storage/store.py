"""The index on disk, read on demand: one SQLite database (``db.py``) with its vector and
BM25 indexes (``vectors.py``, ``lexical.py``; or a Milvus collection, ``milvus.py``), in a
folder named by the index folder's CURRENT file::

    index.sqlite (+ -wal, -shm)   documents, passages, vectors, terms, vocabulary
    vectors-<id>.faiss            the main vector index named by the database
    lexical-<id>/                 the BM25 snapshot named by the database

Opening reads the database's meta rows and the vector file, nothing that grows with the
number of documents beyond the vectors themselves; documents, passages and sentence vectors
are read by key when a question needs them (the last ones used are kept in memory).
Integrity is checked when written (transactions) and on demand by ``verify``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..errors import IndexCorruptError, IndexMismatchError
from ..records import Chunk, Document
from .db import DB_NAME, FORMAT_VERSION, connect, from_blobs, read_meta, spans_from_blob
from .lexical import LexicalIndex, load_lexical
from .vectors import VectorIndex, load_vectors

if TYPE_CHECKING:
    from .milvus import MilvusLexical, MilvusVectors

T = TypeVar("T")
_DOC_CACHE = 512
_CHUNK_CACHE = 8192


class _Lru(OrderedDict):
    """A bounded mapping that forgets the least recently used entry."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or(self, key: Any, make: Callable[[], T]) -> T:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class IndexStore:
    """An opened index: passages by row id (the vector index's ids) or passage id, their
    documents, vectors and terms, and the corpus's term and word counts."""

    def __init__(self, path: Path, con: sqlite3.Connection, meta: dict[str, Any],
                 vectors: VectorIndex | MilvusVectors, lexical: LexicalIndex | MilvusLexical,
                 fix: str = "rag index --rebuild"):
        self.path = Path(path)
        self.manifest = meta
        self.vectors = vectors
        self.lexical = lexical
        self.fix = fix
        self._con = con
        self._lock = threading.RLock()
        self._docs: _Lru = _Lru(_DOC_CACHE)
        self._chunks: _Lru = _Lru(_CHUNK_CACHE)
        self._row_of: _Lru = _Lru(_CHUNK_CACHE)
        self._sentences: _Lru = _Lru(_CHUNK_CACHE)
        self.docs = DocumentMap(self)
        self.dimension = int(meta["model"]["dimension"])

    def forget(self) -> None:
        """Drop what was remembered of rows (after the database was written to)."""
        for cache in (self._docs, self._chunks, self._row_of, self._sentences):
            cache.clear()

    # -- reading rows ------------------------------------------------------------------
    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``sql``; a damaged database is an IndexCorruptError naming the fix."""
        with self._lock:
            try:
                return self._con.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                raise IndexCorruptError(f"The index at {self.path} is corrupt ({exc}). Rebuild it: {self.fix}") from exc

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.manifest.get("counts", {}))

    def __len__(self) -> int:
        """Passages in the index."""
        return int(self.counts.get("chunks", 0))

    def document(self, number: int) -> Document:
        """The document with internal number ``number`` (KeyError when there is none)."""

        def read() -> Document:
            rows = self.query("SELECT doc_id, title, date, text, content_hash, sentences FROM docs WHERE id=?",
                              (number,))
            if not rows:
                raise KeyError(number)
            d = rows[0]
            return Document(d[0], d[1], d[2], d[3], d[4], spans_from_blob(d[5]))

        return self._docs.get_or(number, read)

    def doc_number(self, doc_id: str) -> int:
        rows = self.query("SELECT id FROM docs WHERE doc_id=?", (doc_id,))
        if not rows:
            raise KeyError(doc_id)
        return int(rows[0][0])

    def _chunk_row(self, row: int) -> tuple[Chunk, int]:
        def read() -> tuple[Chunk, int]:
            found = self.query("SELECT chunk_id, doc, start, end, first_sentence, last_sentence FROM chunks "
                               "WHERE row=?", (row,))
            if not found:
                raise KeyError(row)
            chunk_id, doc, start, end, first, last = found[0]
            d = self.document(doc)
            return Chunk(chunk_id, d.doc_id, start, end, d.text[start:end], first, last), doc

        return self._chunks.get_or(row, read)

    def chunk_at(self, row: int) -> Chunk:
        """The passage with row id ``row`` (KeyError when there is none)."""
        return self._chunk_row(row)[0]

    def row_of(self, chunk_id: str) -> int:
        """The row id of passage ``chunk_id`` (KeyError when there is none)."""

        def read() -> int:
            found = self.query("SELECT row FROM chunks WHERE chunk_id=? LIMIT 1", (chunk_id,))
            if not found:
                raise KeyError(chunk_id)
            return int(found[0][0])

        return self._row_of.get_or(chunk_id, read)

    def iter_chunks(self) -> Iterator[Chunk]:
        """Every passage, in the order it was added (for tools and checks: a question never
        needs them all)."""
        last = 0
        while True:
            rows = [r for (r,) in self.query("SELECT row FROM chunks WHERE row > ? ORDER BY row LIMIT 1000", (last,))]
            if not rows:
                return
            last = rows[-1]
            yield from (self.chunk_at(r) for r in rows)

    def chunk(self, chunk_id: str) -> Chunk:
        """The passage with this id (KeyError when there is none)."""
        return self.chunk_at(self.row_of(chunk_id))

    def alive(self, rows: list[int]) -> list[int]:
        """``rows`` without those no longer in the database, in order."""
        if not rows:
            return []
        found = {r for (r,) in self.query(f"SELECT row FROM chunks WHERE row IN ({','.join('?' * len(rows))})",
                                          tuple(rows))}
        return [r for r in rows if r in found]

    def chunk_vectors(self, rows: list[int]) -> np.ndarray:
        """The vectors of passages ``rows``, in that order."""
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        found = dict(self.query(f"SELECT row, vector FROM chunks WHERE row IN ({','.join('?' * len(rows))})",
                                tuple(rows)))
        return from_blobs([found[r] for r in rows], self.dimension)

    def passage_vectors(self, rows: list[int]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The vectors of passages ``rows`` and of each one's sentences, in two queries (a
        question's candidates are read together, not one by one)."""
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        marks = ",".join("?" * len(rows))
        found = {r[0]: r for r in self.query(f"SELECT row, chunk_id, doc, first_sentence, last_sentence, vector "
                                             f"FROM chunks WHERE row IN ({marks})", tuple(rows))}
        missing = [r for r in rows if r not in found]
        if missing:
            raise KeyError(missing[0])
        wanted = [found[r] for r in rows if found[r][1] not in self._sentences]
        blobs: dict[tuple[int, int], bytes] = {}
        if wanted:
            values = ",".join(["(?,?,?)"] * len(wanted))
            args = tuple(x for w in wanted for x in (w[2], w[3], w[4]))
            blobs = {(d, i): b for d, i, b in self.query(
                f"WITH want(doc, lo, hi) AS (VALUES {values}) SELECT s.doc, s.idx, s.vector FROM want "
                "JOIN sentences s ON s.doc = want.doc AND s.idx >= want.lo AND s.idx < want.hi", args)}
        sentences = []
        for r in rows:
            _, chunk_id, doc, first, last, _ = found[r]
            self._row_of.get_or(chunk_id, lambda r=r: r)
            sentences.append(self._sentences.get_or(chunk_id, lambda doc=doc, first=first, last=last: from_blobs(
                [blobs[(doc, i)] for i in range(first, last)], self.dimension)))
        return from_blobs([found[r][5] for r in rows], self.dimension), sentences

    def sentence_vectors(self, chunk_id: str) -> np.ndarray:
        """The vectors of passage ``chunk_id``'s sentences, in order."""

        def read() -> np.ndarray:
            chunk, doc = self._chunk_row(self.row_of(chunk_id))
            blobs = [b for (b,) in self.query("SELECT vector FROM sentences WHERE doc=? AND idx>=? AND idx<? "
                                              "ORDER BY idx", (doc, chunk.first_sentence, chunk.last_sentence))]
            return from_blobs(blobs, self.dimension)

        return self._sentences.get_or(chunk_id, read)

    def sentence_vector(self, doc_id: str, i: int) -> np.ndarray:
        found = self.query("SELECT vector FROM sentences WHERE doc=? AND idx=?", (self.doc_number(doc_id), i))
        if not found:
            raise KeyError((doc_id, i))
        return from_blobs([found[0][0]], self.dimension)[0]

    # -- search --------------------------------------------------------------------------
    def search(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None) -> list[int]:
        """Row ids of the ``n`` passages whose vectors best match ``query``, best first;
        ``allowed``: only among those rows (sorted; see ``rows_published``)."""
        try:
            rows, _ = self.vectors.search(query, n, allowed)
        except (RuntimeError, OSError) as exc:  # the vector file, read on first search
            raise IndexCorruptError(f"The index at {self.path} is corrupt (vectors unreadable: {exc}). "
                                    f"Rebuild it: {self.fix}") from exc
        found = [int(r) for r in rows]
        return (self.alive(found) if self.vectors.removed else found)[:n]

    def bm25(self, terms: list[str], n: int, allowed: np.ndarray | None = None) -> list[int]:
        """Row ids of the ``n`` passages that best match ``terms`` by BM25, best first
        (``allowed``: only among those rows)."""
        counts = self.counts
        found = self.lexical.search(terms, n + self.vectors.removed, counts.get("chunks", 0), counts.get("terms", 0),
                                    allowed)
        return (self.alive(found) if self.vectors.removed else found)[:n]

    def dates_summary(self) -> tuple[str | None, int]:
        """The newest report's date (None: none dated) and how many reports are undated."""
        newest, undated = self.query("SELECT MAX(date), COUNT(*) - COUNT(date) FROM docs")[0]
        return newest, int(undated or 0)

    def rows_published(self, since: str | None, until: str | None) -> np.ndarray:
        """The sorted row ids of the passages of reports published from ``since`` to ``until``
        (YYYY-MM-DD, inclusive; None: open), for searching only those (undated reports are
        not among them)."""
        found = self.query("SELECT chunks.row FROM chunks JOIN docs ON chunks.doc = docs.id "
                           "WHERE docs.date IS NOT NULL AND docs.date >= ? AND docs.date <= ? ORDER BY chunks.row",
                           (since or "", until or "9999-99-99"))
        return np.fromiter((r for (r,) in found), dtype=np.int64, count=len(found))

    def rows_with_all(self, terms: list[str], limit: int) -> list[int]:
        """Row ids of passages holding every one of ``terms`` (at most ``limit``)."""
        found = self.lexical.rows_with_all(terms, limit + self.vectors.removed)
        return (self.alive(found) if self.vectors.removed else found)[:limit]

    def passage_terms(self, row: int) -> list[str]:
        """The terms a passage was indexed with (its title's and its own)."""
        found = self.query("SELECT terms FROM chunks WHERE row=?", (row,))
        return found[0][0].split() if found else []

    # -- vocabulary ----------------------------------------------------------------------
    def document_frequencies(self, terms: list[str]) -> dict[str, int]:
        """How many sentences hold each of ``terms`` (those no sentence holds are left out)."""
        out: dict[str, int] = {}
        terms = list(dict.fromkeys(terms))
        for i in range(0, len(terms), 500):
            part = terms[i:i + 500]
            out.update(self.query(f"SELECT term, df FROM terms WHERE term IN ({','.join('?' * len(part))})",
                                  tuple(part)))
        return out

    def has_words(self, words: list[str]) -> set[str]:
        """Those of ``words`` that the corpus mentions."""
        words = list(dict.fromkeys(words))
        if not words:
            return set()
        return {w for (w,) in self.query(f"SELECT word FROM words WHERE word IN ({','.join('?' * len(words))})",
                                         tuple(words))}

    def words_between(self, low: str, high: str, min_len: int, max_len: int) -> list[str]:
        """The corpus's words in [low, high) with a length in [min_len, max_len]."""
        return [w for (w,) in self.query("SELECT word FROM words WHERE word >= ? AND word < ? "
                                         "AND length(word) BETWEEN ? AND ?", (low, high, min_len, max_len))]

    def documents(self, prefix: str = "") -> Iterator[tuple[str, str, str | None]]:
        """(doc id, title, date) of every document whose id starts with ``prefix``, in order."""
        last = 0
        while True:
            rows = self.query("SELECT id, doc_id, title, date FROM docs WHERE id > ? AND substr(doc_id, 1, ?) = ? "
                              "ORDER BY id LIMIT 1000", (last, len(prefix), prefix))
            if not rows:
                return
            last = rows[-1][0]
            for _, doc_id, title, date in rows:
                yield doc_id, title, date

    def close(self) -> None:
        with self._lock:
            self._con.close()
        if (close := getattr(self.vectors, "close", None)) is not None:
            close()


class DocumentMap(Mapping[str, Document]):
    """The documents of an IndexStore by id, read when asked for."""

    def __init__(self, store: IndexStore):
        self._store = store

    def __getitem__(self, doc_id: str) -> Document:
        return self._store.document(self._store.doc_number(doc_id))

    def __iter__(self) -> Iterator[str]:
        return (doc_id for doc_id, _, _ in self._store.documents())

    def __len__(self) -> int:
        return int(self._store.counts.get("documents", 0))

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and bool(self._store.query("SELECT 1 FROM docs WHERE doc_id=?", (doc_id,)))


def read_index(index_dir: Path, fix: str) -> IndexStore | None:
    """Open the index of ``index_dir``; None when there is none yet.

    Raises IndexMismatchError for another format version and IndexCorruptError for anything
    unreadable; ``fix`` is the command that repairs it, quoted in the message.
    """
    index_dir = Path(index_dir)
    path = index_dir / DB_NAME
    if not path.is_file():
        return None

    def corrupt(why: str) -> IndexCorruptError:
        return IndexCorruptError(f"The index at {index_dir} is corrupt ({why}). Rebuild it: {fix}")

    try:
        con = connect(path)
        meta = read_meta(con)
    except (sqlite3.DatabaseError, ValueError) as exc:
        raise corrupt(f"database unreadable: {exc}") from exc
    if meta.get("format_version") != FORMAT_VERSION:
        con.close()
        raise IndexMismatchError(f"The index at {index_dir} has format version {meta.get('format_version')}, "
                                 f"this program reads version {FORMAT_VERSION}. Rebuild it: {fix}")
    if "model" not in meta:
        con.close()
        return None  # created, but killed before its first commit: nothing in it
    if (meta.get("store") or {}).get("kind") == "milvus":
        from .milvus import open_milvus

        try:
            vectors, lexical = open_milvus(index_dir, con, meta)
        except BaseException:
            con.close()
            raise
        meta["faiss_index"] = vectors.factory
        return IndexStore(index_dir, con, meta, vectors, lexical, fix)
    try:
        vectors = load_vectors(index_dir, con, meta, int(meta["model"]["dimension"]))
    except (OSError, RuntimeError, sqlite3.DatabaseError, ValueError) as exc:
        con.close()
        raise corrupt(f"vectors unreadable: {exc.__class__.__name__}: {exc}") from exc
    try:
        lexical = load_lexical(index_dir, con, meta)
    except (OSError, sqlite3.DatabaseError, ValueError) as exc:
        con.close()
        raise corrupt(f"BM25 index unreadable: {exc.__class__.__name__}: {exc}") from exc
    meta["faiss_index"] = vectors.factory
    return IndexStore(index_dir, con, meta, vectors, lexical, fix)


def check_model(manifest: dict[str, Any], embedder: Any, fix: str) -> None:
    """Raise IndexMismatchError when the index was built with another embedding model.

    The weights hash is compared first, so a mismatch is reported without loading the model.
    """
    built = manifest.get("model", {})
    name, weights_hash = embedder.name, embedder.weights_hash
    same_weights = built.get("weights_sha256") == weights_hash
    dimension = embedder.dimension if same_weights else "?"
    if not same_weights or built.get("dimension") != dimension:
        raise IndexMismatchError(
            f"The index was built with model {built.get('name')} (dimension {built.get('dimension')}, "
            f"weights {str(built.get('weights_sha256'))[:12]}…) but {name} (dimension {dimension}, "
            f"weights {weights_hash[:12]}…) is configured. Rebuild it: {fix}"
        )
