"""BM25 over the passages' terms, at archive size.

Laid out like the vector index (``vectors.py``): a main snapshot written to files when the
vectors are (the terms sorted, and for each its postings: passage row ids and term
frequencies, memory-mapped, so opening reads nothing whole), plus the rows added since,
kept in memory. A question's terms are looked up by binary search and their postings scored
with numpy, so a term in half of a million passages costs milliseconds (SQLite FTS5 scores
every matching row one by one: about a second there).

The ranking is SQLite FTS5's ``bm25()``: k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) /
(n + 0.5)) floored at 1e-6, over the passage counts of the whole index. Passages removed
since the snapshot still count in ``n`` until the next one, and are skipped by the caller.
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

K1, B = 1.2, 0.75
_FILES = ("terms", "df", "indptr", "rows", "weight", "lengths", "avgdl")
_BATCH = 20_000
# From this many passages on, a term in more than half of them (whose idf is floored at
# 1e-6: it adds nothing to the ranking) is scored only when the others find too few passages.
_SKIP_COMMON_FROM = 10_000


def _weight(tf: np.ndarray, lengths: np.ndarray, avg: float) -> np.ndarray:
    """BM25's term-frequency part: tf (k1 + 1) / (tf + k1 (1 - b + b dl / avgdl))."""
    return tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths / avg))


class LexicalIndex:
    """Each passage's terms, searchable by BM25 and by "all of these terms"."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder
        self.main: dict[str, np.ndarray] = {}
        if folder is not None:
            self.main = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _FILES}
        self.delta: dict[str, dict[int, int]] = {}  # term -> {row: frequency}
        self.delta_lengths: dict[int, int] = {}

    @property
    def avgdl(self) -> float | None:
        """Mean terms per passage when the snapshot was written: its weights were computed
        with it, and the rows added since are weighed alike (until the next snapshot)."""
        return float(self.main["avgdl"][0]) if "avgdl" in self.main else None

    def add(self, rows: list[int], terms: list[list[str]]) -> None:
        """Passages written after the snapshot: searched from memory."""
        for row, words in zip(rows, terms, strict=True):
            self.delta_lengths[int(row)] = len(words)
            for term, tf in Counter(words).items():
                self.delta.setdefault(term, {})[int(row)] = tf

    def drop(self, rows: set[int]) -> None:
        """Passages removed: out of memory now (in the snapshot they are skipped by the caller)."""
        for row in rows:
            self.delta_lengths.pop(row, None)
        for postings in self.delta.values():
            for row in rows & postings.keys():
                del postings[row]

    def _find(self, term: str) -> int | None:
        terms = self.main.get("terms")
        if terms is None or not len(terms):
            return None
        key = term.encode("ascii", "replace")
        at = int(np.searchsorted(terms, key))
        return at if at < len(terms) and terms[at] == key else None

    def _main(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The snapshot's postings of ``term``: row ids and weights."""
        at = self._find(term)
        if at is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        start, end = int(self.main["indptr"][at]), int(self.main["indptr"][at + 1])
        return np.asarray(self.main["rows"][start:end]), np.asarray(self.main["weight"][start:end])

    def _delta(self, term: str, avg: float) -> tuple[np.ndarray, np.ndarray]:
        extra = self.delta.get(term) or {}
        rows = np.fromiter(extra.keys(), dtype=np.int64, count=len(extra))
        tf = np.fromiter(extra.values(), dtype=np.float64, count=len(extra))
        lengths = np.array([self.delta_lengths.get(int(r), 0) for r in rows], dtype=np.float64)
        return rows, _weight(tf, lengths, avg).astype(np.float32)

    def document_frequency(self, term: str) -> int:
        at = self._find(term)
        return (0 if at is None else int(self.main["df"][at])) + len(self.delta.get(term) or ())

    def postings(self, term: str) -> np.ndarray:
        """Row ids of the passages holding ``term`` (snapshot and since)."""
        rows, _ = self._main(term)
        extra = self.delta.get(term)
        return np.concatenate([rows, np.fromiter(extra, dtype=np.int64, count=len(extra))]) if extra else rows

    def search(self, terms: list[str], n: int, passages: int, total_terms: int,
               allowed: np.ndarray | None = None) -> list[int]:
        """Row ids of the ``n`` passages that best match ``terms`` by BM25, best first
        (ties: the earlier row); ``passages`` and ``total_terms`` are the index's counts;
        ``allowed``: only among those rows."""
        if n < 1 or passages < 1:
            return []
        avg = self.avgdl or max(total_terms / passages, 1e-9)
        weighted = []
        for term in dict.fromkeys(terms):
            df = self.document_frequency(term)
            if df:
                weighted.append((max(math.log((passages - df + 0.5) / (df + 0.5)), 1e-6), term))
        if not weighted:
            return []
        main = self.main.get("lengths")
        size = max(len(main) if main is not None else 0, max(self.delta_lengths, default=-1) + 1)
        scores = np.zeros(size, dtype=np.float32)  # by row id: a term's postings hold each row once
        common = [w for w in weighted if w[0] <= 1e-6] if passages >= _SKIP_COMMON_FROM else []
        for idf, term in [w for w in weighted if w not in common]:
            for rows, weight in (self._main(term), self._delta(term, avg)):
                if len(rows):
                    scores[rows] += np.float32(idf) * weight
        outside = None
        if allowed is not None:  # the statistics stay the whole index's; only the ranking is cut
            outside = np.ones(size, dtype=bool)
            outside[allowed[allowed < size]] = False
            scores[outside] = 0
        if common and np.count_nonzero(scores) < n:
            for idf, term in common:
                for rows, weight in (self._main(term), self._delta(term, avg)):
                    if len(rows):
                        scores[rows] += np.float32(idf) * weight
            if outside is not None:
                scores[outside] = 0
        rows = np.flatnonzero(scores)
        found = scores[rows]
        if len(rows) > n:
            keep = np.argpartition(-found, n - 1)[:n]
            # Scores tied with the n-th best are all kept, so that ties go to the earlier row.
            keep = np.flatnonzero(found >= found[keep].min())
            rows, found = rows[keep], found[keep]
        order = np.lexsort((rows, -found))[:n]
        return [int(r) for r in rows[order]]

    def rows_with_all(self, terms: list[str], limit: int) -> list[int]:
        """Row ids of passages holding every one of ``terms`` (at most ``limit``, in order)."""
        found: set[int] | None = None
        for term in sorted(set(terms), key=self.document_frequency):
            rows = set(self.postings(term).tolist())
            found = rows if found is None else found & rows
            if not found:
                return []
        return sorted(found)[:limit] if found else []


