"""Meta-evaluation of a support checker: does it catch the errors of eval/perturb.py?

    python -m eval.meta                 # the lexical checker
    python -m eval.meta --nli DIR       # a local NLI cross-encoder

Detection of a negative type is the share of its items judged ``supported=False``; the false
positive rate is the share of positives (gold quotes and their paraphrases) judged not
supported. Items a checker cannot judge (``supported=None``) are left out of both rates and
counted under "unmeasured".
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from index.ingest.loader import load_corpus
from rag.paths import DEFAULT_CORPUS
from rag.verify.support import SupportChecker, make_checker

from .perturb import NEGATIVE_TYPES, POSITIVE_TYPES, EvidencePair, MetaItem, build_items, load_pairs


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def run_meta(
    checker: SupportChecker, pairs: Sequence[EvidencePair] | None = None, corpus_dir: Path = DEFAULT_CORPUS
) -> dict[str, Any]:
    """Judge every generated item with ``checker`` and summarise.

    ``pairs`` defaults to all gold evidence pairs (eval/data/dev.jsonl and test.jsonl).
    Returns {"detection": {type: rate}, "false_positive_rate": rate, "false_positive_by_type":
    {type: rate}, "counts": {type: n}, "unmeasured": {type: n}}; a rate is None when no item
    of that type could be judged.
    """
    docs = list(load_corpus(Path(corpus_dir)))
    if pairs is None:
        pairs = load_pairs(corpus_dir)
    items = build_items(pairs, docs)
    return summarise(items, [checker.check(it.claim, it.premise).supported for it in items])


def summarise(items: Sequence[MetaItem], verdicts: Sequence[bool | None]) -> dict[str, Any]:
    """Rates from per-item verdicts (True, False or None for unmeasured)."""
    counts: Counter[str] = Counter()
    unmeasured: Counter[str] = Counter()
    wrong: Counter[str] = Counter()  # negatives judged False are caught; positives judged False are errors
    for item, verdict in zip(items, verdicts, strict=True):
        counts[item.type] += 1
        if verdict is None:
            unmeasured[item.type] += 1
        elif verdict is False:
            wrong[item.type] += 1
    judged = {t: counts[t] - unmeasured[t] for t in (*POSITIVE_TYPES, *NEGATIVE_TYPES)}
    return {
        "detection": {t: _rate(wrong[t], judged[t]) for t in NEGATIVE_TYPES},
        "false_positive_rate": _rate(sum(wrong[t] for t in POSITIVE_TYPES), sum(judged[t] for t in POSITIVE_TYPES)),
        "false_positive_by_type": {t: _rate(wrong[t], judged[t]) for t in POSITIVE_TYPES},
        "counts": {t: counts[t] for t in (*POSITIVE_TYPES, *NEGATIVE_TYPES)},
        "unmeasured": {t: unmeasured[t] for t in (*POSITIVE_TYPES, *NEGATIVE_TYPES)},
    }


def _fmt(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.3f}"


def meta_table(result: dict[str, Any]) -> str:
    """A markdown table: one row per item type with its rate, item count and unmeasured count."""
    rows = ["| type | measure | rate | items | unmeasured |", "|---|---|---|---|---|"]
    for t in NEGATIVE_TYPES:
        rows.append(f"| {t} | detection | {_fmt(result['detection'][t])} | {result['counts'][t]} "
                    f"| {result['unmeasured'][t]} |")
    for t in POSITIVE_TYPES:
        rows.append(f"| {t} | false positive | {_fmt(result['false_positive_by_type'][t])} | {result['counts'][t]} "
                    f"| {result['unmeasured'][t]} |")
    total = sum(result["counts"][t] for t in POSITIVE_TYPES)
    rows.append(f"| **all positives** | false positive | {_fmt(result['false_positive_rate'])} | {total} "
                f"| {sum(result['unmeasured'][t] for t in POSITIVE_TYPES)} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval.meta", description=__doc__.splitlines()[0])
    parser.add_argument("--nli", metavar="DIR", help="local NLI cross-encoder folder (default: lexical checker)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    print(meta_table(run_meta(make_checker(args.nli), corpus_dir=args.corpus)))


if __name__ == "__main__":
    main()
