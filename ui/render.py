"""Answers, sources and the corpus as HTML: pure functions, no Gradio.

Every piece of corpus or model text (titles, passages, quotes, answer text, file names)
goes through ``esc`` before it is put in HTML: a document may hold ``<script>`` or
``<img onerror=...>`` and must show as text. The only markup is what this module writes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rag.records import Answer, Citation, Passage, describe_period, strip_lead

_MARKER = re.compile(r"\[(\d+)\]")
_TOOLTIP_CHARS = 400  # browsers cut long tooltips anyway


def esc(text: object) -> str:
    """HTML-escape text for element content and quoted attributes alike."""
    return html.escape("" if text is None else str(text), quote=True)


def source_id(turn: int, marker: int) -> str:
    """DOM id of a Sources panel entry; the turn keeps ids of different answers apart."""
    return f"src-{turn}-{marker}"


def clip(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _meta(title: str, date: str | None, source: str) -> str:
    parts = [f'<span class="src-title">{esc(title)}</span>']
    if date:
        parts.append(f'<span class="src-date">{esc(date)}</span>')
    parts.append(f'<span class="src-file">{esc(source)}</span>')
    return " · ".join(parts)


def _marker_html(citation: Citation, turn: int) -> str:
    target = source_id(turn, citation.marker)
    tip = clip(f"[{citation.marker}] {citation.title} ({citation.source}): “{citation.quote}”", _TOOLTIP_CHARS)
    # A click, a tap or Enter opens the card after the marker, in place (touch screens show
    # no tooltips); the link works without JavaScript through :target.
    return (f'<sup class="cite"><a class="cite-link" href="#{target}" data-target="{target}" role="button" '
            f'aria-expanded="false" title="{esc(tip)}">[{citation.marker}]</a></sup>'
            f'<span class="cite-card" role="dialog" aria-label="Source [{citation.marker}]" hidden>'
            f'<button type="button" class="card-close" aria-label="Close">×</button>'
            f'<b>[{citation.marker}]</b> {_meta(citation.title, citation.date, citation.source)}'
            f'<q>{esc(citation.quote)}</q>'
            f'<button type="button" class="open-src" data-target="{target}">Open in Sources</button></span>')


def copy_text(answer: Answer) -> str:
    """An answer as plain text for the clipboard: the text, then its numbered sources."""
    lines = [answer.text]
    if answer.citations:
        lines += ["", "Sources:"]
        for c in answer.citations:
            date = f", {c.date}" if c.date else ""
            lines.append(f"[{c.marker}] {c.title}{date} ({c.source}): “{c.quote}”")
    return "\n".join(lines)


def short_span(answer: Answer) -> tuple[int, int] | None:
    """Where the short answer stands in ``answer.text``: found through its offsets in the
    quote of the citation it belongs to, never by searching the text for its words."""
    short = answer.short_answer
    citation = next((c for c in answer.citations if short and c.marker == short["marker"]), None)
    if not short or citation is None or answer.refused:
        return None
    first = _MARKER.split(answer.text, maxsplit=1)[0]  # the text up to the first marker
    sentence = strip_lead(first)
    at_quote = citation.quote.find(sentence)
    at_text = answer.text.find(sentence)
    if at_quote < 0 or at_text < 0 or not short["start"] - at_quote >= 0:
        return None
    start = at_text + short["start"] - at_quote
    end = start + len(short["text"])
    return (start, end) if answer.text[start:end] == short["text"] and end <= at_text + len(sentence) else None


def answer_text_html(answer: Answer, turn: int, text: str | None = None) -> str:
    """The answer text (or ``text``), escaped, with each ``[n]`` that has a citation as a
    superscript link, and the short answer in bold inside its sentence."""
    by_marker = {c.marker: c for c in answer.citations}

    def link(match: re.Match[str]) -> str:
        citation = by_marker.get(int(match.group(1)))
        return _marker_html(citation, turn) if citation else match.group(0)

    if text is None and answer.complete and (span := short_span(answer)):
        a, b = span
        raw = answer.text
        # Markers never fall inside the span (it lies inside a sentence), so each part is linked apart.
        return (_MARKER.sub(link, esc(raw[:a])) + f'<b class="short-answer">{esc(raw[a:b])}</b>'
                + _MARKER.sub(link, esc(raw[b:])))
    # Escaping leaves "[", digits and "]" alone, so markers are found in the escaped text.
    return _MARKER.sub(link, esc(answer.text if text is None else text))


def conflict_html(answer: Answer, turn: int) -> str:
    """Disagreeing reports side by side, each account with its source and date."""
    by_marker = {c.marker: c for c in answer.citations}
    blocks = []
    for conflict in answer.conflicts:
        accounts = []
        for claim in conflict["claims"]:
            text = claim["text"] + " " + "".join(f"[{m}]" for m in claim["markers"])
            first = next((by_marker[m] for m in claim["markers"] if m in by_marker), None)
            meta = _meta(first.title, first.date, first.source) if first else esc(claim["source"])
            if claim.get("order") in ("later", "earlier"):  # reports of different dates, newest first
                label = "The later report" if claim["order"] == "later" else "An earlier report"
                meta = f'<div class="account-order account-{claim["order"]}">{label}</div>{meta}'
            accounts.append(f'<div class="account"><div class="account-meta">{meta}</div>'
                            f'<div class="account-text">{answer_text_html(answer, turn, text)}</div></div>')
        blocks.append(f'<div class="conflict" data-kind="{esc(conflict["kind"])}">'
                      f'<div class="conflict-lead">⚖ Reports differ</div>'
                      f'<div class="accounts">{"".join(accounts)}</div></div>')
    return "".join(blocks)


_BADGES = {
    "refusal": '<span class="badge badge-refusal" title="The articles do not say">⚠ Not in the articles</span>',
    "uncertain": '<span class="badge badge-uncertain" title="The models are not sure the articles answer this: '
                 'this is the closest they come">? Unsure</span>',
}


def render_answer(answer: Answer, turn: int, stopped: bool = False) -> str:
    """The assistant's message: a refusal is marked and coloured apart from an answer; a
    complete one carries a Copy button, a stopped one says so."""
    kind = "refusal" if answer.refused else "uncertain" if answer.status == "uncertain" else "answer"
    badge = _BADGES.get(kind, "")
    if answer.written_by and not answer.refused:
        badge += (f'<span class="badge badge-written" title="A local model wrote this answer from the passages; '
                  f'each sentence was checked against the source it cites">✎ Written by {esc(answer.written_by)}'
                  "</span>")
    cursor = "" if answer.complete or stopped else '<span class="cursor">▍</span>'
    # Conflicting accounts replace the running text: each stands in its own column.
    body = conflict_html(answer, turn) if answer.conflicts and answer.complete else answer_text_html(answer, turn)
    tools = ""
    if stopped:
        tools = '<div class="msg-tools"><span class="badge badge-stopped">■ Stopped</span></div>'
    elif answer.complete:
        tools = (f'<div class="msg-tools"><button type="button" class="copy-btn" data-copy="{esc(copy_text(answer))}" '
                 f'title="Copy the answer and its sources">Copy</button></div>')
    complete = str(answer.complete or stopped).lower()
    period = ""
    if answer.period and answer.complete:
        period = f'<div class="period-note">{esc(describe_period(answer.period))}</div>'
    return (f'<div class="msg bot {kind}" data-turn="{turn}" data-complete="{complete}" id="answer-{turn}">'
            f'{badge}<div class="msg-text">{body}{cursor}</div>{period}{tools}</div>')


def render_question(question: str) -> str:
    """The user's message."""
    return f'<div class="msg user"><div class="msg-text">{esc(question)}</div></div>'


