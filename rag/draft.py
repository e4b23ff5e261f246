"""What an answerer returns, and how it becomes answer text with numbered citations."""

from __future__ import annotations

from dataclasses import dataclass, field

from index import IndexStore

from .records import Citation, Passage


@dataclass(frozen=True)
class Support:
    """A supporting span: sentence(s) ``start:end`` of a document, inside passage ``chunk_id``."""

    chunk_id: str
    doc_id: str
    start: int
    end: int


@dataclass
class DraftSentence:
    text: str
    supports: list[Support]


@dataclass
class Draft:
    """Sentences with their supports, or a refusal line with an optional closest passage."""

    sentences: list[DraftSentence] = field(default_factory=list)
    refused: bool = False
    refusal: str = ""
    closest: Support | None = None


def compose(draft: Draft, store: IndexStore, passages: list[Passage]) -> tuple[str, list[Citation]]:
    """Answer text with ``[n]`` after each sentence, and one citation per cited passage.

    Markers are numbered in order of first use; a passage cited by several sentences keeps one
    marker, and its quote spans the sentences it supports.
    """
    chunk_by_id = {c.chunk_id: c for c in store.chunks}
    order: list[str] = []
    spans: dict[str, tuple[int, int]] = {}

    def mark(support: Support) -> int:
        if support.chunk_id not in spans:
            order.append(support.chunk_id)
            spans[support.chunk_id] = (support.start, support.end)
        else:
            start, end = spans[support.chunk_id]
            spans[support.chunk_id] = (min(start, support.start), max(end, support.end))
        return order.index(support.chunk_id) + 1

    if draft.refused:
        text = draft.refusal
        if draft.closest is not None:
            text += f" The closest related passage is [{mark(draft.closest)}]."
    else:
        parts = []
        for sentence in draft.sentences:
            markers = sorted({mark(s) for s in sentence.supports})
            parts.append(sentence.text + " " + "".join(f"[{m}]" for m in markers))
        text = " ".join(parts)

    citations = []
    for marker, chunk_id in enumerate(order, start=1):
        chunk = chunk_by_id[chunk_id]
        doc = store.docs[chunk.doc_id]
        start, end = spans[chunk_id]
        citations.append(Citation(marker, doc.doc_id, doc.title, doc.date, chunk_id, chunk.text,
                                  doc.text[start:end], start, end))
    return text, citations
