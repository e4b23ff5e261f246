"""Conversations as plain JSON data: what the page keeps in the visitor's browser storage.

A conversation is ``{"id", "title", "turns": [{"question", "answer"}]}`` with each answer
serialised by ``answer_to_dict``; the store is ``{"current": id, "items": [conversation]}``,
newest first. Everything here is pure and defensive: the store comes back from the
browser, so whatever does not have the expected shape is dropped, never trusted (it is
re-rendered through ``ui.render``, which escapes all text, so it cannot inject markup).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, fields
from typing import Any

from rag.records import Answer, Citation, Passage

MAX_CONVERSATIONS = 30
MAX_TURNS = 100
_TITLE_CHARS = 60
_CITATION_FIELDS = {f.name for f in fields(Citation)}
_PASSAGE_FIELDS = {f.name for f in fields(Passage)}

Conversation = dict[str, Any]
Store = dict[str, Any]


def new_conversation() -> Conversation:
    """An empty conversation with a fresh id."""
    return {"id": uuid.uuid4().hex[:12], "title": "", "turns": []}


def empty_store() -> Store:
    return {"current": None, "items": []}


def answer_to_dict(answer: Answer, stopped: bool = False) -> dict[str, Any]:
    """What the page needs to render ``answer`` again: text, citations, passages, conflicts."""
    return {"question": answer.question, "text": answer.text, "refused": answer.refused,
            "citations": [asdict(c) for c in answer.citations], "passages": [asdict(p) for p in answer.passages],
            "conflicts": answer.conflicts, "complete": answer.complete, "stopped": stopped,
            "status": answer.status, "short_answer": answer.short_answer, "written_by": answer.written_by,
            "period": answer.period}


def answer_from_dict(data: Any) -> tuple[Answer, bool] | None:
    """The Answer (and whether it was stopped) from ``answer_to_dict``'s output; None when
    ``data`` does not have that shape."""
    try:
        citations = [Citation(**{k: c[k] for k in _CITATION_FIELDS}) for c in data.get("citations", [])]
        passages = [Passage(**{k: p[k] for k in _PASSAGE_FIELDS if k in p}) for p in data.get("passages", [])]
        answer = Answer(str(data["question"]), str(data["text"]), bool(data["refused"]), citations, passages,
                        complete=bool(data.get("complete", True)), conflicts=_conflicts(data.get("conflicts")),
                        status=_status(data), short_answer=_short(data.get("short_answer")),
                        written_by=_name(data.get("written_by")), period=_period(data.get("period")))
    except (AttributeError, KeyError, TypeError):
        return None
    return answer, bool(data.get("stopped", False))


def _period(value: Any) -> dict[str, Any] | None:
    """A stored answer's period, only in its own shape (browser storage may hold anything)."""
    if not isinstance(value, dict):
        return None
    days = {k: v if isinstance(v, str) and len(v) == 10 else None for k, v in
            ((k, value.get(k)) for k in ("since", "until"))}
    left, asked = value.get("undated_left_out"), value.get("asked")
    counted = isinstance(left, int) and not isinstance(left, bool) and left >= 0
    out = {**days, "undated_left_out": left if counted else 0}
    if isinstance(asked, str) and asked:
        out["asked"] = asked[:80]
        if value.get("no_reports") is True:
            out["no_reports"] = True
    return out


def _name(value: Any) -> str | None:
    return value[:120] if isinstance(value, str) and value else None


def _status(data: Any) -> str:
    status = data.get("status")
    return status if status in ("answered", "uncertain", "refused") else "refused" if data["refused"] else "answered"


def _short(value: Any) -> dict[str, Any] | None:
    """A stored short answer, when it has the shape ``Answer.short_answer`` has."""
    ok = isinstance(value, dict) and isinstance(value.get("text"), str) and all(
        isinstance(value.get(k), int) and not isinstance(value.get(k), bool) for k in ("marker", "start", "end"))
    return value if ok else None