def render_notice(message: str, kind: str = "error") -> str:
    """A one-line message (an error, a rejected upload, an indexing result)."""
    kind = kind if kind in ("error", "info", "warning") else "error"
    return f'<div class="notice notice-{kind}" role="status">{esc(message)}</div>' if message else ""


def render_conversation(turns: Sequence[str]) -> str:
    """The whole chat from pre-rendered turns (each a question and its answer)."""
    if not turns:
        return ('<div class="chat-log empty"><p class="placeholder">Ask a question about the articles. '
                'Every sentence of an answer ends with its sources, like this<sup class="cite">[1]</sup>.</p></div>')
    return f'<div class="chat-log">{"".join(turns)}</div>'


def highlight_quote(passage: str, quote: str, offset: int | None = None) -> str:
    """The passage, escaped, with the quote wrapped in ``<mark>``.

    ``offset`` is where the quote should start within the passage (from the document
    offsets); when the text there differs, the quote is searched for, first exactly, then
    ignoring differences in whitespace. Without a match the passage is returned unmarked.
    """
    span = _find_quote(passage, quote, offset)
    if span is None:
        return esc(passage)
    start, end = span
    return f"{esc(passage[:start])}<mark>{esc(passage[start:end])}</mark>{esc(passage[end:])}"


def _find_quote(passage: str, quote: str, offset: int | None) -> tuple[int, int] | None:
    quote = quote.strip()
    if not quote:
        return None
    if offset is not None and offset >= 0 and passage[offset:offset + len(quote)] == quote:
        return offset, offset + len(quote)
    found = passage.find(quote)
    if found >= 0:
        return found, found + len(quote)
    # Cleaning may have joined lines differently in the passage and the quote.
    pattern = r"\s+".join(re.escape(word) for word in quote.split())
    match = re.search(pattern, passage)
    return (match.start(), match.end()) if match else None


