"""Training windows for the reader, made from SQuAD-format files.

Each answerable question gives the window around the sentence holding its answer (labelled
with the answer's tokens), and, ``negatives`` of the time, the window around the sentence of
its paragraph that shares most words with it but whose window lacks the answer: the near
misses the reader meets at question time, where it reads the selector's top candidates. An
unanswerable question gives the window around its paragraph's closest sentence, labelled
"no answer". Windows are cut by ``rag.answer.reader``, the code that cuts them at question
time. The result is cached under the files' and the tokenizer's hashes and the settings.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.analysis import content_terms
from index.hashing import file_sha256
from index.ingest.sentences import split_sentences
from rag.answer import reader as R

_DATA_FORMAT = 1  # bump when the windows made here change


@dataclass
class Windows:
    """Tokenized (question, window) pairs with answer token positions ((0, 0): no answer)."""

    ids: list[np.ndarray] = field(default_factory=list)
    types: list[np.ndarray] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    # For evaluation: the question's gold answers, its window text, the pairs' offsets.
    golds: list[list[str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def answerable(self) -> np.ndarray:
        return np.asarray(self.starts) > 0


def read_squad(path: Path) -> list[dict[str, Any]]:
    """The articles of a SQuAD-format file (``.json`` or ``.json.gz``)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return json.load(fh)["data"]


def cache_key(files: list[Path], tokenizer_file: Path, settings: dict[str, Any]) -> str:
    """A name for the windows made from ``files`` with this tokenizer and these settings."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(file_sha256(f).encode())
    digest.update(file_sha256(tokenizer_file).encode())
    digest.update(json.dumps(settings, sort_keys=True).encode())
    digest.update(str(_DATA_FORMAT).encode())
    return digest.hexdigest()[:16]


def _overlap(question: set[str], sentence: str) -> int:
    return len(question & set(content_terms(sentence)))


def article_folds(titles: list[str], n: int) -> dict[str, int]:
    """Each article title's fold of ``n``: the titles sorted, dealt out in turn (balanced, and
    the same for every file that holds the same articles)."""
    return {t: i % n for i, t in enumerate(sorted(set(titles)))}


def parse_leave_out(spec: str) -> tuple[str, int, int]:
    """``"FILE:K/N"`` -> (file name, K, N): leave out fold K of N of that file's articles."""
    try:
        name, fold = spec.rsplit(":", 1)
        k, n = (int(x) for x in fold.split("/"))
    except ValueError:
        raise SystemExit(f"--leave-out {spec!r}: expected FILE:K/N, e.g. squad2-train.json:0/2") from None
    if not name or not 0 <= k < n:
        raise SystemExit(f"--leave-out {spec!r}: expected a file name and 0 <= K < N")
    return name, k, n


def parse_sample(spec: str) -> dict[str, float]:
    """``"FILE:FRACTION[,FILE:FRACTION]"`` -> {file name: fraction of its articles to keep}."""
    out: dict[str, float] = {}
    for part in filter(None, (x.strip() for x in spec.split(","))):
        name, _, share = part.rpartition(":")
        try:
            value = float(share)
        except ValueError:
            value = -1.0
        if not name or not 0 < value <= 1:
            raise SystemExit(f"--sample {part!r}: expected FILE:FRACTION with 0 < FRACTION <= 1")
        out[name] = value
    return out


def sample_articles(articles: list[dict[str, Any]], share: float, seed: int) -> list[dict[str, Any]]:
    """A seeded ``share`` of the articles (at least one), in file order."""
    order = list(range(len(articles)))
    random.Random(seed).shuffle(order)
    keep = set(order[:max(1, round(share * len(articles)))])
    return [a for i, a in enumerate(articles) if i in keep]


def split_articles(articles: list[dict[str, Any]], held_out: int, seed: int) -> tuple[list, list]:
    """Training articles and ``held_out`` articles kept apart for choosing checkpoints."""
    order = list(range(len(articles)))
    random.Random(seed).shuffle(order)
    dev = set(order[:held_out])
    return [a for i, a in enumerate(articles) if i not in dev], [a for i, a in enumerate(articles) if i in dev]


