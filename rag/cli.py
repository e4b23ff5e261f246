"""The `rag` command: index a corpus, ask questions, benchmark.

Every error a user can cause ends in one line on stderr and a non-zero exit code:
2 for bad input (an empty question, a missing corpus), 1 for anything else.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from .config import MAX_QUESTION_CHARS, RagConfig
from .paths import DEFAULT_CORPUS
from .records import describe_period

log = logging.getLogger("rag")


def _add_corpus_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                   help="folder of articles (default: the project's corpus/)")
    p.add_argument("--index-dir", type=Path, default=None,
                   help="where the index is stored (default: a per-corpus folder in the user cache)")
    add_store_args(p)


def add_store_args(p: argparse.ArgumentParser) -> None:
    """``--store`` and ``--milvus-uri``: where passages are searched (every command that opens an index)."""
    p.add_argument("--store", choices=("faiss", "milvus"), default=None,
                   help="search engine of the index: faiss (embedded, the default) or milvus (default: $RAG_STORE)")
    p.add_argument("--milvus-uri", default=None, metavar="URI",
                   help="with --store milvus: a Milvus Lite file or a server address such as http://host:19530 "
                        "(default: $RAG_MILVUS_URI, else a Milvus Lite file in the index folder)")


def store_options(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Config for the store chosen on the command line, else by RAG_STORE and RAG_MILVUS_URI
    (a URI alone means Milvus); empty for the default FAISS store."""
    environ = os.environ if environ is None else environ
    store = getattr(args, "store", None) or environ.get("RAG_STORE")
    uri = getattr(args, "milvus_uri", None) or environ.get("RAG_MILVUS_URI")
    if uri and store in (None, "milvus"):
        return {"store": "milvus", "milvus_uri": uri}
    if store not in (None, "faiss", "milvus"):
        raise ValueError(f"RAG_STORE must be 'faiss' or 'milvus', got {store!r}")
    return {"store": store} if store == "milvus" else {}


def add_model_arg(p: argparse.ArgumentParser) -> None:
    """``--model DIR``: the generative answerer's local model folder (also used by eval and chat)."""
    p.add_argument("--model", default=None, metavar="DIR",
                   help="local causal LM folder for --answerer transformers (default: $RAG_GENERATOR_MODEL, else the "
                        "built-in SmolLM2-135M-Instruct)")
    p.add_argument("--runtime", choices=("auto", "onnx", "torch"), default=None,
                   help="how the generator runs: ONNX Runtime GenAI or transformers (default: "
                        "$RAG_GENERATOR_RUNTIME, else auto: onnx when installed and on the CPU)")


def _add_answerer_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--answerer", choices=("extractive", "transformers"), default=None,
                   help="answering backend (default: $RAG_ANSWERER, else extractive)")
    add_model_arg(p)


