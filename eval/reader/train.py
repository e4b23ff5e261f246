"""`rag train-reader`: fine-tune the reader from the installed MiniLM weights.

    rag train-reader --squad ../shared/data/squad-train-large.json.gz ../shared/data/subjqa-train.json.gz

Reads top to bottom: the settings (printed at start), the windows (made once by
``data.py`` and cached), the model (the MiniLM weights plus a span head, or the
checkpoint to resume), one plain loop that logs every ``log_every`` steps and evaluates on
held-out articles every ``eval_every``, and the export (``export.py``). The learning rate
is a function of the step and the data order a function of the seed and the epoch, so a run
resumed from its checkpoint (weights, optimizer, step, random state; written every
``checkpoint_seconds`` to a temporary name, then renamed) follows the schedule an
uninterrupted run would: with ``--threads 1`` bit for bit (several threads may add a sum's
parts in another order, and Adam magnifies such last-bit differences in rarely-seen rows).
Matrix products run in bfloat16 where the CPU has bf16 units.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.answer import reader as R

from ..metrics import normalize_answer, token_f1
from .data import (
    Windows,
    article_folds,
    cache_key,
    load_windows,
    make_windows,
    parse_leave_out,
    parse_sample,
    read_squad,
    sample_articles,
    save_windows,
    split_articles,
)

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 0
    window_tokens: int = R.WINDOW_TOKENS
    max_answer_tokens: int = R.MAX_ANSWER_TOKENS
    layers: int = 6  # transformer layers kept from MiniLM-L6 (cut from the top)
    batch_size: int = 32
    learning_rate: float = 1e-4  # peak; linear warm-up, then linear decay to 0 at the last step
    warmup: float = 0.05  # share of the steps spent warming up
    weight_decay: float = 0.01
    epochs: float = 1.0
    negatives: float = 0.5  # near-miss windows per answerable question
    held_out_articles: int = 4  # of the first file, for choosing checkpoints (never trained on)
    dev_windows: int = 1000  # of those, evaluated every eval_every steps
    eval_every: int = 500
    log_every: int = 50
    checkpoint_seconds: int = 600
    checkpoint_steps: int = 0  # also checkpoint every N steps (0: by time only)
    max_steps: int = 0  # stop after N steps (0: the whole schedule); the schedule is unchanged
    bf16: bool = True  # where the CPU has bf16 units (or the GPU bf16 support)
    leave_out: str = ""  # FILE:K/N: leave fold K of N of that file's articles out (for cross-fitting)
    init: str = ""  # start from this checkpoint's weights (another run's best.pt), not the installed MiniLM
    sample: str = ""  # FILE:FRACTION[,FILE:FRACTION]: a seeded share of those files' articles (replay)


def register(sub: Any) -> None:
    """Add the `train-reader` subcommand to the `rag` command's subparsers."""
    p = sub.add_parser("train-reader", help="train the extractive reader on SQuAD-format files")
    p.add_argument("--squad", type=Path, nargs="+", required=True, help="SQuAD-format files (.json or .json.gz)")
    p.add_argument("--work", type=Path, default=None,
                   help="folder for windows and checkpoints (default: the cache folder's reader-train/)")
    p.add_argument("--out", type=Path, default=None, help=f"reader folder to write (default {R.DEFAULT_READER})")
    p.add_argument("--resume", action="store_true", help="go on from the work folder's checkpoint")
    p.add_argument("--export-only", action="store_true", help="export the work folder's best weights and stop")
    p.add_argument("--base", type=Path, default=None, help="model folder to start from (default: installed MiniLM)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (a GPU where torch sees one)")
    p.add_argument("--validate", type=Path, default=None,
                   help="a SQuAD-format file never trained on: its windows are read with the best weights at the end")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads (default: every core); 1: a resumed run matches an unbroken one bit for bit")
    defaults = TrainSettings()
    for name, value in asdict(defaults).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=value, metavar="BOOL")
        else:
            p.add_argument(flag, type=type(value), default=value)
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from rag.paths import cache_root

    settings = TrainSettings(**{k: getattr(args, k) for k in asdict(TrainSettings())})
    work = args.work or cache_root() / "reader-train"
    base = args.base or _default_base()
    if not args.export_only:
        train(args.squad, work, settings, base=base, resume=args.resume, threads=args.threads,
              device=args.device, validate=args.validate)
    from .export import export_reader

    out = args.out or R.DEFAULT_READER
    record = export_reader(work, out, base)
    print(f"wrote {out}: {json.dumps(record.get('dev', {}))}")
    return 0


