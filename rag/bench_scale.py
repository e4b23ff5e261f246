"""`rag bench --scale N`: the project's own index and question path on a synthetic archive.

A corpus of about N passages is written from the corpus's own sentences, with names and
figures varied so that documents are not copies of each other, and indexed through the
project's own code (cleaning, sentence splitting, token counting, chunking, the store). The
vectors are synthesised (``SyntheticEmbedder``: deterministic, low-rank like real sentence
vectors), since this machine embeds a few hundred texts a second; the report says so. A
fresh process then opens the index and answers the bench questions: time to open, resident
memory, per-question p50/p95, and recall@10 of the vector index against exact search over
every stored vector.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_DIM = 384
_RANK = 48  # real MiniLM vectors of one domain live near a low-dimensional subspace
_SENTENCES_PER_DOC = 40
_PARAGRAPH = 4
_PASSAGES_PER_DOC = 22.7  # what 40 of the seed articles' cleaned sentences make in paragraphs of 4, measured
_NUMBER = re.compile(r"\d+")
_NAME = re.compile(r"\b[A-Z][a-z]{3,}\b")


class SyntheticEmbedder:
    """Vectors made from a hash of the text (same text, same vector) in a fixed low-rank
    space plus noise; token counts by the real tokenizer, so chunking is the real one."""

    name = "synthetic-low-rank"
    weights_hash = "synthetic"
    dimension = _DIM

    def __init__(self, counter: Any = None):
        self._basis = np.random.default_rng(0).standard_normal((_RANK, _DIM)).astype(np.float32)
        self._counter = counter

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
        rng = np.random.default_rng(seed)
        v = rng.standard_normal(_RANK).astype(np.float32) @ self._basis
        v += 0.3 * rng.standard_normal(_DIM).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, _DIM), np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)

    def count_tokens(self, text: str) -> int:
        return self._counter.count_tokens(text) if self._counter else len(text.split()) * 4 // 3

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        if self._counter is not None:
            return self._counter.count_tokens_many(texts)
        return [self.count_tokens(t) for t in texts]


def write_corpus(source: Sequence[str], passages: int, folder: Path, seed: int = 0) -> int:
    """Write about ``passages`` passages' worth of documents made from ``source`` sentences
    into ``folder``; returns the number of documents."""
    rng = random.Random(seed)
    names = sorted({m for s in source for m in _NAME.findall(s)})
    docs = max(1, round(passages / _PASSAGES_PER_DOC))
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(docs):
        swap = {n: f"{rng.choice(names)}{rng.choice(names).lower()[:3]}" for n in rng.sample(names, min(8, len(names)))}

        def vary(sentence: str, swap: dict[str, str] = swap) -> str:
            sentence = _NUMBER.sub(lambda m: str(rng.randint(2, 9999)), sentence)
            return _NAME.sub(lambda m: swap.get(m.group(0), m.group(0)), sentence)

        sentences = [vary(rng.choice(source)) for _ in range(_SENTENCES_PER_DOC)]
        # Paragraphs of a few sentences, as articles have them (a line is a paragraph).
        body = "\n\n".join(" ".join(sentences[i:i + _PARAGRAPH]) for i in range(0, len(sentences), _PARAGRAPH))
        (folder / f"{d:07d}.txt").write_text(f"Date: {publication_date(d)}\nReport {d}: {vary(rng.choice(source))}"
                                             f"\n\n{body}\n", encoding="utf-8")
    return docs


def publication_date(d: int) -> str:
    """Document ``d``'s date: a news archive's spread, documents in order over about four
    years, so that a month holds about 1/48 of it."""
    import datetime

    return (datetime.date(2020, 1, 1) + datetime.timedelta(days=(d * 7919) % 1461)).isoformat()


# The period the bench's dated questions ask for: one month of the four years.
PERIOD = ("2021-06-01", "2021-06-30")


_OPEN_SCRIPT = """
import json, sys, time
import numpy as np
t0 = time.perf_counter()
from index import IndexConfig, open_index
from index.storage.db import from_blobs
from rag.bench_scale import SyntheticEmbedder
from rag.chatbot import Chatbot
from rag.config import RagConfig
embedder = SyntheticEmbedder()
store, _ = open_index(sys.argv[1], sys.argv[2], IndexConfig(**json.loads(sys.argv[4])), embedder, update=False)
bot = Chatbot(store, embedder, RagConfig(), sys.argv[1])
open_s = time.perf_counter() - t0
questions = json.loads(sys.argv[3])
lat = []
for q in questions:
    t = time.perf_counter(); bot.ask(q); lat.append((time.perf_counter() - t) * 1000)
