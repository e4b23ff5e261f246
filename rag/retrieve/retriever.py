"""Hybrid retrieval: dense vector search and BM25, fused by reciprocal rank fusion."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from index import Embedder, IndexStore

from ..answer.qtypes import topic
from ..config import RagConfig
from ..records import Passage
from ..text import content_terms


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
    """Retrieves passages of an IndexStore: dense vector search, BM25 (the index's FTS5) and
    the best-matching sentences among the passages those two find."""

    def __init__(self, store: IndexStore, embedder: Embedder, config: RagConfig):
        self.store = store
        self.embedder = embedder
        self.config = config

    def dense_ranking(self, query_vector: np.ndarray, n: int, allowed: np.ndarray | None = None) -> list[int]:
        return self.store.search(query_vector, n, allowed)

    def sentence_ranking(self, query_vector: np.ndarray, n: int, pool: list[int],
                         sentences: list[np.ndarray]) -> list[int]:
        """Passages of ``pool`` (``sentences``: each one's sentence vectors) ranked by their
        single best-matching sentence. Only the candidates' sentences are scored, never the
        whole archive's: on the seed corpus, the splits and Rhine the answers are the same as
        with a scan of every sentence."""
        if n < 1 or not pool:
            return []
        best = np.array([float((v @ query_vector).max()) if len(v) else -np.inf for v in sentences])
        order = np.argsort(-best, kind="stable")[:n]
        return [pool[i] for i in order if np.isfinite(best[i])]

    def bm25_ranking(self, query: str, n: int, allowed: np.ndarray | None = None) -> list[int]:
        return self.store.bm25(content_terms(topic(query)), n, allowed)

    def retrieve(self, query: str, k: int | None = None, hybrid: bool | None = None,
                 allowed: np.ndarray | None = None) -> list[Passage]:
        """Top ``k`` passages for ``query``, best first, near-duplicates collapsed; with
        ``allowed`` (sorted row ids), only among those passages."""
        k = self.config.top_k if k is None else k
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        hybrid = self.config.hybrid if hybrid is None else hybrid
        n = k * self.config.candidate_factor
        query_vector = self.embedder.encode_queries([query])[0]
        dense = self.dense_ranking(query_vector, n, allowed)
        sparse = self.bm25_ranking(query, n, allowed) if hybrid else []
        fused = rrf_fuse([dense, sparse] if sparse else [dense], self.config.rrf_k)
        order = sorted(fused, key=lambda i: (-fused[i], i))
        dense_rank = {i: r for r, i in enumerate(dense, 1)}
        bm25_rank = {i: r for r, i in enumerate(sparse, 1)}
        pool = sorted(set(dense + sparse))  # ties between sentences go to the earlier passage
        passage_vectors, sentence_vectors = self.store.passage_vectors(pool)
        vectors = dict(zip(pool, passage_vectors, strict=True))

        def novel(row: int, kept: list[int]) -> bool:
            # A near-copy of a better passage adds nothing.
            return all(float(vectors[row] @ vectors[j]) < self.config.dedup_threshold for j in kept)

        # A paraphrased question may match one sentence well while its passage, diluted by
        # the other sentences and sharing few words, ranks low in both lists: the passages
        # of the best-matching sentences always get a place, the last ones.
        reserved: list[int] = []
        for row in self.sentence_ranking(query_vector, min(self.config.sentence_slots, k), pool,
                                            sentence_vectors):
            if novel(row, reserved):
                reserved.append(row)
        kept: list[int] = []
        for row in order:
            if len(kept) + len([r for r in reserved if r not in kept and novel(r, kept)]) >= k:
                break
            if novel(row, kept):
                kept.append(row)
        kept += [r for r in reserved if r not in kept and novel(r, kept)]
        return [self._passage(row, fused.get(row, 0.0), dense_rank.get(row), bm25_rank.get(row))
                for row in kept]

    def _passage(self, row: int, score: float, dense: int | None, bm25: int | None) -> Passage:
        chunk = self.store.chunk_at(row)
        doc = self.store.docs[chunk.doc_id]
        return Passage(chunk.chunk_id, chunk.doc_id, doc.title, doc.date, chunk.text,
                       chunk.start, chunk.end, score, dense, bm25)

