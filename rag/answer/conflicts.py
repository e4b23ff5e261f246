"""Reports that disagree: two articles answering the same question incompatibly.

Two kinds are detected, both between sentences of different documents that the selector
finds nearly as likely to answer as the best one:

- ``polarity``: both speak of the question's subject, and one says it did not happen
  ("… was unable to attend …") while the other does not negate it;
- ``value``: the question asks for a name, date or figure, the two sentences tell the same
  fact (similar embeddings), and each gives an answer the other lacks ("Kharazi"/"Kharrazi",
  "$651,000"/"$615,000"); or, whatever the question's wording, the reader's spans in the two
  sentences are different values of that kind (names, figures, dates, ordinals), neither
  part of the other.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace

from .. import text as T
from ..config import RagConfig
from .features import Candidate
from .qtypes import WEEKDAY, YEAR, QuestionType, topic

# Words that say something did not happen. Weaker cues ("no", "without") too often sit in a
# side clause of a sentence that does not deny the fact at all.
_DENIAL = frozenset("""not never unable refused refuses denied denies failed fails declined cannot dont doesnt
    didnt isnt arent wasnt werent hasnt havent hadnt wont wouldnt cant couldnt""".split())
# How many of the best candidates are looked at.
_POOL = 6
_POLAR = re.compile(r"^\s*(?:did|does|do|was|were|is|are|has|have|had|will|would|can|could)\b", re.IGNORECASE)


def is_polar(question: str) -> bool:
    """A yes/no question ("Did …", "Was …")."""
    return bool(_POLAR.match(question))


@dataclass(frozen=True)
class Conflict:
    """Two accounts, best first, and what they disagree on."""

    kind: str  # "polarity" or "value"
    claims: tuple[Candidate, ...]


_QUOTED = re.compile(r"[\"\u201c][^\"\u201d]*[\"\u201d]")


def denies(sentence: str) -> bool:
    """The sentence negates what it reports: a denial word outside quoted speech (what
    someone is quoted as saying is not the report's own claim)."""
    return any(w in _DENIAL for w in T.words(_QUOTED.sub(" ", sentence)))


def _similar(x: str, y: str) -> bool:
    return difflib.SequenceMatcher(None, x, y).ratio() >= 0.75


def _variants(a: Candidate, b: Candidate, asked: set[str]) -> bool:
    """The two give one name spelled two ways ("Kharazi"/"Kharrazi", "Usama"/"Osama"). A
    name the question gives itself ("Osama Hamdan" in a question about his role) is what the
    question is about, not an answer the reports disagree on."""
    words_a = {w for k in _keys(a.items) for w in k if len(w) >= 4}
    words_b = {w for k in _keys(b.items) for w in k if len(w) >= 4}
    return any(_similar(x, y) and not _derived(x, y) and not any(_similar(x, q) or _similar(y, q) for q in asked)
               for x in words_a - words_b for y in words_b - words_a)


def _derived(x: str, y: str) -> bool:
    """One word is a form of the other ("Palestine", "Palestinian"): all but its last letter is
    the start of the other."""
    common = next((i for i, (a, b) in enumerate(zip(x, y, strict=False)) if a != b), min(len(x), len(y)))
    return common >= min(len(x), len(y)) - 1


def _subject(question: str) -> list[set[str]]:
    """The names the question is about, each as its set of content stems."""
    return [s for s in ({t for t in T.content_terms(e) if len(t) > 2}
                        for e in T.entities(topic(question), skip_first_word=True)) if s]


def _mentions(sentence: Candidate, subject: list[set[str]]) -> bool:
    """Some name of the question is in the sentence (a person by the surname alone)."""
    terms = set(T.content_terms(sentence.text))
    return any(name & terms if len(name) > 1 else name <= terms for name in subject)


def _keys(items: tuple[str, ...]) -> list[frozenset[str]]:
    return [k for k in (frozenset(w for w in T.words(i) if w not in T.STOPWORDS and w not in ("al", "el", "abu"))
                        for i in items) if k]


def _granularity(item: str) -> str:
    """Which slot a date fills: a weekday, a year, a century, or a month (and day)."""
    item = item.strip()
    if WEEKDAY.search(item):
        return "weekday"
    if YEAR.fullmatch(item) or T.ERA_YEAR.fullmatch(item):
        return "year"
    return "century" if "century" in item.lower() else "month"


def _differ(a: Candidate, b: Candidate, kind: str = "") -> bool:
    """Each gives an answer item that the other neither gives nor mentions. Dates differ only
    in the same slot: "late July" and "Monday" can both be true of one visit."""
    if kind == "date":
        return any(_differ(replace(a, items=tuple(i for i in a.items if _granularity(i) == g)),
                           replace(b, items=tuple(i for i in b.items if _granularity(i) == g)))
                   for g in ("weekday", "year", "century", "month"))
    ka, kb = _keys(a.items), _keys(b.items)
    if not ka or not kb:
        return False
    words_a, words_b = set(T.words(a.text)), set(T.words(b.text))
    only_a = [k for k in ka if not any(k <= x or x <= k for x in kb) and not k <= words_b]
    only_b = [k for k in kb if not any(k <= x or x <= k for x in ka) and not k <= words_a]
    return bool(only_a and only_b)


def find_conflict(question: str, qtype: QuestionType, ranked: list[Candidate], config: RagConfig,
                  span_floor: float | None = None) -> Conflict | None:
    """A disagreement between close candidates of different documents, the likelier first.
    ``span_floor``: the reader's margin above which a span answers (None: spans unused)."""
    if len(ranked) < 2 or not config.show_conflicts:
        return None
    polar = is_polar(question)
    # A yes/no question asks exactly whether it happened: a report that it did and one that
    # it did not are its answer, however the two rank against the rest.
    floor = config.conflict_ratio * ranked[0].probability / (3 if polar else 1)
    pool = ranked[:_POOL]
    asked = {w for w in T.words(question) if len(w) >= 4}
    if span_floor is not None and not polar and (found := _span_conflict(pool, floor, config, span_floor, asked)):
        return found
    if qtype.typed:
        found = _value_conflict(pool, floor, config, asked, qtype.kind)
        # The answer itself must be one of the accounts: two others disagreeing below it is
        # no disagreement about what it says.
        return found if found is not None and ranked[0] in found.claims else None
    subject = _subject(question)
    about = [c for c in pool if c.probability >= floor and (not subject or _mentions(c, subject))]
    denial = next((c for c in about if denies(c.text)), None)
    if denial is None:
        return None
    for other in about:
        if other.doc_id == denial.doc_id or denies(other.text):
            continue
        # Outside a yes/no question the two must also be about the same thing.
        if polar or float(other.vector @ denial.vector) >= config.polarity_similarity:
            pair = (denial, other) if denial.probability >= other.probability else (other, denial)
            return Conflict("polarity", pair)
    return None


def _value_conflict(pool: list[Candidate], floor: float, config: RagConfig, asked: set[str],
                    kind: str = "") -> Conflict | None:
    """The same fact told with another name or figure: near-identical reports, or one name
    spelled two ways (evidence enough that both tell the same fact, so such an account may
    be half as likely to answer as the others must be)."""
    for i, first in enumerate(pool):
        if first.probability < floor:
            break
        for other in pool[i + 1:]:
            if other.doc_id == first.doc_id or other.probability < floor / 2:
                continue
            similarity = float(other.vector @ first.vector)
            close = similarity >= config.conflict_similarity and other.probability >= floor
            variants = similarity >= config.polarity_similarity and _variants(first, other, asked)
            if (close or variants) and _differ(first, other, kind):
                return Conflict("value", (first, other))
    return None


# A value is short: a name of up to four words, a figure with its unit.
_VALUE_WORDS = 4
_ORDINAL = re.compile(r"\b(?:\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
                      r"last)\b", re.IGNORECASE)


def value_of(span: str) -> tuple[str, frozenset[str]] | None:
    """The kind and words of a span that is a value: a figure, date or ordinal (it holds a
    digit, a calendar word or an ordinal) or a name (a few words, each capitalised), lower-cased
    without stopwords and name particles; None for anything else (a title, a description or
    an account: "deputy chairman of Hamas' political wing", "to arm Hamas")."""
    words = [w for w in span.split() if w.lower() not in T.STOPWORDS]
    key = frozenset(w for w in T.words(span) if w not in T.STOPWORDS and w not in ("al", "el", "abu"))
    if not key or len(words) > _VALUE_WORDS:
        return None
    if any(ch.isdigit() for ch in span) or T.DATE_RE.search(span) or _ORDINAL.search(span):
        return "figure", key
    if all(w[:1].isupper() for w in words):
        return "name", key
    return None


def _span_conflict(pool: list[Candidate], floor: float, config: RagConfig, span_floor: float,
                   asked: set[str]) -> Conflict | None:
    """The best candidate and another document's sentence that tells the same fact (similar
    embeddings, nearly as likely), whose spans, each one the reader finds answers the
    question, are different values of one kind, neither part of the other ("Kamal Kharazi" /
    "Kamal Kharrazi", "$651,000" / "$615,000"). A span naming what the question itself
    names is the question's subject, not an answer to it."""
    first = pool[0]
    a = _answer_value(first, span_floor, asked)
    if a is None:
        return None
    for other in pool[1:]:
        if other.doc_id == first.doc_id or other.probability < floor:
            continue
        b = _answer_value(other, span_floor, asked)
        if b is None or a[0] != b[0] or a[1] <= b[1] or b[1] <= a[1]:
            continue
        if float(other.vector @ first.vector) >= config.conflict_similarity:
            return Conflict("value", (first, other))
    return None


def _answer_value(c: Candidate, span_floor: float, asked: set[str]) -> tuple[str, frozenset[str]] | None:
    if c.span is None or c.span.margin < span_floor or set(T.words(c.span.text)) & asked:
        return None
    return value_of(c.span.text)
