"""Plain result objects of the question-answering path; they serialise to the CLI's JSON."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

# The first words of an answer that gives disagreeing reports side by side.
CONFLICT_LEAD = "Reports differ."
# ... and of an answer the models are unsure of (answerable, not confidently so).
UNCERTAIN_LEAD = "The articles may not answer this; the closest they come:"
# ... and of one that answers a question about the latest or the first report.
_MONTHS = ("January February March April May June July August September October November December").split()


def human_date(date: str) -> str:
    """2019-07-24 as "24 July 2019"."""
    year, month, day = (int(x) for x in date.split("-"))
    return f"{day} {_MONTHS[month - 1]} {year}"


def time_lead(kind: str, date: str, extreme: bool = True, undated: int = 0) -> str:
    """"As of 24 July 2019 (the most recent report):" or "In the first report (22 July 2019):";
    not ``extreme`` (a newer, or older, report was found that does not answer): "As of 24 July
    2019 (the most recent report that answers this):", "In the earliest report that answers
    this (22 July 2019):". ``undated``: reports of unknown date that also answer, said so
    ("…; 1 undated report also answers")."""
    human = human_date(date)
    also = f"; {undated} undated report{'s also answer' if undated != 1 else ' also answers'}" if undated else ""
    if kind == "latest":
        return f"As of {human} (the most recent report{'' if extreme else ' that answers this'}{also}):"
    return (f"In the first report ({human}{also}):" if extreme
            else f"In the earliest report that answers this ({human}{also}):")


def claim_lead(rank: int, of: int, date: str) -> str:
    """What an account of a disagreement opens with when the reports are of different dates,
    newest first: "The later report (8 March 2021):", then "An earlier report (5 March 2021):"."""
    newest = "The later report" if of == 2 else "The latest report"
    return f"{newest if rank == 0 else 'An earlier report'} ({human_date(date)}):"


_DAY = r"\(\d{1,2} \w+ \d{4}\)"
_LEADS = re.compile(r"^(?:" + "|".join(map(re.escape, (CONFLICT_LEAD, UNCERTAIN_LEAD))) +
                    rf"|As of \d{{1,2}} \w+ \d{{4}} \(the most recent report[^()]*\):"
                    rf"|In the (?:first report|earliest report that answers this) \(\d{{1,2}} \w+ \d{{4}}[^()]*\):"
                    rf"|(?:The later report|The latest report|An earlier report) {_DAY}:)\s*")


def strip_lead(text: str) -> str:
    """``text`` without the lead-ins it may open with (they claim nothing): "Reports differ."
    or the unsure lead, then a time lead or the date of a disagreement's account."""
    return _LEADS.sub("", _LEADS.sub("", text.strip(), count=1), count=1)


def describe_period(period: dict[str, Any]) -> str:
    """The publication period an answer kept to, in words: "Only reports published 2021-03-01
    to 2021-03-31 (the question's “in March 2021”); 2 undated reports left out." """
    if period.get("no_reports"):
        return (f"No report was published {period.get('since')} to {period.get('until') or 'now'} (the question's "
                f"“{period.get('asked')}”): the answer draws on reports of any date.")
    text = f"Only reports published {period.get('since') or 'any time'} to {period.get('until') or 'now'}"
    if period.get("asked"):
        text += f" (the question's “{period['asked']}”)"
    if n := period.get("undated_left_out"):
        text += f"; {n} undated report{'s' if n != 1 else ''} left out"
    return text + "."


@dataclass(frozen=True)
class Passage:
    """A retrieved passage, best first. ``score`` is the fused RRF score."""

    chunk_id: str
    source: str  # document path relative to the corpus folder
    title: str
    date: str | None
    text: str
    start: int  # offsets of the passage in the cleaned document
    end: int
    score: float
    dense_rank: int | None = None  # 1-based rank in each retriever, None when not retrieved
    bm25_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    """What an ``[n]`` marker points at: a passage, and the sentence(s) in it that support."""

    marker: int
    source: str
    title: str
    date: str | None
    chunk_id: str
    text: str  # the cited passage
    quote: str  # the supporting sentence(s), verbatim from the cleaned document
    start: int  # quote offsets in the cleaned document
    end: int


@dataclass
class Answer:
    """An answer whose every sentence ends in ``[n]`` markers, or a refusal."""

    question: str
    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    query: str = ""  # the question as used for retrieval (follow-ups resolved)
    id: str | None = None
    complete: bool = True  # False on the partial answers that ``stream`` yields
    # What the citation check did to a generated answer, one dict per generated sentence:
    # text, markers_before (as the model wrote them, numbered as in its prompt), markers_after
    # (as in ``text``), supported, action (kept, dropped, flagged, cited_added, marker_removed,
    # or refused / fallback for the answer as a whole) and reason. Empty for the extractive answerer.
    verification: list[dict[str, Any]] = field(default_factory=list)
    # Reports that disagree, each ``{kind, claims: [{text, markers, source}]}`` ("polarity":
    # one says it happened, the other that it did not; "value": different names or figures).
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    # How likely the refusal model found the question answerable from the passages (0..1);
    # the answer is refused below its fitted threshold. None when no model judged it.
    confidence: float | None = None
    # "answered", "uncertain" (the closest the articles come, shown as such) or "refused".
    status: str = "answered"
    # The reader's span inside the first sentence: {text, marker, start, end}, the offsets
    # inside that citation's quote. None when the reader found none there.
    short_answer: dict[str, Any] | None = None
    # The local model that wrote the answer's sentences (each checked against what it cites);
    # None when they are quoted from the articles.
    written_by: str | None = None
    # A publication period the answer was restricted to: {since, until, undated_left_out}, and
    # where the question named it, asked: its words; {since, until, asked, no_reports: True} when
    # no report was published in the period the question names (the answer draws on all).
    period: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object that ``rag ask --json`` prints."""
        out = {
            "id": self.id,
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "status": self.status,
            "short_answer": self.short_answer,
            "citations": [asdict(c) for c in self.citations],
            "conflicts": self.conflicts,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
        if self.period is not None:  # only when asked for a period
            out["period"] = self.period
        if self.verification:  # only generated answers have one; the extractive contract is unchanged
            out["verification"] = self.verification
            out["written_by"] = self.written_by
        return out
