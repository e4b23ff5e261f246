"""`rag bench`: cold start, index build, warm latency, embedding throughput and memory."""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

QUESTIONS_FILE = Path(__file__).parent / "data" / "bench_questions.txt"
_COLD_RUNS = 3
_WARMUP = 3


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


def run_bench(corpus_dir: Path, questions_file: Path | None = None, answerer: str = "extractive",
              generator_model: str | None = None, generator_runtime: str = "auto") -> dict[str, Any]:
    """Run every measurement on ``corpus_dir`` and return the figures.

    With ``answerer="transformers"`` the figures add the generator's load time, its prefill
    and decode rates, and the time from a question to its first checked text.
    """
    from index import IndexConfig, SentenceTransformerEmbedder, open_index
    from index.chunking import embedding_text

    from .chatbot import Chatbot
    from .config import RagConfig
    from .paths import default_index_dir

    questions = load_questions(questions_file)
    if len(questions) < 50:
        raise ValueError(f"the bench needs at least 50 questions, {questions_file} has {len(questions)}")
    config = RagConfig(answerer=answerer, generator_model=generator_model, generator_runtime=generator_runtime)
    embedder = SentenceTransformerEmbedder(config.index.model)
    started = time.perf_counter()
    embedder.count_tokens("warm up")  # loads the model
    model_load_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        started = time.perf_counter()
        store, _ = open_index(corpus_dir, Path(tmp), IndexConfig(), embedder, rebuild=True)
        build_s = time.perf_counter() - started

    texts = [embedding_text(store.docs[c.doc_id].title, c.text) for c in store.chunks]
    embedder.encode_documents(texts[:8])  # warm the kernels
    started = time.perf_counter()
    rounds = max(1, 256 // max(len(texts), 1))
    for _ in range(rounds):
        embedder.encode_documents(texts)
    embed_chunks_per_s = rounds * len(texts) / (time.perf_counter() - started)

    # Cold start: a fresh `rag ask` process against the cached index, start to printed answer.
    open_index(corpus_dir, default_index_dir(corpus_dir), IndexConfig(), embedder)
    cold = []
    answerer_args = ["--answerer", answerer, "--runtime", generator_runtime] + (
        ["--model", generator_model] if generator_model else [])
    for i in range(_COLD_RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "rag", "ask", questions[i], "--corpus", str(corpus_dir),
                        *answerer_args], check=True, capture_output=True)
        cold.append(time.perf_counter() - started)

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
        generation, latencies = {}, []
        for q in questions:
            started = time.perf_counter()
            bot.ask(q)
            latencies.append((time.perf_counter() - started) * 1000)

    return {
        "cold_start_s": round(statistics.median(cold), 3),
        "build_s": round(build_s, 3),
        "warm_p50_ms": round(percentile(latencies, 50), 2),
        "warm_p95_ms": round(percentile(latencies, 95), 2),
        "embed_chunks_per_s": round(embed_chunks_per_s, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "model_load_s": round(model_load_s, 3),
        "questions": len(latencies),
        "chunks": len(store.chunks),
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


def print_table(results: dict[str, Any]) -> None:
    """The figures as a table on stdout."""
    from rich.console import Console
    from rich.table import Table

    labels = {
        "cold_start_s": "cold start of `rag ask` (s, median of 3)",
        "build_s": "index build of the corpus (s, model loaded)",
        "warm_p50_ms": "warm latency p50 (ms)",
        "warm_p95_ms": "warm latency p95 (ms)",
        "embed_chunks_per_s": "embedding throughput (passages/s)",
        "peak_rss_mb": "peak RSS (MiB)",
        "model_load_s": "embedding model load (s)",
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
    table = Table(title="rag bench")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, label in labels.items():
        if key in results:  # the generation figures exist for a generative answerer only
            table.add_row(label, str(results[key]))
    Console().print(table)
