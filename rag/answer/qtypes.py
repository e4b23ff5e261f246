"""What a question asks for (a name, a date, a figure…) and whether a sentence has it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .. import text as T

_MONEY_FOCUS = frozenset("money aid funding funds cash dollars budget financing assistance pay cost".split())
_PERSON_NOUNS = (
    r"(?:person|official|leader|man|woman|commander|chief|head|spokesman|spokesperson|minister|"
    r"president|adviser|advisor|expert|deputy|representative|member|cleric|politician|journalist|"
    r"figure|ambassador|envoy|general)"
)
_ORG_NOUNS = (
    r"(?:newspaper|agency|outlet|group|organi[sz]ation|movement|website|channel|media|company|body|"
    r"party|alliance|militia|institute|news agency|force)"
)
_AUXILIARIES = frozenset("did does do was is has had will would".split())
_PLACE_NOUNS = (r"(?:city|cities|country|countries|place|capital|town|region|states?|nations?|location|venue|site|"
                r"building|neighbou?rhood|area)")
_DATE_NOUNS = r"(?:year|date|day|month|week|time)"


# "which [adjective…] NOUN" before a verb or preposition: the noun names the kind of answer.
_WHICH_NOUN = re.compile(
    r"\bwhich\s+(?:[\w-]+\s+){0,2}?([a-z]{3,})\s+(?:did|does|do|was|is|were|are|has|have|had|will|would|"
    r"can|could|of|in|from|to|besides|reportedly|said|say|says)\b"
)
_KIND_WORDS = frozenset("model type kind brand sort make version class".split())
_PARTICIPLES = frozenset("shot made held led sent built given taken seen done known called named".split())
_DURATION = re.compile(
    r"\b(?:\d+|a few|several|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
    r"thirty|forty|fifty|sixty|hundreds?|dozens?)\s+(?:years?|months?|weeks?|days?|hours?|minutes?|decades?)\b",
    re.IGNORECASE,
)
_LENGTH = re.compile(
    r"\b\d[\d,.]*\s?(?:km|kilomet(?:er|re)s?|mi|miles?|m|met(?:er|re)s?|ft|feet|foot|yards?|cm|mm|inch(?:es)?)\b"
)
WEEKDAY = re.compile(r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
YEAR = re.compile(r"\b(?:1\d|20)\d\d\b")
_MONTH = re.compile(T.MONTHS)
# Causal links: after these the cause follows ("… because Egypt refused"); after the
# backward ones it came first ("Hamas's refusal … prompted the Syrians to cut ties").
_CAUSE_NEXT = re.compile(r"\b(?:because(?: of)?|due to|owing to|as a result of|in order to|so that|since|for fear)\b",
                         re.IGNORECASE)
_CAUSE_BEFORE = re.compile(r"\b(?:prompt(?:ed|ing)|led to|leading to|forc(?:ed|ing)|caus(?:ed|ing))\b", re.IGNORECASE)
# A preposition that puts the following name (within a few words) in a place.
_LOCATIVE = re.compile(r"\b(?:in|at|near|from|inside|outside|across|over|with|to|into|towards?|around)"
                       r"(?:\s+[\w'\u2019-]+){0,3}\s*$", re.IGNORECASE)
# "in the Iranian capital", "on Khamenei's website": a capitalised word and a place noun.
_PLACE_PHRASE = re.compile(
    r"\b(?:in|on|at|inside|near)\s+(?:the\s+)?[A-Z][\w-]*(?:['\u2019]s)?\s+(?:[a-z-]+\s+)?"
    r"(?:capital|website|site|office|headquarters|embassy|border|city|town|camp|port|palace|compound|studio)\b"
)
# How near (in words) a figure or a name must be to the noun the question is about.
_NEAR_WORDS = 3


@dataclass(frozen=True)
class QuestionType:
    """``kind`` is person, date, duration, place, quantity, amount, entity, reason, name_part
    (the first or full name of someone the question names by surname) or open.

    ``focus`` is the stem of the noun the answer must be attached to: what a figure counts
    ("rockets" in "how many rockets"), or what a name names ("drone" in "the name of the
    drone"). ``detail`` narrows a date: year, month or weekday.
    """

    kind: str
    focus: str | None = None
    detail: str | None = None

    @property
    def typed(self) -> bool:
        return self.kind != "open"


def _name_of_focus(q: str) -> str | None:
    """Head noun of "the name of the <noun phrase>": the last plain word before a verb."""
    m = re.search(r"\bname of (?:the |a |an )?(.+)", q)
    if not m:
        return None
    head = None
    for word in m.group(1).split():
        word = word.strip("?,.'\"")
        if word in T.STOPWORDS or word in _PARTICIPLES or word.endswith(("ed", "ing")):
            break
        head = word
    return head


def classify(question: str) -> QuestionType:
    """Answer type of a question, from its wh-word and the noun after it."""
    q = " ".join(question.lower().split())
    if m := re.search(r"\bhow (many|much)\s+(\w+)", q):
        focus = m.group(2)
        if m.group(1) == "much" and (focus in _MONEY_FOCUS or focus in _AUXILIARIES):
            return QuestionType("amount", None if focus not in _MONEY_FOCUS else T.stem(focus))
        if focus in _MONEY_FOCUS:
            return QuestionType("amount", T.stem(focus))
        return QuestionType("quantity", T.stem(focus) if focus not in T.STOPWORDS else None)
    if re.match(r"^(and |so )?why\b|.*\b(for what reason|what (was|is) the reason|what caused)\b", q):
        return QuestionType("reason")
    if re.search(r"\bhow long\b", q):
        # "How long is the river?" may ask a length as well as a span; "how long ago" a point.
        detail = "ago" if re.search(r"\bhow long ago\b", q) else \
            "length" if re.search(r"\bhow long (?:is|are|was|were)\b", q) else None
        return QuestionType("duration", detail=detail)
    if re.search(r"\b(what|which) (amount|sum|figure|number|percentage|share)\b", q):
        return QuestionType("quantity")
    # "When did…" asks for a date; "respond when Arouri called…" does not.
    if re.search(rf"^(and |so )?when\b|\bwhen ({'|'.join(_AUXILIARIES)}|are|were|have)\b|\bsince when\b|"
                 rf"\b(what|which|in what|on what) {_DATE_NOUNS}\b", q):
        detail = ("weekday" if re.search(r"\bday of the week\b|\bwhat day\b", q)
                  else "year" if re.search(r"\b(what|which) year\b", q)
                  else "month" if re.search(r"\b(what|which) month\b", q) else None)
        return QuestionType("date", detail=detail)
    if m := re.match(r"^\s*(?i:who|whom)\s+(?i:is|was|are|were)\s+(.+?)\W*$", question.strip()):
        rest = m.group(1)
        if T.entities(rest) and " ".join(T.entities(rest)) == rest:
            return QuestionType("open")  # "Who is Mahmoud al-Zahar?" asks for a description
    if m := re.search(r"\b(first|full) name of (?:the )?(?:.*?\b(?:member|official|leader|man|woman) )?"
                      r"(?:surnamed |named |called )?(.+?)\W*$", question, re.IGNORECASE):
        # "the first name of delegation member Hamdan": the name that ends in "Hamdan".
        # The surname is the last capitalised word ("… member Hamdan spelled?" ends in a verb).
        capitals = [w for w in T.raw_words(m.group(2)) if w[0].isupper()]
        if capitals:
            return QuestionType("name_part", focus=capitals[-1].lower(), detail=m.group(1).lower())
    if head := _name_of_focus(q):
        kind = "person" if re.fullmatch(_PERSON_NOUNS, head) or head == "source" else "entity"
        return QuestionType(kind, focus=T.stem(head))
    # "Who" asks for a person where it opens the question or a clause of it; after a noun
    # ("the officials who visited Tehran; what area…") it only relates a clause to the noun.
    if re.search(rf"(?:^|[,;:]\s*|\b(?:and|or|but|by|to|for|with|from|of|about|at|on)\s+)(?:who|whom|whose)\b|"
                 rf"\b(what|which|^name(?: the| a| an)?)\s+(\w+\s+)?{_PERSON_NOUNS}s?\b", q):
        return QuestionType("person")
    if re.search(rf"\bwhere\b|\b(what|which|in what|in which)\s+(\w+\s+)?{_PLACE_NOUNS}\b", q):
        return QuestionType("place")
    if m := re.search(rf"\b(what|which)\s+(\w+\s+)?({_ORG_NOUNS})\b", q):
        return QuestionType("entity", focus=T.stem(m.group(3).split()[-1]), detail="soft")
    if m := _WHICH_NOUN.search(q):
        # "Which media outlet did…", "Which other factions besides Hamas…"; in "which model
        # of suicide drone", the drone is what the name must stand by.
        head = m.group(1)
        of = re.match(r"\s*of\s+(?:[\w-]+\s+){0,2}?([a-z]{3,})\s+(?:did|does|do|was|is|were|are|has|have|had|will)\b",
                      q[m.end(1):])
        if head in _KIND_WORDS and of:
            head = of.group(1)
        return QuestionType("entity", focus=T.stem(head), detail="soft")
    return QuestionType("open")


def _name_parts(sentence: str, qtype: QuestionType) -> list[str]:
    """The first names (or full names) of the people in ``sentence`` whose surname the
    question gives."""
    out = []
    for name in T.entities(sentence):
        raw = T.raw_words(name)
        lowered = [w.lower() for w in raw]
        if qtype.focus in lowered and lowered.index(qtype.focus) > 0:
            at = lowered.index(qtype.focus)
            given = [w for w in raw[:at] if w.lower() not in ("al", "el", "abu", "bin", "ibn")]
            if given:
                out.append(given[-1] if qtype.detail == "first" else name)
    return out


def _reasons(sentence: str, question: str) -> list[str]:
    """The causal link of a sentence that gives a reason for what the question asks about:
    the question must match the effect side, and the cause side must add something new."""
    asked = set(T.content_terms(question))
    for pattern, cause_first in ((_CAUSE_NEXT, False), (_CAUSE_BEFORE, True)):
        for m in pattern.finditer(sentence):
            before, after = sentence[: m.start()], sentence[m.end():]
            cause, effect = (before, after) if cause_first else (after, before)
            effect_hits = len(asked & set(T.content_terms(effect)))
            cause_terms = set(T.content_terms(cause))
            if 3 * effect_hits >= len(asked) and effect_hits >= len(asked & cause_terms) and cause_terms - asked:
                return [m.group()]
    return []


def _near(sentence: str, start: int, end: int, focus: str, after_only: bool, within: int = _NEAR_WORDS) -> bool:
    """True when a word stemming to ``focus`` lies within ``within`` words of sentence[start:end]."""
    after = T.words(sentence[end:])[:within]
    before = [] if after_only else T.words(sentence[:start])[-within:]
    return any(T.stem(w) == focus for w in after + before)


def _spans(sentence: str, items: list[str]) -> list[tuple[str, int, int]]:
    out = []
    for item in items:
        at = sentence.find(item)
        if at >= 0:
            out.append((item, at, at + len(item)))
    return out


def _new(found: list[str], question_words: set[str]) -> list[str]:
    """Items of ``found`` that the question does not already contain."""
    return [f for f in found if not set(T.words(f)) <= question_words]


def _new_names(found: list[str], question_words: set[str]) -> list[str]:
    """Names that share no word with the question ("Ayatollah Ali Khamenei" is not new to a
    question about Khamenei). Title words the question repeats are taken off the front first:
    "Hezbollah Deputy Secretary General Sheikh Naim Qassem" names "Sheikh Naim Qassem"."""
    out = []
    for name in found:
        parts = name.split()
        while len(parts) > 1 and set(T.words(parts[0])) <= question_words:
            parts.pop(0)
        name = " ".join(parts)
        tokens = {w for w in T.words(name) if len(w) > 2 and w not in T.STOPWORDS}
        if tokens and not any(_asked(w, question_words) for w in tokens):
            out.append(name)
    return out


def _asked(word: str, question_words: set[str]) -> bool:
    """``word`` is one of the question's, or a form of one: the people or adjective of a
    place it names ("Syrians", "Iranian", "Egyptian" for Syria, Iran, Egypt)."""
    return word in question_words or any(
        len(q) >= 4 and word.startswith(q) and len(word) - len(q) <= 3 for q in question_words)


def item_terms(items: Sequence[str]) -> set[str]:
    """Content stems of answer items, so "Saleh al-Arouri" and "Saleh Al-Arouri" match (and
    "12" and "12 rockets": figures count however short)."""
    return {t for t in T.content_terms(" ".join(items)) if len(t) > 2 or t[0].isdigit()}


def answer_items(sentence: str, qtype: QuestionType, question: str) -> list[str]:
    """The pieces of ``sentence`` that could answer a question of ``qtype`` (empty if none)."""
    qwords = set(T.words(question))
    kind = qtype.kind
    if kind == "date":
        found = _new(T.dates(sentence), qwords)
        pattern = {"year": YEAR, "weekday": WEEKDAY, "month": _MONTH}.get(qtype.detail or "")
        return [d for d in found if pattern.search(d)] if pattern else found
    if kind == "name_part":
        return _name_parts(sentence, qtype)
    if kind == "reason":
        return _reasons(sentence, question)
    if kind == "duration":
        # "How long ago…" wants a point in the past ("forty years ago"); "how long did it
        # last" wants a span, which "a few years ago" is not.
        ago = qtype.detail == "ago"
        found = [m.group() for m in _DURATION.finditer(sentence)
                 if sentence[m.end():].lstrip().lower().startswith("ago") == ago]
        if qtype.detail == "length":
            found += [m.group() for m in _LENGTH.finditer(sentence)]
        return _new(found, qwords)
    if kind in ("quantity", "amount"):
        found = T.amounts(sentence) if kind == "amount" else T.amounts(sentence) + T.numbers(sentence)
        found = _new(found, qwords)
        if qtype.focus and kind == "quantity":
            # The figure must count the thing asked about: "12 rockets", not "9,000 families".
            found = [f for f, a, b in _spans(sentence, found) if _near(sentence, a, b, qtype.focus, True)]
        return found
    if kind in ("person", "place", "entity"):
        months = set(T.words(" ".join(_MONTH_NAMES)))
        found = [e for e in _new_names(T.entities(sentence), qwords) if not set(T.words(e)) <= months]
        if qtype.focus and (qtype.detail != "soft" or qtype.focus in {T.stem(w) for w in T.words(sentence)}):
            # "the name of the drone": the name must stand by the word "drone" (for "which
            # newspaper…", only where the sentence says "newspaper" at all).
            near = _NEAR_WORDS if qtype.detail != "soft" else 2 * _NEAR_WORDS
            found = [e for e, a, b in _spans(sentence, found) if _near(sentence, a, b, qtype.focus, False, near)]
        if kind == "place":
            # A place answer is a name in a locative phrase ("in Beirut", "at the border with
            # Israel"), never a person, and not the subject of the sentence ("Tehran backs…").
            # A possessive owns something rather than locates it ("after Israel's elections").
            found = [e for e, a, _ in _spans(sentence, found)
                     if not T.is_person(e) and _LOCATIVE.search(sentence[max(0, a - 40):a])
                     and not e.endswith(("'s", "\u2019s", "'", "\u2019"))]
            # Places named by a phrase rather than a name: "on Khamenei's website".
            found += [m.group() for m in _PLACE_PHRASE.finditer(sentence)
                      if set(T.words(m.group())) - qwords - T.STOPWORDS and m.group() not in found]
        if kind == "person":
            people = [e for e in found if T.is_person(e)]
            return people or [e for e in found if len(T.words(e)) == 1 and _after_title(sentence, e)]
        return found
    return []


_MONTH_NAMES = ("January February March April May June July August September October November "
                "December Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec "
                "Monday Tuesday Wednesday Thursday Friday Saturday Sunday").split()


def _after_title(sentence: str, name: str) -> bool:
    """A single capitalised word preceded by a title ("Chief Arouri", "said Khamenei")."""
    return bool(re.search(rf"\b(?:[A-Z][a-z]+|said|told)\s+{re.escape(name)}\b", sentence))



# The words that say what kind of answer is wanted, not what it is about.
_SCAFFOLD = re.compile(
    r"\b(?:(?:on|in|at|for) )?(?:what|which) (?:day of the week|day|year|month|date|time)\b|"
    r"\bhow (?:many|much|long(?: ago)?)\b|\b(?:what|which) (?:is|was) the (?:first |full )?name of\b|"
    r"\b(?:first|full) name\b",
    re.IGNORECASE,
)


def topic(question: str) -> str:
    """The question without its answer-type words ("on what day of the week", "how many"),
    for lexical matching: "week" in the question must not pull in "this week"."""
    return " ".join(_SCAFFOLD.sub(" ", question).split())