def _conflicts(value: Any) -> list[dict[str, Any]]:
    ok = isinstance(value, list) and all(
        isinstance(c, dict) and isinstance(c.get("claims"), list)
        and all(isinstance(x, dict) and isinstance(x.get("markers"), list) for x in c["claims"]) for c in value)
    return value if ok else []


def with_turn(conversation: Conversation, answer: Answer, stopped: bool = False) -> Conversation:
    """The conversation with ``answer`` appended (its title is the first question)."""
    turns = [*conversation["turns"], {"question": answer.question, "answer": answer_to_dict(answer, stopped)}]
    title = conversation.get("title") or _title(answer.question)
    return {**conversation, "title": title, "turns": turns[-MAX_TURNS:]}


def without_last(conversation: Conversation) -> tuple[Conversation, str | None]:
    """The conversation without its last turn, and that turn's question (None when empty)."""
    turns = conversation["turns"]
    if not turns:
        return conversation, None
    return {**conversation, "turns": turns[:-1]}, turns[-1]["question"]


def history(conversation: Conversation) -> list[dict[str, str]]:
    """The turns as chat messages, for resolving a follow-up ("What did he promise?")."""
    out = []
    for turn in conversation["turns"]:
        out.append({"role": "user", "content": turn["question"]})
        out.append({"role": "assistant", "content": turn["answer"].get("text", "")})
    return out


def answers(conversation: Conversation) -> list[tuple[Answer, bool]]:
    """Each turn's answer and whether it was stopped (turns that do not parse are left out)."""
    return [parsed for turn in conversation["turns"] if (parsed := answer_from_dict(turn.get("answer")))]


def saved(store: Store, conversation: Conversation) -> Store:
    """The store with ``conversation`` saved first and made current. An empty one is not
    kept; older turns lose their passages, which only the last answer's Sources panel shows."""
    others = [c for c in store["items"] if c["id"] != conversation["id"]]
    items = ([_slim(conversation)] if conversation["turns"] else []) + others
    return {"current": conversation["id"], "items": items[:MAX_CONVERSATIONS]}


def removed(store: Store, conversation_id: str) -> Store:
    items = [c for c in store["items"] if c["id"] != conversation_id]
    return {"current": items[0]["id"] if items else None, "items": items}


def find(store: Store, conversation_id: str | None) -> Conversation | None:
    return next((c for c in store["items"] if c["id"] == conversation_id), None)


def choices(store: Store) -> list[tuple[str, str]]:
    """(title, id) of each saved conversation, newest first, for the picker."""
    return [(c.get("title") or "Untitled", c["id"]) for c in store["items"]]


def clean_store(value: Any) -> Store:
    """``value`` as a well-formed store: conversations without an id or with malformed
    turns are dropped (browser storage may hold anything, from an older page or a user)."""
    if not isinstance(value, dict) or not isinstance(value.get("items"), list):
        return empty_store()
    items = []
    for c in value["items"]:
        if not (isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("turns"), list)):
            continue
        turns = [t for t in c["turns"] if isinstance(t, dict) and isinstance(t.get("question"), str)
                 and answer_from_dict(t.get("answer")) is not None]
        items.append({"id": c["id"], "title": str(c.get("title") or ""), "turns": turns})
    current = value.get("current")
    return {"current": current if any(c["id"] == current for c in items) else None,
            "items": items[:MAX_CONVERSATIONS]}


def _slim(conversation: Conversation) -> Conversation:
    turns = conversation["turns"]
    slim = [{**t, "answer": {**t["answer"], "passages": []}} for t in turns[:-1]]
    return {**conversation, "turns": [*slim, *turns[-1:]]}


def _title(question: str) -> str:
    question = " ".join(question.split())
    return question if len(question) <= _TITLE_CHARS else question[: _TITLE_CHARS - 1].rstrip() + "…"
