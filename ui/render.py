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

from rag.records import Answer, Citation, Passage

_MARKER = re.compile(r"\[(\d+)\]")
_TOOLTIP_CHARS = 400  # browsers cut long tooltips anyway


def esc(text: object) -> str:
    """HTML-escape text for element content and quoted attributes alike."""
    return html.escape("" if text is None else str(text), quote=True)


def source_id(turn: int, marker: int) -> str:
    """DOM id of a Sources panel entry; the turn keeps ids of different answers apart."""
    return f"src-{turn}-{marker}"


def _clip(text: str, limit: int) -> str:
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
    tip = _clip(f"[{citation.marker}] {citation.title} ({citation.source}): “{citation.quote}”", _TOOLTIP_CHARS)
    # The card after the marker is what a click shows when the Sources panel has moved on
    # to a later answer; the link works without JavaScript through :target.
    return (f'<sup class="cite"><a class="cite-link" href="#{target}" data-target="{target}" '
            f'title="{esc(tip)}">[{citation.marker}]</a></sup>'
            f'<span class="cite-card" hidden><b>[{citation.marker}]</b> '
            f'{_meta(citation.title, citation.date, citation.source)}<q>{esc(citation.quote)}</q></span>')


def answer_text_html(answer: Answer, turn: int, text: str | None = None) -> str:
    """The answer text (or ``text``), escaped, with each ``[n]`` that has a citation as a
    superscript link."""
    by_marker = {c.marker: c for c in answer.citations}

    def link(match: re.Match[str]) -> str:
        citation = by_marker.get(int(match.group(1)))
        return _marker_html(citation, turn) if citation else match.group(0)

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
            accounts.append(f'<div class="account"><div class="account-meta">{meta}</div>'
                            f'<div class="account-text">{answer_text_html(answer, turn, text)}</div></div>')
        blocks.append(f'<div class="conflict" data-kind="{esc(conflict["kind"])}">'
                      f'<div class="conflict-lead">⚖ Reports differ</div>'
                      f'<div class="accounts">{"".join(accounts)}</div></div>')
    return "".join(blocks)


def render_answer(answer: Answer, turn: int) -> str:
    """The assistant's message: a refusal is marked and coloured apart from an answer."""
    kind = "refusal" if answer.refused else "answer"
    badge = ('<span class="badge badge-refusal" title="The articles do not say">⚠ Not in the articles</span>'
             if answer.refused else "")
    cursor = "" if answer.complete else '<span class="cursor">▍</span>'
    # Conflicting accounts replace the running text: each stands in its own column.
    body = conflict_html(answer, turn) if answer.conflicts and answer.complete else answer_text_html(answer, turn)
    return (f'<div class="msg bot {kind}" data-turn="{turn}" data-complete="{str(answer.complete).lower()}">'
            f'{badge}<div class="msg-text">{body}{cursor}</div></div>')


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


def render_citation(citation: Citation, turn: int, passages: Sequence[Passage] = ()) -> str:
    """One Sources panel entry: the article, and the passage with the quote highlighted."""
    passage = _passage_of(citation, passages)
    offset = citation.start - passage.start if passage is not None else None
    body = highlight_quote(citation.text, citation.quote, offset)
    return (f'<details class="source" id="{source_id(turn, citation.marker)}" open>'
            f'<summary><span class="marker">[{citation.marker}]</span> '
            f'{_meta(citation.title, citation.date, citation.source)}</summary>'
            f'<blockquote class="passage">{body}</blockquote></details>')


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
        items = "".join(
            f'<div class="passage-item"><div class="passage-meta">{_meta(p.title, p.date, p.source)}</div>'
            f'<blockquote class="passage">{esc(p.text)}</blockquote></div>' for p in rest)
        others = (f'<details class="uncited"><summary>Retrieved but not cited ({len(rest)})</summary>'
                  f'{items}</details>')
    kind = "refusal" if answer.refused else "answer"
    return f'<div class="sources {kind}" data-turn="{turn}">{cited}{others}</div>'


def render_documents(documents: Sequence[Mapping[str, Any]]) -> str:
    """The corpus panel: one row per indexed article (title, date, file)."""
    rows = "".join(
        f'<tr><td class="doc-title">{esc(d.get("title") or "")}</td><td class="doc-date">{esc(d.get("date") or "—")}'
        f'</td><td class="doc-file">{esc(d.get("source") or "")}</td></tr>' for d in documents)
    return (f'<div class="corpus"><p class="corpus-count">{len(documents)} articles indexed</p>'
            f'<table><thead><tr><th>Title</th><th>Date</th><th>File</th></tr></thead>'
            f'<tbody>{rows}</tbody></table></div>')
