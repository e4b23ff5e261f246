"""Time in the question: "What is the latest toll?" asks for the newest report that answers,
"What did the first reports say?" for the oldest. Only phrases that say so: "first" alone is
too often an ordinal ("the first name", "the first time") to count."""

from __future__ import annotations

import re

_LATEST = re.compile(r"\b(latest|most recent(ly)?|newest|currently|so far|as of now|nowadays|up to date|"
                     r"still|at present|now)\b", re.IGNORECASE)
_FIRST = re.compile(r"\b(initially|originally|at first|earliest|first report(s|ed)?|at the outset|"
                    r"early reports?|first (say|said|report|reported|announced?|estimated?|put))\b",
                    re.IGNORECASE)


def time_intent(question: str) -> str | None:
    """"latest", "first" or None."""
    if _FIRST.search(question):
        return "first"
    if _LATEST.search(question):
        return "latest"
    return None
