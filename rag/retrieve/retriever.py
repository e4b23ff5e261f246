"""Hybrid retrieval: dense FAISS search and BM25, fused by reciprocal rank fusion."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index import Embedder, IndexStore
from index.chunking import embedding_text

from ..answer.qtypes import topic
from ..config import RagConfig
from ..records import Passage
from ..text import content_terms

log = logging.getLogger(__name__)


class Retriever(Protocol):
    def retrieve(self, query: str, k: int | None = None) -> list[Passage]: ...


def rrf_fuse(rankings: list[list[int]], k: int) -> dict[int, float]:
    """Reciprocal rank fusion: score(d) = sum over rankings of 1 / (k + rank(d)), rank from 1."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


class HybridRetriever:
    """Retrieves passages of an IndexStore: dense FAISS search, best-matching sentences and
    BM25 (read from the index build when kept there, else built at construction)."""

    def __init__(self, store: IndexStore, embedder: Embedder, config: RagConfig,
                 passage_terms: list[list[str]] | None = None, terms_version: str | None = None):
        import bm25s

        self.store = store
        self.embedder = embedder
        self.config = config
        # ``passage_terms``: the passages' terms, when already computed (CorpusVocabulary has
        # them); with ``terms_version``, the BM25 index is kept in the index build and read back.
        self._bm25 = _load_bm25(store, terms_version) if terms_version else None
        if self._bm25 is None:
            tokens = passage_terms if passage_terms is not None else [
                content_terms(embedding_text(store.docs[c.doc_id].title, c.text)) for c in store.chunks]
            self._bm25 = bm25s.BM25()
            # bm25s needs a non-empty vocabulary; a placeholder keeps empty passages harmless.
            self._bm25.index([t or ["\x00"] for t in tokens], show_progress=False)
            if terms_version:
                _save_bm25(self._bm25, store, terms_version)
        # The passages holding each sentence, to find the passage of a best-matching sentence.
        rows: list[int] = []
        owners: list[int] = []
        for c_row, c in enumerate(store.chunks):
            offset = store.sentence_offset[c.doc_id]
            rows += range(offset + c.first_sentence, offset + c.last_sentence)
            owners += [c_row] * (c.last_sentence - c.first_sentence)
        self._sentence_rows = np.asarray(rows, dtype=np.int64)
        self._sentence_owner = np.asarray(owners, dtype=np.int64)

    def dense_ranking(self, query_vector: np.ndarray, n: int) -> list[int]:
        n = min(n, self.store.faiss_index.ntotal)
        _, ids = self.store.faiss_index.search(query_vector.reshape(1, -1), n)
        return [int(i) for i in ids[0] if i >= 0]

    def sentence_ranking(self, query_vector: np.ndarray, n: int) -> list[int]:
        """Passages ranked by their single best-matching sentence."""
        if n < 1 or not len(self._sentence_rows):
            return []
        # Score every sentence once, in place, then gather per passage: indexing the matrix
        # first would copy all the sentence vectors on every question.
        sims = (self.store.sentence_vectors @ query_vector)[self._sentence_rows]
        best = np.full(len(self.store.chunks), -np.inf)
        np.maximum.at(best, self._sentence_owner, sims)
        order = np.argsort(-best, kind="stable")[:n]
        return [int(i) for i in order if np.isfinite(best[i])]

    def bm25_ranking(self, query: str, n: int) -> list[int]:
        terms = content_terms(topic(query))
        if not terms:
            return []
        scores = self._bm25.get_scores(terms)
        order = np.argsort(-scores, kind="stable")[:n]
        return [int(i) for i in order if scores[i] > 0]

    def retrieve(self, query: str, k: int | None = None, hybrid: bool | None = None) -> list[Passage]:
        """Top ``k`` passages for ``query``, best first, near-duplicates collapsed."""
        k = self.config.top_k if k is None else k
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        hybrid = self.config.hybrid if hybrid is None else hybrid
        n = k * self.config.candidate_factor
        query_vector = self.embedder.encode_queries([query])[0]
        dense = self.dense_ranking(query_vector, n)
        sparse = self.bm25_ranking(query, n) if hybrid else []
        fused = rrf_fuse([dense, sparse] if sparse else [dense], self.config.rrf_k)
        order = sorted(fused, key=lambda i: (-fused[i], i))
        dense_rank = {i: r for r, i in enumerate(dense, 1)}
        bm25_rank = {i: r for r, i in enumerate(sparse, 1)}
        vectors = self.store.chunk_vectors

        def novel(row: int, kept: list[int]) -> bool:
            # A near-copy of a better passage adds nothing.
            return all(float(vectors[row] @ vectors[j]) < self.config.dedup_threshold for j in kept)

        # A paraphrased question may match one sentence well while its passage, diluted by
        # the other sentences and sharing few words, ranks low in both lists: the passages
        # of the best-matching sentences always get a place, the last ones.
        reserved: list[int] = []
        for row in self.sentence_ranking(query_vector, min(self.config.sentence_slots, k)):
            if novel(row, reserved):
                reserved.append(row)
        kept: list[int] = []
        for row in order:
            if len(kept) + len([r for r in reserved if r not in kept]) >= k:
                break
            if novel(row, kept):
                kept.append(row)
        kept += [r for r in reserved if r not in kept and novel(r, kept)]
        return [self._passage(row, fused.get(row, 0.0), dense_rank.get(row), bm25_rank.get(row))
                for row in kept]

    def _passage(self, row: int, score: float, dense: int | None, bm25: int | None) -> Passage:
        chunk = self.store.chunks[row]
        doc = self.store.docs[chunk.doc_id]
        return Passage(chunk.chunk_id, chunk.doc_id, doc.title, doc.date, chunk.text,
                       chunk.start, chunk.end, score, dense, bm25)


def _bm25_dir(store: IndexStore, version: str) -> Path | None:
    build = getattr(store, "path", None)
    return Path(build) / f"bm25-{version}" if build else None


def _load_bm25(store: IndexStore, version: str) -> Any:
    """The BM25 index kept in the index build by ``_save_bm25``, or None."""
    import bm25s

    folder = _bm25_dir(store, version)
    if folder is None or not folder.is_dir():
        return None
    try:
        bm25 = bm25s.BM25.load(str(folder), show_progress=False)
        return bm25 if bm25.scores["num_docs"] == len(store.chunks) else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("rebuilding BM25: cannot read %s (%s)", folder, exc)
        return None


def _save_bm25(bm25: Any, store: IndexStore, version: str) -> None:
    """Keep the BM25 index in the index build (whole or not at all); a read-only index just
    rebuilds it at every start."""
    folder = _bm25_dir(store, version)
    if folder is None:
        return
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    try:
        bm25.save(str(tmp), show_progress=False)
        os.replace(tmp, folder)
        for stale in folder.parent.glob("bm25-*"):  # made by older code
            if stale != folder and ".tmp-" not in stale.name:
                shutil.rmtree(stale, ignore_errors=True)
    except OSError as exc:
        log.warning("cannot keep the BM25 index in %s: %s", folder, exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
