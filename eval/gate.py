"""The regression gate: figures the default answerer must keep on the test split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BASELINE = Path(__file__).resolve().parent / "baseline.json"
GATED = ("fact_recall", "citation_precision", "faithfulness", "refusal_recall")
ANSWERER = "extractive"


def write_baseline(report: dict[str, Any], path: Path = BASELINE) -> Path:
    """Record the measured figures of ``report`` (a run on the test split) as the gate."""
    figures = report["answerers"][ANSWERER]
    data = {"set": Path(report["set"]).name, "answerer": ANSWERER, "checker": report["checker"],
            **{key: figures[key] for key in GATED}}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def regressions(report: dict[str, Any], path: Path = BASELINE) -> list[str]:
    """One line per gated figure that fell below its recorded value."""
    baseline = json.loads(path.read_text(encoding="utf-8"))
    figures = report["answerers"][baseline["answerer"]]
    return [f"{key}: {figures[key]:.4f} < recorded {baseline[key]:.4f}"
            for key in GATED if figures[key] < baseline[key] - 1e-9]
