"""Metrics of the benchmark. Each is a small pure function, unit-tested by hand."""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rag.bench import percentile  # noqa: F401 - the runner takes it from here
from rag.records import strip_lead
from rag.text import strip_possessives
from rag.verify.support import strip_markers

if TYPE_CHECKING:
    from rag.verify.support import SupportChecker

_MARKERS = re.compile(r"\[(\d+)\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation + "\u2019\u2018\u201c\u201d")
# A sentence is the text up to a run of markers followed by whitespace or the end.
_SENTENCE = re.compile(r"(.+?)((?:\s*\[\d+\])+)(?=\s|$)", re.S)


# -- answers (SQuAD v2.0 normalisation and token F1) -----------------------------------------
def normalize_answer(s: str) -> str:
    """Lower case, drop punctuation, articles and extra whitespace (official SQuAD v2.0,
    plus typographic quotes, which news text is full of)."""
    s = s.lower().translate(_PUNCTUATION)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token F1 between two strings."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = collections.Counter(pred) & collections.Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def short_scores(short: str | None, golds: Sequence[str]) -> tuple[float, float]:
    """SQuAD's exact match and F1 of a short answer against the best of ``golds`` (0, 0
    when there is no short answer)."""
    if not short or not golds:
        return 0.0, 0.0
    return (max(float(normalize_answer(short) == normalize_answer(g)) for g in golds),
            max(token_f1(short, g) for g in golds))


def contains(answer: str, alternative: str) -> bool:
    """True when the normalised alternative occurs, as whole words, in the normalised answer.
    A possessive names its owner: "al-Sisi's government" contains "al-Sisi"."""
    # Markers go first, so "[1]" never matches a numeric answer "1".
    answer = strip_possessives(strip_markers(answer))
    a, b = f" {normalize_answer(answer)} ", f" {normalize_answer(strip_possessives(alternative))} "
    return b.strip() != "" and b in a


def fact_recall(answer: str, facts: Sequence[Sequence[str]]) -> bool:
    """All gold facts present: each fact has at least one alternative in the answer."""
    return bool(facts) and all(any(contains(answer, alt) for alt in fact) for fact in facts)


def answer_f1(answer: str, facts: Sequence[Sequence[str]]) -> float:
    """Token F1 of the answer against the gold facts, each at its best-matching alternative."""
    if not facts:
        return 0.0
    best = [max(fact, key=lambda alt: token_f1(answer, alt)) for fact in facts]
    return token_f1(strip_markers(answer), " ".join(best))


# -- retrieval ----------------------------------------------------------------------------------
def first_relevant_rank(passages: Sequence[tuple[str, int, int]], gold: Sequence[tuple[str, int, int]]) -> int | None:
    """1-based rank of the first passage (source, start, end) overlapping a gold span, or None."""
    for rank, (source, start, end) in enumerate(passages, start=1):
        if any(source == g_source and start < g_end and g_start < end for g_source, g_start, g_end in gold):
            return rank
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    return sum(r is not None and r <= k for r in ranks) / len(ranks) if ranks else 0.0


def mean_reciprocal_rank(ranks: Sequence[int | None]) -> float:
    return sum(1 / r for r in ranks if r) / len(ranks) if ranks else 0.0


# -- faithfulness and citations (ALCE) ----------------------------------------------------------
def answer_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """Split an answer into (sentence without markers, cited markers) at each run of markers."""
    text = strip_lead(answer)  # lead-ins claim nothing, nor does the date before each account
    out, end = [], 0
    for m in _SENTENCE.finditer(text):
        out.append((strip_lead(m.group(1)), [int(x) for x in _MARKERS.findall(m.group(2))]))
        end = m.end()
    if tail := text[end:].strip():
        out.append((tail, []))  # a final sentence without citations
    return out


# -- the gold judge: independent of the checker that shaped the answer -------------------------
def _content(text: str) -> set[str]:
    return {w for w in normalize_answer(strip_possessives(text)).split() if len(w) > 2}


def states_gold(claim: str, facts: Sequence[Sequence[str]], quotes: Sequence[str]) -> bool:
    """The sentence states a gold fact (holds one of its alternatives) or gold evidence (shares
    at least half the content words of an evidence quote, or of itself with one)."""
    if any(contains(claim, alt) for fact in facts for alt in fact):
        return True
    words = _content(claim)
    for quote in quotes:
        gold = _content(quote)
        shared = len(words & gold)
        if words and gold and (shared >= 0.5 * len(gold) or shared >= 0.5 * len(words)):
            return True
    return False


def judge_gold(claim: str, cited: Sequence[tuple[str, int, int]], facts: Sequence[Sequence[str]],
               quotes: Sequence[str], gold: Sequence[tuple[str, int, int]]) -> tuple[bool, int]:
    """Gold judgement of one answer sentence citing passages (source, start, end).

    Returns (on topic, cited passages holding gold evidence). A sentence is on topic when it
    states a gold fact or gold evidence; it is faithful when, on topic, it cites a passage
    holding that evidence.
    """
    on_topic = states_gold(claim, facts, quotes)
    holding = sum(first_relevant_rank([passage], gold) is not None for passage in cited)
    return on_topic, holding


def evidence_cited(quoted: Sequence[tuple[str, int, int]], gold: Sequence[tuple[str, int, int]]) -> float | None:
    """Citation recall against the gold evidence: the share of an answer's gold evidence spans
    (source, start, end) that one of its citations quotes (overlaps); None without evidence.
    Both accounts of a disagreement, and every article a fact is corroborated by, count."""
    if not gold:
        return None
    return sum(any(s == gs and a < ge and ga < b for s, a, b in quoted) for gs, ga, ge in gold) / len(gold)


def judge_sentence(checker: SupportChecker, claim: str, passages: Sequence[str]) -> tuple[bool | None, int, int]:
    """ALCE judgement of one sentence against its cited passages.

    Returns (supported, relevant citations, citations): supported is whether the citations
    together support the claim (None when unmeasured); a citation is irrelevant when it does
    not support the claim alone and the others still do without it.
    """
    if not passages:
        return False, 0, 0
    together = checker.check(claim, "\n\n".join(passages)).supported
    if together is None:
        return None, 0, 0
    if len(passages) == 1:
        return together, int(together), 1
    relevant = 0
    for i, passage in enumerate(passages):
        alone = checker.check(claim, passage).supported
        rest = checker.check(claim, "\n\n".join(p for j, p in enumerate(passages) if j != i)).supported
        relevant += bool(alone) or not (together and rest)
    return together, relevant, len(passages)


# -- refusal and latency ------------------------------------------------------------------------
def refusal_scores(refused: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float | None]:
    """Recall and precision of refusals on unanswerable questions; false refusals on answerable.

    A rate with nothing to count (no unanswerable question, no refusal) is None, not 0.
    """
    unanswerable = [r for r, a in zip(refused, answerable, strict=True) if not a]
    on_answerable = [r for r, a in zip(refused, answerable, strict=True) if a]
    right = sum(unanswerable)
    return {
        "refusal_recall": right / len(unanswerable) if unanswerable else None,
        "refusal_precision": right / sum(refused) if sum(refused) else None,
        "false_refusal_rate": sum(on_answerable) / len(on_answerable) if on_answerable else None,
    }