def _passage_of(citation: Citation, passages: Iterable[Passage]) -> Passage | None:
    return next((p for p in passages if p.chunk_id == citation.chunk_id), None)


def relevance(passage: Passage | None, rank: int | None, of: int) -> str:
    """Why a passage is there, in words a reader can use: its place among the retrieved ones
    and how each retriever found it (by meaning: the embedding search; by its words: BM25),
    each with a small bar that is full for that retriever's first. The fused score, which
    means nothing to a reader, stays in the tooltip and the JSON."""
    if passage is None or rank is None:
        return ""
    place = "Best match" if rank == 1 else f"Match {rank}"
    found = [(how, r) for how, r in (("meaning", passage.dense_rank), ("its words", passage.bm25_rank)) if r]
    said = " and ".join(f"by {how} (#{r})" for how, r in found)
    bars = "".join(f'<span class="rel-bar" title="found by {how}: #{r}"><span style="width:{_bar(r)}%"></span>'
                   "</span>" for how, r in found)
    tip = f"fused score {passage.score:.4f} (reciprocal rank fusion of the two retrievers)"
    return (f'<div class="relevance" title="{tip}">{place} of {of}' + (f" · found {said}" if said else "")
            + f"{bars}</div>")


def _bar(rank: int) -> int:
    """A retriever's first fills its bar; each later place takes a twentieth off (at least 5%)."""
    return max(5, 100 - 5 * (int(rank) - 1))


def render_citation(citation: Citation, turn: int, passages: Sequence[Passage] = ()) -> str:
    """One Sources panel entry: the article, why it was retrieved, and the passage with the
    quote highlighted; a link leads back to the answer."""
    passage = _passage_of(citation, passages)
    rank = next((i for i, p in enumerate(passages, start=1) if p.chunk_id == citation.chunk_id), None)
    offset = citation.start - passage.start if passage is not None else None
    body = highlight_quote(citation.text, citation.quote, offset)
    return (f'<details class="source" id="{source_id(turn, citation.marker)}" open>'
            f'<summary><span class="marker">[{citation.marker}]</span> '
            f'{_meta(citation.title, citation.date, citation.source)}</summary>'
            f'{relevance(passage, rank, len(passages))}'
            f'<blockquote class="passage">{body}</blockquote>'
            f'<a class="back-to-answer" href="#answer-{turn}" data-turn="{turn}">↩ Back to the answer</a></details>')