first_answer_s = open_s + lat[0] / 1000
# The same questions kept to one month's reports: filtered inside the searches.
since, until = json.loads(sys.argv[5])
period_lat, inside = [], []
for q in questions:
    t = time.perf_counter(); a = bot.ask(q, since=since, until=until)
    period_lat.append((time.perf_counter() - t) * 1000)
    inside.append(all(p.date and since <= p.date <= until for p in a.passages))  # none: "no report" said
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS"))
# recall@10 of the vector index against exact search over every stored vector, in batches
vectors = embedder.encode_queries(questions)
search_ms, approx = [], []
for v in vectors:
    t = time.perf_counter(); found = store.vectors.search(v, 10)[0]; search_ms.append((time.perf_counter() - t) * 1000)
    approx.append(set(found[:10].tolist()))
best = np.full((len(vectors), 10), -np.inf, dtype=np.float32)
ids = np.zeros((len(vectors), 10), dtype=np.int64)
last = 0
while True:
    batch = store.query("SELECT row, vector FROM chunks WHERE row > ? ORDER BY row LIMIT 100000", (last,))
    if not batch:
        break
    last = batch[-1][0]
    rows = np.array([r for r, _ in batch]); sims = vectors @ from_blobs([b for _, b in batch], store.dimension).T
    allsims, allids = np.hstack([best, sims]), np.hstack([ids, np.broadcast_to(rows, sims.shape)])
    top = np.argsort(-allsims, axis=1)[:, :10]
    best, ids = np.take_along_axis(allsims, top, 1), np.take_along_axis(allids, top, 1)
recall = float(np.mean([len(a & set(e.tolist())) / 10 for a, e in zip(approx, ids)]))
print(json.dumps({"open_s": open_s, "first_answer_s": first_answer_s, "latencies": lat, "recall_at_10": recall,
                  "search_ms": search_ms, "rss_mb": rss / 1024, "period_latencies": period_lat,
                  "period_inside": sum(inside) / len(inside)}))
"""


def run_scale(corpus_dir: Path, passages: int, questions: list[str],
              store: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build a synthetic archive of about ``passages`` passages and measure it (see module);
    ``store``: the index store's options (the FAISS store when None)."""
    from index import IndexConfig, open_index
    from index.ingest.loader import load_corpus

    from .bench import percentile
    from .chatbot import make_embedder
    from .config import RagConfig

    store = store or {}
    real = make_embedder(RagConfig())
    # Sentences of the cleaned articles: raw lines would carry the sources' page furniture
    # ("Recommended Articles") into the synthetic ones, and the cleaner would cut them away.
    source = [s for doc in load_corpus(Path(corpus_dir))
              for s in map(doc.sentence, range(len(doc.sentences))) if len(s.split()) > 5]
    with tempfile.TemporaryDirectory(prefix="rag-scale-") as tmp:
        corpus, index_dir = Path(tmp) / "corpus", Path(tmp) / "index"
        docs = write_corpus(source, passages, corpus)
        started = time.perf_counter()
        opened, _ = open_index(corpus, index_dir, IndexConfig(**store), SyntheticEmbedder(real),
                              workers=os.cpu_count() or 1)
        build_s = time.perf_counter() - started
        built, search = len(opened), opened.manifest.get("faiss_index", "")
        opened.close()
        disk = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())
        # Two opens, each in a fresh process: the first after the build, the second as a
        # restart finds it (both read only what they need).
        runs = [json.loads(subprocess.run(
            [sys.executable, "-c", _OPEN_SCRIPT, str(corpus), str(index_dir), json.dumps(questions), json.dumps(store),
             json.dumps(PERIOD)],
            check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]) for _ in range(2)]
        # One more article, as `rag index` adds it: the folder listed, the file read, embedded
        # and written, the search indexes updated (their files left as they are).
        write_corpus(source, _PASSAGES_PER_DOC, corpus / "added", seed=1)
        started = time.perf_counter()
        added, report = open_index(corpus, index_dir, IndexConfig(**store), SyntheticEmbedder(real))
        add_one_s = time.perf_counter() - started
        assert report.embedded == ["added/0000000.txt"], report.embedded
        added.close()
        shutil.rmtree(corpus, ignore_errors=True)
    first_open, opened = runs
    return {
        "passages": built, "documents": docs, "synthetic_vectors": True,
        "build_s": round(build_s, 2), "build_rate_per_s": round(built / build_s, 1),
        "disk_mb": round(disk / 2**20, 1), "rss_mb": round(opened["rss_mb"], 1), "open_s": round(opened["open_s"], 3),
        "first_open_s": round(first_open["open_s"], 3), "first_answer_s": round(opened["first_answer_s"], 3),
        "add_one_article_s": round(add_one_s, 3),
        "p50_ms": round(percentile(opened["latencies"], 50), 2),
        "p95_ms": round(percentile(opened["latencies"], 95), 2),
        "recall_at_10": round(opened["recall_at_10"], 4),
        "vector_search_p50_ms": round(percentile(opened["search_ms"], 50), 3),
        "vector_search_p95_ms": round(percentile(opened["search_ms"], 95), 3), "vector_index": search,
        "period_p50_ms": round(percentile(opened["period_latencies"], 50), 2),
        "period_p95_ms": round(percentile(opened["period_latencies"], 95), 2),
        "period_answers_inside": round(opened["period_inside"], 4),
    }
