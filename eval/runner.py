"""Run question sets through the public API and score every answer."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from . import metrics as M
from .curves import refusal_ranking, risk_coverage
from .dataset import EvalItem

# The keys every answerer's summary carries, in report order.
SUMMARY_KEYS = (
    "fact_recall", "token_f1", "short_exact_match", "short_f1", "confident_coverage", "confident_containment",
    "on_topic", "faithfulness", "citation_precision", "citation_recall", "faithfulness_checker",
    "citation_precision_checker", "citation_recall_checker", "refusal_recall", "refusal_precision",
    "false_refusal_rate", "refusal_auc", "refusal_recall_best_fr0.03", "refusal_recall_best_fr0.08",
    "conflicts_shown", "recall_at_1", "recall_at_3", "recall_at_5", "mrr",
    "latency_p50_ms", "latency_p95_ms", "answer_words_median", "generated_dropped", "generated_fallbacks",
    "generated_kept",
)
# Verification actions that keep a generated sentence (rag/verify/citations.py).
_KEPT = ("kept", "marker_removed", "cited_added", "recited")
# Who produced each judged column: the gold evidence of the question set is independent of
# the support checker that filters (generated) answers; the checker columns are kept beside it.
JUDGES = {
    "on_topic": "gold facts and evidence quotes",
    "faithfulness": "gold evidence (an on-topic sentence cites a passage holding it)",
    "citation_precision": "gold evidence (citations of on-topic sentences that hold it)",
    "citation_recall": "gold evidence (the share of an answer's gold evidence spans its citations quote)",
    "faithfulness_checker": "support checker (rag/verify/support.py)",
    "citation_precision_checker": "support checker (ALCE)",
    "citation_recall_checker": "support checker (ALCE)",
}


class Asker(Protocol):
    def ask(self, question: str, history: Any = None) -> Any: ...


@dataclass
class ItemResult:
    """One question's answer and its scores."""

    id: str
    type: str
    question: str
    answerable: bool
    gold: list[list[str]]
    answer: str = ""
    refused: bool = False
    error: str | None = None
    latency_ms: float | None = None
    fact_ok: bool = False
    f1: float = 0.0
    rank: int | None = None  # of the first retrieved passage holding gold evidence
    sentences: list[dict[str, Any]] = field(default_factory=list)
    # What the citation check of a generated answer changed: action -> count.
    checked: dict[str, int] = field(default_factory=dict)
    conflicts: int = 0  # disagreements the answer gave side by side
    confidence: float | None = None  # the refusal model's P(answerable)
    status: str = ""  # answered, uncertain or refused
    short: str | None = None  # the short answer's text
    short_em: float = 0.0
    short_f1: float = 0.0
    evidence_cited: float | None = None  # share of the gold evidence spans the citations quote

    @property
    def score(self) -> float:
        """How well this item went, 0..1, for picking the worst items."""
        if self.error:
            return -1.0
        if not self.answerable:
            return float(self.refused)
        supported = [s["supported"] for s in self.sentences if s["supported"] is not None]
        faithful = sum(supported) / len(supported) if supported else 1.0
        return (float(self.fact_ok) + self.f1 + faithful) / 3


def evaluate_item(bot: Asker, item: EvalItem, checker: Any) -> ItemResult:
    """Ask one question and score the answer; an exception is recorded, not raised."""
    result = ItemResult(item.id, item.type, item.question, item.answerable, item.answers)
    try:
        answer = bot.ask(item.question, history=item.history or None)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    result.answer, result.refused = answer.text, answer.refused
    for record in getattr(answer, "verification", None) or []:
        result.checked[record["action"]] = result.checked.get(record["action"], 0) + 1
    result.latency_ms = answer.timings_ms.get("total")
    gold_spans = [(e.source, e.start, e.end) for e in item.evidence]
    result.rank = M.first_relevant_rank([(p.source, p.start, p.end) for p in answer.passages], gold_spans)
    if item.answerable and not answer.refused:
        result.fact_ok = M.fact_recall(answer.text, item.answers)
        result.f1 = M.answer_f1(answer.text, item.answers)
    result.conflicts = len(getattr(answer, "conflicts", None) or [])
    result.confidence = getattr(answer, "confidence", None)
    result.status = getattr(answer, "status", "refused" if answer.refused else "answered")
    short = getattr(answer, "short_answer", None)
    result.short = short["text"] if short and not answer.refused else None
    if item.answerable:
        result.short_em, result.short_f1 = M.short_scores(result.short, [a for fact in item.answers for a in fact])
    if not answer.refused:
        if item.answerable:
            result.evidence_cited = M.evidence_cited([(c.source, c.start, c.end) for c in answer.citations],
                                                     gold_spans)
        by_marker = {c.marker: c for c in answer.citations}
        spans = {p.chunk_id: (p.source, p.start, p.end) for p in answer.passages}
        quotes = [e.quote for e in item.evidence]
        for claim, markers in M.answer_sentences(answer.text):
            cited = [by_marker[m] for m in markers if m in by_marker]
            supported, relevant, total = M.judge_sentence(checker, claim, [c.text for c in cited])
            record = {"claim": claim, "markers": markers, "supported": supported,
                      "relevant_citations": relevant, "citations": total}
            if item.answerable:
                on_topic, holding = M.judge_gold(claim, [spans[c.chunk_id] for c in cited if c.chunk_id in spans],
                                                 item.answers, quotes, gold_spans)
                record.update(on_topic=on_topic, gold_citations=holding)
            result.sentences.append(record)
    return result


