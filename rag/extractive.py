"""The default answerer: picks the sentences of the retrieved passages that answer.

Each candidate sentence is scored by its embedding similarity to the question, the share of
the question's terms it contains (idf-weighted), whether it holds the kind of thing the
question asks for (a name, a date, a figure), and how strongly its passage was retrieved.
It refuses when the question names something the corpus never mentions, when no sentence
holds the asked-for kind of answer, or when the best sentence scores too low.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from index import Embedder, IndexStore

from . import text as T
from .config import RagConfig
from .draft import Draft, DraftSentence, Support
from .qtypes import QuestionType, answer_items, classify
from .records import Passage

_REFUSALS = {
    "quantity": "The articles don't give that figure.",
    "amount": "The articles don't give that amount.",
    "date": "The articles don't say when.",
    "person": "The articles don't name that person.",
    "place": "The articles don't say where.",
}
_DEFAULT_REFUSAL = "The articles don't say."


@dataclass
class Candidate:
    doc_id: str
    index: int  # sentence index in its document
    start: int
    end: int
    text: str
    chunk_id: str  # best-ranked retrieved passage holding the sentence
    passage_strength: float
    vector: np.ndarray
    score: float = 0.0  # relevance, plus the type bonus for typed questions
    relevance: float = 0.0  # dense, lexical and passage evidence only, in 0..1
    coverage: float = 0.0  # share of the question's terms in the sentence (idf-weighted)
    context_coverage: float = 0.0  # the same, in the sentence's whole passage
    items: tuple[str, ...] = ()
    context: str = ""  # title and text of the passage

    @property
    def support(self) -> Support:
        return Support(self.chunk_id, self.doc_id, self.start, self.end)


class ExtractiveAnswerer:
    """Answers from the sentences of the passages it is given; no generative model."""

    name = "extractive"

    def __init__(self, store: IndexStore, embedder: Embedder, config: RagConfig):
        self.store = store
        self.embedder = embedder
        self.config = config
        df: Counter[str] = Counter()
        vocabulary: set[str] = set()
        n = 0
        for doc in store.docs.values():
            vocabulary.update(T.words(doc.title))
            vocabulary.update(T.words(doc.date or ""))  # the article's own date counts too
            for i in range(len(doc.sentences)):
                sentence = doc.sentence(i)
                vocabulary.update(T.words(sentence))
                df.update(set(T.content_terms(sentence)))
                n += 1
        self._idf = {t: math.log(1 + n / c) for t, c in df.items()}
        self._default_idf = math.log(1 + n)
        self._vocabulary = vocabulary
        self._vocab_list = sorted(w for w in vocabulary if len(w) >= 4 and not w.isdigit())
        self._chunk_by_id = {c.chunk_id: c for c in store.chunks}

    # -- refusal before scoring -------------------------------------------------------------
    def unknown_names(self, question: str) -> list[str]:
        """Names and figures in the question that no document mentions."""
        unknown = []
        for name in T.entities(question, skip_first_word=True):
            # Short acronyms (TV, UN) are as often common words as names: not judged.
            tokens = [w for w, raw in zip(T.words(name), T.raw_words(name), strict=True)
                      if w not in T.STOPWORDS and len(w) > 1 and not (raw.isupper() and len(raw) <= 3)]
            if any(not self._known(w) for w in tokens):
                unknown.append(name)
        for figure in T.numbers(question) + [y for y in T.dates(question) if y.isdigit()]:
            digits = figure.replace(",", "")
            known = digits in self._vocabulary or figure in self._vocabulary
            if digits.isdigit() and len(digits) >= 2 and not known:
                unknown.append(figure)
        return unknown

    def _known(self, word: str) -> bool:
        if word in self._vocabulary:
            return True
        # Tolerate a transliteration or a typo ("Haniya" for "Haniyeh") in longer names.
        return len(word) >= 5 and bool(difflib.get_close_matches(word, self._vocab_list, n=1, cutoff=0.8))

    # -- scoring -------------------------------------------------------------------------------
    def _coverage(self, question_terms: list[str], sentence: str) -> float:
        if not question_terms:
            return 0.0
        present = set(T.content_terms(sentence))
        weights = [self._idf.get(t, self._default_idf) for t in question_terms]
        return sum(w for t, w in zip(question_terms, weights, strict=True) if t in present) / sum(weights)

    def candidates(self, passages: list[Passage]) -> list[Candidate]:
        """Sentences of the passages, each once, tagged with its best passage."""
        chunk_by_id = self._chunk_by_id
        top = passages[0].score if passages else 1.0
        seen: dict[tuple[str, int], Candidate] = {}
        for passage in passages:
            chunk = chunk_by_id[passage.chunk_id]
            doc = self.store.docs[chunk.doc_id]
            for i in range(chunk.first_sentence, chunk.last_sentence):
                if (doc.doc_id, i) in seen:
                    continue
                start, end = doc.sentences[i]
                seen[(doc.doc_id, i)] = Candidate(
                    doc.doc_id, i, start, end, doc.text[start:end], chunk.chunk_id,
                    passage.score / top, self.store.sentence_vector(doc.doc_id, i))
                seen[(doc.doc_id, i)].context = f"{doc.title}\n{chunk.text}"
        return list(seen.values())

    def score(self, question: str, qtype: QuestionType, candidates: list[Candidate]) -> None:
        cfg = self.config
        qvec = self.embedder.encode_queries([question])[0]
        terms = T.content_terms(question)
        for c in candidates:
            dense = float(c.vector @ qvec)
            c.coverage = self._coverage(terms, c.text)
            c.context_coverage = self._coverage(terms, c.context)
            c.items = tuple(answer_items(c.text, qtype, question)) if qtype.typed else ()
            c.relevance = (cfg.w_dense * dense + cfg.w_lexical * c.coverage
                           + cfg.w_passage * c.passage_strength) / (1 - cfg.w_type)
            c.score = c.relevance
            if qtype.typed:
                c.score = (1 - cfg.w_type) * c.relevance + cfg.w_type * bool(c.items)
        candidates.sort(key=lambda c: -c.score)

    # -- the answer -------------------------------------------------------------------------
    def answer(self, question: str, passages: list[Passage]) -> Draft:
        """Draft an answer to ``question`` (already resolved against history) from ``passages``."""
        cfg = self.config
        qtype = classify(question)
        unknown = self.unknown_names(question)
        if unknown:
            return Draft(refused=True, refusal=f"The articles don't mention {unknown[0]}.")
        candidates = self.candidates(passages)
        if not candidates:
            return Draft(refused=True, refusal=_DEFAULT_REFUSAL)
        self.score(question, qtype, candidates)
        closest = max(candidates, key=lambda c: c.relevance)
        pool = [c for c in candidates if c.items] if qtype.typed else candidates
        if not pool:
            return self._refuse(qtype, closest)
        best = pool[0]
        if best.relevance < cfg.min_score:
            return self._refuse(qtype, closest)
        if qtype.typed and (best.relevance < cfg.typed_relative_min * closest.relevance
                            or best.context_coverage < cfg.min_typed_coverage
                            or best.coverage < cfg.min_typed_sentence_coverage):
            # The passage most about the question lacks the asked-for name, date or figure,
            # and the sentences that have one are about something else: a near miss.
            return self._refuse(qtype, closest)

        chosen = [best]
        words = len(best.text.split())
        answered = _item_terms(best.items)
        for c in pool[1:]:
            if len(chosen) >= cfg.max_sentences or c.score < cfg.extra_sentence_ratio * best.score:
                break
            if any(float(c.vector @ s.vector) >= cfg.same_fact_similarity for s in chosen):
                continue  # the same fact again; it may corroborate below
            if qtype.typed and _item_terms(c.items) <= answered:
                continue  # gives no answer the chosen sentences lack
            if words + len(c.text.split()) > cfg.max_words:
                continue
            chosen.append(c)
            words += len(c.text.split())
            answered |= _item_terms(c.items)
        return Draft(sentences=[DraftSentence(c.text, self._supports(c, candidates)) for c in chosen])

    def _refuse(self, qtype: QuestionType, closest: Candidate) -> Draft:
        return Draft(refused=True, refusal=_REFUSALS.get(qtype.kind, _DEFAULT_REFUSAL),
                     closest=closest.support)

    def _supports(self, chosen: Candidate, candidates: list[Candidate]) -> list[Support]:
        """The sentence's own passage, plus passages of other articles stating the same fact."""
        supports = [chosen.support]
        cited_docs = {chosen.doc_id}
        key = _item_terms(chosen.items) or None
        own = set(T.content_terms(chosen.text))
        for other in candidates:
            if other.doc_id in cited_docs:
                continue
            similarity = float(other.vector @ chosen.vector)
            terms = set(T.content_terms(other.text))
            if key is not None:
                # It must carry the answer itself, and be about the same thing.
                if not key <= terms or similarity < self.config.corroborate_similarity:
                    continue
            elif similarity < self.config.same_fact_similarity or len(own & terms) < 0.5 * len(own):
                continue
            supports.append(other.support)
            cited_docs.add(other.doc_id)
        return supports


def _item_terms(items: tuple[str, ...]) -> set[str]:
    """Content stems of answer items, so "Saleh al-Arouri" and "Saleh Al-Arouri" match."""
    return {t for t in T.content_terms(" ".join(items)) if len(t) > 2}
