"""The default answerer: picks the sentences of the retrieved passages that answer.

Each candidate sentence is scored by its embedding similarity to the question, the share of
the question's terms it contains (idf-weighted, multi-word names matched whole), whether it
holds the kind of thing the question asks for (a name, a date, a figure, a cause), how
strongly its passage was retrieved, and how many other relevant sentences give the same
answer. It refuses when the question names something the corpus never mentions, when no
relevant sentence holds the asked-for kind of answer (a near miss), or when the best
sentence scores too low. Beyond the best sentence it adds another article's differing
account of the same fact and further close answers; another article's passage is cited
for a sentence only when the support checker confirms that passage states it.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass

import numpy as np

from index import Embedder, IndexStore

from . import text as T
from .config import RagConfig
from .draft import Draft, DraftSentence, Support
from .qtypes import QuestionType, answer_items, classify, role_qualifiers, topic
from .records import Passage
from .support import SupportChecker, make_checker
from .vocabulary import CorpusVocabulary

_REFUSALS = {
    "quantity": "The articles don't give that figure.",
    "amount": "The articles don't give that amount.",
    "date": "The articles don't say when.",
    "person": "The articles don't name that person.",
    "place": "The articles don't say where.",
    "reason": "The articles don't say why.",
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
    window_coverage: float = 0.0  # the same, in the sentence and the one before it
    context_coverage: float = 0.0  # the same, in the sentence's whole passage
    items: tuple[str, ...] = ()

    @property
    def support(self) -> Support:
        return Support(self.chunk_id, self.doc_id, self.start, self.end)


class ExtractiveAnswerer:
    """Answers from the sentences of the passages it is given; no generative model."""

    name = "extractive"

    def __init__(self, store: IndexStore, embedder: Embedder, config: RagConfig,
                 checker: SupportChecker | None = None, vocabulary: CorpusVocabulary | None = None):
        self.store = store
        self.embedder = embedder
        self.config = config
        # Verifies that another article's passage really states a sentence before citing it.
        self.checker = checker or make_checker(config.nli_model)
        self.vocabulary = vocabulary or CorpusVocabulary(store)
        self._idf = self.vocabulary.idf
        self._default_idf = self.vocabulary.default_idf
        self._chunk_by_id = {c.chunk_id: c for c in store.chunks}
        # Each passage's terms, once: every sentence of a passage is scored against them.
        self._context_terms = {
            c.chunk_id: set(T.content_terms(f"{store.docs[c.doc_id].title}\n{c.text}")) for c in store.chunks}

    def unknown_names(self, question: str) -> list[str]:
        """Names and figures in the question that no document mentions."""
        return self.vocabulary.unknown_names(question)

    # -- scoring -------------------------------------------------------------------------------
    def question_units(self, question: str) -> list[tuple[str, ...]]:
        """The question's terms, with each multi-word name kept together as one unit:
        "Palestinian Islamic Jihad" is matched whole, not by "Palestinian" alone. A person
        is matched by the surname, the way articles refer back to people ("Al-Arouri")."""
        units: list[tuple[str, ...]] = []
        grouped: set[str] = set()
        for name in T.entities(question, skip_first_word=True):
            stems = tuple(dict.fromkeys(t for t in T.content_terms(name) if len(t) > 2))
            if len(stems) > 1:
                units.append(stems[-1:] if T.is_person(name) else stems)
                grouped.update(stems)
        units += [(t,) for t in T.content_terms(question) if t not in grouped]
        return units

    def _coverage(self, units: list[tuple[str, ...]], text: str | set[str]) -> float:
        """Share of the question's units present in ``text`` (or its set of content terms),
        weighted by idf."""
        if not units:
            return 0.0
        present = text if isinstance(text, set) else set(T.content_terms(text))
        weights = [sum(self._idf.get(t, self._default_idf) for t in unit) for unit in units]
        hit = sum(w for unit, w in zip(units, weights, strict=True) if set(unit) <= present)
        return hit / sum(weights)

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
        return list(seen.values())

    def score(self, question: str, qtype: QuestionType, candidates: list[Candidate]) -> None:
        cfg = self.config
        qvec = self.embedder.encode_queries([question])[0]
        terms = self.question_units(topic(question))
        for c in candidates:
            dense = float(c.vector @ qvec)
            c.coverage = self._coverage(terms, c.text)
            c.context_coverage = self._coverage(terms, self._context_terms[c.chunk_id])
            c.items = tuple(answer_items(c.text, qtype, question)) if qtype.typed else ()
            c.relevance = (cfg.w_dense * dense + cfg.w_lexical * c.coverage
                           + cfg.w_passage * c.passage_strength) / (1 - cfg.w_type)
        # A sentence that matches the question but lacks the asked-for name or figure often
        # sets up the next one, which has it ("A senior official said … ." then "“Mahmoud
        # al-Zahar underlined …”"): the next sentence inherits part of its relevance.
        own = {(c.doc_id, c.index): (c.text, c.relevance, bool(c.items)) for c in candidates}
        lam = cfg.w_previous_sentence
        for c in candidates:
            c.window_coverage = c.coverage
            if (before := own.get((c.doc_id, c.index - 1))) is not None:
                text, relevance, answers = before
                c.window_coverage = self._coverage(terms, f"{text} {c.text}")
                if qtype.typed and not answers and relevance > c.relevance:
                    c.relevance = lam * relevance + (1 - lam) * c.relevance
        for c in candidates:
            c.score = c.relevance
            if qtype.typed:
                c.score = (1 - cfg.w_type) * c.relevance + cfg.w_type * bool(c.items)
        if qtype.typed and cfg.w_vote:
            self._vote(candidates)
        candidates.sort(key=lambda c: -c.score)

    def _vote(self, candidates: list[Candidate]) -> None:
        """Answer redundancy: a name or figure that several relevant sentences give is more
        likely the answer, so each sentence gains by the support its best item has."""
        votes: Counter[str] = Counter()
        keys = {}
        for c in candidates:
            keys[id(c)] = {_item_key(item) for item in c.items} - {""}
            for key in keys[id(c)]:
                votes[key] += c.relevance
        top = max(votes.values(), default=0.0)
        if top <= 0:
            return
        for c in candidates:
            if keys[id(c)]:
                c.score += self.config.w_vote * max(votes[k] for k in keys[id(c)]) / top

    # -- the answer -------------------------------------------------------------------------
    def answer(self, question: str, passages: list[Passage]) -> Draft:
        """Draft an answer to ``question`` (already resolved against history) from ``passages``."""
        cfg = self.config
        qtype = classify(question)
        unknown = self.unknown_names(question)
        # A full name or a figure the corpus never gives settles it. A single unknown word may
        # be another name for something the articles cover ("Damascus" for Syria), so it only
        # raises the bar the answer must clear.
        certain = [u for u in unknown if len(T.words(u)) > 1 or any(ch.isdigit() for ch in u)]
        if certain:
            return Draft(refused=True, refusal=f"The articles don't mention {certain[0]}.")
        candidates = self.candidates(passages)
        if not candidates:
            return Draft(refused=True, refusal=_DEFAULT_REFUSAL)
        self.score(question, qtype, candidates)
        closest = max(candidates, key=lambda c: c.relevance)
        floor = cfg.min_score_unknown_name if unknown else cfg.min_score
        pool = [c for c in candidates if c.relevance >= floor]
        if qtype.typed:
            # Only sentences holding the asked-for name, date or figure can answer, and only
            # if they are about the question: when the passage most about it lacks that kind
            # of answer and the sentences that have one are about something else, it is a
            # near miss.
            pool = [c for c in pool if c.items
                    and c.relevance >= cfg.typed_relative_min * closest.relevance
                    and c.context_coverage >= cfg.min_typed_coverage
                    and c.window_coverage >= cfg.min_typed_sentence_coverage]
        if qtype.kind == "person" and (qualifiers := role_qualifiers(question)):
            # "Who was Hamas's representative in Egypt?" is not answered by the
            # representative to Iran: the person must be tied to the role's qualifier.
            pool = [c for c in pool if all(_mentions(c.text, q) for q in qualifiers)]
        if not pool:
            if unknown:
                return Draft(refused=True, refusal=f"The articles don't mention {unknown[0]}.")
            return self._refuse(qtype, closest)
        best = pool[0]
        chosen = self._select(question, qtype, best, pool, candidates)
        return Draft(sentences=[DraftSentence(c.text, self._supports(c, candidates)) for c in chosen])

    def _select(self, question: str, qtype: QuestionType, best: Candidate, pool: list[Candidate],
                candidates: list[Candidate]) -> list[Candidate]:
        """The best sentence, then up to ``max_sentences`` in all that add to it: another
        article's differing account of the same fact, or (typed questions) a further answer
        that scores almost as well."""
        cfg = self.config
        chosen = [best]
        words = len(best.text.split())

        def add(c: Candidate) -> bool:
            nonlocal words
            if len(chosen) >= cfg.max_sentences or words + len(c.text.split()) > cfg.max_words:
                return False
            if c in chosen or any(c.doc_id == s.doc_id and c.index == s.index for s in chosen):
                return False
            chosen.append(c)
            words += len(c.text.split())
            return True

        # Where articles give the same fact differently (a name spelled otherwise, another
        # figure), give both accounts.
        for c in candidates:
            if c.relevance >= cfg.other_account_ratio * best.relevance and self._other_account(c, best):
                add(c)
        # Further answers of the asked type that score almost as well.
        answered = [_item_words(i) for c in chosen for i in c.items]
        for c in pool[1:]:
            if c.score < cfg.extra_sentence_ratio * best.score:
                break
            if any(float(c.vector @ s.vector) >= cfg.same_fact_similarity for s in chosen):
                continue  # the same fact again; it corroborates instead
            new = [w for w in map(_item_words, c.items) if not any(w <= a or a <= w for a in answered)]
            if qtype.typed and not new:
                continue  # gives no answer the chosen sentences lack ("Al-Arouri" after "Saleh al-Arouri")
            if add(c):
                answered += new
        return chosen

    def _refuse(self, qtype: QuestionType, closest: Candidate) -> Draft:
        return Draft(refused=True, refusal=_REFUSALS.get(qtype.kind, _DEFAULT_REFUSAL),
                     closest=closest.support)

    def _supports(self, chosen: Candidate, candidates: list[Candidate]) -> list[Support]:
        """The sentence's own passage, plus passages of other articles stating the same fact."""
        supports = [chosen.support]
        cited_docs = {chosen.doc_id}
        for other in candidates:
            if (other.doc_id not in cited_docs and self._corroborates(other, chosen)
                    and self.checker.check(chosen.text, self._chunk_by_id[other.chunk_id].text).supported):
                supports.append(other.support)
                cited_docs.add(other.doc_id)
        return supports

    def _other_account(self, other: Candidate, chosen: Candidate) -> bool:
        """``other``, from another article, tells ``chosen``'s fact differently: with a name
        spelled otherwise ("Kharazi", "Kharrazi"), or with other names or figures."""
        similarity = float(other.vector @ chosen.vector)
        if other.doc_id == chosen.doc_id or similarity < self.config.other_account_similarity:
            return False
        if _spelling_variants(other.text, chosen.text):
            return True
        return similarity >= self.config.same_fact_similarity and not self._corroborates(other, chosen)

    def _corroborates(self, other: Candidate, chosen: Candidate) -> bool:
        """``other`` states ``chosen``'s fact: it carries the same answer (typed questions),
        or most of the same words and no conflicting name or figure."""
        similarity = float(other.vector @ chosen.vector)
        terms = set(T.content_terms(other.text))
        key = _item_terms(chosen.items)
        if key:
            return key <= terms and similarity >= self.config.corroborate_similarity
        own = set(T.content_terms(chosen.text))
        if similarity < self.config.same_fact_similarity or len(own & terms) < 0.5 * len(own):
            return False
        mine, theirs = _details(chosen.text), _details(other.text)
        return not (mine - theirs and theirs - mine)


