"""The citation check of a generated answer: every kept sentence is supported by what it cites.

The common marker forms a model writes (``[1]``, ``(1)``, ``[Passage 1]``, ``[^1]``, ``【1】``)
are read as ``[1]``; list numbers and lead-ins ("The answer is:") are removed. Markers that
name no passage are removed; each sentence is judged by the support checker against the
passages it cites (their texts joined); an unsupported one is re-cited to another passage
that supports it, else dropped or flagged; an uncited one gets the citation of a passage that
supports it, or is dropped. A sentence that says nothing beyond the question, or is
unfinished, is dropped. Every change is recorded, one dict per sentence, for
``Answer.verification``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from index import IndexStore
from index.ingest.sentences import split_sentences

from .. import text as T
from ..answer.draft import Draft, DraftSentence, Support
from ..answer.qtypes import QuestionType, answer_items, classify, item_terms
from ..generate.prompt import REFUSAL
from ..records import Citation, Passage
from .support import SupportChecker, strip_markers

_MARKERS = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+")
_END = re.compile(r"[.!?][\"'\u201d\u2019)]*$")
# Marker forms small models write instead of [n]: (1), [Passage 1], [Source 1], [^1], 【1】.
_MARKER_FORMS = (
    re.compile(r"\[\s*(?:passage|source|article|doc(?:ument)?)s?\s*(\d{1,2}(?:\s*(?:,|;|and)\s*\d{1,2})*)\s*\]",
               re.IGNORECASE),
    re.compile(r"\(\s*(?:passage|source|article)s?\s*(\d{1,2}(?:\s*[,;]\s*\d{1,2})*)\s*\)", re.IGNORECASE),
    re.compile(r"\[\^(\d{1,2})\]"),
    re.compile(r"\u3010\s*(\d{1,2})\s*\u3011"),
    re.compile(r"(?<=[\w.!?\"'\u201d])\s*\((\d{1,2}(?:\s*,\s*\d{1,2})*)\)(?=\s|$|[.,;:!?])"),
)
# A list number or bullet opening a line: "1. ", "2) ", "- ", "* ".
_LIST_ITEM = re.compile(r"(?m)^\s*(?:\d{1,2}[.)]|[-*\u2022])\s+")
# Lead-ins that announce an answer rather than state one.
_LEAD_IN = re.compile(
    r"^(?:(?:the|my|final|short)\s+)?answer(?:\s+to\s+(?:the|this|your)\s+question)?(?:\s+is)?\s*[:\-]\s*|"
    r"^the answer(?:\s+to\s+(?:the|this|your)\s+question)? is\s+|"
    r"^(?:based on|according to|from)\s+(?:the\s+)?(?:given\s+|provided\s+)?(?:passages?|articles?|context|sources?|"
    r"text)\s*,?\s*|"
    r"^(?:the|this|that)\s+(?:article|passage|text|report|source)s?\s+(?:also\s+)?(?:states?|says?|mentions?|notes?|"
    r"reports?|explains?|indicates?|suggests?|reveals?|shows?)\s+(?:that\s+)?", re.IGNORECASE)
# "The articles don't say." and the ways a model rephrases it, singular or plural.
_REFUSAL = re.compile(
    r"\b(?:articles?|passages?|sources?|text|context|reports?)\s+(?:don'?t|do not|does not|doesn'?t|did not|"
    r"didn'?t)\s+(?:say|mention|state|contain|answer|give|provide|specify|include|tell)|"
    r"\b(?:is|are)\s+not\s+(?:mentioned|stated|given|specified)\s+in\s+the\s+(?:articles?|passages?|sources?|text)|"
    r"\bno\s+information\s+(?:about|on|regarding)\b|\bI\s+(?:don'?t|do not|cannot|can'?t)\s+(?:know|find|answer)",
    re.IGNORECASE)
# Words that stand in for the answer without giving it.
_GENERIC = frozenset(T.stem(w) for w in """person people one ones man men woman women name names named thing things
    someone somebody something individual answer question passage passages article articles""".split())
# A rephrasing of the selector's best sentence keeps at least this share of what that sentence
# says beyond the question, or it has lost the answer ("The passage discusses the ground water
# level" for "...the ground water level fell significantly"). Chosen on 600 questions of the
# SQuAD training file by eval/keep.py (its docstring has the commands), checked on Rhine.
KEEP_SHARE = 0.7
# An unfinished sentence ends in a joining mark or word.
_DANGLING = re.compile(r"(?:[:,;(\-\u2013\u2014]|\b(?:and|or|but|the|a|an|of|to|in|on|at|by|for|with|from|"
                       r"were|was|is|are|as|that|which|who|including|include|includes))$", re.IGNORECASE)


@dataclass
class VerifiedDraft(Draft):
    """A Draft with the record of what the citation check changed."""

    verification: list[dict[str, Any]] = field(default_factory=list)
    written_by: str | None = None  # the model whose sentences the answer is (None: quoted)


@dataclass
class GeneratedSentence:
    text: str  # without its markers
    markers: list[int]  # as written, in order, repeats removed
    complete: bool  # ends in sentence punctuation or carries a marker


def normalise_markers(text: str) -> str:
    """Other marker forms as ``[n]``, and list numbers and bullets removed."""
    for form in _MARKER_FORMS:
        text = form.sub(lambda m: "[" + re.sub(r"\s*(?:;|and)\s*", ",", m.group(1)) + "]", text)
    return _LIST_ITEM.sub("", text)


def parse_generated(text: str) -> list[GeneratedSentence]:
    """The sentences of generated text with the ``[n]`` markers each one carries.

    Markers that open a sentence ("... Iran. [2] Next") belong to the sentence before it.
    """
    # A marker followed by a capital ends its sentence, whatever punctuation is missing.
    text = re.sub(r"(\])[ \t]+(?=[A-Z\u201c\"])", r"\1\n", normalise_markers(text))
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
        clean = _LEAD_IN.sub("", re.sub(r"\s+([.,;:!?])", r"\1", strip_markers(piece)).strip())
        if re.fullmatch(r"\W*\d{0,2}\W*", clean):  # nothing but a list number or punctuation
            continue
        clean = clean[0].upper() + clean[1:]
        complete = bool(_END.search(clean) or (markers and not _DANGLING.search(clean)))
        out.append(GeneratedSentence(clean, list(dict.fromkeys(markers)), complete))
    return out


def restates(sentence: str, question: str) -> bool:
    """The sentence says nothing the question does not ("The person who met Arouri is Arouri.")."""
    said = set(T.content_terms(sentence)) - _GENERIC
    return bool(question) and said <= set(T.content_terms(question))


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

    def verify(self, generated: str, passages: Sequence[Passage], question: str = "",
               expected: Sequence[str] = (), anchor: Support | None = None) -> VerifiedDraft:
        """The checked draft; ``passages[i]`` is the one the model saw as ``[i + 1]``.

        ``expected``: for a typed question, the answers (names, dates, figures) the answer
        selector chose; a sentence giving none of them picks another answer and is dropped.
        ``anchor``: the sentence the selector ranks best; the answer's first sentence must
        restate it (a later one may add to it), not another sentence of the passages, and,
        for an open question, keep at least ``KEEP_SHARE`` of what it says beyond the question.
        The draft has no sentence, and is not a refusal, when nothing generated is supported.
        """
        records: list[dict[str, Any]] = []
        kept: list[DraftSentence] = []
        refused = supported_any = False
        seen: set[str] = set()
        sentences = parse_generated(generated)
        qtype = classify(question) if question else QuestionType("open")
        for sentence in sentences:
            if is_refusal(sentence.text):
                refused = True
                records.append(_record(sentence, [], None, "refused", "the model said the articles don't say"))
                continue
            if sentence.text.lower() in seen:
                records.append(_record(sentence, [], None, "dropped", "repeats an earlier sentence"))
                continue
            seen.add(sentence.text.lower())
            if not sentence.complete:
                records.append(_record(sentence, [], None, "dropped", "unfinished sentence"))
                continue
            if restates(sentence.text, question):
                records.append(_record(sentence, [], None, "dropped", "says nothing beyond the question"))
                continue
            items = answer_items(sentence.text, qtype, question) if qtype.typed else []
            if qtype.typed and not items:
                # "The adviser for international affairs is Khamenei." names only whom the question names.
                records.append(_record(sentence, [], None, "dropped", f"gives no {qtype.kind} the question asks for"))
                continue
            record, cited = self._check(sentence, passages)
            if record["supported"] and expected and not item_terms(items) & item_terms(expected):
                # True to its passage, but another answer than the selector chose.
                record, cited = _record(sentence, [], record["supported"], "dropped",
                                        f"gives another {qtype.kind} than the selected passages"), []
            supports = [self._support(sentence.text, p) for p in cited]
            if supports and anchor is not None and not kept and not any(_same_span(s, anchor) for s in supports):
                record, supports = _record(sentence, [], record["supported"], "dropped",
                                           "restates another sentence than the selector's best"), []
            elif supports and anchor is not None and not kept and not qtype.typed and (
                    share := kept_share(sentence.text, self._text(anchor), question)) < KEEP_SHARE:
                # A typed answer is held by its name, date or figure; an open one by its content.
                record, supports = _record(sentence, [], record["supported"], "dropped",
                                           f"keeps {share:.0%} of what the selector's best sentence says"), []
            records.append(record)
            if supports:
                kept.append(DraftSentence(sentence.text, supports))
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
            # A true sentence with the wrong number: cited to the passage that says it.
            if (other := self._best_support(sentence.text, passages, exclude=valid)) is not None:
                notes.append(f"passage [{other}] supports it")
                return _record(sentence, [other], True, "recited", "; ".join(notes), [passages[other - 1]]), [
                    passages[other - 1]]
            if self.policy == "flag":
                return _record(sentence, valid, judgement.supported, "flagged", "; ".join(notes), cited), cited
            return _record(sentence, [], judgement.supported, "dropped", "; ".join(notes)), []
        # Uncited (or only out-of-range markers): cite the passage that supports it best, if any.
        best = self._best_support(sentence.text, passages)
        if best is None:
            notes.append("uncited, and no passage supports it")
            return _record(sentence, [], False, "dropped", "; ".join(notes)), []
        notes.append(f"uncited; passage [{best}] supports it")
        cited = [passages[best - 1]]
        return _record(sentence, [best], True, "cited_added", "; ".join(notes), cited), cited

    def _text(self, span: Support) -> str:
        return self.store.docs[span.doc_id].text[span.start:span.end]

    def _best_support(self, claim: str, passages: Sequence[Passage], exclude: Sequence[int] = ()) -> int | None:
        """The number of the passage that supports ``claim`` best, if any does."""
        best: tuple[float, int] | None = None
        for number, passage in enumerate(passages, start=1):
            if number in exclude:
                continue
            judgement = self.checker.check(claim, passage.text)
            if judgement.supported and (best is None or judgement.score > best[0]):
                best = (judgement.score, number)
        return None if best is None else best[1]

    def _support(self, claim: str, passage: Passage) -> Support:
        """The sentence of ``passage`` that best supports ``claim``, as the citation's quote."""
        chunk = self.store.chunk(passage.chunk_id)
        doc = self.store.docs[chunk.doc_id]
        best_i, best_score = chunk.first_sentence, -1.0
        for i in range(chunk.first_sentence, chunk.last_sentence):
            score = self.checker.check(claim, doc.sentence(i)).score
            if score > best_score:
                best_i, best_score = i, score
        start, end = doc.sentences[best_i]
        return Support(chunk.chunk_id, doc.doc_id, start, end)


def kept_share(sentence: str, anchor: str, question: str) -> float:
    """The share of ``anchor``'s content terms beyond the question that ``sentence`` keeps
    (1.0 when the anchor says nothing beyond the question)."""
    asked = set(T.content_terms(question))
    beyond = [t for t in dict.fromkeys(T.content_terms(anchor)) if t not in asked]
    said = set(T.content_terms(sentence))
    return sum(t in said for t in beyond) / len(beyond) if beyond else 1.0


def _same_span(support: Support, anchor: Support) -> bool:
    """Whether ``support`` quotes the sentence ``anchor`` quotes (or a span around it)."""
    return support.doc_id == anchor.doc_id and support.start <= anchor.start < support.end


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
