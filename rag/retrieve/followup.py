"""Resolve a follow-up question ("What did he promise Khamenei?") against earlier turns."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .. import text as T
from ..verify.support import strip_markers

_PERSONAL = re.compile(r"\b(he|him|his|she|her|hers)\b", re.IGNORECASE)
_OTHER = re.compile(r"\b(they|them|their|it|its|this|that|these|those|there)\b", re.IGNORECASE)

Turn = dict[str, str]


def normalise_history(history: Sequence[Any] | None) -> list[Turn]:
    """Accept chat messages ({"role", "content"}), (question, answer) pairs or plain strings
    (earlier questions) and return messages."""
    turns: list[Turn] = []
    for item in history or []:
        if isinstance(item, dict):
            role, content = item.get("role"), item.get("content")
            if role in ("user", "assistant") and isinstance(content, str):
                turns.append({"role": role, "content": content})
            else:
                raise ValueError("history messages need a role (user or assistant) and text content")
        elif isinstance(item, str):
            turns.append({"role": "user", "content": item})
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            question, answer = item
            if question:
                turns.append({"role": "user", "content": str(question)})
            if answer:
                turns.append({"role": "assistant", "content": str(answer)})
        else:
            raise ValueError(f"cannot read history item of type {type(item).__name__}")
    return turns


def _last(turns: list[Turn], role: str) -> str:
    return next((t["content"] for t in reversed(turns) if t["role"] == role), "")


def resolve_followup(question: str, history: Sequence[Any] | None) -> str:
    """The question with its pronouns resolved for retrieval; unchanged without history.

    A personal pronoun is replaced by the last person named in the previous answer (or
    question); any other reference back gets the previous question's names appended.
    """
    turns = normalise_history(history)
    if not turns:
        return question
    previous_q = _last(turns, "user")
    previous_a = strip_markers(_last(turns, "assistant"))
    if _PERSONAL.search(question):
        people = [e for e in T.entities(previous_a) + T.entities(previous_q) if T.is_person(e)]
        if people:
            person = people[0]

            def swap(m: re.Match[str]) -> str:
                word = m.group().lower()
                return f"{person}'s" if word in ("his", "hers") else person

            return _PERSONAL.sub(swap, question, count=1)
    if _PERSONAL.search(question) or _OTHER.search(question) or not T.entities(question):
        context = T.entities(previous_q) or T.entities(previous_a)
        missing = [e for e in context if e.lower() not in question.lower()]
        if missing:
            return f"{question} ({', '.join(dict.fromkeys(missing))})"
    return question