def make_windows(articles: list[dict[str, Any]], tokenizer: Any, window_tokens: int, negatives: float,
                 seed: int, counts: dict[str, int] | None = None) -> Windows:
    """Windows of every question in ``articles``; ``counts`` gathers what was made and dropped."""
    rng = random.Random(seed)
    counts = counts if counts is not None else {}
    pairs: list[tuple[str, str, int, int, list[str]]] = []  # question, window, answer start/end in it, golds

    def add(question: str, window: R.Window, answer: tuple[int, int] | None, golds: list[str], kind: str) -> None:
        if answer is None:
            pairs.append((question, window.text, -1, -1, golds))
        else:
            pairs.append((question, window.text, answer[0] - window.start, answer[1] - window.start, golds))
        counts[kind] = counts.get(kind, 0) + 1

    for article in articles:
        paragraphs = []
        for p in article["paragraphs"]:
            spans = split_sentences(p["context"])
            if spans:
                lengths = R.count_tokens(tokenizer, [p["context"][a:b] for a, b in spans])
                paragraphs.append((p, spans, lengths))
        for p, spans, lengths in paragraphs:
            context = p["context"]
            qas = p["qas"]
            qlens = R.count_tokens(tokenizer, [q["question"] for q in qas])
            for qa, qlen in zip(qas, qlens, strict=True):
                question = qa["question"].strip()
                qterms = set(content_terms(question))
                golds = [a["text"] for a in qa.get("answers", [])]
                closeness = [_overlap(qterms, context[a:b]) for a, b in spans]
                if qa.get("is_impossible") or not golds:
                    center = int(np.argmax(closeness))
                    add(question, R.make_window(context, spans, lengths, center, qlen, window_tokens),
                        None, [], "unanswerable")
                    continue
                first = qa["answers"][0]
                a_start = int(first["answer_start"])
                a_end = a_start + len(first["text"])
                if context[a_start:a_end] != first["text"]:
                    counts["dropped_misaligned"] = counts.get("dropped_misaligned", 0) + 1
                    continue
                center = next((i for i, (a, b) in enumerate(spans) if a <= a_start < b), None)
                if center is None:
                    counts["dropped_between_sentences"] = counts.get("dropped_between_sentences", 0) + 1
                    continue
                window = R.make_window(context, spans, lengths, center, qlen, window_tokens)
                inside = window.start <= a_start and a_end <= window.end
                add(question, window, (a_start, a_end) if inside else None, golds,
                    "answer" if inside else "answer_cut_off")
                if rng.random() >= negatives:
                    continue
                lowered = [g.lower() for g in golds]
                options = [i for i in range(len(spans)) if abs(i - center) > 1]
                if options:
                    best = max(options, key=lambda i: (closeness[i], -abs(i - center)))
                    near = R.make_window(context, spans, lengths, best, qlen, window_tokens)
                else:  # a short paragraph: the closest sentence of another paragraph of the article
                    others = [x for x in paragraphs if x[0] is not p]
                    if not others:
                        continue
                    op, ospans, olens = rng.choice(others)
                    ctx = op["context"]
                    best = max(range(len(ospans)), key=lambda i: _overlap(qterms, ctx[ospans[i][0]:ospans[i][1]]))
                    near = R.make_window(ctx, ospans, olens, best, qlen, window_tokens)
                if any(g in near.text.lower() for g in lowered):
                    continue  # the answer is said there too: not a negative
                add(question, near, None, golds, "near_miss")
    return tokenize_pairs(pairs, tokenizer, counts)


def tokenize_pairs(pairs: list[tuple[str, str, int, int, list[str]]], tokenizer: Any,
                   counts: dict[str, int]) -> Windows:
    """Token ids and answer token positions of (question, window) pairs, in batches."""
    out = Windows()
    for lo in range(0, len(pairs), 2048):
        batch = pairs[lo:lo + 2048]
        by_question: dict[str, list[int]] = {}
        for i, (q, *_rest) in enumerate(batch):
            by_question.setdefault(q, []).append(i)
        for q, rows in by_question.items():
            enc = R.encode(tokenizer, q, [batch[i][1] for i in rows])
            for r, i in enumerate(rows):
                _, text, a, b, golds = batch[i]
                k = int(enc.mask[r].sum())
                start, end = (0, 0) if a < 0 else R.answer_tokens(enc, r, a, b)
                if a >= 0 and start == 0:
                    counts["answer_cut_by_truncation"] = counts.get("answer_cut_by_truncation", 0) + 1
                out.ids.append(enc.ids[r, :k].astype(np.int32))
                out.types.append(enc.types[r, :k].astype(np.int8))
                out.starts.append(start)
                out.ends.append(end)
                out.golds.append(golds)
                out.texts.append(text)
                out.questions.append(q)
    return out


def save_windows(windows: Windows, path: Path) -> None:
    """Write ``windows`` to ``path`` (whole or not at all)."""
    lengths = np.array([len(x) for x in windows.ids], dtype=np.int64)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, ids=np.concatenate(windows.ids) if len(windows) else np.zeros(0, np.int32),
             types=np.concatenate(windows.types) if len(windows) else np.zeros(0, np.int8),
             lengths=lengths, starts=np.asarray(windows.starts), ends=np.asarray(windows.ends),
             meta=np.frombuffer(json.dumps({"golds": windows.golds, "texts": windows.texts,
                                            "questions": windows.questions}).encode(), dtype=np.uint8))
    tmp.replace(path)


def load_windows(path: Path) -> Windows:
    """Windows written by ``save_windows``."""
    with np.load(path) as z:
        cuts = np.cumsum(z["lengths"])[:-1]
        meta = json.loads(z["meta"].tobytes().decode())
        return Windows(list(np.split(z["ids"], cuts)), list(np.split(z["types"], cuts)), z["starts"].tolist(),
                       z["ends"].tolist(), meta["golds"], meta["texts"], meta["questions"])
