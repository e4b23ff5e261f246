"""`rag bench`: cold start, index build, warm latency, embedding throughput and memory."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

QUESTIONS_FILE = Path(__file__).parent / "data" / "bench_questions.txt"
_COLD_RUNS = 5
_WARMUP = 3
# A fresh process that answers one question on a built index and reports how long each step
# of its start took: importing the package, opening the index, loading the question encoder,
# making the answerer (vocabulary, BM25, features), and the question itself.
_COLD_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
import rag
from index import open_index
from rag.chatbot import Chatbot, make_embedder
t1 = time.perf_counter()
config = rag.RagConfig.from_kwargs(**json.loads(sys.argv[3]))
embedder = make_embedder(config)
store, _ = open_index(sys.argv[1], sys.argv[2], config.index, embedder)
t2 = time.perf_counter()
embedder.encode_queries(["warm-up"])
t3 = time.perf_counter()
bot = Chatbot(store, embedder, config, sys.argv[1])
t4 = time.perf_counter()
bot.ask(sys.argv[4])
t5 = time.perf_counter()
# VmHWM, the high-water mark of this program's own memory (ru_maxrss keeps the forking
# parent's across exec).
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"peak_rss_mb": hwm / 1024,
                  "import_s": t1 - t0, "index_open_s": t2 - t1, "model_load_s": t3 - t2,
                  "answerer_init_s": t4 - t3, "first_question_s": t5 - t4,
                  "torch_imported": "torch" in sys.modules}))
"""


def load_questions(path: Path | None = None) -> list[str]:
    """Questions of a bench file: one per line, '#' comments and blank lines ignored."""
    lines = (path or QUESTIONS_FILE).read_text(encoding="utf-8").splitlines()
    return [q.strip() for q in lines if q.strip() and not q.lstrip().startswith("#")]


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), as numpy's default."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    pos = (len(ordered) - 1) * q / 100
    low, high = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _latencies(bot: Any, questions: list[str]) -> list[float]:
    """Milliseconds per question, one after another, each question's vector computed anew."""
    getattr(bot.embedder, "clear_query_cache", lambda: None)()
    out = []
    for q in questions:
        started = time.perf_counter()
        bot.ask(q)
        out.append((time.perf_counter() - started) * 1000)
    return out


