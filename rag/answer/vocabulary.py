"""What the corpus mentions: its words, their idf, and each passage's terms.

The extractive answerer refuses a question that names something no article mentions; this
module decides what counts as mentioned (a transliteration, an acronym of a name that is
there) and gives the idf weights that term coverage is computed with. The counts behind
it are kept in the index (``index.storage.db``: term and word counts, each passage's terms) as
documents are added and removed, and read here as questions need them.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import OrderedDict

from index import IndexStore

from .. import text as T

# Passages whose sentences are checked for a multi-word name's words together.
_PHRASE_PASSAGES = 50
_CACHE = 20_000


class CorpusVocabulary:
    """The term and word counts of the documents in an IndexStore, read on demand (and
    remembered: a question's terms recur in the next ones)."""

    def __init__(self, store: IndexStore):
        self.store = store
        sentences = int(store.counts.get("sentences", 0))
        # The weight of a term no sentence has: the highest there could be.
        self.default_idf = math.log(1 + sentences)
        self._sentences = sentences
        self._idf: OrderedDict[str, float] = OrderedDict()
        self._known: OrderedDict[str, bool] = OrderedDict()
        self._passage_terms: OrderedDict[str, frozenset[str]] = OrderedDict()

    def idf(self, term: str) -> float:
        """log(1 + sentences / sentences holding ``term``); ``default_idf`` for a term none holds."""
        if term not in self._idf:
            self.prefetch([term])
        return self._idf[term]

    def prefetch(self, terms: list[str]) -> None:
        """Read the idf of ``terms`` in one query (they are about to be asked for)."""
        missing = [t for t in dict.fromkeys(terms) if t not in self._idf]
        if not missing:
            return
        df = self.store.document_frequencies(missing)
        for t in missing:
            self._idf[t] = math.log(1 + self._sentences / df[t]) if t in df else self.default_idf
        while len(self._idf) > _CACHE:
            self._idf.popitem(last=False)

    def passage_terms(self, chunk_id: str) -> frozenset[str]:
        """The terms passage ``chunk_id`` was indexed with (its title's and its own)."""
        terms = self._passage_terms.get(chunk_id)
        if terms is None:
            terms = self._passage_terms[chunk_id] = frozenset(self.store.passage_terms(self.store.row_of(chunk_id)))
            while len(self._passage_terms) > _CACHE:
                self._passage_terms.popitem(last=False)
        return terms

    def mentions(self, words: list[str]) -> set[str]:
        """Those of ``words`` (lower case) the corpus has, exactly."""
        return self.store.has_words(words)

    def unknown_names(self, question: str) -> list[str]:
        """Names and figures in the question that no document mentions (acronyms of names
        that are mentioned, like IRGC, count as mentioned)."""
        unknown = []
        # Each sentence's first word is capitalised as a sentence start ("… Give all details").
        names = [n for part in re.split(r"(?<=[.?!])\s+", question) for n in T.entities(part, skip_first_word=True)]
        for name in names:
            # Short acronyms (TV, UN) are as often common words as names: not judged.
            tokens = [w for w, raw in zip(T.words(name), T.raw_words(name), strict=True)
                      if w not in T.STOPWORDS and len(w) > 1 and not (raw.isupper() and len(raw) <= 3)]
            if any(not self.known(w) for w in tokens) or not self.known_phrase(name):
                unknown.append(name)
        figures = [f for f in T.numbers(question) + [y for y in T.dates(question) if y.isdigit()]
                   if f.replace(",", "").isdigit() and len(f.replace(",", "")) >= 2]
        present = self.mentions([f.replace(",", "") for f in figures] + figures)
        unknown += [f for f in figures if f.replace(",", "") not in present and f not in present]
        return unknown

    def known_phrase(self, name: str) -> bool:
        """A multi-word name that is not a person's must have all its words in one sentence
        (or title): "United Nations" is not known because "United States" and "nations" are,
        while "Iran's Revolutionary Guard" is ("Iran's Islamic Revolutionary Guard Corps"). A
        person may be referred to by the surname alone."""
        tokens = [w for w in T.words(name) if w not in T.STOPWORDS]
        if len(tokens) < 2 or T.is_person(name):
            return True
        wanted = set(tokens)
        # The passages holding every word's term, then a sentence of theirs holding every word.
        terms = [T.stem(w) for w in tokens if w not in T.QUESTION_WORDS]
        for row in self.store.rows_with_all(terms, _PHRASE_PASSAGES):
            chunk = self.store.chunk_at(row)
            doc = self.store.docs[chunk.doc_id]
            units = [doc.title] + [doc.sentence(i) for i in range(chunk.first_sentence, chunk.last_sentence)]
            if any(wanted <= set(T.words(u)) for u in units):
                return True
        return False

    def known(self, word: str) -> bool:
        """``word`` (lower case) is in the corpus, or close to a longer word that is."""
        if word not in self._known:
            self._known[word] = bool(self.mentions([word])) or self._close(word)
            while len(self._known) > _CACHE:
                self._known.popitem(last=False)
        return self._known[word]

    def _close(self, word: str) -> bool:
        """Tolerate a transliteration or a typo ("Haniya" for "Haniyeh") in longer names: a
        word of the corpus with the same first letter, as difflib judges close."""
        if len(word) < 5:
            return False
        # difflib's ratio 2M/(a+b) >= 0.8 bounds how much longer or shorter a match can be.
        low, high = int(len(word) * 2 / 3), int(len(word) * 1.5) + 1
        near = [w for w in self.store.words_between(word[0], chr(ord(word[0]) + 1), max(4, low), high)
                if not w.isdigit()]
        return bool(difflib.get_close_matches(word, near, n=1, cutoff=0.8))
