"""The signals an answer is chosen by: one row of features per candidate sentence, and one
row per question for the refusal model.

Every signal is about the question and the retrieved text, never about how a data set's
questions were written: embedding similarity (absolute, and against the best candidate),
BM25 within the candidates, idf-weighted coverage of the question's terms (in the sentence,
with the sentence before it, in its passage), whether it holds the kind of thing asked for
(a name, a date, a figure, a cause), how strongly its passage was retrieved and how much it
says beyond the question. ``rag fit`` fits the weights over these on SQuAD-format data.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from index import Document, IndexStore

from .. import text as T
from ..records import Passage
from .draft import Support
from .qtypes import QuestionType, answer_items, topic
from .vocabulary import CorpusVocabulary

if TYPE_CHECKING:
    from .reading import Found

SENTENCE_FEATURES = (
    "cosine", "cosine_gap", "cosine_rank", "bm25", "coverage", "window_coverage", "context_coverage",
    "rarest_term", "typed_item", "typed_no_item", "passage", "novelty", "log_words",
)
QUESTION_FEATURES = (
    "best_logit", "best_gap", "best_cosine", "best_coverage", "best_context_coverage", "missing_terms",
    "unknown_name", "unknown_certain", "typed_none_near", "item_gap", "item_coverage", "item_context_coverage",
    "best_window_coverage", "best_missing_rarest", "top_coverage", "exact_typed_none", "exact_item_gap",
)
# Answer kinds whose detectors are patterns of digits and calendar words, not guesses at names:
# a sentence without a date cannot say when.
_EXACT_KINDS = frozenset({"date", "quantity", "amount", "duration"})
# BM25 constants (Robertson and Zaragoza's usual values).
_K1, _B = 1.2, 0.75


@dataclass
class Candidate:
    """A sentence of a retrieved passage, with what the selector needs to know about it."""

    doc_id: str
    index: int  # sentence index in its document
    start: int
    end: int
    text: str
    chunk_id: str  # best-ranked retrieved passage holding the sentence
    passage_strength: float  # that passage's fused score relative to the best passage
    vector: np.ndarray
    terms: frozenset[str] = frozenset()  # content stems of the sentence
    window: frozenset[str] = frozenset()  # content stems of the sentence and the one before it
    items: tuple[str, ...] = ()  # answer items of the asked type
    probability: float = 0.0  # the selector's: this sentence answers the question
    span: Found | None = None  # the reader's best span inside the sentence

    @property
    def support(self) -> Support:
        return Support(self.chunk_id, self.doc_id, self.start, self.end)

    @property
    def words(self) -> int:
        return len(self.text.split())


def body_start(doc: Document) -> int:
    """The index of a document's first sentence after its headline (1 where the text opens
    with its title as a line of its own, else 0)."""
    if not doc.sentences:
        return 0
    start, end = doc.sentences[0]
    own_line = doc.text[end:].lstrip(" \t").startswith("\n")  # not a paragraph's first sentence
    return int(bool(doc.title) and own_line and doc.text[start:end].strip() == doc.title.strip())


def candidates(store: IndexStore, passages: list[Passage]) -> list[Candidate]:
    """Sentences of the passages, each once, tagged with its best-ranked passage."""
    top = passages[0].score if passages and passages[0].score > 0 else 1.0
    seen: dict[tuple[str, int], Candidate] = {}
    for passage in passages:
        chunk = store.chunk(passage.chunk_id)
        doc = store.docs[chunk.doc_id]
        vectors = store.sentence_vectors(chunk.chunk_id)
        for i in range(chunk.first_sentence, chunk.last_sentence):
            if (doc.doc_id, i) not in seen:
                start, end = doc.sentences[i]
                if i < body_start(doc):
                    continue  # the headline: a label, not a sentence that answers
                seen[(doc.doc_id, i)] = Candidate(doc.doc_id, i, start, end, doc.text[start:end], chunk.chunk_id,
                                                  passage.score / top, vectors[i - chunk.first_sentence])
    return list(seen.values())


class Featurizer:
    """Computes the feature rows of a question's candidates against one corpus vocabulary."""

    def __init__(self, store: IndexStore, vocabulary: CorpusVocabulary):
        self.store = store
        self.vocabulary = vocabulary

    def idf(self, term: str) -> float:
        return self.vocabulary.idf(term)

    def units(self, question: str) -> list[tuple[str, ...]]:
        """The question's terms, each multi-word name kept together as one unit ("Palestinian
        Islamic Jihad" is matched whole); a person is matched by the surname, the way articles
        refer back to people."""
        units: list[tuple[str, ...]] = []
        grouped: set[str] = set()
        for name in T.entities(question, skip_first_word=True):
            stems = tuple(dict.fromkeys(t for t in T.content_terms(name) if len(t) > 2))
            if len(stems) > 1:
                units.append(stems[-1:] if T.is_person(name) else stems)
                grouped.update(stems)
        units += [(t,) for t in dict.fromkeys(T.content_terms(question)) if t not in grouped]
        return units

    def coverage(self, units: list[tuple[str, ...]], present: set[str]) -> float:
        """Share of the question's units in ``present`` (a set of stems), weighted by idf."""
        weights = [sum(self.idf(t) for t in unit) for unit in units]
        total = sum(weights)
        return sum(w for unit, w in zip(units, weights, strict=True) if set(unit) <= present) / total if total else 0.0

    def sentence_rows(self, question: str, qvec: np.ndarray, qtype: QuestionType,
                      cands: list[Candidate]) -> np.ndarray:
        """One row of SENTENCE_FEATURES per candidate (sets each candidate's window and items)."""
        if not cands:
            return np.zeros((0, len(SENTENCE_FEATURES)), dtype=np.float32)
        asked = topic(question)
        units = self.units(asked)
        qterms = {t for unit in units for t in unit}
        terms = [T.content_terms(c.text) for c in cands]
        self.vocabulary.prefetch(sorted(qterms) + [t for ts in terms for t in ts])
        rarest = max(units, key=lambda u: sum(self.idf(t) for t in u)) if units else ()
        cos = np.array([float(c.vector @ qvec) for c in cands])
        order = np.argsort(-cos, kind="stable")
        rank = np.empty(len(cands))
        rank[order] = np.arange(1, len(cands) + 1)
        bm25 = self._bm25(qterms, terms)
        own = {(c.doc_id, c.index): set(t) for c, t in zip(cands, terms, strict=True)}
        for c in cands:
            c.items = tuple(answer_items(c.text, qtype, question)) if qtype.typed else ()
        rows = []
        for c, t, cs, r, b in zip(cands, terms, cos, rank, bm25, strict=True):
            present = set(t)
            before = own.get((c.doc_id, c.index - 1))
            if before is None and c.index > 0:
                before = set(T.content_terms(self.store.docs[c.doc_id].sentence(c.index - 1)))
            c.terms = frozenset(present)
            c.window = frozenset(present | (before or set()))
            novel = [x for x in t if x not in qterms]
            rows.append((
                cs, cs - cos[order[0]], 1.0 / r, b, self.coverage(units, present),
                self.coverage(units, set(c.window)),
                self.coverage(units, self.vocabulary.passage_terms(c.chunk_id)),
                float(bool(rarest) and set(rarest) <= present),
                float(qtype.typed and bool(c.items)), float(qtype.typed and not c.items),
                c.passage_strength, len(novel) / len(t) if t else 0.0, math.log1p(c.words),
            ))
        return np.asarray(rows, dtype=np.float32)

    def _bm25(self, qterms: set[str], docs: list[list[str]]) -> np.ndarray:
        """BM25 of each candidate sentence for the question's terms, relative to the best one."""
        lengths = np.array([len(d) for d in docs], dtype=np.float64)
        avg = lengths.mean() if len(lengths) and lengths.mean() > 0 else 1.0
        scores = np.zeros(len(docs))
        for i, d in enumerate(docs):
            tf = Counter(x for x in d if x in qterms)
            scores[i] = sum(self.idf(t) * f * (_K1 + 1) / (f + _K1 * (1 - _B + _B * lengths[i] / avg))
                            for t, f in tf.items())
        top = scores.max() if len(scores) else 0.0
        return scores / top if top > 0 else scores

    def question_row(self, question: str, qtype: QuestionType, cands: list[Candidate], rows: np.ndarray,
                     logits: np.ndarray, unknown: list[str]) -> np.ndarray:
        """QUESTION_FEATURES for the refusal model, from the scored candidates (best first in ``logits`` order)."""
        if not cands:
            exact = float(qtype.kind in _EXACT_KINDS)
            return np.array([-10, 0, 0, 0, 0, 1, bool(unknown), 0, float(qtype.typed), -10, 0, 0, 0, 1, 0,
                             exact, -10 * exact], dtype=np.float32)
        order = np.argsort(-logits, kind="stable")
        best = order[0]
        second = logits[order[1]] if len(order) > 1 else logits[best] - 5
        units = self.units(topic(question))
        seen: set[str] = set().union(*(self.vocabulary.passage_terms(c.chunk_id) for c in cands))
        weights = [sum(self.idf(t) for t in u) for u in units]
        missing = sum(w for u, w in zip(units, weights, strict=True) if not set(u) <= seen)
        certain = any(len(T.words(u)) > 1 or any(ch.isdigit() for ch in u) for u in unknown)
        near = order[:5]
        # A typed question is answered by a sentence holding the asked-for kind of thing: how
        # far the best such sentence trails the best sentence, and how much of the question it
        # (and its passage) covers. A near miss has the topic but not the name or figure.
        typed = [i for i in order if cands[i].items] if qtype.typed else list(order)
        item = typed[0] if typed else None
        # The rarest question term the best sentence (with the one before it) leaves out, as a
        # share of the rarest term's weight: a changed detail leaves out exactly that.
        idfs = [w for u, w in zip(units, weights, strict=True) if not set(u) <= cands[best].window]
        rarest_missing = max(idfs, default=0.0) / max(weights, default=1.0)
        none_near = float(qtype.typed and not any(cands[i].items for i in near))
        gap = -10.0 if item is None else logits[item] - logits[best]
        exact = float(qtype.kind in _EXACT_KINDS)
        return np.array([
            logits[best], logits[best] - second, rows[best, 0], rows[best, 4], rows[:, 6].max(),
            missing / sum(weights) if weights else 0.0, float(bool(unknown)), float(certain),
            none_near, gap, 0.0 if item is None else rows[item, 4], 0.0 if item is None else rows[item, 6],
            rows[best, 5], rarest_missing, rows[order[:3], 4].max(), exact * none_near, exact * gap,
        ], dtype=np.float32)
