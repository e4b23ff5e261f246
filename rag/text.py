"""Word-level text analysis shared by retrieval, answering and verification.

Everything here is rule-based and model-free: tokens and stems for lexical matching, and
detectors for the answer types a question can ask for (names, dates, amounts, numbers).
"""

from __future__ import annotations

import re

from index.analysis import (  # noqa: F401 - the shared analysis, re-exported
    QUESTION_WORDS,
    STOPWORDS,
    content_terms,
    entities,
    raw_words,
    stem,
    strip_possessives,
    words,
)

MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DAYS = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
# A year with its era, whatever its length ("AD 14", "58 BC").
_ERA = r"(?:AD|BCE?|CE)\s?\d{1,4}|\d{1,4}\s?(?:AD|BCE?|CE)"
DATE_RE = re.compile(
    rf"\b(?:{MONTHS}\s+\d{{1,2}}(?:,?\s+\d{{4}})?|\d{{1,2}}\s+{MONTHS}(?:\s+\d{{4}})?|"
    rf"(?:in|since|by|until|early|late|mid-?|last|this|next)\s+{MONTHS}|{MONTHS}\s+(?:19|20)\d\d|"
    rf"(?:on|last|this|next)\s+{_DAYS}|\b(?:1\d|20)\d\d(?:s|\s?(?:BC|AD|BCE|CE))?\b|\d{{4}}-\d{{2}}-\d{{2}}|"
    # Years of any length with an era ("AD 14", "58 BC"), centuries however capitalised.
    rf"\b(?:{_ERA})\b|"
    r"\b\d{1,2}(?:st|nd|rd|th)\s+[Cc]entury\b|\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
    r"tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|"
    r"twentieth|twenty-first)\s+[Cc]entury\b|"
    r"(?:last|this|next|previous)\s+(?:week|month|year)|(?:\w+|\d+)\s+(?:years|months|weeks|days)\s+ago)"
)
ERA_YEAR = re.compile(_ERA)
_NUMBER_WORDS = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundreds?|thousands?|millions?|billions?|dozens?|several|a few)"
)
AMOUNT_RE = re.compile(
    r"(?:[$\u20ac\u00a3]\s?\d[\d,.]*(?:\s?(?:million|billion|thousand|[mbk]n?)\b)?|"
    r"\b\d[\d,.]*\s?(?:million|billion|thousand)?\s?(?:dollars|euros|pounds|shekels|rials)\b|"
    rf"\b{_NUMBER_WORDS}(?:\s+of\s+{_NUMBER_WORDS})*\s+of\s+dollars)",
    re.IGNORECASE,
)
# A count: digits that are not a year, or a number word, before a noun.
NUMBER_RE = re.compile(
    rf"(?:\b\d[\d,.]*\b(?!-\d)|\b{_NUMBER_WORDS}\b)", re.IGNORECASE
)
_YEAR = re.compile(r"^(?:1\d|20)\d\d$")
# Words that mark a capitalised run as an organisation or place rather than a person.
_NON_PERSON = frozenset(
    """agency council brigades corps bureau office republic authority news institute party
    movement ministry guard jihad strip gulf day state states nations union house times post
    press axis front army forces wing online newspaper radio channel website embassy
    administration government regime brotherhood policy east west""".split()
)


_PARTICLES = frozenset("al el ad bin ibn abu de van von".split())
# Titles are not names: "Deputy Chief" alone names nobody.
_TITLES = frozenset("""deputy chief head leader supreme president prime minister secretary general
    chairman commander spokesman ayatollah sheikh mr mrs ms dr gen sen rep king prince
    emir director adviser advisor official""".split())


def is_person(entity: str) -> bool:
    """A heuristic: two or more name words, or a title and a name ("Deputy Chief Arouri");
    particles like "al-" and titles alone do not count, nor organisation words."""
    raw = raw_words(entity)
    names = [t for t in raw if t.lower() not in _PARTICLES and t.lower() not in _TITLES and t[0].isupper()]
    titled = any(t.lower() in _TITLES for t in raw)
    return ((len(names) >= 2 or (titled and len(names) == 1))
            and not any(t.lower() in _NON_PERSON for t in names) and not entity.isupper())


def dates(text: str) -> list[str]:
    return [m.group() for m in DATE_RE.finditer(text)]


def amounts(text: str) -> list[str]:
    return [m.group() for m in AMOUNT_RE.finditer(text)]


def numbers(text: str) -> list[str]:
    """Counts and figures in ``text``; bare years are dates, not numbers."""
    return [m.group() for m in NUMBER_RE.finditer(text) if not _YEAR.match(m.group())]
