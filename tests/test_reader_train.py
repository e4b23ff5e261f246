"""`rag train-reader` for real on a toy: one layer of the installed MiniLM, a SQuAD file the
test writes. Its loss falls; a run killed with SIGKILL and resumed ends with the weights
of a run never interrupted; the exported int8 graph reads as the torch model does."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.answer import reader as R

from .test_squad import squad_json

pytestmark = pytest.mark.integration

SETTINGS = ["--layers", "1", "--window-tokens", "64", "--batch-size", "4", "--epochs", "12",
            "--held-out-articles", "1", "--eval-every", "1000", "--log-every", "4", "--learning-rate", "3e-4",
            "--warmup", "0.1", "--threads", "1"]


def _train(squad: Path, work: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "rag", "train-reader", "--squad", str(squad), "--work", str(work),
           "--out", str(work / "out"), *SETTINGS, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-2000:]
    return out


def _state(work: Path) -> dict:
    import torch

    return torch.load(work / "checkpoint.pt", weights_only=False)


@pytest.fixture(scope="module")
def squad(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("squad") / "train.json"
    path.write_text(json.dumps(squad_json()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def whole(squad, tmp_path_factory) -> tuple[Path, str]:
    """A run never interrupted: its folder and its output."""
    work = tmp_path_factory.mktemp("whole")
    return work, _finish(_train(squad, work))


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(squad, whole, tmp_path):
    whole, out = whole
    losses = [float(line.split("loss ")[1].split()[0]) for line in out.splitlines() if " loss " in line]
    assert len(losses) >= 3 and losses[-1] < losses[0]  # it learns

    killed = tmp_path / "killed"
    proc = _train(squad, killed, "--checkpoint-steps", "2")
    deadline = time.monotonic() + 300
    while not (killed / "checkpoint.pt").exists() or _state(killed)["step"] < 4:
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = _state(killed)["step"]
    assert stopped_at < _state(whole)["step"]
    resumed = _finish(_train(squad, killed, "--resume", "--checkpoint-steps", "2"))
    assert f"resumed at step {stopped_at}" in resumed
    a, b = _state(whole), _state(killed)
    assert a["step"] == b["step"] == a["total"]
    for name, tensor in a["model"].items():
        assert np.allclose(tensor.float().numpy(), b["model"][name].float().numpy(), atol=1e-5), name

    # Without --resume an existing checkpoint is never overwritten.
    again = _train(squad, killed)
    out, _ = again.communicate(timeout=300)
    assert again.returncode != 0 and "--resume" in out


def test_the_exported_int8_reader_reads_as_the_torch_model_does(whole):
    import torch

    from eval.reader.train import _default_base, build_model

    work = whole[0]
    record = json.loads((work / "out" / R.RECORD_FILE).read_text())
    assert record["layers"] == 1 and record["steps"] == record["total_steps"]
    assert set(record["dev"]) == {"float", "int8"}
    assert (work / "out" / "MODEL_CARD.md").read_text().count("rag train-reader") == 1

    reader = R.Reader(work / "out")
    model = build_model(_default_base(), 1)
    model.load_state_dict(torch.load(work / "best.pt", weights_only=False)["model"])
    model.eval()
    question = "How much will the Riverside flood barrier cost?"
    windows = ["The barrier will cost 48 million dollars, the council said.", "Work starts in spring."]
    enc = R.encode(reader.tokenizer, question, windows)
    with torch.no_grad():
        out = model(input_ids=torch.from_numpy(enc.ids), attention_mask=torch.from_numpy(enc.mask),
                    token_type_ids=torch.from_numpy(enc.types))
    expected = R.best_spans(out.start_logits.numpy(), out.end_logits.numpy(), enc, windows)
    got = reader.read(question, windows)
    for e, g in zip(expected, got, strict=True):
        assert abs(e.margin - g.margin) < 0.25 * max(1.0, abs(e.margin))  # int8 rounding, not another model


def test_a_cross_fitting_reader_leaves_its_fold_out_starts_from_another_run_and_is_checked_by_fit(squad, whole,
                                                                                                   tmp_path):
    import copy

    from eval.fit import _fold_readers, _folds
    from eval.reader.data import article_folds

    data = json.loads(squad.read_text())
    data["data"] += [dict(copy.deepcopy(a), title=a["title"] + "_again") for a in data["data"]]
    for n, qa in enumerate(qa for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]):
        qa["id"] = f"q{n}"
    four = tmp_path / "four.json"
    four.write_text(json.dumps(data), encoding="utf-8")
    work = tmp_path / "fold1"
    out = _finish(_train(four, work, "--init", str(whole[0] / "best.pt"), "--leave-out", "four.json:1/2",
                         "--epochs", "2", "--validate", str(squad)))

    # Fold 1 of the whole file (before an article is held out) is what was left out, and what
    # `rag fit --fold-readers` reads with this reader.
    folds = article_folds([a["title"] for a in data["data"]], 2)
    assert sorted(folds.values()) == [0, 0, 1, 1]
    assert "four.json: fold 1 of 2 left out" in out and "starting from" in out
    assert "validation on train.json:" in out and '"null_auc_unanswerable"' in out
    by_id = _folds(four, 2)
    assert {by_id[qa["id"]] for a in data["data"] if folds[a["title"]] == 1
            for p in a["paragraphs"] for qa in p["qas"]} == {1}

    record = json.loads((work / "out" / R.RECORD_FILE).read_text())
    assert record["leave_out"] == "four.json:1/2"
    assert record["fine_tuned_from"]["files"] == ["train.json"] and record["fine_tuned_from"]["step"] > 0
    card = (work / "out" / "MODEL_CARD.md").read_text()
    assert card.count("rag train-reader --squad") == 2 and "--init FIRST_WORK/best.pt" in card

    # `rag fit` takes it as the reader of fold 1 and refuses it as the reader of fold 0.
    args = argparse.Namespace(squad=four, fold_readers=[whole[0] / "out", work / "out"])
    with pytest.raises(SystemExit, match=re.escape("not trained with --leave-out four.json:0/2")):
        _fold_readers(args)
    args.fold_readers = [work / "out", work / "out"]
    with pytest.raises(SystemExit, match=re.escape("four.json:0/2")):
        _fold_readers(args)


def test_a_sample_of_a_files_articles_is_seeded_and_bad_specs_are_one_line_errors():
    from eval.reader.data import parse_sample, sample_articles

    articles = [{"title": f"A{i}"} for i in range(40)]
    assert parse_sample("big.json.gz:0.05, small.json:1") == {"big.json.gz": 0.05, "small.json": 1.0}
    first = sample_articles(articles, 0.1, seed=0)
    assert len(first) == 4 and first == sample_articles(articles, 0.1, seed=0) != sample_articles(articles, 0.1, 1)
    assert [a["title"] for a in first] == sorted((a["title"] for a in first), key=lambda t: int(t[1:]))  # file order
    assert len(sample_articles(articles, 0.001, seed=0)) == 1
    for bad in ("big.json", "big.json:0", "big.json:1.5", ":0.5", "big.json:x"):
        with pytest.raises(SystemExit, match="FILE:FRACTION"):
            parse_sample(bad)
