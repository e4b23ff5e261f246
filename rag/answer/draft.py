"""What an answerer returns, and how it becomes answer text with numbered citations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from index import IndexStore

from ..records import CONFLICT_LEAD, UNCERTAIN_LEAD, Citation, Passage


@dataclass(frozen=True)
class Support:
    """A supporting span: sentence(s) ``start:end`` of a document, inside passage ``chunk_id``."""

    chunk_id: str
    doc_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Short:
    """The short answer: ``text`` at ``start:end`` of a document, inside the sentence ``sentence``."""

    text: str
    sentence: Support
    start: int
    end: int


@dataclass
class DraftSentence:
    text: str
    supports: list[Support]


@dataclass
class DraftConflict:
    """Accounts of different documents that answer the question incompatibly; each claim is
    also one of the draft's sentences."""

    kind: str  # "polarity" (did / did not) or "value" (different names or figures)
    claims: list[DraftSentence]


@dataclass
class Draft:
    """Sentences with their supports, or a refusal line with an optional closest passage."""

    sentences: list[DraftSentence] = field(default_factory=list)
    refused: bool = False
    refusal: str = ""
    closest: Support | None = None
    conflicts: list[DraftConflict] = field(default_factory=list)
    # The refusal model's probability that the question is answerable from the passages.
    confidence: float | None = None
    # Answerable, but not confidently: the sentences are the closest the articles come.
    uncertain: bool = False
    short: Short | None = None  # the reader's span in the first sentence
    lead: str = ""  # what the answer opens with, where it says which report it comes from

    @property
    def status(self) -> str:
        return "refused" if self.refused else "uncertain" if self.uncertain else "answered"


class Composed(NamedTuple):
    text: str
    citations: list[Citation]
    conflicts: list[dict[str, Any]]
    short: dict[str, Any] | None  # {text, marker, start, end}: offsets inside that citation's quote


def compose(draft: Draft, store: IndexStore, passages: list[Passage]) -> Composed:
    """Answer text with ``[n]`` after each sentence, one citation per cited passage, the
    conflicts as ``{kind, claims: [{text, markers, source}]}`` and the short answer.

    Markers are numbered in order of first use; a passage cited by several sentences keeps one
    marker, and its quote spans the sentences it supports. An answer with conflicting
    accounts opens with ``CONFLICT_LEAD``, an uncertain one with ``UNCERTAIN_LEAD``.
    """
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
        parts = [CONFLICT_LEAD] if draft.conflicts else [UNCERTAIN_LEAD] if draft.uncertain else []
        parts += [draft.lead] if draft.lead and not draft.conflicts else []
        markers: dict[int, list[int]] = {}
        for sentence in draft.sentences:
            markers[id(sentence)] = sorted({mark(s) for s in sentence.supports})
            parts.append(sentence.text + " " + "".join(f"[{m}]" for m in markers[id(sentence)]))
        text = " ".join(parts)

    citations = []
    for marker, chunk_id in enumerate(order, start=1):
        chunk = store.chunk(chunk_id)
        doc = store.docs[chunk.doc_id]
        start, end = spans[chunk_id]
        citations.append(Citation(marker, doc.doc_id, doc.title, doc.date, chunk_id, chunk.text,
                                  doc.text[start:end], start, end))
    conflicts = [{"kind": c.kind, "claims": [
        {"text": claim.text, "markers": markers[id(claim)], "source": claim.supports[0].doc_id}
        for claim in c.claims]} for c in draft.conflicts] if not draft.refused else []
    short = None
    if draft.short is not None and not draft.refused and draft.short.sentence.chunk_id in spans:
        marker = order.index(draft.short.sentence.chunk_id) + 1
        quote_start = spans[draft.short.sentence.chunk_id][0]
        short = {"text": draft.short.text, "marker": marker, "start": draft.short.start - quote_start,
                 "end": draft.short.end - quote_start}
    return Composed(text, citations, conflicts, short)
