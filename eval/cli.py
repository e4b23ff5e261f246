"""`rag eval`: the question-answer benchmark (plugged into the `rag` command)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .dataset import DEFAULT_SET
from .gate import BASELINE

DEFAULT_OUT = Path("eval/out")


def register(sub: Any) -> None:
    """Add the `eval` subcommand to the `rag` command's subparsers."""
    from rag.cli import add_model_arg
    from rag.paths import DEFAULT_CORPUS

    p = sub.add_parser("eval", help="run the question-answer benchmark and write reports")
    p.add_argument("--set", type=Path, default=DEFAULT_SET, help=f"question file (default {DEFAULT_SET.name})")
    p.add_argument("--answerer", action="append", default=None,
                   help="answerer to evaluate; repeat to compare side by side (default: extractive)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for report.json/.md/.png")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of articles")
    p.add_argument("--index-dir", type=Path, default=None, help="where the index is stored")
    add_model_arg(p)
    p.add_argument("--nli-model", default=None, help="local NLI cross-encoder directory for the checker")
    p.add_argument("--squad", type=Path, default=None, help="evaluate on a SQuAD v2.0 file instead")
    p.add_argument("--limit", type=int, default=None, help="with --squad: only the first N questions")
    p.add_argument("--write-baseline", action="store_true",
                   help=f"record the default answerer's figures as the regression gate ({BASELINE.name})")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from .report import write_reports
    from .tables import print_meta, print_summary

    if args.squad is not None:
        from .squad import run_squad

        result = run_squad(args.squad, out_dir=args.out, limit=args.limit)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "squad_report.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
        from .curves import curve_of, operating_point, plot_refusal_curves

        items = result["items"]
        point = operating_point([i["refused"] for i in items], [not i["impossible"] for i in items])
        plot_refusal_curves({args.squad.name: curve_of(items, "impossible")}, {args.squad.name: point},
                            args.out / "squad_refusal.png", title=f"refusal on {args.squad.name}")
        print_summary({"squad": {k: v for k, v in result.items() if k != "items"}},
                      title=f"SQuAD v2.0: {args.squad.name}")
        print(f"wrote {args.out / 'squad_report.json'} and {args.out / 'squad_refusal.png'}")
        return 0
    from rag.cli import answerer_options

    from .benchmark import run_benchmark

    options = answerer_options(None, args.model, args.runtime)
    default = options.pop("answerer", "extractive")  # RAG_ANSWERER, when set
    answerers = args.answerer or [default]
    report = run_benchmark(args.set, args.corpus, answerers, args.index_dir, args.nli_model, **options)
    print_summary(report["answerers"], title=f"rag eval: {args.set.name} ({report['questions']} questions)")
    print_meta(report["checker_meta"])
    for path in write_reports(report, args.out):
        print(f"wrote {path}")
    if args.write_baseline:
        from .gate import write_baseline

        print(f"wrote {write_baseline(report)}")
    return 0
