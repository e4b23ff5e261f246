"""The reader's windows, token offsets and span post-processing, on hand-written inputs
checked against plain reference loops; and the shipped reader, run for real."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from eval.reader.data import make_windows
from index.embed.embedder import default_model_dir
from index.errors import ModelError
from index.ingest.sentences import split_sentences
from rag.answer import reader as R

TOKENIZER = str(default_model_dir() / "tokenizer.json")
TEXT = ("The Rhine rises in the Swiss Alps. It flows north through Basel and then along the French border. "
        "The river is 1,230 km long. Cargo ships carry coal and grain on it. It ends in the North Sea.")


@pytest.fixture(scope="module")
def tok() -> R.WindowTokenizer:
    return R.load_tokenizer(TOKENIZER)


def test_a_window_is_the_sentence_then_its_neighbours_while_they_fit():
    lengths = [10, 20, 30, 40, 50]
    assert R.window_range(lengths, 2, 1000) == (1, 3)
    assert R.window_range(lengths, 2, 30 + 20) == (1, 2)  # the one before first
    assert R.window_range([10, 60, 30, 20, 50], 2, 60) == (2, 3)  # the one before does not fit, the one after does
    assert R.window_range(lengths, 0, 1000) == (0, 1)
    assert R.window_range(lengths, 4, 1000) == (3, 4)
    assert R.window_range(lengths, 2, 5) == (2, 2)  # a sentence too long alone is still its own window


def test_training_and_question_time_cut_the_same_windows(tok):
    spans = split_sentences(TEXT)
    lengths = R.count_tokens(tok, [TEXT[a:b] for a, b in spans])
    qlen = R.count_tokens(tok, ["How long is the Rhine?"])[0]
    for center in range(len(spans)):
        whole = R.make_window(TEXT, spans, lengths, center, qlen)
        # Question time cuts from the sentence and its two neighbours only (reading.py).
        lo, hi = max(0, center - 1), min(len(spans), center + 2)
        local = R.make_window(TEXT, spans[lo:hi], lengths[lo:hi], center - lo, qlen)
        assert (whole.start, whole.end, whole.text) == (local.start, local.end, local.text)


def test_training_windows_label_the_answer_tokens_and_near_misses_as_no_answer(tok):
    start = TEXT.index("1,230 km")
    article = {"title": "Rhine", "paragraphs": [{"context": TEXT, "qas": [
        {"id": "a", "question": "How long is the Rhine?", "answers": [{"text": "1,230 km", "answer_start": start}]},
        {"id": "b", "question": "Who built the Rhine?", "answers": [], "is_impossible": True}]}]}
    counts: dict[str, int] = {}
    w = make_windows([article], tok, R.WINDOW_TOKENS, negatives=1.0, seed=0, counts=counts)
    assert counts == {"answer": 1, "near_miss": 1, "unanswerable": 1}
    answer = R.encode(tok, w.questions[0], [w.texts[0]])
    offs = answer.offsets[0]
    assert w.texts[0][offs[w.starts[0]][0]:offs[w.ends[0]][1]] == "1,230 km"
    assert w.starts[1] == w.ends[1] == 0 and "1,230" not in w.texts[1]  # the near miss lacks the answer
    assert w.starts[2] == w.ends[2] == 0


def test_an_answer_the_window_cuts_off_is_no_answer_never_a_partial_span(tok):
    enc = R.encode(tok, "How long?", ["The river is 1,230 km long."])
    text = "The river is 1,230 km long."
    assert R.answer_tokens(enc, 0, text.index("1,230"), text.index("1,230") + 8) != (0, 0)
    assert R.answer_tokens(enc, 0, len(text) - 2, len(text) + 10) == (0, 0)


def test_best_spans_match_a_plain_search_of_every_start_and_end(tok):
    rng = np.random.default_rng(3)
    windows = [TEXT[:80], TEXT[40:200], "Short."]
    enc = R.encode(tok, "Where does the Rhine end?", windows)
    start = rng.normal(size=enc.ids.shape).astype(np.float32)
    end = rng.normal(size=enc.ids.shape).astype(np.float32)
    got = R.best_spans(start, end, enc, windows, max_answer_tokens=5)
    for row, span in enumerate(got):
        ctx = [t for t in range(enc.ids.shape[1]) if enc.context[row, t]]
        best = max((start[row, i] + end[row, j], i, j) for i in ctx for j in ctx if i <= j < i + 5)
        assert span.score == pytest.approx(best[0], abs=1e-6)
        assert span.null == pytest.approx(start[row, 0] + end[row, 0], abs=1e-6)
        offs = enc.offsets[row]
        assert span.text == windows[row][offs[best[1]][0]:offs[best[2]][1]]


def test_a_long_question_is_cut_so_that_the_window_keeps_room(tok):
    question = "Which " + " ".join(["river"] * 200) + "?"
    enc = R.encode(tok, question, [TEXT])
    assert enc.context[0].sum() > 40


@pytest.mark.integration
def test_the_shipped_reader_finds_the_answer_span_and_no_answer_where_there_is_none():
    reader = R.load_reader()
    spans = reader.read("How long is the Rhine?", ["The Rhine is 1,230 km long and ends in the North Sea.",
                                                     "Cargo ships carry coal and grain on the Rhine."])
    assert spans[0].text.startswith("1,230 km")
    assert spans[0].margin > reader.null_threshold > spans[1].margin


@pytest.mark.integration
def test_a_damaged_or_replaced_reader_file_is_refused_with_a_clear_error(tmp_path):
    copy = tmp_path / "reader"
    shutil.copytree(R.DEFAULT_READER, copy)
    with open(copy / R.ONNX_FILE, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\0\0\0\0")
    with pytest.raises(ModelError, match="sha256"):
        R.Reader(copy)
    record = json.loads((copy / R.RECORD_FILE).read_text())
    (copy / R.RECORD_FILE).write_text(json.dumps({**record, "format": 0}))
    with pytest.raises(ModelError, match="format"):
        R.Reader(copy)