def _mentions(sentence: str, name: str) -> bool:
    """``sentence`` has every word of ``name``."""
    return set(T.words(name)) - T.STOPWORDS <= set(T.words(sentence))


def _item_terms(items: tuple[str, ...]) -> set[str]:
    """Content stems of answer items, so "Saleh al-Arouri" and "Saleh Al-Arouri" match."""
    return {t for t in T.content_terms(" ".join(items)) if len(t) > 2}


def _details(sentence: str) -> set[str]:
    """The names and figures of a sentence, as lower-case words."""
    names = {w for e in T.entities(sentence) for w in T.words(e) if len(w) > 2 and w not in T.STOPWORDS}
    return names | {n.replace(",", "") for n in T.numbers(sentence)}


def _spelling_variants(a: str, b: str) -> bool:
    """True when the two texts spell a name differently ("Usama"/"Osama", "Musa"/"Moussa")."""
    names_a = {w for e in T.entities(a) for w in T.words(e) if len(w) >= 4}
    names_b = {w for e in T.entities(b) for w in T.words(e) if len(w) >= 4}
    only_a, only_b = names_a - names_b, names_b - names_a
    return any(difflib.SequenceMatcher(None, x, y).ratio() >= 0.8 for x in only_a for y in only_b)


def _item_key(item: str) -> str:
    """What identifies an answer across spellings: a name's last word, a figure's digits."""
    tokens = [w for w in T.words(item) if w not in T.STOPWORDS]
    return tokens[-1] if tokens else ""


def _item_words(item: str) -> frozenset[str]:
    """An answer item as its distinctive words; one item inside another is the same answer."""
    return frozenset(w for w in T.words(item) if w not in T.STOPWORDS and w not in ("al", "el", "abu"))