def answerer_options(answerer: str | None = None, model: str | None = None, runtime: str | None = None,
                     environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Config for the answerer chosen on the command line, else by RAG_ANSWERER,
    RAG_GENERATOR_MODEL and RAG_GENERATOR_RUNTIME, and the question path's RAG_QUERY_THREADS;
    only what was given, so RagConfig's defaults apply otherwise."""
    environ = os.environ if environ is None else environ
    options: dict[str, Any] = {}
    if answerer := answerer or environ.get("RAG_ANSWERER"):
        options["answerer"] = answerer
    if model := model or environ.get("RAG_GENERATOR_MODEL"):
        options["generator_model"] = model
    if runtime := runtime or environ.get("RAG_GENERATOR_RUNTIME"):
        options["generator_runtime"] = runtime
    if threads := environ.get("RAG_QUERY_THREADS"):
        if not threads.isdigit():
            raise ValueError(f"RAG_QUERY_THREADS must be a whole number of threads, got {threads!r}")
        options["query_threads"] = int(threads)
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="build or update the index of a corpus")
    _add_corpus_args(p)
    p.add_argument("--rebuild", action="store_true", help="re-embed everything from scratch")
    p.add_argument("--verify", action="store_true", help="check the index's integrity instead (changes nothing)")
    precision = p.add_mutually_exclusive_group()
    precision.add_argument("--int8", action="store_true",
                           help="embed documents through an int8 copy of the model: about 1.4x as fast, vectors "
                                "at cosine 0.995 of the float ones on average")
    precision.add_argument("--bf16", action="store_true",
                           help="embed documents with bfloat16 matrix products, on CPUs with bf16 units (AMX, "
                                "AVX512-BF16): about 2.5x as fast, vectors at cosine 0.9999 of the float ones")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="read and embed on Ray: a cluster's address (ray://host:10001 or host:6379), or none to "
                        "start Ray on this machine")
    p.add_argument("--ray-workers", type=int, default=None, metavar="N",
                   help="with --ray: embedding workers, each loading the model once and using its share of "
                        "the cores (default 1)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer a question with citations")
    p.add_argument("question", nargs="?", help="the question (or use --file)")
    _add_corpus_args(p)
    p.add_argument("-k", "--top-k", type=int, default=None, help=f"passages to retrieve (default {RagConfig.top_k})")
    p.add_argument("--no-hybrid", action="store_true", help="dense retrieval only, no BM25")
    p.add_argument("--json", action="store_true", help="print one JSON object per answer")
    p.add_argument("--file", type=Path, help="JSONL file of {\"question\", \"id\"} objects ('-' for stdin)")
    p.add_argument("--no-update", action="store_true",
                   help="answer from the index as it is, without looking for changed files (large archives)")
    p.add_argument("--since", default=None, metavar="YYYY-MM-DD", help="only reports published on or after")
    p.add_argument("--until", default=None, metavar="YYYY-MM-DD", help="only reports published on or before")
    _add_answerer_args(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("timeline", help="the reports on a question in publication order")
    p.add_argument("query", help="what the story is about (a question or a few words)")
    _add_corpus_args(p)
    p.add_argument("-k", "--top-k", type=int, default=None, help="passages to look through (default twice top_k)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-update", action="store_true", help="use the index as it is, without looking for changes")
    p.add_argument("--since", default=None, metavar="YYYY-MM-DD", help="only reports published on or after")
    p.add_argument("--until", default=None, metavar="YYYY-MM-DD", help="only reports published on or before")
    p.set_defaults(func=cmd_timeline)

    p = sub.add_parser("bench", help="measure cold start, build time, latency, throughput, memory")
    _add_corpus_args(p)
    p.add_argument("--questions", type=Path, default=None, help="questions file, one per line")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    p.add_argument("--scale", type=int, default=None, metavar="N",
                   help="instead: index a synthetic archive of about N passages (synthetic vectors) and time it")
    _add_answerer_args(p)
    p.set_defaults(func=cmd_bench)
    _add_plugins(sub)
    return parser


def _add_plugins(sub: argparse._SubParsersAction) -> None:
    """Subcommands that other packages (eval, ui) register under the `rag.commands` entry-point
    group, so that rag never imports the layers built on top of it."""
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group="rag.commands"), key=lambda e: e.name):
        try:
            register = entry.load()
        except ImportError as exc:  # a broken optional layer must not break `rag ask`
            log.debug("command %s unavailable: %s", entry.name, exc)
            continue
        register(sub)


def _open_bot(args: argparse.Namespace, progress: bool = False, **config: Any):
    from .chatbot import Chatbot

    return Chatbot.from_corpus(args.corpus, index_dir=args.index_dir, progress=progress,
                               update=not getattr(args, "no_update", False), **store_options(args), **config)


