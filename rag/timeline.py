"""A story's timeline: the reports on a question in publication order, each with the sentence
of it that best answers (as the answer selector ranks them), undated reports apart.

    >>> for entry in bot.timeline("Hamas delegation visit to Tehran").dated:
    ...     print(entry.date, entry.title, entry.sentence)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .chatbot import Chatbot


@dataclass(frozen=True)
class TimelineEntry:
    """One report: its source, headline and date, and its sentence that best matches."""

    source: str
    title: str
    date: str | None
    sentence: str
    chunk_id: str  # the retrieved passage holding the sentence
    start: int  # the sentence's offsets in the cleaned document, as citations give them
    end: int
    passage: str  # that passage's text
    score: float  # the selector's probability that the sentence answers


@dataclass
class Timeline:
    """The dated reports oldest first, then the undated ones (best match first)."""

    query: str
    dated: list[TimelineEntry] = field(default_factory=list)
    undated: list[TimelineEntry] = field(default_factory=list)
    period: dict[str, Any] | None = None  # as an answer's: the publication period kept to

    def to_json(self) -> dict[str, Any]:
        """The object `rag timeline --json` prints."""
        drop = {"passage"}
        out = {"query": self.query,
               "dated": [{k: v for k, v in asdict(e).items() if k not in drop} for e in self.dated],
               "undated": [{k: v for k, v in asdict(e).items() if k not in drop} for e in self.undated]}
        if self.period is not None:
            out["period"] = self.period
        return out


def build_timeline(bot: Chatbot, query: str, k: int | None = None, since: str | None = None,
                   until: str | None = None) -> Timeline:
    """The timeline of the reports ``bot`` retrieves for ``query`` (``k`` passages; default
    twice the bot's top_k, since a timeline wants every report, not the best few), kept to
    a publication period as ``ask`` keeps to one (``since``/``until``, or one the query
    names). Raises ValueError for an empty or over-long query, or a malformed date."""
    period = bot._period(query, since, until)
    turn = bot._retrieve(query, None, k or 2 * bot.config.top_k, None, None, period)
    # The extractive answerer scores sentences; the generative one keeps an extractive one.
    scorer = bot.answerer if hasattr(bot.answerer, "score") else bot.answerer.selector
    scored = scorer.score(turn.query, turn.passages)
    passages = {p.chunk_id: p for p in turn.passages}
    best: dict[str, TimelineEntry] = {}
    for cand in scored.candidates:  # best first
        if cand.doc_id in best:
            continue
        doc = bot.store.docs[cand.doc_id]
        best[cand.doc_id] = TimelineEntry(cand.doc_id, doc.title, doc.date, cand.text, cand.chunk_id, cand.start,
                                          cand.end, passages[cand.chunk_id].text if cand.chunk_id in passages
                                          else "", round(float(cand.probability), 4))
    entries = list(best.values())
    dated = sorted((e for e in entries if e.date), key=lambda e: (e.date, -e.score, e.source))
    undated = [e for e in entries if not e.date]
    return Timeline(turn.question, dated, undated, period.said if period else None)
