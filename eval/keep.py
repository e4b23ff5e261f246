"""Choose the citation check's KEEP_SHARE from a SQuAD run of both answerers.

    rag eval --squad squad2-train.json --limit 600 --answerer extractive --answerer transformers --out OUT
    python -m eval.keep OUT/squad_report_extractive.json OUT/squad_report_transformers.json

For the open questions whose generated answer differs from the extractive one, it simulates
each threshold: a rephrasing that keeps less of the selector's best sentence than that falls
back to the extractive answer. It prints containment per threshold and the choice: the
smallest threshold within ``TOLERANCE`` of never keeping an open rephrasing.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from rag.answer.qtypes import classify
from rag.verify.citations import kept_share
from rag.verify.support import strip_markers

THRESHOLDS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
TOLERANCE = 0.01


def simulate(extractive: list[dict[str, Any]], generative: list[dict[str, Any]]) -> dict[float, float]:
    """Answer containment at each threshold (a threshold above 1 keeps no open rephrasing)."""
    by_id = {i["id"]: i for i in extractive}
    answerable = [i for i in generative if not i["impossible"]]
    rows = []
    for item in answerable:
        ext = by_id[item["id"]]
        if item["answer"] == ext["answer"] or item["refused"] or ext["refused"] or classify(item["question"]).typed:
            continue
        best = re.split(r"(?<=\])\s+", ext["answer"])[0]
        share = kept_share(strip_markers(item["answer"]), strip_markers(best), item["question"])
        rows.append((share, bool(item["contained"]), bool(ext["contained"])))
    base = sum(bool(i["contained"]) for i in answerable)
    out = {}
    for th in (*THRESHOLDS, 1.01):
        dropped = [r for r in rows if r[0] < th]
        out[th] = (base + sum(r[2] for r in dropped) - sum(r[1] for r in dropped)) / max(len(answerable), 1)
    return out


def choose(curve: dict[float, float]) -> float:
    ceiling = curve[1.01]
    return min(th for th, c in curve.items() if th <= 1.0 and c >= ceiling - TOLERANCE)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    ext, gen = (json.loads(Path(a).read_text(encoding="utf-8"))["items"] for a in args)
    curve = simulate(ext, gen)
    for th, containment in curve.items():
        print(f"{th:5.2f}  containment {containment:.3f}")
    print(f"KEEP_SHARE = {choose(curve)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
