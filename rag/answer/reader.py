"""The trained reader: the answer's span inside a window of text, and how sure it is that
the window answers at all.

A window is a sentence with its neighbours (the one before, then the one after, while they
fit): what the selector's candidates look like in context. Question and window are read
together by a MiniLM-L6 fine-tuned here (``rag train-reader``) with a span head; the span
scores are raw logits, so they mean the same in every window, and the no-answer ("null")
score is the span at the first token. Cutting text into windows and token offsets live here
once, for both training and question time (tested to give identical windows).

At question time the model runs as an int8 ONNX graph through ONNX Runtime on one thread,
no torch; its folder's record pins the graph's sha256, checked when it is opened.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import ModelError
from index.hashing import file_sha256

DEFAULT_READER = Path(__file__).resolve().parent / "data" / "reader"
ONNX_FILE = "reader.onnx"
RECORD_FILE = "reader.json"
FORMAT = 1  # bump when windows, inputs or outputs change meaning
# Question and window together, special tokens included: a news sentence with both
# neighbours fits (about 90 word pieces with a question).
WINDOW_TOKENS = 128
QUESTION_TOKENS = 48  # a longer question is cut: the window must keep room
MAX_ANSWER_TOKENS = 30


@dataclass(frozen=True)
class Window:
    """A stretch of a document the reader reads: sentences ``first..last`` at ``start:end``."""

    text: str
    start: int  # offsets in the document
    end: int
    first: int  # sentence indices, inclusive
    last: int


@dataclass(frozen=True)
class Span:
    """The reader's best span in a window, with offsets in the window's text."""

    score: float  # start logit + end logit of the span
    null: float  # the same at the first token: "this window does not answer"
    start: int
    end: int
    text: str

    @property
    def margin(self) -> float:
        """How much the span beats "no answer" in this window."""
        return self.score - self.null


def window_range(lengths: Sequence[int], center: int, budget: int) -> tuple[int, int]:
    """Sentence indices ``(first, last)`` of the window around ``center``: the sentence, then
    the one before and the one after in turn while they fit in ``budget`` tokens."""
    first = last = center
    used = lengths[center]
    grew = True
    while grew:
        grew = False
        if first > 0 and used + lengths[first - 1] <= budget and first > center - 1:
            first -= 1
            used += lengths[first]
            grew = True
        if last + 1 < len(lengths) and used + lengths[last + 1] <= budget and last < center + 1:
            last += 1
            used += lengths[last]
            grew = True
    return first, last


def make_window(text: str, sentences: Sequence[tuple[int, int]], lengths: Sequence[int], center: int,
                question_tokens: int, window_tokens: int = WINDOW_TOKENS) -> Window:
    """The window around sentence ``center`` of a document (``sentences`` are its spans,
    ``lengths`` their word pieces) for a question of ``question_tokens`` word pieces."""
    budget = window_tokens - 3 - min(question_tokens, QUESTION_TOKENS)
    first, last = window_range(lengths, center, budget)
    start, end = sentences[first][0], sentences[last][1]
    return Window(text[start:end], start, end, first, last)


@dataclass(frozen=True)
class WindowTokenizer:
    """The MiniLM ``tokenizer.json`` twice: for (question, window) pairs, where only the window
    is ever truncated and nothing is padded (batches pad themselves), and for counting."""

    pairs: Any
    plain: Any


@lru_cache(maxsize=4)
def load_tokenizer(path: str, window_tokens: int = WINDOW_TOKENS) -> WindowTokenizer:
    """The tokenizer in ``path`` set up for windows of ``window_tokens``."""
    from tokenizers import Tokenizer

    pairs = Tokenizer.from_file(str(path))
    pairs.enable_truncation(window_tokens, strategy="only_second")
    pairs.no_padding()
    plain = Tokenizer.from_file(str(path))
    plain.no_truncation()
    plain.no_padding()
    return WindowTokenizer(pairs, plain)


def clip_question(tokenizer: WindowTokenizer, question: str) -> str:
    """The question, cut to ``QUESTION_TOKENS`` word pieces (a window must keep room)."""
    enc = tokenizer.plain.encode(question, add_special_tokens=False)
    if len(enc.ids) <= QUESTION_TOKENS:
        return question
    return question[:enc.offsets[QUESTION_TOKENS - 1][1]]


def count_tokens(tokenizer: WindowTokenizer, texts: Sequence[str]) -> list[int]:
    """Word pieces in each of ``texts``, without special tokens."""
    return [len(e.ids) for e in tokenizer.plain.encode_batch(list(texts), add_special_tokens=False)] if texts else []


@dataclass
class Encoded:
    """A padded batch of (question, window) pairs, with each token's window offsets."""

    ids: np.ndarray
    mask: np.ndarray
    types: np.ndarray
    offsets: list[list[tuple[int, int]]]
    context: np.ndarray  # True where a token belongs to the window

    def feeds(self) -> dict[str, np.ndarray]:
        return {"input_ids": self.ids, "attention_mask": self.mask, "token_type_ids": self.types}