def cmd_index(args: argparse.Namespace) -> int:
    from index import IndexConfig, open_index, rebuild_hint

    from .chatbot import make_embedder
    from .config import RagConfig
    from .paths import default_index_dir

    config = IndexConfig(**store_options(args),
                         document_encoder="int8" if args.int8 else "bf16" if args.bf16 else "fp32")
    index_dir = args.index_dir or default_index_dir(args.corpus, config.store)
    if args.verify:
        from index import verify_index

        problems = verify_index(index_dir)
        for problem in problems:
            print(f"problem: {problem}", file=sys.stderr)
        if problems:
            print(f"The index at {index_dir} has {len(problems)} problem(s). Rebuild it: "
                  f"{rebuild_hint(args.corpus, args.index_dir, config)}", file=sys.stderr)
            return 1
        print(f"Index sound: {index_dir}")
        return 0
    embedder = make_embedder(RagConfig(index=config))
    ray = None
    if args.ray is not None:
        from index.embed.ray_embed import RaySettings

        if args.ray_workers is not None and args.ray_workers < 1:
            raise ValueError(f"--ray-workers must be at least 1, got {args.ray_workers}")
        ray = RaySettings(address=args.ray or None, workers=args.ray_workers or 1)
    elif args.ray_workers is not None:
        raise ValueError("--ray-workers needs --ray")
    store, report = open_index(args.corpus, index_dir, config, embedder, rebuild=args.rebuild, progress=True,
                               fix=rebuild_hint(args.corpus, args.index_dir, config), workers=os.cpu_count() or 1,
                               ray=ray)
    counts = store.manifest["counts"]
    dated = f" ({sum(date is not None for _, _, date in store.documents())} dated)"
    if report.reused:
        print(f"Index up to date: {counts['documents']} documents{dated}, {counts['chunks']} passages ({index_dir})")
    else:
        print(f"Indexed {counts['documents']} documents{dated}, {counts['chunks']} passages in "
              f"{report.seconds:.1f}s: {len(report.embedded)} files embedded, {len(report.kept)} reused, "
              f"{len(report.removed)} removed, {len(report.skipped)} skipped ({index_dir})")
        if config.document_encoder == "fp32" and len(report.embedded) >= _BF16_TIP_FILES:
            from index.embed.embedder import native_bf16

            if native_bf16():
                print("tip: this CPU multiplies bfloat16 in hardware: `rag index --bf16` embeds about 2.5 times "
                      "as fast, with vectors at cosine 0.9999 of these")
    return 0


# A build this large is worth a tip about a faster encoder (480 articles: 2 minutes saved).
_BF16_TIP_FILES = 200


def format_answer(answer: Any) -> str:
    """Human-readable answer with a numbered source list."""
    conflicts = getattr(answer, "conflicts", None) or []
    # The short answer leads, as a person scanning the output wants it; then the sentence(s).
    short = getattr(answer, "short_answer", None)
    lines = []
    if short and not conflicts:
        hedge = " (uncertain)" if getattr(answer, "status", "") == "uncertain" else ""
        lines.append(f"Answer{hedge}: {short['text']} [{short['marker']}]")
    # Disagreeing accounts are listed one per line, each with its source, instead of run together.
    lines += [] if conflicts else [answer.text, ""]
    if period := getattr(answer, "period", None):
        lines[-1:-1] = [f"({describe_period(period)})"]
    by_marker = {c.marker: c for c in answer.citations}
    for conflict in conflicts:
        lines.append(f"Reports differ ({conflict['kind']}):")
        for claim in conflict["claims"]:
            cited = [by_marker[m] for m in claim["markers"] if m in by_marker]
            where = "; ".join(f"{c.source}{', ' + c.date if c.date else ''}" for c in cited) or claim["source"]
            order = f"{claim['order']} report: " if claim.get("order") else ""  # newest first
            lines.append(f"  - {order}{claim['text']} {''.join(f'[{m}]' for m in claim['markers'])} ({where})")
        lines.append("")
    if answer.citations:
        lines.append("Sources:")
        for c in answer.citations:
            date = f", {c.date}" if c.date else ""
            lines.append(f"  [{c.marker}] {c.title} ({c.source}{date})")
            lines.append(f"      \u201c{c.quote}\u201d")
    return "\n".join(lines).rstrip()


