"""What the corpus mentions: its words, their idf, and which sentences hold each word.

The extractive answerer refuses a question that names something no article mentions; this
module decides what counts as mentioned (a transliteration, an acronym of a name that is
there) and gives the idf weights that term coverage is computed with.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import math
import os
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from index import IndexStore
from index.chunking import embedding_text

from .. import text as T

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the code the vocabulary and passage terms are computed by: what is kept
    beside an index under this name is computed anew when the code changes."""
    digest = hashlib.sha256()
    for path in (Path(T.__file__), Path(__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class CorpusVocabulary:
    """The words, acronyms and sentence postings of the documents in an IndexStore, and the
    terms of each of its passages (what BM25 and the term-coverage features read).

    Computing it reads every sentence through the tokenizer and the name finder, seconds for
    a few thousand articles; ``for_store`` keeps it beside the index build it was computed
    from and reads it back at the next start.
    """

    @classmethod
    def for_store(cls, store: IndexStore) -> CorpusVocabulary:
        """The vocabulary of ``store``: read from its build folder when computed there before
        by this code, else computed and kept there (when the store has a folder)."""
        build = getattr(store, "path", None)
        cache = Path(build) / f"vocabulary-{code_version()}.json" if build else None
        if cache is not None and cache.is_file():
            try:
                return cls.from_json(json.loads(cache.read_text(encoding="utf-8")), len(store.chunks))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("recomputing the corpus vocabulary: cannot read %s (%s)", cache, exc)
        vocabulary = cls(store)
        if cache is not None:
            try:
                tmp = cache.with_suffix(f".tmp-{os.getpid()}")
                tmp.write_text(json.dumps(vocabulary.to_json(), ensure_ascii=False), encoding="utf-8")
                os.replace(tmp, cache)
                for stale in cache.parent.glob("vocabulary-*.json"):  # made by older code
                    if stale != cache:
                        stale.unlink(missing_ok=True)
            except OSError as exc:  # a read-only index still answers; it just starts slower
                log.warning("cannot keep the corpus vocabulary in %s: %s", cache, exc)
        return vocabulary

    def to_json(self) -> dict[str, Any]:
        return {"idf": self.idf, "default_idf": self.default_idf, "words": sorted(self.words),
                "postings": {w: sorted(ids) for w, ids in self._postings.items()},
                "passage_terms": self.passage_terms}

    @classmethod
    def from_json(cls, obj: dict[str, Any], passages: int) -> CorpusVocabulary:
        """The vocabulary ``to_json`` wrote; ValueError when it does not fit ``passages``."""
        if len(obj["passage_terms"]) != passages:
            raise ValueError(f"it has terms for {len(obj['passage_terms'])} passages, the index {passages}")
        self = cls.__new__(cls)
        self.idf = {str(k): float(v) for k, v in obj["idf"].items()}
        self.default_idf = float(obj["default_idf"])
        self.words = set(obj["words"])
        self._postings = {w: set(ids) for w, ids in obj["postings"].items()}
        self.passage_terms = obj["passage_terms"]
        self._fuzzy = sorted(w for w in self.words if len(w) >= 4 and not w.isdigit())
        return self

    def __init__(self, store: IndexStore):
        df: Counter[str] = Counter()
        vocabulary: set[str] = set()
        n = 0
        for doc in store.docs.values():
            vocabulary.update(T.words(doc.title))
            vocabulary.update(T.words(doc.date or ""))  # the article's own date counts too
            for i in range(len(doc.sentences)):
                sentence = doc.sentence(i)
                vocabulary.update(T.words(sentence))
                vocabulary.update(_initials(sentence))
                df.update(set(T.content_terms(sentence)))
                n += 1
        self.idf = {t: math.log(1 + n / c) for t, c in df.items()}
        # The weight of a term no sentence has: the highest there could be.
        self.default_idf = math.log(1 + n)
        self.words = vocabulary
        # Which sentences (and titles) hold each word, to find a multi-word name's words together.
        self._postings: dict[str, set[int]] = {}
        texts = [d.title for d in store.docs.values()]
        texts += [d.sentence(i) for d in store.docs.values() for i in range(len(d.sentences))]
        for number, text in enumerate(texts):
            for w in T.words(text):
                self._postings.setdefault(w, set()).add(number)
        self._fuzzy = sorted(w for w in vocabulary if len(w) >= 4 and not w.isdigit())
        # Each passage's terms as the embedder's text has them: its title, then its text.
        self.passage_terms = [T.content_terms(embedding_text(store.docs[c.doc_id].title, c.text))
                              for c in store.chunks]

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
        for figure in T.numbers(question) + [y for y in T.dates(question) if y.isdigit()]:
            digits = figure.replace(",", "")
            known = digits in self.words or figure in self.words
            if digits.isdigit() and len(digits) >= 2 and not known:
                unknown.append(figure)
        return unknown

    def known_phrase(self, name: str) -> bool:
        """A multi-word name that is not a person's must have all its words in one sentence:
        "United Nations" is not known because "United States" and "nations" are, while "Iran's
        Revolutionary Guard" is ("Iran's Islamic Revolutionary Guard Corps"). A person may be
        referred to by the surname alone."""
        tokens = [w for w in T.words(name) if w not in T.STOPWORDS]
        if len(tokens) < 2 or T.is_person(name):
            return True
        return bool(set.intersection(*(self._postings.get(w, set()) for w in tokens)))

    def known(self, word: str) -> bool:
        """``word`` (lower case) is in the corpus, or close to a longer word that is."""
        if word in self.words:
            return True
        # Tolerate a transliteration or a typo ("Haniya" for "Haniyeh") in longer names.
        return len(word) >= 5 and bool(difflib.get_close_matches(word, self._fuzzy, n=1, cutoff=0.8))


def _initials(sentence: str) -> set[str]:
    """Acronyms of multi-word names and of their tails ("Iran's Islamic Revolutionary Guard
    Corps" gives "iirgc", "irgc", "rgc" and "gc")."""
    out = set()
    for name in T.entities(sentence):
        capitals = [w[0] for w in T.raw_words(name) if w[0].isupper()]
        for start in range(len(capitals) - 1):
            out.add("".join(capitals[start:]).lower())
    return out
