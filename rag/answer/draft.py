"""What an answerer returns, and how it becomes answer text with numbered citations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from index import IndexStore

from ..records import CONFLICT_LEAD, UNCERTAIN_LEAD, Citation, Passage, claim_lead


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

    sentences, leads = in_date_order(draft, store)
    place = {id(sentence): i for i, sentence in enumerate(sentences)}
    if draft.refused:
        text = draft.refusal
        if draft.closest is not None:
            text += f" The closest related passage is [{mark(draft.closest)}]."
    else:
        parts = [CONFLICT_LEAD] if draft.conflicts else [UNCERTAIN_LEAD] if draft.uncertain else []
        parts += [draft.lead] if draft.lead and not draft.conflicts else []
        markers: dict[int, list[int]] = {}
        for sentence in sentences:
            markers[id(sentence)] = sorted({mark(s) for s in sentence.supports})
            lead = f"{leads[id(sentence)][0]} " if id(sentence) in leads else ""
            parts.append(lead + sentence.text + " " + "".join(f"[{m}]" for m in markers[id(sentence)]))
        text = " ".join(parts)

    citations = []
    for marker, chunk_id in enumerate(order, start=1):
        chunk = store.chunk(chunk_id)
        doc = store.docs[chunk.doc_id]
        start, end = spans[chunk_id]
        citations.append(Citation(marker, doc.doc_id, doc.title, doc.date, chunk_id, chunk.text,
                                  doc.text[start:end], start, end))
    conflicts = [] if draft.refused else [{"kind": c.kind, "claims": [
        {"text": claim.text, "markers": markers[id(claim)], "source": claim.supports[0].doc_id,
         "date": store.docs[claim.supports[0].doc_id].date, "order": leads.get(id(claim), ("", None))[1]}
        for claim in sorted(c.claims, key=lambda x: place[id(x)])]} for c in draft.conflicts]
    short = None
    if draft.short is not None and not draft.refused and draft.short.sentence.chunk_id in spans:
        marker = order.index(draft.short.sentence.chunk_id) + 1
        quote_start = spans[draft.short.sentence.chunk_id][0]
        short = {"text": draft.short.text, "marker": marker, "start": draft.short.start - quote_start,
                 "end": draft.short.end - quote_start}
    return Composed(text, citations, conflicts, short)


def in_date_order(draft: Draft, store: IndexStore) -> tuple[list[DraftSentence], dict[int, tuple[str, str]]]:
    """The draft's sentences with each disagreement's accounts newest first, where they come
    from reports of different dates, and each account's lead and order ("later" or
    "earlier"), by ``id`` of the sentence. Accounts of one day or undated keep their order."""
    sentences, leads = list(draft.sentences), {}
    for conflict in draft.conflicts:
        dates = [store.docs[claim.supports[0].doc_id].date for claim in conflict.claims]
        if not all(dates) or len(set(dates)) < len(dates):
            continue
        where = {id(sentence): i for i, sentence in enumerate(sentences)}
        places = sorted(where[id(claim)] for claim in conflict.claims)
        newest = sorted(zip(dates, range(len(dates)), conflict.claims, strict=True), reverse=True)
        for rank, (place, (date, _, claim)) in enumerate(zip(places, newest, strict=True)):
            sentences[place] = claim
            leads[id(claim)] = (claim_lead(rank, len(newest), str(date)), "later" if rank == 0 else "earlier")
    return sentences, leads
