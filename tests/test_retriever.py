from typing import ClassVar

import numpy as np
import pytest

from index import IndexConfig, open_index
from rag.config import RagConfig
from rag.retrieve.retriever import HybridRetriever, rrf_fuse


def test_rrf_matches_a_hand_computed_example():
    # d0: 1/(60+1) + 1/(60+3); d1: 1/(60+2); d2: 1/(60+3) + 1/(60+1); d3: 1/(60+2)
    fused = rrf_fuse([[0, 1, 2], [2, 3, 0]], k=60)
    assert fused[0] == pytest.approx(1 / 61 + 1 / 63)
    assert fused[1] == pytest.approx(1 / 62)
    assert fused[2] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[3] == pytest.approx(1 / 62)


def test_rrf_of_nothing_is_empty():
    assert rrf_fuse([[], []], k=60) == {}


class FourDimEmbedder:
    """Hand-written 4-dimensional vectors keyed by a word in the text."""

    name = "four"
    weights_hash = "4" * 64
    dimension = 4
    _axes: ClassVar[dict[str, int]] = {"rocket": 0, "talks": 1, "aid": 2, "weather": 3}

    def _v(self, text):
        v = np.zeros(4, dtype=np.float32)
        for word, axis in self._axes.items():
            if word in text.lower():
                v[axis] = 1
        return v / (np.linalg.norm(v) or 1)

    def encode_documents(self, texts, progress=False):
        return np.stack([self._v(t) for t in texts]).astype(np.float32)

    def encode_queries(self, texts):
        return self.encode_documents(texts)

    def count_tokens(self, text):
        return len(text.split())


@pytest.fixture
def dup_corpus(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "one.txt").write_text("Rocket report from the south\n\nA rocket hit a field near the fence.\n")
    (root / "two.txt").write_text("Rocket report copied by a wire\n\nA rocket hit a field near the fence.\n")
    (root / "three.txt").write_text("Talks in Cairo end quickly\n\nThe talks ended without a deal.\n")
    (root / "four.txt").write_text("Aid arrives for the winter\n\nThe aid convoy arrived at dawn.\n")
    return root


def _retriever(corpus, tmp_path, **cfg):
    embedder = FourDimEmbedder()
    store, _ = open_index(corpus, tmp_path / "i", IndexConfig(max_tokens=64), embedder)
    return HybridRetriever(store, embedder, RagConfig(**cfg))


def test_bm25_ranks_as_the_formula_says(tmp_path):
    """FTS5's bm25 (k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) / (n + 0.5)), floored at 1e-6)
    against the formula computed by hand over the same passage terms."""
    import math

    root = tmp_path / "c"
    root.mkdir()
    texts = ["Rocket fire hit the town. Rockets again at night.", "Talks on rocket fire ended.",
             "Aid for the town arrived.", "Weather was calm in the town.", "Weather news only."]
    for i, t in enumerate(texts):
        (root / f"{i}.txt").write_text(f"Report\n\n{t}\n")
    store, _ = open_index(root, tmp_path / "i", IndexConfig(max_tokens=64), FourDimEmbedder())
    rows = [store.row_of(c.chunk_id) for c in store.iter_chunks()]
    docs = {r: store.passage_terms(r) for r in rows}
    avg = sum(map(len, docs.values())) / len(docs)
    query = ["rocket", "fire", "town"]

    def score(terms):
        total = 0.0
        for q in query:
            n = sum(q in d for d in docs.values())
            idf = max(math.log((len(docs) - n + 0.5) / (n + 0.5)), 1e-6)
            f = terms.count(q)
            total += idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * len(terms) / avg))
        return total

    expected = sorted((r for r in rows if score(docs[r]) > 0), key=lambda r: -score(docs[r]))
    assert store.bm25(query, 10) == expected


def test_near_duplicate_passages_are_collapsed(dup_corpus, tmp_path):
    passages = _retriever(dup_corpus, tmp_path).retrieve("rocket field", k=3)
    sources = [p.source for p in passages]
    assert len([s for s in sources if s in ("one.txt", "two.txt")]) == 1
    assert len(passages) == 3


def test_top_k_and_ranks_are_reported(dup_corpus, tmp_path):
    retriever = _retriever(dup_corpus, tmp_path, top_k=2)
    passages = retriever.retrieve("aid convoy")
    assert len(passages) == 2
    assert passages[0].source == "four.txt"
    assert passages[0].dense_rank == 1 and passages[0].bm25_rank == 1
    assert passages[0].score >= passages[1].score


def test_dense_only_mode_ignores_bm25(dup_corpus, tmp_path):
    passages = _retriever(dup_corpus, tmp_path).retrieve("aid convoy", k=2, hybrid=False)
    assert all(p.bm25_rank is None for p in passages)


def test_k_below_one_is_rejected(dup_corpus, tmp_path):
    with pytest.raises(ValueError, match="k must be >= 1"):
        _retriever(dup_corpus, tmp_path).retrieve("aid", k=0)


def test_the_passage_of_the_best_matching_sentence_is_always_kept(tmp_path):
    # The "weather" sentence of a.txt matches the query exactly, but its passage is diluted
    # by rocket/talks/aid and ranks below b.txt in both lists.
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.txt").write_text("Rocket talks aid report\n\nRocket talks and aid. The weather was fine.\n")
    (root / "b.txt").write_text("Weather and rocket notes\n\nWeather and rocket news, weather again.\n")
    fused_only = _retriever(root, tmp_path, sentence_slots=0).retrieve("weather", k=1)
    assert [p.source for p in fused_only] == ["b.txt"]
    rescued = _retriever(root, tmp_path, sentence_slots=1).retrieve("weather", k=1)
    assert [p.source for p in rescued] == ["a.txt"]
    both = _retriever(root, tmp_path, sentence_slots=1).retrieve("weather", k=2)
    assert [p.source for p in both] == ["b.txt", "a.txt"]  # the reserved passage comes last


def test_negative_sentence_slots_are_rejected():
    with pytest.raises(ValueError, match="sentence_slots"):
        RagConfig(sentence_slots=-1)
