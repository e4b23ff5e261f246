"""The citation check of a generated answer: every kept sentence is supported by what it cites.

Markers that name no passage are removed; each sentence is judged by the support checker
against the passages it cites (their texts joined); an unsupported one is dropped or flagged;
an uncited one gets the citation of a passage that supports it, or is dropped. Every change
is recorded, one dict per sentence, for ``Answer.verification``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from index import IndexStore
from index.sentences import split_sentences

from ..answer.draft import Draft, DraftSentence, Support
from ..generate.prompt import REFUSAL
from ..records import Citation, Passage
from .support import SupportChecker, strip_markers

_MARKERS = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+")
_END = re.compile(r"[.!?][\"'\u201d\u2019)]*$")
# "The articles don't say." and the ways a model rephrases it.
_REFUSAL = re.compile(r"\b(?:articles|passages|sources)\s+(?:don'?t|do not|does not|doesn'?t)\s+"
                      r"(?:say|mention|state|contain|answer|give)", re.IGNORECASE)


@dataclass
class VerifiedDraft(Draft):
    """A Draft with the record of what the citation check changed."""

    verification: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class GeneratedSentence:
    text: str  # without its markers
    markers: list[int]  # as written, in order, repeats removed
    complete: bool  # ends in sentence punctuation or carries a marker


def parse_generated(text: str) -> list[GeneratedSentence]:
    """The sentences of generated text with the ``[n]`` markers each one carries.

    Markers that open a sentence ("... Iran. [2] Next") belong to the sentence before it.
    """
    raw: list[list[Any]] = []  # [text, markers]
    for start, end in split_sentences(text):
        piece = text[start:end]
        lead = _LEADING_MARKERS.match(piece)
        if lead and raw:
            raw[-1][1].extend(_numbers(lead.group()))
            piece = piece[lead.end():]
        raw.append([piece, _numbers(piece)])
    out = []
    for piece, markers in raw:
        clean = re.sub(r"\s+([.,;:!?])", r"\1", strip_markers(piece)).strip()
        if clean:
            out.append(GeneratedSentence(clean, list(dict.fromkeys(markers)), bool(_END.search(clean) or markers)))
    return out


def _numbers(text: str) -> list[int]:
    return [int(n) for group in _MARKERS.findall(text) for n in re.split(r"\s*[,;]\s*", group)]


def is_refusal(sentence: str) -> bool:
    """Does the sentence say that the articles do not answer?"""
    return bool(_REFUSAL.search(sentence.replace("\u2019", "'")))


class CitationVerifier:
    """Checks a generated answer's citations against the passages it was given."""

    def __init__(self, store: IndexStore, checker: SupportChecker, policy: str = "drop"):
        if policy not in ("drop", "flag"):
            raise ValueError(f"policy must be 'drop' or 'flag', got {policy!r}")
        self.store = store
        self.checker = checker
        self.policy = policy
        self._chunks = {c.chunk_id: c for c in store.chunks}

    def verify(self, generated: str, passages: Sequence[Passage]) -> VerifiedDraft:
        """The checked draft; ``passages[i]`` is the one the model saw as ``[i + 1]``.

        The draft has no sentence, and is not a refusal, when nothing generated is supported.
        """
        records: list[dict[str, Any]] = []
        kept: list[DraftSentence] = []
        refused = supported_any = False
        seen: set[str] = set()
        sentences = parse_generated(generated)
        for i, sentence in enumerate(sentences):
            if is_refusal(sentence.text):
                refused = True
                records.append(_record(sentence, [], None, "refused", "the model said the articles don't say"))
                continue
            if sentence.text.lower() in seen:
                records.append(_record(sentence, [], None, "dropped", "repeats an earlier sentence"))
                continue
            seen.add(sentence.text.lower())
            if not sentence.complete and i == len(sentences) - 1:
                records.append(_record(sentence, [], None, "dropped", "unfinished: generation stopped mid-sentence"))
                continue
            record, cited = self._check(sentence, passages)
            records.append(record)
            if cited:
                kept.append(DraftSentence(sentence.text, [self._support(sentence.text, p) for p in cited]))
                supported_any |= bool(record["supported"])
        if not supported_any:
            for record in records:
                if record["action"] == "flagged":  # nothing to keep it company: the answer is replaced
                    record.update(action="dropped", markers_after=[], chunks_after=[],
                                  reason=record["reason"] + "; no generated sentence is supported")
            refusal = REFUSAL if refused else ""
            return VerifiedDraft(refused=refused, refusal=refusal, verification=records)
        # A refusal sentence beside supported ones is the model hedging: the supported ones stand.
        for record in records:
            if record["action"] == "refused":
                record.update(action="dropped", reason="a refusal beside supported sentences")
        return VerifiedDraft(sentences=kept, verification=records)

    def _check(self, sentence: GeneratedSentence, passages: Sequence[Passage]) -> tuple[dict[str, Any], list[Passage]]:
        """The record for one sentence and the passages it ends up citing (none: dropped)."""
        valid = [m for m in sentence.markers if 1 <= m <= len(passages)]
        removed = [m for m in sentence.markers if m not in valid]
        notes = [f"marker(s) {', '.join(f'[{m}]' for m in removed)} name no passage"] if removed else []
        if valid:
            cited = [passages[m - 1] for m in valid]
            judgement = self.checker.check(sentence.text, "\n".join(p.text for p in cited))
            notes.append(judgement.reason)
            if judgement.supported:
                action = "marker_removed" if removed else "kept"
                return _record(sentence, valid, True, action, "; ".join(notes), cited), cited
            if self.policy == "flag":
                return _record(sentence, valid, judgement.supported, "flagged", "; ".join(notes), cited), cited
            return _record(sentence, [], judgement.supported, "dropped", "; ".join(notes)), []
        # Uncited (or only out-of-range markers): cite the passage that supports it best, if any.
        best: tuple[float, int] | None = None
        for number, passage in enumerate(passages, start=1):
            judgement = self.checker.check(sentence.text, passage.text)
            if judgement.supported and (best is None or judgement.score > best[0]):
                best = (judgement.score, number)
        if best is None:
            notes.append("uncited, and no passage supports it")
            return _record(sentence, [], False, "dropped", "; ".join(notes)), []
        notes.append(f"uncited; passage [{best[1]}] supports it")
        cited = [passages[best[1] - 1]]
        return _record(sentence, [best[1]], True, "cited_added", "; ".join(notes), cited), cited

    def _support(self, claim: str, passage: Passage) -> Support:
        """The sentence of ``passage`` that best supports ``claim``, as the citation's quote."""
        chunk = self._chunks[passage.chunk_id]
        doc = self.store.docs[chunk.doc_id]
        best_i, best_score = chunk.first_sentence, -1.0
        for i in range(chunk.first_sentence, chunk.last_sentence):
            score = self.checker.check(claim, doc.sentence(i)).score
            if score > best_score:
                best_i, best_score = i, score
        start, end = doc.sentences[best_i]
        return Support(chunk.chunk_id, doc.doc_id, start, end)


def _record(sentence: GeneratedSentence, markers_after: list[int], supported: bool | None, action: str,
            reason: str, cited: Sequence[Passage] = ()) -> dict[str, Any]:
    # chunks_after is internal: number_records turns it into the answer's own markers.
    return {"text": sentence.text, "markers_before": sentence.markers, "markers_after": markers_after,
            "chunks_after": [p.chunk_id for p in cited], "supported": supported, "action": action,
            "reason": reason}


def number_records(records: Sequence[dict[str, Any]], citations: Sequence[Citation]) -> list[dict[str, Any]]:
    """The records with ``markers_after`` renumbered as the composed answer numbers them."""
    marker_of = {c.chunk_id: c.marker for c in citations}
    out = []
    for record in records:
        record = dict(record)
        chunks = record.pop("chunks_after", [])
        record["markers_after"] = sorted({marker_of[c] for c in chunks if c in marker_of})
        out.append(record)
    return out
