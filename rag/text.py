"""Word-level text analysis shared by retrieval, answering and verification.

Everything here is rule-based and model-free: tokens and stems for lexical matching, and
detectors for the answer types a question can ask for (names, dates, amounts, numbers).
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

MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DAYS = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
DATE_RE = re.compile(
    rf"\b(?:{MONTHS}\s+\d{{1,2}}(?:,?\s+\d{{4}})?|\d{{1,2}}\s+{MONTHS}(?:\s+\d{{4}})?|"
    rf"(?:in|since|by|until|early|late|mid-?|last|this|next)\s+{MONTHS}|{MONTHS}\s+(?:19|20)\d\d|"
    rf"(?:on|last|this|next)\s+{_DAYS}|\b(?:1\d|20)\d\d(?:s|\s?(?:BC|AD|BCE|CE))?\b|\d{{4}}-\d{{2}}-\d{{2}}|"
    r"\b\d{1,2}(?:st|nd|rd|th)\s+century\b|\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
    r"tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|"
    r"twentieth|twenty-first)\s+century\b|"
    r"(?:last|this|next|previous)\s+(?:week|month|year)|(?:\w+|\d+)\s+(?:years|months|weeks|days)\s+ago)"
)
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
# Capitalised runs, with the particles that Arabic and European names carry inside them.
ENTITY_RE = re.compile(
    r"\b(?:(?:al|el|ad|bin|ibn)-)?[A-Z][\w\u2019'-]*(?:\s+(?:(?:al|el|ad|bin|ibn|of|the|de|for)[\s-]+)?"
    r"(?:(?:al|el|ad)-)?[A-Z][\w\u2019'-]*)*"
)
# Words that mark a capitalised run as an organisation or place rather than a person.
_NON_PERSON = frozenset(
    """agency council brigades corps bureau office republic authority news institute party
    movement ministry guard jihad strip gulf day state states nations union house times post
    press axis front army forces wing online newspaper radio channel website embassy
    administration government regime brotherhood policy east west""".split()
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