def _default_base() -> Path:
    from index.embed.embedder import default_model_dir

    return default_model_dir()


def native_bf16() -> bool:
    from index.embed.embedder import native_bf16 as has

    return has()


# -- the model --------------------------------------------------------------------------------
def build_model(base: Path, layers: int) -> Any:
    """MiniLM with a span head (start and end logits), its top layers cut to ``layers``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import logging

    from transformers import AutoModelForQuestionAnswering
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    model = AutoModelForQuestionAnswering.from_pretrained(str(base), local_files_only=True)
    if layers < model.config.num_hidden_layers:
        model.bert.encoder.layer = model.bert.encoder.layer[:layers]
        model.config.num_hidden_layers = layers
    return model


def learning_rate(step: int, total: int, s: TrainSettings) -> float:
    """The schedule: linear warm-up over ``warmup`` of the steps, then linear decay to 0."""
    warm = max(1, int(total * s.warmup))
    if step < warm:
        return s.learning_rate * (step + 1) / warm
    return s.learning_rate * max(0.0, (total - step) / max(1, total - warm))


def batch_plan(lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """An epoch's batches: shuffled, then sorted by length within groups of 50 batches (little
    padding), then the batches shuffled. A function of seed and epoch alone."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    group = batch_size * 50
    batches = []
    for lo in range(0, len(order), group):
        chunk = order[lo:lo + group]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(w: Windows, rows: np.ndarray) -> dict[str, Any]:
    import torch

    width = max(len(w.ids[i]) for i in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for r, i in enumerate(rows):
        k = len(w.ids[i])
        ids[r, :k], types[r, :k], mask[r, :k] = w.ids[i], w.types[i], 1
    return {"input_ids": torch.from_numpy(ids), "token_type_ids": torch.from_numpy(types),
            "attention_mask": torch.from_numpy(mask),
            "start_positions": torch.tensor([w.starts[i] for i in rows]),
            "end_positions": torch.tensor([w.ends[i] for i in rows])}


# -- evaluation -------------------------------------------------------------------------------
def evaluate(logits: tuple[np.ndarray, np.ndarray], w: Windows, rows: list[int],
             max_answer_tokens: int, tokenizer: Any) -> dict[str, float]:
    """Span exact match and F1 on the answerable windows, and how well the span-over-null
    margin separates windows that answer from those that do not (ROC AUC): all of them, the
    unanswerable questions' windows alone, and the near misses alone (windows of answerable
    questions that do not hold the answer)."""
    em = f1 = 0.0
    n = 0
    margins, kinds = [], []
    for (start, end), i in zip(zip(*logits, strict=True), rows, strict=True):
        enc = R.encode(tokenizer, w.questions[i], [w.texts[i]])
        span = R.best_spans(start[None, :enc.ids.shape[1]], end[None, :enc.ids.shape[1]], enc, [w.texts[i]],
                            max_answer_tokens)[0]
        margins.append(span.margin)
        kinds.append("answer" if w.starts[i] > 0 else "near_miss" if w.golds[i] else "unanswerable")
        if w.starts[i] > 0:
            n += 1
            em += max(float(normalize_answer(span.text) == normalize_answer(g)) for g in w.golds[i])
            f1 += max(token_f1(span.text, g) for g in w.golds[i])
    m, k = np.array(margins), np.array(kinds)
    return {"exact_match": em / max(n, 1), "f1": f1 / max(n, 1), "null_auc": _auc(m, k == "answer"),
            "null_auc_unanswerable": _auc(m[k != "near_miss"], k[k != "near_miss"] == "answer"),
            "null_auc_near_miss": _auc(m[k != "unanswerable"], k[k != "unanswerable"] == "answer")}


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive, scores)) if 0 < positive.sum() < len(positive) else float("nan")