def load_lexical(folder: Path, con: sqlite3.Connection, meta: dict[str, Any]) -> LexicalIndex:
    """The lexical index of the database ``con``: its snapshot and the rows added since."""
    record = meta.get("lexical") or {}
    index = LexicalIndex(folder / record["dir"] if record.get("dir") else None)
    covered = int((meta.get("vectors") or {}).get("covered", 0))
    rows, terms = [], []
    for row, text in con.execute("SELECT row, terms FROM chunks WHERE row > ? ORDER BY row", (covered,)):
        rows.append(row)
        terms.append(text.split())
    index.add(rows, terms)
    return index


def write_snapshot(folder: Path, con: sqlite3.Connection) -> tuple[str, LexicalIndex]:
    """Write a snapshot of every passage's terms beside the database; returns its folder's
    name (live once the database names it) and the index reading it."""
    vocabulary: dict[str, int] = {}
    term_ids: list[np.ndarray] = []
    row_ids: list[np.ndarray] = []
    freqs: list[np.ndarray] = []
    max_row = int(con.execute("SELECT coalesce(max(row), 0) FROM chunks").fetchone()[0])
    lengths = np.zeros(max_row + 1, dtype=np.int32)
    last = passages = 0
    while batch := con.execute("SELECT row, terms FROM chunks WHERE row > ? ORDER BY row LIMIT ?",
                               (last, _BATCH)).fetchall():
        last = batch[-1][0]
        passages += len(batch)
        t_ids, r_ids, f = [], [], []
        for row, text in batch:
            words = text.split()
            lengths[row] = len(words)
            for term, tf in Counter(words).items():
                t_ids.append(vocabulary.setdefault(term, len(vocabulary)))
                r_ids.append(row)
                f.append(min(tf, 65535))
        term_ids.append(np.asarray(t_ids, dtype=np.int64))
        row_ids.append(np.asarray(r_ids, dtype=np.int32))
        freqs.append(np.asarray(f, dtype=np.uint16))
    names = sorted(vocabulary)
    rank = np.empty(len(names), dtype=np.int64)  # vocabulary id -> position among sorted terms
    for position, term in enumerate(names):
        rank[vocabulary[term]] = position
    tids = rank[np.concatenate(term_ids)] if term_ids else np.zeros(0, dtype=np.int64)
    rows = np.concatenate(row_ids) if row_ids else np.zeros(0, dtype=np.int32)
    tf = np.concatenate(freqs) if freqs else np.zeros(0, dtype=np.uint16)
    order = np.lexsort((rows, tids))
    df = np.bincount(tids, minlength=len(names)).astype(np.int32)
    rows, tf = rows[order], tf[order].astype(np.float64)
    avg = max(float(lengths.sum()) / max(passages, 1), 1e-9)
    arrays = {
        "terms": np.asarray([t.encode("ascii", "replace") for t in names], dtype=bytes if names else "S1"),
        "df": df, "indptr": np.concatenate([[0], np.cumsum(df)]).astype(np.int64),
        "rows": rows, "weight": _weight(tf, lengths[rows].astype(np.float64), avg).astype(np.float32),
        "lengths": lengths, "avgdl": np.array([avg]),
    }
    tmp = Path(tempfile.mkdtemp(prefix=".lexical-", dir=folder))
    try:
        for name, array in arrays.items():
            with open(tmp / f"{name}.npy", "wb") as fh:
                np.save(fh, array)
                fh.flush()
                os.fsync(fh.fileno())
        final = folder / f"lexical-{tmp.name[9:]}"
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final.name, LexicalIndex(final)
