"""What a question asks for (a name, a date, a figure…) and whether a sentence has it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import text as T

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
_PLACE_NOUNS = r"(?:city|cities|country|countries|place|capital|town|region|states?|nations?|location)"
_DATE_NOUNS = r"(?:year|date|day|month|week|time)"


@dataclass(frozen=True)
class QuestionType:
    """``kind`` is person, date, place, quantity, amount, entity or open; ``focus`` is the
    stem of the noun a figure must count ("rockets" in "how many rockets")."""

    kind: str
    focus: str | None = None

    @property
    def typed(self) -> bool:
        return self.kind != "open"


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
    if re.search(r"\b(what|which) (amount|sum|figure|number|percentage|share)\b", q):
        return QuestionType("quantity")
    if re.search(rf"\bwhen\b|\b(what|which|in what|on what) {_DATE_NOUNS}\b|\bsince when\b", q):
        return QuestionType("date")
    if re.search(r"^\s*(?i:who|whom)\s+(?i:is|was|are|were)\s+[A-Z]", question.strip()) and T.entities(question):
        return QuestionType("open")  # "Who is X?" asks for a description, not a name
    if re.search(rf"\b(who|whom|whose)\b|\b(what|which) {_PERSON_NOUNS}\b", q):
        return QuestionType("person")
    if re.search(rf"\bwhere\b|\b(what|which|in what|in which) {_PLACE_NOUNS}\b", q):
        return QuestionType("place")
    if re.search(r"\bwhat (was|is) the name of\b|\bname (of )?the\b", q):
        return QuestionType("entity")
    if re.search(rf"\b(what|which)\s+(\w+\s+)?{_ORG_NOUNS}\b", q):
        return QuestionType("entity")
    return QuestionType("open")


def _new(found: list[str], question_words: set[str]) -> list[str]:
    """Items of ``found`` that the question does not already contain."""
    return [f for f in found if not set(T.words(f)) <= question_words]


def _new_names(found: list[str], question_words: set[str]) -> list[str]:
    """Names that share no word with the question ("Ayatollah Ali Khamenei" is not new to a
    question about Khamenei)."""
    out = []
    for name in found:
        tokens = {w for w in T.words(name) if len(w) > 2 and w not in T.STOPWORDS}
        if tokens and not tokens & question_words:
            out.append(name)
    return out


def answer_items(sentence: str, qtype: QuestionType, question: str) -> list[str]:
    """The pieces of ``sentence`` that could answer a question of ``qtype`` (empty if none)."""
    qwords = set(T.words(question))
    kind = qtype.kind
    if kind == "date":
        return _new(T.dates(sentence), qwords)
    if kind in ("quantity", "amount"):
        found = T.amounts(sentence) if kind == "amount" else T.amounts(sentence) + T.numbers(sentence)
        found = _new(found, qwords)
        # The figure must count the thing asked about, not anything else in the sentence.
        if found and qtype.focus and kind == "quantity" and qtype.focus not in {
            T.stem(w) for w in T.words(sentence)
        }:
            return []
        return found
    if kind in ("person", "place", "entity"):
        months = set(T.words(" ".join(_MONTH_NAMES)))
        found = [e for e in _new_names(T.entities(sentence), qwords) if not set(T.words(e)) <= months]
        if kind == "person":
            people = [e for e in found if T.is_person(e)]
            return people or [e for e in found if len(T.words(e)) == 1 and _after_title(sentence, e)]
        return found
    return []


_MONTH_NAMES = ("January February March April May June July August September October November "
                "December Monday Tuesday Wednesday Thursday Friday Saturday Sunday").split()


def _after_title(sentence: str, name: str) -> bool:
    """A single capitalised word preceded by a title ("Chief Arouri", "said Khamenei")."""
    return bool(re.search(rf"\b(?:[A-Z][a-z]+|said|told)\s+{re.escape(name)}\b", sentence))