@contextmanager
def _busy_cores() -> Iterator[int]:
    """Every core kept busy by another process (``yes > /dev/null`` each), as when other work
    shares the machine; yields how many."""
    count = os.cpu_count() or 1
    procs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(count)]
    try:
        time.sleep(0.5)  # let them take the cores
        yield count
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def run_bench(corpus_dir: Path, questions_file: Path | None = None, answerer: str = "extractive",
              generator_model: str | None = None, generator_runtime: str = "auto",
              store: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run every measurement on ``corpus_dir`` and return the figures (``store``: the index
    store's options, ``{"store": "milvus", "milvus_uri": …}``; the FAISS store when None).

    With ``answerer="transformers"`` the figures add the generator's load time, its prefill
    and decode rates, and the time from a question to its first checked text.
    """
    from index import IndexConfig, open_index
    from index.ingest.chunking import embedding_text

    from .chatbot import Chatbot, make_embedder
    from .config import RagConfig
    from .paths import default_index_dir

    questions = load_questions(questions_file)
    if len(questions) < 50:
        raise ValueError(f"the bench needs at least 50 questions, {questions_file} has {len(questions)}")
    store = store or {}
    index_config = IndexConfig(**store)
    config = RagConfig(index=index_config, answerer=answerer, generator_model=generator_model,
                       generator_runtime=generator_runtime)
    embedder = make_embedder(config)
    started = time.perf_counter()
    embedder.encode_documents(["warm up"])  # loads the model (ONNX export, else sentence-transformers)
    model_load_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        started = time.perf_counter()
        built, _ = open_index(corpus_dir, Path(tmp), IndexConfig(**{**store, "milvus_uri": None}), embedder,
                              rebuild=True)
        build_s = time.perf_counter() - started
        texts = [embedding_text(built.docs[c.doc_id].title, c.text) for c in built.iter_chunks()]
        built.close()

    embedder.encode_documents(texts[:8])  # warm the kernels
    started = time.perf_counter()
    rounds = max(1, 256 // max(len(texts), 1))
    for _ in range(rounds):
        embedder.encode_documents(texts)
    embed_chunks_per_s = rounds * len(texts) / (time.perf_counter() - started)

    # Cold start: a fresh `rag ask` process against the cached index, start to printed answer,
    # and the same start split into its steps (another fresh process each time).
    # (Closed while they run: a Milvus Lite file serves one process at a time.)
    index_dir = default_index_dir(corpus_dir, index_config.store)
    open_index(corpus_dir, index_dir, index_config, embedder)[0].close()
    cold, steps = [], []
    answerer_args = ["--answerer", answerer, "--runtime", generator_runtime] + (
        ["--model", generator_model] if generator_model else []) + [
        x for k, v in store.items() if v for x in (f"--{k.replace('_', '-')}", str(v))]
    options = {"answerer": answerer, "generator_model": generator_model, "generator_runtime": generator_runtime,
               **store}
    for i in range(_COLD_RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "rag", "ask", questions[i], "--corpus", str(corpus_dir),
                        *answerer_args], check=True, capture_output=True)
        cold.append(time.perf_counter() - started)
        out = subprocess.run([sys.executable, "-c", _COLD_SCRIPT, str(corpus_dir),
                              str(index_dir), json.dumps(options), questions[i]],
                             check=True, capture_output=True, text=True).stdout
        steps.append(json.loads(out.strip().splitlines()[-1]))
    cold_steps = {key: round(statistics.median(s[key] for s in steps), 3) for key in steps[0] if key.endswith("_s")}
    # Measured inside the question process (Linux's VmHWM).
    ask_rss_mb = max(s["peak_rss_mb"] for s in steps)

    store, _ = open_index(corpus_dir, index_dir, index_config, embedder, update=False)
    started = time.perf_counter()
    bot = Chatbot(store, embedder, config, corpus_dir)
    answerer_load_s = time.perf_counter() - started  # the generator's model load, when there is one
    for q in questions[-_WARMUP:]:
        bot.ask(q + " (warm-up)")
    if hasattr(bot.answerer, "lm"):
        generation = {"generator_runtime": bot.answerer.lm.runtime, "generator_load_s": round(answerer_load_s, 3),
                      **_time_generation(bot, questions)}
        latencies = generation.pop("latencies")
    else:
        generation, latencies = {}, _latencies(bot, questions)
        with _busy_cores() as busy:
            loaded = _latencies(bot, questions)
        generation = {"warm_busy_p50_ms": round(percentile(loaded, 50), 2),
                      "warm_busy_p95_ms": round(percentile(loaded, 95), 2), "busy_processes": busy}

    return {
        "cold_start_s": round(statistics.median(cold), 3),
        **{f"cold_{key}": value for key, value in cold_steps.items()},
        "cold_torch_imported": any(s["torch_imported"] for s in steps),
        "ask_peak_rss_mb": round(ask_rss_mb, 1),
        "query_encoder": bot.embedder.query_backend if hasattr(bot.embedder, "query_backend") else "torch",
        "build_s": round(build_s, 3),
        "warm_p50_ms": round(percentile(latencies, 50), 2),
        "warm_p95_ms": round(percentile(latencies, 95), 2),
        "embed_chunks_per_s": round(embed_chunks_per_s, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "document_model_load_s": round(model_load_s, 3),
        "questions": len(latencies),
        "chunks": len(store),
        **generation,
    }


def _time_generation(bot: Any, questions: list[str]) -> dict[str, Any]:
    """Latency, time to the first checked text on screen, and the generator's prefill and
    decode rates (tokens per second, measured apart), of a generative answerer."""
    latencies, first_text = [], []
    prompt_tokens = decode_tokens = generated = 0
    prefill_s = decode_s = 0.0
    for q in questions:
        bot.answerer.lm.last_stats = None  # a question the selector refuses generates nothing
        started = time.perf_counter()
        first = None
        for _ in bot.stream(q):  # the first step is the first checked sentence, or the answer
            if first is None:
                first = (time.perf_counter() - started) * 1000
        latencies.append((time.perf_counter() - started) * 1000)
        first_text.append(first if first is not None else latencies[-1])
        stats = bot.answerer.lm.last_stats  # the question's last generation (one per question part)
        if stats is not None and stats.first_text_s:
            generated += 1
            prompt_tokens += stats.prompt_tokens
            prefill_s += stats.first_text_s  # up to the first text: the prompt and a token or two
            decode_tokens += max(stats.new_tokens - 1, 0)
            decode_s += max(stats.total_s - stats.first_text_s, 0.0)
    return {
        "latencies": latencies,
        "generated": generated,
        "prefill_tokens_per_s": round(prompt_tokens / prefill_s, 1) if prefill_s else None,
        "decode_tokens_per_s": round(decode_tokens / decode_s, 1) if decode_s else None,
        "prompt_tokens_mean": round(prompt_tokens / generated, 1) if generated else None,
        # From the question to the first text on screen: retrieval, selection, prefill and check.
        "time_to_first_text_ms": round(percentile(first_text, 50), 2) if first_text else None,
    }


def print_table(results: dict[str, Any], title: str = "rag bench") -> None:
    """The figures as a table on stdout (every figure; the known ones with their label)."""
    from rich.console import Console
    from rich.table import Table

    labels = {
        "cold_start_s": "cold start of `rag ask` (s, median of 5)",
        "cold_import_s": "… import of the package (s)",
        "cold_index_open_s": "… opening the index (s)",
        "cold_model_load_s": "… loading the question encoder (s)",
        "cold_answerer_init_s": "… making the answerer (s)",
        "cold_first_question_s": "… the first question (s)",
        "cold_torch_imported": "torch imported to answer",
        "ask_peak_rss_mb": "peak RSS of a cold question process (MiB, the largest of 5)",
        "query_encoder": "question encoder",
        "build_s": "index build of the corpus (s, model loaded)",
        "warm_p50_ms": "warm latency p50 (ms)",
        "warm_p95_ms": "warm latency p95 (ms)",
        "warm_busy_p50_ms": "warm latency p50, every core busy with other work (ms)",
        "warm_busy_p95_ms": "warm latency p95, every core busy with other work (ms)",
        "busy_processes": "processes keeping the cores busy",
        "embed_chunks_per_s": "embedding throughput (passages/s)",
        "peak_rss_mb": "peak RSS of the bench (MiB)",
        "document_model_load_s": "embedding model load for the build (s)",
        "questions": "questions timed",
        "chunks": "passages in the index",
        "generator_runtime": "generator runtime",
        "generator_load_s": "generator model load, converted model cached (s)",
        "generated": "questions the model wrote for (not refused by the selector)",
        "prefill_tokens_per_s": "generator prefill (prompt tokens/s)",
        "decode_tokens_per_s": "generator decode (new tokens/s)",
        "prompt_tokens_mean": "prompt tokens per generation (mean)",
        "time_to_first_text_ms": "time to first checked text on screen p50 (ms)",
    }
    labels.update({
        "passages": "passages indexed", "documents": "documents", "synthetic_vectors": "vectors synthesised",
        "build_s": "index build (s)", "build_rate_per_s": "build rate (passages/s)", "disk_mb": "index on disk (MiB)",
        "rss_mb": "resident memory, opened (MiB)", "open_s": "open the index in a fresh process (s)",
        "first_open_s": "… the first time, vocabulary computed (s)",
        "first_answer_s": "open and answer the first question (s)",
        "add_one_article_s": "add one article to the index (s)",
        "p50_ms": "per-question p50 (ms)", "p95_ms": "per-question p95 (ms)",
        "recall_at_10": "vector search recall@10 vs exact",
        "vector_search_p50_ms": "vector search alone p50 (ms)", "vector_search_p95_ms": "vector search alone p95 (ms)",
        "vector_index": "vector index (FAISS factory)",
        "period_p50_ms": "per-question p50, kept to one month's reports (ms)",
        "period_p95_ms": "per-question p95, kept to one month's reports (ms)",
        "period_answers_inside": "share of those answered only from that month",
    })
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, label in labels.items():
        if key in results:  # the generation figures exist for a generative answerer only
            table.add_row(label, str(results[key]))
    Console().print(table)