def cmd_timeline(args: argparse.Namespace) -> int:
    from .chatbot import validate_question

    validate_question(args.query, MAX_QUESTION_CHARS)  # fail fast, before loading anything
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        timeline = _open_bot(args).timeline(args.query, args.top_k, args.since, args.until)
    if args.json:
        print(json.dumps(timeline.to_json(), ensure_ascii=False), file=out)
        return 0
    print(f"Timeline: {timeline.query}", file=out)
    if timeline.period:
        print(f"({describe_period(timeline.period)})", file=out)
    for e in timeline.dated:
        print(f"  {e.date}  {e.title} ({e.source})\n              \u201c{e.sentence}\u201d", file=out)
    if timeline.undated:
        print("Undated:", file=out)
        for e in timeline.undated:
            print(f"  {'':10}  {e.title} ({e.source})\n              \u201c{e.sentence}\u201d", file=out)
    if not timeline.dated and not timeline.undated:
        print("  (no report found)", file=out)
    return 0


def _read_questions(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield (line number, item, error) for each non-blank line of a JSONL file."""
    handle: TextIO = sys.stdin if str(path) == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, None, f"line {number}: invalid JSON ({exc.msg})"
                continue
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                yield number, item if isinstance(item, dict) else None, \
                    f"line {number}: expected an object with a \"question\" string"
                continue
            yield number, item, None


def cmd_ask(args: argparse.Namespace) -> int:
    from .chatbot import validate_question

    if (args.question is None) == (args.file is None):
        raise ValueError("give either a QUESTION or --file FILE")
    if args.file is None:
        validate_question(args.question, MAX_QUESTION_CHARS)  # fail fast, before loading anything
    elif str(args.file) != "-" and not args.file.is_file():
        raise ValueError(f"questions file not found: {args.file}")
    config: dict[str, Any] = {"hybrid": not args.no_hybrid}
    if args.top_k is not None:
        config["top_k"] = args.top_k
    config.update(answerer_options(args.answerer, args.model, args.runtime))
    out = sys.stdout
    # Under --json, stdout carries JSON and nothing else: whatever a library prints on the way
    # (a first use's "converting the model once", a notice) goes to stderr.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        return _ask_all(args, _open_bot(args, **config), out)


def _ask_all(args: argparse.Namespace, bot: Any, out: TextIO) -> int:
    def emit(answer: Any) -> None:
        print(json.dumps(answer.to_json(), ensure_ascii=False) if args.json else format_answer(answer),
              file=out, flush=True)

    when = {"since": args.since, "until": args.until}
    if args.file is None:
        emit(bot.ask(args.question, **when))
        return 0
    for number, item, error in _read_questions(args.file):
        qid = item.get("id") if item else None
        if error is None:
            try:
                answer = bot.ask(item["question"], **when)
            except ValueError as exc:
                error = f"line {number}: {exc}"
            else:
                answer.id = qid
                emit(answer)
                if not args.json:
                    print(file=out)
                continue
        if args.json:
            print(json.dumps({"id": qid, "line": number, "error": error}, ensure_ascii=False), file=out, flush=True)
        else:
            print(f"error: {error}\n", file=sys.stderr)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import load_questions, print_table, run_bench

    if args.scale is not None:
        from .bench_scale import run_scale

        if args.scale < 8:
            raise ValueError(f"--scale needs at least 8 passages, got {args.scale}")
        results = run_scale(args.corpus, args.scale, load_questions(args.questions), store_options(args))
        print_table(results, title=f"rag bench --scale {args.scale} (synthetic vectors)")
    else:
        results = run_bench(args.corpus, args.questions, **answerer_options(args.answerer, args.model, args.runtime),
                            store=store_options(args))
        print_table(results)
    if args.json:
        print(json.dumps(results))
    return 0


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    for name in ("index", "rag"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    logging.addLevelName(logging.WARNING, "warning")
    # Libraries' deprecation chatter is for their developers, not for our users.
    warnings.filterwarnings("ignore")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `rag` console script."""
    from index import RagError

    _setup_logging()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # bad input, including CorpusError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped (`rag ask --json … | head`): nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    except Exception as exc:
        if os.environ.get("RAG_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (RAG_DEBUG=1 shows details)", file=sys.stderr)
        return 1