def uncited_passages(answer: Answer) -> list[Passage]:
    """Passages that were retrieved but that no citation points at, best first."""
    cited = {c.chunk_id for c in answer.citations}
    return [p for p in answer.passages if p.chunk_id not in cited]


def render_sources(answer: Answer | None, turn: int = 0) -> str:
    """The Sources panel for the last answer: cited passages open, the rest collapsed."""
    if answer is None:
        return '<div class="sources empty"><p class="placeholder">Sources of the last answer show here.</p></div>'
    cited = "".join(render_citation(c, turn, answer.passages) for c in answer.citations)
    if not cited:
        cited = '<p class="placeholder">No passage was cited.</p>'
    rest = uncited_passages(answer)
    others = ""
    if rest:
        rank = {p.chunk_id: i for i, p in enumerate(answer.passages, start=1)}
        items = "".join(
            f'<div class="passage-item"><div class="passage-meta">{_meta(p.title, p.date, p.source)}</div>'
            f'{relevance(p, rank[p.chunk_id], len(answer.passages))}'
            f'<blockquote class="passage">{esc(p.text)}</blockquote></div>' for p in rest)
        others = (f'<details class="uncited"><summary>Retrieved but not cited ({len(rest)})</summary>'
                  f'{items}</details>')
    kind = "refusal" if answer.refused else "answer"
    return f'<div class="sources {kind}" data-turn="{turn}">{cited}{others}</div>'


def render_documents(documents: Sequence[Mapping[str, Any]]) -> str:
    """The corpus panel: one row per indexed article (title, date, file)."""
    def date(d: Mapping[str, Any]) -> str:
        if not d.get("date"):
            return '<span class="date-note" title="the article states no date">undated</span>'
        if d.get("date_source") == "file":  # the article gives none: say where this one is from
            return f'{esc(d["date"])} <span class="date-note" title="the file\'s modification date">(file)</span>'
        return esc(d["date"])

    # Added files first, newest first: a file just added shows at the top of the scroll box,
    # never below its fold.
    added = [d for d in documents if str(d.get("source") or "").startswith("uploads/")]
    ordered = added[::-1] + [d for d in documents if d not in added]
    rows = "".join(
        f'<tr{" class=uploaded" if d in added else ""}><td class="doc-title">{esc(d.get("title") or "")}</td>'
        f'<td class="doc-date">{date(d)}</td><td class="doc-file">{esc(d.get("source") or "")}</td></tr>'
        for d in ordered)
    return (f'<div class="corpus"><p class="corpus-count">{len(documents)} articles indexed</p>'
            f'<table><thead><tr><th>Title</th><th>Date</th><th>File</th></tr></thead>'
            f'<tbody>{rows}</tbody></table></div>')


def render_timeline(timeline: Any) -> str:
    """A story's timeline: the dated reports oldest first, each with its date, headline, file
    and best-matching sentence (its passage a click away), then the undated ones apart."""
    def entry(e: Any) -> str:
        when = (f'<span class="tl-date">{esc(e.date)}</span>' if e.date
                else '<span class="tl-date undated">undated</span>')
        passage = highlight_quote(e.passage, e.sentence) if e.passage else ""
        return (f'<li class="tl-entry">{when}<details><summary>{_meta(e.title, None, e.source)}'
                f'<q class="tl-quote">{esc(e.sentence)}</q></summary>'
                f'<blockquote class="passage">{passage}</blockquote></details></li>')

    if not timeline.dated and not timeline.undated:
        return f'<div class="timeline"><p>No report found on “{esc(timeline.query)}”.</p></div>'
    undated = (f'<h4>Undated</h4><ol class="tl undated">{"".join(entry(e) for e in timeline.undated)}</ol>'
               if timeline.undated else "")
    period = (f'<div class="period-note">{esc(describe_period(timeline.period))}</div>'
              if getattr(timeline, "period", None) else "")
    return (f'<div class="timeline"><h4>Timeline: {esc(timeline.query)}</h4>{period}'
            f'<ol class="tl">{"".join(entry(e) for e in timeline.dated)}</ol>{undated}</div>')
