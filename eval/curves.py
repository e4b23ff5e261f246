"""Refusal recall against false refusals across thresholds of the answer's confidence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

_STEPS = 50
# The false-refusal rates at which the best reachable refusal recall is reported: the bars
# the seed question set and a SQuAD-format file are held to.
CEILING_RATES = (0.03, 0.08)


def _scores(confidences: Sequence[float | None]) -> list[float]:
    """Confidences as numbers: a question refused without one (nothing retrieved) counts as 0."""
    return [0.0 if c is None else float(c) for c in confidences]


def refusal_curve(confidences: Sequence[float | None], answerable: Sequence[bool]) -> list[dict[str, float]]:
    """For thresholds 0..1: the share of unanswerable questions refused (recall) and of
    answerable ones refused (false refusals), refusing below the threshold. A question that
    was refused without a confidence (nothing retrieved) counts as confidence 0."""
    pairs = list(zip(_scores(confidences), answerable, strict=True))
    n_ans = sum(a for _, a in pairs) or 1
    n_un = sum(not a for _, a in pairs) or 1
    out = []
    for step in range(_STEPS + 1):
        t = step / _STEPS
        out.append({"threshold": t,
                    "refusal_recall": round(sum(c < t for c, a in pairs if not a) / n_un, 4),
                    "false_refusals": round(sum(c < t for c, a in pairs if a) / n_ans, 4)})
    return out


def refusal_ranking(confidences: Sequence[float | None], answerable: Sequence[bool]) -> dict[str, float | None]:
    """How well ``confidence`` separates answerable questions from the rest, whatever the
    threshold: ROC AUC, and per rate in CEILING_RATES the most refusal recall any threshold
    reaches with at most that share of false refusals. Below it, a better threshold cannot
    help: the score's ranking is the limit. None when either kind of question is missing, or
    when no answer carries a confidence (an answerer without a refusal score)."""
    from sklearn.metrics import roc_auc_score

    scores = _scores(confidences)
    ans = sorted(c for c, a in zip(scores, answerable, strict=True) if a)
    un = [c for c, a in zip(scores, answerable, strict=True) if not a]
    out: dict[str, float | None] = {"refusal_auc": None}
    out.update((f"refusal_recall_best_fr{rate:g}", None) for rate in CEILING_RATES)
    if not ans or not un or all(c is None for c in confidences):
        return out
    out["refusal_auc"] = round(float(roc_auc_score([bool(a) for a in answerable], scores)), 4)
    for rate in CEILING_RATES:
        # Refusing below the (allowed + 1)-th lowest answerable confidence refuses at most
        # ``allowed`` answerable questions (ties refuse none of them).
        allowed = int(rate * len(ans) + 1e-9)
        threshold = ans[allowed] if allowed < len(ans) else float("inf")
        out[f"refusal_recall_best_fr{rate:g}"] = round(sum(c < threshold for c in un) / len(un), 4)
    return out


def risk_coverage(confidences: Sequence[float | None], correct: Sequence[bool],
                  confident: Sequence[bool]) -> dict[str, Any]:
    """Over the answerable questions: the share answered confidently (``confident``, as the
    answers were given) and how often those answers hold the answer, plus the same for every
    coverage a threshold of ``confidence`` reaches (in tenths), so that a stricter or looser
    threshold can be read off."""
    n = len(correct)
    sure = [c for c, s in zip(correct, confident, strict=True) if s]
    out: dict[str, Any] = {"confident_coverage": round(len(sure) / n, 4) if n else None,
                           "confident_containment": round(sum(sure) / len(sure), 4) if sure else None}
    ranked = sorted(zip(_scores(confidences), correct, strict=True), key=lambda p: -p[0])
    curve = []
    for tenth in range(1, 11):
        top = ranked[:max(1, round(n * tenth / 10))] if n else []
        if top:
            curve.append({"coverage": tenth / 10, "containment": round(sum(c for _, c in top) / len(top), 4),
                          "threshold": round(top[-1][0], 4)})
    out["risk_coverage"] = curve
    return out


def plot_refusal_curves(curves: dict[str, list[dict[str, float]]], points: dict[str, tuple[float, float]],
                        path: Path, title: str = "refusal: recall against false refusals") -> Path:
    """One line per question set; ``points`` marks each set's operating point (false refusals, recall)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for name, curve in curves.items():
        line, = ax.plot([p["false_refusals"] for p in curve], [p["refusal_recall"] for p in curve], label=name)
        if name in points:
            fr, rr = points[name]
            ax.plot([fr], [rr], "o", color=line.get_color())
            ax.annotate(f"chosen ({fr:.2f}, {rr:.2f})", (fr, rr), textcoords="offset points", xytext=(6, -12),
                        fontsize=8)
    ax.set_xlabel("false refusals (answerable questions refused)")
    ax.set_ylabel("refusal recall (unanswerable questions refused)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def operating_point(refused: Sequence[bool], answerable: Sequence[bool]) -> tuple[float, float]:
    """(false refusals, refusal recall) of the answers as given."""
    ans = [r for r, a in zip(refused, answerable, strict=True) if a]
    un = [r for r, a in zip(refused, answerable, strict=True) if not a]
    return (sum(ans) / len(ans) if ans else 0.0, sum(un) / len(un) if un else 0.0)


def curve_of(items: Sequence[dict[str, Any]], answerable_key: str) -> list[dict[str, float]]:
    """The curve of report items carrying ``confidence`` and an answerable flag (or its negation)."""
    flags = [bool(i[answerable_key]) if answerable_key == "answerable" else not i[answerable_key] for i in items]
    return refusal_curve([i.get("confidence") for i in items], flags)
