"""Write the benchmark's reports: report.json, report.md and report.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .curves import curve_of, operating_point, plot_refusal_curves
from .runner import JUDGES, SUMMARY_KEYS

_PLOT_METRICS = ("fact_recall", "faithfulness", "citation_precision", "refusal_recall")


def write_reports(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write the three report files into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "report.json", out_dir / "report.md", out_dir / "report.png", out_dir / "refusal.png"]
    paths[0].write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    paths[1].write_text(markdown(report), encoding="utf-8")
    plot(report, paths[2])
    curves, points = {}, {}
    for name, data in report["answerers"].items():
        items = data["items"]
        curves[name] = curve_of(items, "answerable")
        points[name] = operating_point([i["refused"] for i in items], [i["answerable"] for i in items])
    plot_refusal_curves(curves, points, paths[3], title=f"refusal on {Path(report['set']).name}")
    return paths


def _fmt(value: Any) -> str:
    if value is None:
        return "\u2014"  # nothing to measure in this group
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _cell(text: str, limit: int = 220) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: overall table, breakdown by type, the worst items, the checker."""
    names = list(report["answerers"])
    lines = [f"# Evaluation report: {report['set']}", "",
             f"{report['questions']} questions; support checker: {report['checker']}.", "",
             "Judges: " + "; ".join(f"`{k}` by {v}" for k, v in JUDGES.items()) + ".", "",
             "| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for key in (*SUMMARY_KEYS, "conflicts_on_agreeing", "errors"):
        lines.append(f"| {key} | " + " | ".join(_fmt(report["answerers"][n][key]) for n in names) + " |")
    for name in names:
        data = report["answerers"][name]
        cols = ("questions", "fact_recall", "on_topic", "faithfulness", "citation_precision", "citation_recall",
                "refusal_recall", "false_refusal_rate", "conflicts_shown", "recall_at_5")
        lines += ["", f"## {name}: by question type", "", "| type | " + " | ".join(cols) + " |",
                  "|---|" + "---|" * len(cols)]
        for qtype, summary in data["by_type"].items():
            lines.append(f"| {qtype} | " + " | ".join(_fmt(summary[c]) for c in cols) + " |")
        lines += ["", f"## {name}: the 10 worst items", "", "| id | type | question | answer | gold |",
                  "|---|---|---|---|---|"]
        for item in data["worst"]:
            gold = " / ".join(" or ".join(f) for f in item["gold"]) or "(unanswerable)"
            answer = (item["error"] and f"ERROR {item['error']}") or item["answer"]
            lines.append(f"| {item['id']} | {item['type']} | {_cell(item['question'])} | {_cell(answer)} | "
                         f"{_cell(gold)} |")
    meta = report.get("checker_meta")
    if meta:
        lines += ["", "## Meta-evaluation of the support checker", "", "| perturbation | detection | n |",
                  "|---|---|---|"]
        for kind, rate in meta["detection"].items():
            lines.append(f"| {kind} | {_fmt(rate)} | {meta.get('counts', {}).get(kind, '')} |")
        positives = sum(meta["counts"].get(kind, 0) for kind in meta.get("false_positive_by_type", {}))
        lines.append(f"| false positives on faithful items | {_fmt(meta['false_positive_rate'])} | {positives} |")
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    """Metric bars by question type (one panel per answerer) and a latency histogram."""
    import matplotlib

    matplotlib.use("Agg")  # no display here, and none needed
    import matplotlib.pyplot as plt

    names = list(report["answerers"])
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(7 * len(names) + 5, 4.5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=False):
        types = list(report["answerers"][name]["by_type"])
        width = 0.8 / len(_PLOT_METRICS)
        for i, metric in enumerate(_PLOT_METRICS):
            values = [report["answerers"][name]["by_type"][t][metric] for t in types]
            values = [float("nan") if v is None else v for v in values]  # not applicable: no bar
            ax.bar([x + i * width for x in range(len(types))], values, width, label=metric)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(types))], types, rotation=30, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{name}: metrics by question type")
        ax.legend(fontsize=7, loc="lower left")
    hist = axes[0][-1]
    for name in names:
        latencies = [i["latency_ms"] for i in report["answerers"][name]["items"] if i["latency_ms"] is not None]
        hist.hist(latencies, bins=20, alpha=0.6, label=name)
    hist.set_title("latency per question")
    hist.set_xlabel("ms")
    hist.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