def encode(tokenizer: WindowTokenizer, question: str, windows: Sequence[str]) -> Encoded:
    """Tokenize the pairs, padded to the longest; offsets index each window's text."""
    question = clip_question(tokenizer, question)
    encs = tokenizer.pairs.encode_batch([(question, w) for w in windows])
    width = max((len(e.ids) for e in encs), default=0)
    n = len(encs)
    ids = np.zeros((n, width), dtype=np.int64)
    mask = np.zeros((n, width), dtype=np.int64)
    types = np.zeros((n, width), dtype=np.int64)
    context = np.zeros((n, width), dtype=bool)
    offsets = []
    for i, e in enumerate(encs):
        k = len(e.ids)
        ids[i, :k], mask[i, :k], types[i, :k] = e.ids, e.attention_mask, e.type_ids
        context[i, :k] = [s == 1 for s in e.sequence_ids]
        offsets.append(list(e.offsets))
    return Encoded(ids, mask, types, offsets, context)


def answer_tokens(enc: Encoded, row: int, start_char: int, end_char: int) -> tuple[int, int]:
    """Token indices of the answer ``start_char:end_char`` of window ``row``; ``(0, 0)`` (the
    null answer) when the window does not hold it whole."""
    ctx = np.flatnonzero(enc.context[row])
    if not len(ctx):
        return 0, 0
    offs = enc.offsets[row]
    if offs[ctx[0]][0] > start_char or offs[ctx[-1]][1] < end_char:
        return 0, 0  # cut off: labelled "no answer", never a partial span
    first = next(t for t in ctx if offs[t][1] > start_char)
    last = next(t for t in reversed(ctx) if offs[t][0] < end_char)
    return (int(first), int(last)) if first <= last else (0, 0)


def best_spans(start: np.ndarray, end: np.ndarray, enc: Encoded, windows: Sequence[str],
               max_answer_tokens: int = MAX_ANSWER_TOKENS) -> list[Span]:
    """Each window's best span (end >= start, at most ``max_answer_tokens`` long, inside the
    window) with its null score."""
    out = []
    for row, text in enumerate(windows):
        ctx = np.flatnonzero(enc.context[row])
        null = float(start[row, 0] + end[row, 0])
        if not len(ctx):
            out.append(Span(-np.inf, null, 0, 0, ""))
            continue
        s, e = start[row, ctx], end[row, ctx]
        grid = s[:, None] + e[None, :]
        i, j = np.indices(grid.shape)
        grid = np.where((j >= i) & (j - i < max_answer_tokens), grid, -np.inf)
        a, b = np.unravel_index(int(np.argmax(grid)), grid.shape)
        offs = enc.offsets[row]
        lo, hi = offs[ctx[a]][0], offs[ctx[b]][1]
        out.append(Span(float(grid[a, b]), null, lo, hi, text[lo:hi]))
    return out


def read_record(folder: Path) -> dict[str, Any]:
    """The reader folder's record; ModelError when it is missing or of another format."""
    try:
        record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the reader's record {folder / RECORD_FILE}: {exc}") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ModelError(f"{folder / RECORD_FILE} is of another format than this code reads ({FORMAT})")
    return record


class Reader:
    """Reads windows with the shipped (or a given) reader folder: ONNX Runtime, one thread.

    Raises ModelError when the folder is incomplete or its graph's sha256 differs from the record.
    """

    def __init__(self, folder: Path = DEFAULT_READER, tokenizer_file: Path | None = None, threads: int = 1):
        import onnxruntime as ort

        folder = Path(folder)
        self.record = read_record(folder)
        graph = folder / ONNX_FILE
        if not graph.is_file():
            raise ModelError(f"the reader's graph {graph} is missing")
        actual = file_sha256(graph)
        if actual != self.record["onnx_sha256"]:
            raise ModelError(f"{graph} has sha256 {actual[:12]}…, its record pins "
                             f"{str(self.record['onnx_sha256'])[:12]}…: the file is damaged or was replaced")
        if tokenizer_file is None:
            from index.embed.embedder import default_model_dir

            tokenizer_file = default_model_dir() / "tokenizer.json"
        if file_sha256(tokenizer_file) != self.record["tokenizer_sha256"]:
            raise ModelError(f"{tokenizer_file} is not the tokenizer the reader was trained with")
        self.window_tokens = int(self.record["window_tokens"])
        self.max_answer_tokens = int(self.record["max_answer_tokens"])
        # The span-over-null margin above which a window answers, fitted on held-out windows.
        self.null_threshold = float(self.record["null_threshold"])
        self.tokenizer = load_tokenizer(str(tokenizer_file), self.window_tokens)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return count_tokens(self.tokenizer, texts)

    def read(self, question: str, windows: Sequence[str]) -> list[Span]:
        """The best span of each window, in the order given."""
        if not windows:
            return []
        enc = encode(self.tokenizer, question, windows)
        start, end = self._session.run(["start_logits", "end_logits"], enc.feeds())
        return best_spans(start, end, enc, windows, self.max_answer_tokens)


@lru_cache(maxsize=2)
def load_reader(folder: str | None = None, threads: int = 1) -> Reader:
    """The reader in ``folder`` (the shipped one by default), opened once per process."""
    return Reader(Path(folder) if folder else DEFAULT_READER, threads=threads)