def run_model(model: Any, w: Windows, rows: list[int], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Start and end logits of windows ``rows``, padded to the longest window."""
    import torch

    width = max(len(w.ids[i]) for i in rows)
    starts = np.full((len(rows), width), -1e4, dtype=np.float32)
    ends = starts.copy()
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        for lo in range(0, len(rows), batch_size):
            chunk = np.asarray(rows[lo:lo + batch_size])
            batch = collate(w, chunk)
            out = model(**{k: batch[k].to(device) for k in ("input_ids", "attention_mask", "token_type_ids")})
            k = batch["input_ids"].shape[1]
            starts[lo:lo + len(chunk), :k] = out.start_logits.float().cpu().numpy()
            ends[lo:lo + len(chunk), :k] = out.end_logits.float().cpu().numpy()
    model.train()
    return starts, ends


def dev_score(metrics: dict[str, float]) -> float:
    """One number to keep the best checkpoint by: span F1 and the null AUC, equally."""
    auc = metrics["null_auc"]
    return (metrics["f1"] + (0.5 if math.isnan(auc) else auc)) / 2


# -- the run ----------------------------------------------------------------------------------
def windows_key(files: list[Path], tokenizer_file: Path, s: TrainSettings) -> str:
    """The name of the windows these settings make from ``files``."""
    settings = {"window_tokens": s.window_tokens, "negatives": s.negatives, "held_out": s.held_out_articles,
                "seed": s.seed}
    if s.leave_out:
        settings["leave_out"] = s.leave_out
    if s.sample:
        settings["sample"] = s.sample
    return cache_key(files, tokenizer_file, settings)


def prepare(files: list[Path], work: Path, s: TrainSettings, tokenizer_file: Path) -> tuple[Windows, Windows]:
    """Training and held-out windows, made once and cached in ``work``."""
    tokenizer = R.load_tokenizer(str(tokenizer_file), s.window_tokens)
    key = windows_key(files, tokenizer_file, s)
    train_file, dev_file = work / f"windows-{key}-train.npz", work / f"windows-{key}-dev.npz"
    if train_file.is_file() and dev_file.is_file():
        return load_windows(train_file), load_windows(dev_file)
    print(f"making windows from {len(files)} file(s) (once; cached as {train_file.name})", flush=True)
    skip = parse_leave_out(s.leave_out) if s.leave_out else None
    shares = parse_sample(s.sample)
    if unknown := set(shares) - {f.name for f in files}:
        raise SystemExit(f"--sample names {', '.join(sorted(unknown))}, not among the --squad files")
    if skip and skip[0] not in [f.name for f in files]:
        raise SystemExit(f"--leave-out names {skip[0]}, which is not one of the --squad files")
    train_articles, dev_articles = [], []
    for n, f in enumerate(files):
        articles = read_squad(f)
        # Folds of the whole file, as `rag fit --fold-readers` cuts it (before any is held out).
        folds = article_folds([a["title"].strip() for a in articles], skip[2]) if skip and f.name == skip[0] else {}
        if n == 0:
            articles, dev_articles = split_articles(articles, s.held_out_articles, s.seed)
        if folds:
            kept = [a for a in articles if folds[a["title"].strip()] != skip[1]]
            print(f"{f.name}: fold {skip[1]} of {skip[2]} left out ({len(articles) - len(kept)} of "
                  f"{len(articles)} articles)", flush=True)
            articles = kept
        if f.name in shares:
            kept = sample_articles(articles, shares[f.name], s.seed)
            print(f"{f.name}: {len(kept)} of {len(articles)} articles sampled", flush=True)
            articles = kept
        train_articles += articles
    counts: dict[str, int] = {}
    train_w = make_windows(train_articles, tokenizer, s.window_tokens, s.negatives, s.seed, counts)
    dev_w = make_windows(dev_articles, tokenizer, s.window_tokens, s.negatives, s.seed + 1)
    print("windows:", json.dumps(counts), f"held out: {len(dev_w)}", flush=True)
    save_windows(train_w, train_file)
    save_windows(dev_w, dev_file)
    (work / f"windows-{key}.json").write_text(json.dumps({"files": [str(f) for f in files], "counts": counts,
                                                          "train": len(train_w), "dev": len(dev_w)}, indent=1))
    return train_w, dev_w


def train(files: list[Path], work: Path, s: TrainSettings, base: Path, resume: bool = False,
          threads: int = 0, device: str = "auto", validate: Path | None = None) -> dict[str, Any]:
    """Train (or go on training) the reader; checkpoints and windows live in ``work``.
    ``threads`` and ``device`` are not settings: a run may resume elsewhere. ``validate``: a
    file never trained on, read with the best weights at the end."""
    import torch

    work.mkdir(parents=True, exist_ok=True)
    ckpt_path = work / CHECKPOINT
    state = None
    if resume and ckpt_path.is_file():
        state = torch.load(ckpt_path, weights_only=False, map_location="cpu")
        s = replace(TrainSettings(**state["settings"]), max_steps=s.max_steps, checkpoint_steps=s.checkpoint_steps)
        files = [Path(f) for f in state["files"]]
    elif ckpt_path.is_file():
        raise SystemExit(f"{ckpt_path} exists: add --resume to go on from it, or choose another --work folder")
    print("settings:", json.dumps(asdict(s)), flush=True)
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       "cpu" if device == "auto" else device)
    random.seed(s.seed)
    np.random.seed(s.seed)
    torch.manual_seed(s.seed)
    torch.set_num_threads(threads or os.cpu_count() or 1)
    if dev.type == "cuda":  # cuBLAS is deterministic only with a fixed workspace, set before its first use
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        bf16 = s.bf16 and torch.cuda.is_bf16_supported()
    else:
        torch.use_deterministic_algorithms(True)  # an op with no deterministic kernel fails loudly
        bf16 = s.bf16 and native_bf16()
    tokenizer_file = base / "tokenizer.json"
    train_w, dev_w = prepare(files, work, s, tokenizer_file)
    tokenizer = R.load_tokenizer(str(tokenizer_file), s.window_tokens)
    dev_rows = sorted(np.random.default_rng(s.seed).permutation(len(dev_w))[:s.dev_windows].tolist())

    model = build_model(base, s.layers)
    origin = state.get("origin") if state is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
    elif s.init:
        start = torch.load(s.init, weights_only=False, map_location="cpu")
        model.load_state_dict(start["model"])
        origin = {"files": [Path(f).name for f in start["files"]], "step": start["step"],
                  "hours": round(start["elapsed"] / 3600, 2), "settings": start["settings"],
                  "origin": start.get("origin")}
        print(f"starting from {s.init} (step {start['step']} of a run on {', '.join(origin['files'])})", flush=True)
    model.to(dev)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "LayerNorm" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "LayerNorm" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": s.weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=s.learning_rate)
    lengths = np.array([len(x) for x in train_w.ids])
    per_epoch = math.ceil(len(train_w) / s.batch_size)
    total = max(1, int(per_epoch * s.epochs))
    step, best, elapsed = 0, -1.0, 0.0
    devices = [_device_name(dev)]
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        step, best, elapsed = state["step"], state["best"], state["elapsed"]
        devices = state.get("devices", []) + [d for d in devices if d not in state.get("devices", [])]
        torch.set_rng_state(state["torch_rng"])
        if dev.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"])
        print(f"resumed at step {step} of {total} ({elapsed / 3600:.2f} h trained so far)", flush=True)
    print(f"training on {devices[-1]}{' in bfloat16' if bf16 else ''}", flush=True)
    stop = min(total, s.max_steps) if s.max_steps else total

    def save(path: Path, full: bool) -> None:
        payload = {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "settings": asdict(s),
                   "step": step, "best": best, "elapsed": elapsed, "files": [str(f) for f in files],
                   "base": str(base), "total": total, "devices": devices, "origin": origin}
        if full:
            payload.update(optimizer=optimizer.state_dict(), torch_rng=torch.get_rng_state(),
                           cuda_rng=torch.cuda.get_rng_state() if dev.type == "cuda" else None)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    bar = _bar(total * s.batch_size, step * s.batch_size)
    model.train()
    last_save = time.monotonic()
    t0, losses = time.monotonic(), []
    while step < stop:
        epoch, index = divmod(step, per_epoch)
        rows = batch_plan(lengths, s.batch_size, s.seed, epoch)[index]
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, total, s)
        batch = {k: v.to(dev, non_blocking=True) for k, v in collate(train_w, rows).items()}
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        losses.append(loss.detach())
        bar.update(len(rows))
        now = time.monotonic()
        elapsed += now - t0
        t0 = now
        if step % s.log_every == 0:
            bar.write(f"step {step}/{total} loss {float(torch.stack(losses).mean()):.4f} "
                      f"lr {learning_rate(step, total, s):.2e} {1000 * elapsed / max(step, 1):.0f} ms/step avg",
                      file=None)
            losses = []
        if step % s.eval_every == 0 or step == stop:
            metrics = evaluate(run_model(model, dev_w, dev_rows), dev_w, dev_rows, s.max_answer_tokens, tokenizer)
            score = dev_score(metrics)
            bar.write(f"dev at step {step}: " + json.dumps({k: round(v, 4) for k, v in metrics.items()}))
            if score > best:
                best = score
                save(work / BEST, full=False)
            _log(work, {"step": step, **metrics, "score": score, "hours": elapsed / 3600})
            save(ckpt_path, full=True)
            last_save = time.monotonic()
        elif (s.checkpoint_steps and step % s.checkpoint_steps == 0) or \
                time.monotonic() - last_save >= s.checkpoint_seconds:
            save(ckpt_path, full=True)
            last_save = time.monotonic()
    bar.close()
    save(ckpt_path, full=True)
    result = {"step": step, "total": total, "best": best, "hours": elapsed / 3600}
    if validate is not None and step == total:
        model.load_state_dict(torch.load(work / BEST, weights_only=False, map_location="cpu")["model"])
        result["validation"] = validation(model, validate, s, tokenizer)
        print(f"validation on {validate.name}: " + json.dumps(result["validation"]), flush=True)
        _log(work, {"validation": validate.name, **result["validation"]})
    return result


def validation(model: Any, path: Path, s: TrainSettings, tokenizer: Any) -> dict[str, float]:
    """The reader's figures on the windows of a file it never saw (every article of it)."""
    w = make_windows(read_squad(path), tokenizer, s.window_tokens, s.negatives, s.seed + 2)
    rows = list(range(len(w)))
    return {k: round(v, 4) for k, v in evaluate(run_model(model, w, rows), w, rows, s.max_answer_tokens,
                                                tokenizer).items()} | {"windows": len(w)}


def _device_name(dev: Any) -> str:
    import torch

    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"


def _log(work: Path, row: dict[str, Any]) -> None:
    with (work / "dev_log.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


def _bar(total: int, initial: int) -> Any:
    import sys

    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="ex", desc="Training", dynamic_ncols=True,
                mininterval=1 if sys.stderr.isatty() else 60)
