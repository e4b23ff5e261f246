"""The reader's part in choosing an answer: it reads the windows around the selector's best
candidates, and what it finds becomes signals for the second, stacked sentence model and
for the refusal model (both fitted by ``rag fit``).

A span the reader finds is credited to the sentence it lies in, which may be a neighbour of
the candidate whose window was read: the reader can point past a near miss to the sentence
that answers. A candidate no window covered keeps only the selector's own score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from index import IndexStore

from .features import Candidate, body_start
from .reader import Reader, Span, Window, make_window

# The stacked sentence model's inputs: the first model's logit, the margin (span score over
# the null score) of the best span found inside the sentence, whether any window covered
# the sentence, and how far its margin trails the best one found for the question.
READ_FEATURES = ("first_logit", "span_margin", "read", "span_gap")
# The refusal model's inputs from the reader: the best margin of any window read, and the
# margin inside the sentence the answer leads with.
READ_QUESTION_FEATURES = ("reader_best", "reader_first")
# The margin given a sentence in which no span was found: below what the reader gives a
# window it is sure does not answer.
NO_SPAN = -12.0


@dataclass(frozen=True)
class Found:
    """A span the reader found, in document offsets."""

    doc_id: str
    start: int
    end: int
    text: str
    margin: float  # span score over the window's null score
    score: float


@dataclass
class Reading:
    """What the reader found for one question's candidates."""

    spans: dict[int, Found] = field(default_factory=dict)  # candidate index -> best span inside it
    read: set[int] = field(default_factory=set)  # candidates some window covered
    windows: int = 0

    @property
    def best_margin(self) -> float:
        return max((f.margin for f in self.spans.values()), default=NO_SPAN)

    def question_row(self, first: int | None) -> np.ndarray:
        """READ_QUESTION_FEATURES, ``first`` being the candidate the answer leads with."""
        lead = self.spans[first].margin if first in self.spans else NO_SPAN
        return np.array([self.best_margin, lead], dtype=np.float32)

    def rows(self, first_logits: np.ndarray) -> np.ndarray:
        """One row of READ_FEATURES per candidate."""
        best = self.best_margin
        rows = np.zeros((len(first_logits), len(READ_FEATURES)), dtype=np.float32)
        for i, logit in enumerate(first_logits):
            margin = self.spans[i].margin if i in self.spans else NO_SPAN
            rows[i] = (logit, margin, float(i in self.read), margin - best)
        return rows


def read_candidates(reader: Reader, store: IndexStore, question: str, cands: Sequence[Candidate],
                    first_logits: np.ndarray, windows: int) -> Reading:
    """Read the windows around the best candidates (by ``first_logits``) until ``windows``
    distinct windows are read, and credit each window's best span to its sentence."""
    reading = Reading()
    if not len(cands) or windows < 1:
        return reading
    where = {(c.doc_id, c.index): i for i, c in enumerate(cands)}
    qlen = reader.count_tokens([question])[0]
    chosen: list[tuple[str, Window, int]] = []  # document, window, its first sentence's index
    seen: set[tuple[str, int, int]] = set()
    for i in np.argsort(-first_logits, kind="stable"):
        c = cands[int(i)]
        doc = store.docs[c.doc_id]
        # The headline is left out of the window, as it is of the candidates (the reader was
        # trained on body text, and would otherwise answer with the headline's words).
        lo, hi = max(body_start(doc), c.index - 1), min(len(doc.sentences), c.index + 2)
        spans = doc.sentences[lo:hi]
        lengths = reader.count_tokens([doc.text[a:b] for a, b in spans])
        w = make_window(doc.text, spans, lengths, c.index - lo, qlen, reader.window_tokens)
        key = (c.doc_id, lo + w.first, lo + w.last)
        if key in seen:
            continue
        seen.add(key)
        chosen.append((c.doc_id, w, lo))
        if len(chosen) >= windows:
            break
    found: list[Span] = reader.read(question, [w.text for _, w, _ in chosen])
    reading.windows = len(chosen)
    for (doc_id, w, lo), span in zip(chosen, found, strict=True):
        doc = store.docs[doc_id]
        for k in range(lo + w.first, lo + w.last + 1):
            if (doc_id, k) in where:
                reading.read.add(where[(doc_id, k)])
        if not span.text:
            continue
        start = w.start + span.start
        sentence = next((k for k in range(lo + w.first, lo + w.last + 1) if doc.sentences[k][0] <= start
                         < doc.sentences[k][1]), None)
        i = where.get((doc_id, sentence)) if sentence is not None else None
        if i is None:
            continue
        # A span is cut to its sentence, so that it lies inside the quote that cites it.
        end = min(w.start + span.end, doc.sentences[sentence][1])
        f = Found(doc_id, start, end, doc.text[start:end], span.margin, span.score)
        if i not in reading.spans or f.margin > reading.spans[i].margin:
            reading.spans[i] = f
    return reading
