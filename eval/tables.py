"""Rich tables of benchmark results for the terminal."""

from __future__ import annotations

from typing import Any

from .runner import SUMMARY_KEYS


def print_summary(answerers: dict[str, dict[str, Any]], title: str) -> None:
    """One row per metric, one column per answerer."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    for name in answerers:
        table.add_column(name, justify="right")
    keys = [k for k in (*SUMMARY_KEYS, "errors") if any(k in a for a in answerers.values())]
    keys += [k for k in next(iter(answerers.values())) if k not in keys and not isinstance(
        next(iter(answerers.values()))[k], (dict, list))]
    for key in keys:
        table.add_row(key, *(_fmt(a.get(key, "")) for a in answerers.values()))
    Console().print(table)


def print_meta(meta: dict[str, Any]) -> None:
    """Detection rate per perturbation type and the false-positive rate."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="support checker meta-evaluation")
    table.add_column("perturbation")
    table.add_column("detection", justify="right")
    table.add_column("n", justify="right")
    counts = meta.get("counts", {})
    for kind, rate in meta["detection"].items():
        table.add_row(kind, _fmt(rate), str(counts.get(kind, "")))
    positives = sum(counts.get(kind, 0) for kind in meta.get("false_positive_by_type", {}))
    table.add_row("false positives (faithful items)", _fmt(meta["false_positive_rate"]), str(positives))
    Console().print(table)


def _fmt(value: Any) -> str:
    if value is None:
        return "\u2014"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
