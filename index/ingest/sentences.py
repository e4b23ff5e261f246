"""Sentence splitting with character offsets, robust to quotes and abbreviations.

pysbd's rule set handles abbreviations (U.S., Sept., Dr., Gen.) and most quotes; two repairs
follow it for the quote patterns news copy is full of: a closing quote pushed to the next
sentence, and an attribution ("Arouri said.") cut off from the quote it belongs to.
"""

from __future__ import annotations

import re
from functools import lru_cache

_CLOSERS = "\"'\u201d\u2019"
_ATTRIBUTION = re.compile(
    r"^[A-Z][\w.'\u2019 -]{0,40}\s(said|says|added|noted|wrote|continued|stated|told [\w .'\u2019-]{1,40})\.$"
)


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _raw_spans(paragraph: str) -> list[tuple[int, int]]:
    spans = []
    for span in _segmenter().segment(paragraph):
        start, end = span.start, span.end
        while start < end and paragraph[start].isspace():
            start += 1
        while end > start and paragraph[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def _repair(paragraph: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in spans:
        # A closing quote that opens this span belongs to the previous sentence.
        while out and start < end and paragraph[start] in _CLOSERS and paragraph[out[-1][1] - 1] in ".!?,":
            out[-1] = (out[-1][0], start + 1)
            start += 1
            while start < end and paragraph[start].isspace():
                start += 1
        if start >= end:
            continue
        text = paragraph[start:end]
        if out and _ATTRIBUTION.match(text) and paragraph[out[-1][1] - 1] in _CLOSERS:
            out[-1] = (out[-1][0], end)
            continue
        out.append((start, end))
    return out


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return (start, end) spans of the sentences of ``text``; paragraphs never share one."""
    spans: list[tuple[int, int]] = []
    for m in re.finditer(r"[^\n]+", text):
        offset = m.start()
        for start, end in _repair(m.group(), _raw_spans(m.group())):
            spans.append((offset + start, offset + end))
    return spans
