"""Passage vectors searchable by inner product (= cosine: the vectors are normalised).

Two parts, as in a log-structured index: a main FAISS index kept in a file, mapping to the
passages' row ids (exact search below ``ANN_MIN_VECTORS`` vectors, HNSW above), and the rows
added since that file was written, searched exactly in memory. Adding one article to a large
archive therefore writes a few rows to the database instead of rewriting the vector file;
``merge_needed`` says when the rows added (or removed) since are enough to write it anew.
Removed passages stay in the main index until then and are skipped by the caller, which
asks for ``removed`` more results than it needs.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .db import from_blobs

log = logging.getLogger(__name__)

# "auto": exact search below this many passages (about 15 ms a question at 100k on two cores),
# HNSW above it, whose search time barely grows with the archive.
ANN_MIN_VECTORS = 100_000
HNSW_FACTORY = "HNSW32"
# Candidates HNSW keeps while searching (FAISS's default is 16), set whenever an index is
# opened, so a file written with another value follows this one. Measured, one thread: on 14k
# real MiniLM vectors of SQuAD paragraphs and their sentences, recall@10 against exact search
# for 5,950 real questions is 0.992 at 128, 0.997 at 256 and 0.998 at 320, losing about 0.001
# per doubling of the archive at 320; on the bench's 1M synthetic vectors (harder than real
# text) 320 gives recall@10 0.957 in 3.8 ms, where 640 took 6.9 ms for 0.990 (README).
HNSW_EF_SEARCH = 320
HNSW_EF_CONSTRUCTION = 80
# The in-memory part is merged into the file once it holds this many rows, or this share of
# the main index (or when the whole index is this small, after every build).
MERGE_MIN_ROWS = 1_000
MERGE_SHARE = 0.05
# Removed passages make the main index be rebuilt once they are this share of it.
REBUILD_REMOVED_SHARE = 0.10
_BATCH = 50_000
_MAGIC = b"IxM2"  # how FAISS begins an IndexIDMap2 file


def resolve_factory(factory: str, count: int) -> str:
    """The FAISS factory string an index of ``count`` vectors is built with: ``factory``
    itself, or for "auto" exact search ("Flat") below ANN_MIN_VECTORS and HNSW above."""
    if factory != "auto":
        return factory
    return "Flat" if count < ANN_MIN_VECTORS else HNSW_FACTORY


def new_faiss(dimension: int, factory: str) -> Any:
    """An empty ID-mapped inner-product FAISS index (``factory`` as FAISS spells it)."""
    import faiss

    inner = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
    hnsw = getattr(faiss.downcast_index(inner), "hnsw", None)
    if hnsw is not None:
        hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index = faiss.IndexIDMap2(inner)
    _search_settings(index)
    return index


def _search_settings(index: Any) -> None:
    """Today's search settings on an ID-mapped index, new or read from a file (an HNSW one's
    efSearch: a file keeps the value it was written with)."""
    import faiss

    hnsw = getattr(faiss.downcast_index(index.index), "hnsw", None)
    if hnsw is not None:
        hnsw.efSearch = HNSW_EF_SEARCH


class VectorIndex:
    """The passages' vectors: ``search`` returns row ids and scores, best first."""

    def __init__(self, dimension: int, main: Any = None, main_file: str | None = None, main_rows: int = 0,
                 covered: int = 0, removed: int = 0, factory: str = "Flat", main_path: Path | None = None):
        self.dimension = dimension
        self._main = main  # ID-mapped FAISS index, or None
        self.main_path = main_path  # read from there (memory-mapped) when first searched
        self.main_file = main_file
        self.main_rows = main_rows  # vectors in the main index
        self.covered = covered  # the main index holds the rows up to this one
        self.removed = removed  # of those, rows since removed from the database
        self.factory = factory
        self.delta_rows = np.zeros(0, dtype=np.int64)
        self.delta = np.zeros((0, dimension), dtype=np.float32)
        # Rows a build has written since and not loaded: a build needs no search, and its
        # memory must not grow with the archive.
        self.pending = 0

    @property
    def main(self) -> Any:
        """The main FAISS index, read on first use: an update that only adds rows never
        needs it, and a memory-mapped file is paged in as searches touch it."""
        if self._main is None and self.main_path is not None:
            import faiss

            self._main = faiss.read_index(str(self.main_path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
            _search_settings(self._main)
        return self._main

    @property
    def ntotal(self) -> int:
        return self.main_rows - self.removed + len(self.delta_rows) + self.pending

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        """Rows written to the database after the main index: searched from memory."""
        self.delta_rows = np.concatenate([self.delta_rows, np.asarray(rows, dtype=np.int64)])
        self.delta = np.vstack([self.delta, np.asarray(vectors, dtype=np.float32)])

    def drop(self, rows: set[int]) -> None:
        """Rows removed from the database: out of memory now, skipped in the main index."""
        keep = np.array([int(r) not in rows for r in self.delta_rows], dtype=bool)
        self.removed += sum(1 for r in rows if r <= self.covered)
        self.delta_rows, self.delta = self.delta_rows[keep], self.delta[keep]

    def search(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` (plus ``removed``) best rows for ``query`` and their scores, best first;
        ``allowed``: only among those rows, filtered inside the search (FAISS's ID selector),
        so a period's few reports in an archive are found however far down they rank."""
        want = n + self.removed
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        rows, scores = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if allowed is not None and not len(allowed):
            return rows, scores
        if self.main_rows:
            import faiss

            params = None if allowed is None else faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
            s, ids = self.main.search(q, min(want, self.main_rows), params=params)
            found = ids[0] >= 0
            rows, scores = ids[0][found].astype(np.int64), s[0][found]
        if len(self.delta_rows):
            mine = np.isin(self.delta_rows, allowed) if allowed is not None else slice(None)
            sims = np.full(len(self.delta_rows), -np.inf, dtype=np.float32)
            sims[mine] = self.delta[mine] @ q[0]
            top = np.argsort(-sims, kind="stable")[:want]
            top = top[np.isfinite(sims[top])]
            rows, scores = np.concatenate([rows, self.delta_rows[top]]), np.concatenate([scores, sims[top]])
            order = np.argsort(-scores, kind="stable")[:want]
            rows, scores = rows[order], scores[order]
        return rows, scores

    def merge_needed(self, factory: str) -> bool:
        """Whether the main index should be written anew (see ``merge``)."""
        live = self.ntotal
        if resolve_factory(factory, live) != self.factory and (self.main_rows or len(self.delta_rows)):
            return True
        if self.removed > REBUILD_REMOVED_SHARE * self.main_rows:
            return True
        delta = len(self.delta_rows) + self.pending
        return bool(delta) and (live < MERGE_MIN_ROWS or delta >= max(MERGE_MIN_ROWS, MERGE_SHARE * self.main_rows))


def load_vectors(index_dir: Path, con: sqlite3.Connection, meta: dict[str, Any], dimension: int,
                 reuse: VectorIndex | None = None) -> VectorIndex:
    """The vector index of the database ``con``: its main file (``reuse``'s, already read,
    when it is the same file) and the rows added since."""
    import faiss

    record = meta.get("vectors") or {}
    index = VectorIndex(dimension, covered=int(record.get("covered", 0)), removed=int(record.get("removed", 0)),
                        factory=str(record.get("factory", "Flat")))
    if reuse is not None and reuse.main_file and reuse.main_file == record.get("file"):
        index._main, index.main_path = reuse._main, reuse.main_path
        index.main_file, index.main_rows = reuse.main_file, reuse.main_rows
    elif record.get("file"):
        path = index_dir / record["file"]
        with open(path, "rb") as fh:
            if fh.read(4) != _MAGIC:
                raise ValueError(f"{path.name} is not a FAISS ID-mapped index")
        index.main_path, index.main_file = path, record["file"]
        index.main_rows = int(record["rows"]) if "rows" in record else int(faiss.read_index(str(path)).ntotal)
    rows, blobs = [], []
    for row, blob in con.execute("SELECT row, vector FROM chunks WHERE row > ? ORDER BY row", (index.covered,)):
        rows.append(row)
        blobs.append(blob)
    index.add(np.asarray(rows, dtype=np.int64), from_blobs(blobs, dimension))
    return index


def _all_vectors(con: sqlite3.Connection, dimension: int, last: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The rows after ``last`` and their vectors, in batches."""
    while True:
        batch = con.execute("SELECT row, vector FROM chunks WHERE row > ? ORDER BY row LIMIT ?",
                            (last, _BATCH)).fetchall()
        if not batch:
            return
        last = batch[-1][0]
        yield np.asarray([r for r, _ in batch], dtype=np.int64), from_blobs([b for _, b in batch], dimension)


def write_main(index_dir: Path, con: sqlite3.Connection, index: VectorIndex, factory: str) -> VectorIndex:
    """Write the main index anew: the rows added since are added to it, or, when the factory
    changes or removed rows have piled up, it is rebuilt from every row in the database (read
    in batches). The file is written beside the old one and becomes live when the database
    names it (``record``); a build killed before that commit leaves the old one live."""
    import faiss

    last = con.execute("SELECT max(row), count(*) FROM chunks").fetchone()
    covered, live = int(last[0] or 0), int(last[1])
    target = resolve_factory(factory, live)
    if index.main_path is not None and target == index.factory and not index.removed:
        main = faiss.read_index(str(index.main_path))  # whole, to add to (searches map it)
        _search_settings(main)  # searched from memory until the process ends
        for rows, vectors in _all_vectors(con, index.dimension, index.covered):
            main.add_with_ids(vectors, rows)
    else:
        main = new_faiss(index.dimension, target)
        for rows, vectors in _all_vectors(con, index.dimension):
            if not main.is_trained:
                main.train(vectors)
            main.add_with_ids(vectors, rows)
    fd, tmp = tempfile.mkstemp(prefix=".vectors-", suffix=".faiss", dir=index_dir)
    os.close(fd)
    try:
        faiss.write_index(main, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        name = f"vectors-{os.path.basename(tmp)[9:-6]}.faiss"
        os.replace(tmp, index_dir / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    merged = VectorIndex(index.dimension, main, name, int(main.ntotal), covered, 0, target, index_dir / name)
    log.info("vector index written: %d passages, %s", merged.main_rows, target)
    return merged


def record(index: VectorIndex) -> dict[str, Any]:
    """What the database keeps of the vector index: its file and the rows it holds."""
    return {"file": index.main_file, "rows": index.main_rows, "factory": index.factory, "covered": index.covered,
            "removed": index.removed}