def summarise(results: Sequence[ItemResult]) -> dict[str, Any]:
    """The benchmark's figures over a list of item results."""
    answerable = [r for r in results if r.answerable]
    with_evidence = [r for r in answerable if r.error is None]
    ranks = [r.rank for r in with_evidence]
    sentences = [s for r in results for s in r.sentences]
    measured = [s for s in sentences if s["supported"] is not None]
    citations = sum(s["citations"] for s in measured)
    judged = [s for s in sentences if "on_topic" in s]
    on_topic = [s for s in judged if s["on_topic"]]
    gold_citations = sum(s["citations"] for s in on_topic)
    agreeing = [r for r in results if r.answerable and r.type != "disagreement" and not r.refused]
    latencies = [r.latency_ms for r in results if r.latency_ms is not None]
    asked = [r for r in results if r.error is None]
    out: dict[str, Any] = {
        "questions": len(results),
        "errors": sum(r.error is not None for r in results),
        "fact_recall": _mean(r.fact_ok for r in answerable),
        "token_f1": _mean(r.f1 for r in answerable),
        "short_exact_match": _mean(r.short_em for r in answerable),
        "short_f1": _mean(r.short_f1 for r in answerable),
        "on_topic": _mean(s["on_topic"] for s in judged),
        "faithfulness": _mean(s["gold_citations"] > 0 for s in on_topic),
        "citation_precision": (sum(min(s["gold_citations"], s["citations"]) for s in on_topic) / gold_citations
                               if gold_citations else None),
        "citation_recall": _mean(r.evidence_cited for r in answerable if r.evidence_cited is not None),
        # Faithfulness and ALCE citation recall coincide for the checker: both ask whether a
        # sentence's own citations, together, support it.
        "faithfulness_checker": _mean(s["supported"] for s in measured),
        "citation_recall_checker": _mean(s["supported"] for s in measured),
        "citation_precision_checker": sum(s["relevant_citations"] for s in measured) / citations if citations else None,
        # Answers that said "reports differ": wanted on disagreement questions, and only there.
        "conflicts_shown": _mean(r.conflicts > 0 for r in results if r.type == "disagreement" and not r.refused),
        "conflicts_on_agreeing": sum(r.conflicts > 0 for r in agreeing),
        "sentences_unmeasured": len(sentences) - len(measured),
        **M.refusal_scores([r.refused for r in results], [r.answerable for r in results]),
        **refusal_ranking([r.confidence for r in asked], [r.answerable for r in asked]),
        **_confident(answerable),
        "recall_at_1": M.recall_at(ranks, 1),
        "recall_at_3": M.recall_at(ranks, 3),
        "recall_at_5": M.recall_at(ranks, 5),
        "mrr": M.mean_reciprocal_rank(ranks),
        "latency_p50_ms": M.percentile(latencies, 50) if latencies else None,
        "latency_p95_ms": M.percentile(latencies, 95) if latencies else None,
        # How often a generative answerer's output was repaired: sentences dropped or flagged
        # by the citation check, and answers that fell back to the extractive one.
        "generated_dropped": sum(r.checked.get("dropped", 0) + r.checked.get("flagged", 0) for r in results),
        "generated_fallbacks": sum(r.checked.get("fallback", 0) for r in results),
        # Answers whose text is the model's own, checked: at least one generated sentence kept.
        "generated_kept": sum(any(r.checked.get(a, 0) for a in _KEPT) for r in results),
        "answer_words_median": statistics.median(
            [len(M.strip_markers(r.answer).split()) for r in results if r.answer and not r.refused] or [0]),
    }
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def _confident(answerable: Sequence[ItemResult]) -> dict[str, Any]:
    """Confident answers' fact recall against how many answerable questions get one."""
    asked = [r for r in answerable if r.error is None]
    return risk_coverage([r.confidence for r in asked], [r.fact_ok for r in asked],
                         [r.status == "answered" for r in asked])


def by_type(results: Sequence[ItemResult]) -> dict[str, dict[str, Any]]:
    """Summaries per question type."""
    types = sorted({r.type for r in results})
    return {t: summarise([r for r in results if r.type == t]) for t in types}


def worst(results: Sequence[ItemResult], n: int = 10) -> list[ItemResult]:
    return sorted(results, key=lambda r: (r.score, r.id))[:n]


def run_answerer(bot: Asker, items: Sequence[EvalItem], checker: Any, description: str = "",
                 progress: bool = True) -> list[ItemResult]:
    """Every item through ``bot``, in order, with a progress bar."""
    iterable: Iterable[EvalItem] = items
    if progress:
        from rich.progress import track

        iterable = track(items, description=description or "evaluating", transient=True)
    return [evaluate_item(bot, item, checker) for item in iterable]


def item_dicts(results: Sequence[ItemResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]


def _mean(values: Iterable[Any]) -> float | None:
    """The mean, or None when there is nothing to average (never a made-up 0)."""
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else None
