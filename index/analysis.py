"""What an index keeps of each text for lexical search: words, stemmed terms and names.

Retrieval and answering read the same analysis at question time (``rag.text`` re-exports
it), so a question's terms are those its passages were indexed with. This file is part of
the index's processing fingerprint: changing it rebuilds indexes made by the older rules.
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z0-9]+(?:[.,][0-9]+)*")
_POSSESSIVE = re.compile(r"(?<=\w)['\u2019]s?\b")
_NOT = re.compile(r"n['\u2019]t\b", re.IGNORECASE)

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    out over own same she should so some such than that the their theirs them themselves then
    there these they this those through to too under until up very was we were what when where
    which while who whom whose why will with would you your yours s t ll re ve d m many much
    according said says told tell reported reportedly did does get got also one couldn wouldn
    didn wasn weren isn aren doesn don won shouldn cannot ca wo""".split()
)
# Question words and verbs that carry no content for matching.
QUESTION_WORDS = frozenset(
    "who whom whose what which when where why how many much did does do kind name named type".split()
)

# Capitalised runs, with the particles that Arabic and European names carry inside them.
ENTITY_RE = re.compile(
    r"\b(?:(?:al|el|ad|bin|ibn)-)?[A-Z][\w\u2019'-]*(?:\s+(?:(?:al|el|ad|bin|ibn|of|the|de|for)[\s-]+)?"
    r"(?:(?:al|el|ad)-)?[A-Z][\w\u2019'-]*)*"
)
@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """Snowball stem of a lower-cased word."""
    return _stemmer().stemWord(word)


def strip_possessives(text: str) -> str:
    """``text`` with possessive endings removed ("Iran's" and "Hamas'" name Iran and Hamas)."""
    return _POSSESSIVE.sub("", text)


def raw_words(text: str) -> list[str]:
    """Word tokens as written, possessives removed, hyphenated names split."""
    text = _NOT.sub(" not", text)  # "couldn't" is "could not", not a word "couldnt"
    return _WORD.findall(strip_possessives(text.replace("-", " ")))


def words(text: str) -> list[str]:
    """Lower-cased word tokens, possessives removed, hyphenated names split."""
    return [w.lower() for w in raw_words(text)]


def content_terms(text: str) -> list[str]:
    """Stems of the content words of ``text``, in order (stopwords and question words out)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and w not in QUESTION_WORDS]


def entities(text: str, skip_first_word: bool = False) -> list[str]:
    """Capitalised name-like runs (people, places, organisations), sentence starters dropped.

    With ``skip_first_word`` the text's first word is taken as capitalised only because it
    starts the sentence ("Besides Hamas, …" names Hamas, not "Besides Hamas").
    """
    found = []
    for m in ENTITY_RE.finditer(text):
        span = m.group().strip()
        start = m.start()
        if skip_first_word and start == len(text) - len(text.lstrip()):
            parts = span.split(maxsplit=1)
            if len(parts) < 2:
                continue
            start += len(span) - len(parts[1])
            span = parts[1]
        # Drop capitalised function words that lead a run ("The Iranian leader", "A Hamas").
        while (parts := span.split(maxsplit=1)) and len(parts) == 2 and (
            parts[0].lower() in STOPWORDS or parts[0].lower() in _COMMON_STARTERS
        ):
            start += len(span) - len(parts[1])
            span = parts[1]
        tokens = words(span)
        if not tokens:
            continue
        at_start = start == 0 or text[:start].rstrip().endswith((".", "\u201c", '"', ":"))
        word = tokens[0]
        if len(tokens) == 1 and (
            word in STOPWORDS or word in QUESTION_WORDS or (at_start and word in _COMMON_STARTERS)
        ):
            continue
        if all(t in STOPWORDS or t in QUESTION_WORDS for t in tokens):
            continue
        found.append(span)
    return found


_COMMON_STARTERS = frozenset(
    """after before during although though while since until because therefore however
    according both other some many most several only even iranian israeli palestinian
    terrorists terrorism attempts relations""".split()
)


def initials(text: str) -> set[str]:
    """Acronyms of the multi-word names in ``text`` and of their tails ("Iran's Islamic
    Revolutionary Guard Corps" gives "iirgc", "irgc", "rgc" and "gc")."""
    out = set()
    for name in entities(text):
        capitals = [w[0] for w in raw_words(name) if w[0].isupper()]
        for start in range(len(capitals) - 1):
            out.add("".join(capitals[start:]).lower())
    return out


def passage_terms(title: str, text: str) -> list[str]:
    """The terms a passage is indexed and matched by: its document title's, then its own."""
    return content_terms(f"{title}\n{text}" if title else text)


def sentence_words(sentence: str) -> set[str]:
    """What a sentence tells the corpus mentions: its words and the acronyms of its names."""
    return set(words(sentence)) | initials(sentence)
