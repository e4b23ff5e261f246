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
    from rag.cli import add_model_arg, add_store_args
    from rag.paths import DEFAULT_CORPUS

    p = sub.add_parser("eval", help="run the question-answer benchmark and write reports")
    p.add_argument("--set", type=Path, default=DEFAULT_SET, help=f"question file (default {DEFAULT_SET.name})")
    p.add_argument("--answerer", action="append", default=None,
                   help="answerer to evaluate; repeat to compare side by side (default: extractive)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for report.json/.md/.png")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of articles")
    p.add_argument("--index-dir", type=Path, default=None, help="where the index is stored")
    add_store_args(p)
    add_model_arg(p)
    p.add_argument("--nli-model", default=None, help="local NLI cross-encoder directory for the checker")
    p.add_argument("--squad", type=Path, default=None, help="evaluate on a SQuAD v2.0 file instead")
    p.add_argument("--limit", type=int, default=None, help="with --squad: only the first N questions")
    p.add_argument("--story", action="store_true",
                   help="the news-time benchmark instead: latest, first and period questions on a story it writes")
    p.add_argument("--write-baseline", action="store_true",
                   help=f"record the default answerer's figures as the regression gate ({BASELINE.name})")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:

    from rag.cli import answerer_options, store_options

    from .report import write_reports
    from .tables import print_meta, print_summary

    options = {**answerer_options(None, args.model, args.runtime), **store_options(args)}
    default = options.pop("answerer", "extractive")  # RAG_ANSWERER, when set
    answerers = args.answerer or [default]
    if args.squad is not None:
        return _eval_squad(args, answerers, options)
    if args.story:
        return _eval_story(args, options)
    from .benchmark import run_benchmark

    report = run_benchmark(args.set, args.corpus, answerers, args.index_dir, args.nli_model, **options)
    print_summary(report["answerers"], title=f"rag eval: {args.set.name} ({report['questions']} questions)")
    print_meta(report["checker_meta"])
    for path in write_reports(report, args.out):
        print(f"wrote {path}")
    if args.write_baseline:
        from .gate import write_baseline

        print(f"wrote {write_baseline(report)}")
    return 0


def _eval_squad(args: argparse.Namespace, answerers: list[str], options: dict[str, Any]) -> int:
    """`rag eval --squad FILE`: each answerer over the file's articles, side by side. One
    answerer writes squad_report.json; several write squad_report_<answerer>.json each."""
    import json

    from .curves import curve_of, operating_point, plot_refusal_curves
    from .squad import run_squad
    from .tables import print_summary

    args.out.mkdir(parents=True, exist_ok=True)
    summaries, curves, points = {}, {}, {}
    for name in dict.fromkeys(answerers):
        result = run_squad(args.squad, out_dir=args.out, limit=args.limit, answerer=name, **options)
        report = args.out / ("squad_report.json" if len(answerers) == 1 else f"squad_report_{name}.json")
        report.write_text(json.dumps(result, indent=2, ensure_ascii=False))
        print(f"wrote {report}")
        items = result["items"]
        curves[name] = curve_of(items, "impossible")
        points[name] = operating_point([i["refused"] for i in items], [not i["impossible"] for i in items])
        summaries[name] = {k: v for k, v in result.items() if k != "items"}
    plot_refusal_curves(curves, points, args.out / "squad_refusal.png", title=f"refusal on {args.squad.name}")
    print_summary(summaries, title=f"SQuAD v2.0: {args.squad.name}")
    print(f"wrote {args.out / 'squad_refusal.png'}")
    return 0


def _eval_story(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """`rag eval --story`: the news-time figures (``eval/story.py``), printed and written to
    story_report.json."""
    import json

    from .story import run_story

    result = run_story(**options)
    print("rag eval --story: a 14-report story the benchmark writes")
    for name, label in (("latest", '"latest" questions answered from the newest report that answers'),
                        ("first", '"first" questions answered from the oldest'),
                        ("period", "period questions: only that period's reports, or a clear statement")):
        kind = [i for i in result["items"] if i["kind"] == name]
        print(f"  {label}: {sum(i['ok'] for i in kind)}/{len(kind)} ({result[name]:.2f})")
    print(f"  timeline order and grouping exact: {result['timeline_exact']}")
    for item in result["items"]:
        if not item["ok"]:
            print(f"  wrong ({item['kind']}): {item['question']} -> {item['cited']}: {item['answer'][:100]}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "story_report.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"wrote {path}")
    return 0
