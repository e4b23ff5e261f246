"""The index database: one SQLite file holding documents, passages, their vectors, the
BM25 full-text index and the corpus vocabulary, read on demand and written in transactions.

SQLite (the standard library's) gives what an archive needs without a server: a file that
opens in constant time, rows read by key instead of parsed whole, and atomic commits (a
build killed between two commits loses nothing that was committed). The vector and BM25
indexes are snapshots of its rows written beside it (``vectors.py``, ``lexical.py``).

Tables::

    meta(key, value)            the model record, chunking, pipeline, counts (JSON values)
    files(doc_id, …)            every corpus file seen: content hash, size, mtime, indexed or skipped
    docs(id, doc_id, …)         cleaned documents: title, date, text, sentence spans
    chunks(row, chunk_id, …)    passages (offsets into their document), their vectors and terms;
                                ``row`` is the passage's id in the search indexes, never reused
    sentences(doc, idx, vector) one vector per sentence
    terms(term, df)             sentences holding each term (idf)
    words(word, n)              text units holding each word (what the corpus mentions)
    dropped(row)                passages deleted here and not yet from a Milvus collection
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 4
DB_NAME = "index.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
    doc_id TEXT PRIMARY KEY, content_hash TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs(
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE, title TEXT NOT NULL, date TEXT, text TEXT NOT NULL,
    content_hash TEXT NOT NULL, sentences BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(
    row INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT NOT NULL, doc INTEGER NOT NULL, start INTEGER NOT NULL,
    end INTEGER NOT NULL, first_sentence INTEGER NOT NULL, last_sentence INTEGER NOT NULL, vector BLOB NOT NULL,
    terms TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_id ON chunks(chunk_id);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc);
CREATE TABLE IF NOT EXISTS sentences(
    doc INTEGER NOT NULL, idx INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY(doc, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS terms(term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS words(word TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dropped(row INTEGER PRIMARY KEY);
"""


def connect(path: Path, create: bool = False) -> sqlite3.Connection:
    """A connection to the index database at ``path`` (created with its schema when
    ``create``). WAL lets a page answer from the index while ``rag index`` writes to it."""
    if not create and not Path(path).is_file():
        raise FileNotFoundError(path)
    con = sqlite3.connect(str(path), timeout=60, check_same_thread=False, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    # A commit survives a killed process; NORMAL only risks the last commits on power loss.
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA cache_size=-65536")  # 64 MB of pages per connection
    if create:
        con.executescript(_SCHEMA)
    return con


def read_meta(con: sqlite3.Connection) -> dict[str, Any]:
    """Every meta key with its decoded value."""
    return {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}


def write_meta(con: sqlite3.Connection, values: dict[str, Any]) -> None:
    con.executemany("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    [(k, json.dumps(v, ensure_ascii=False)) for k, v in values.items()])


def to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def from_blobs(blobs: list[bytes], dimension: int) -> np.ndarray:
    """Rows of float32 vectors from their blobs (a (0, dimension) array for none)."""
    if not blobs:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dimension)


def spans_blob(spans: tuple[tuple[int, int], ...]) -> bytes:
    return np.asarray(spans, dtype=np.int32).reshape(-1).tobytes()


def spans_from_blob(blob: bytes) -> tuple[tuple[int, int], ...]:
    flat = np.frombuffer(blob, dtype=np.int32)
    return tuple((int(a), int(b)) for a, b in zip(flat[0::2], flat[1::2], strict=True))

