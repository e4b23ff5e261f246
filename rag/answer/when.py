"""Time in the question: "What is the latest toll?" asks for the newest report that answers,
"What did the first reports say?" for the oldest. Only phrases that say so: "first" alone is
too often an ordinal ("the first name", "the first time") to count."""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.ingest.cleaning import month_number, valid_date

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


# The time words themselves: they choose among the reports, and are no part of what a report
# says ("What is the latest death toll?" asks a report for its death toll). The reader never
# saw them used so: on the test story, "What did the first reports say about the collapse?"
# scored the first report's answer below "no answer", and without "first" above it.
_TIME_WORDS = re.compile(r"\b(?:(?:the\s+)?(?:very\s+)?(?:latest|most recent(?:ly)?|newest|earliest)"
                         r"|initially|originally|at first|at the outset|currently|so far|as of now|nowadays"
                         r"|up to date|at present|now|first(?=\s+(?:reports?|say|said|reported|announced?|"
                         r"estimated?|put)\b)|early(?=\s+reports?\b))\b\s*", re.IGNORECASE)


def without_time_words(question: str) -> str:
    """``question`` as a report would answer it: "What is the latest death toll?" -> "What is
    the death toll?", "What did the first reports say?" -> "What did the reports say?"."""
    return _tidy(_TIME_WORDS.sub(lambda m: "the " if m.group(0).lower().startswith("the") else "", question))


def without_phrase(question: str, phrase: str) -> str:
    """``question`` with ``phrase`` cut out: "What was the toll in March?" -> "What was the toll?"."""
    at = question.find(phrase)
    return question if at < 0 else _tidy(question[:at] + question[at + len(phrase):])


def _tidy(text: str) -> str:
    """Spaces left by cutting words out closed up, none before punctuation."""
    return re.sub(r"\s+([?.!,])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()


# -- a period named in the question ------------------------------------------------------------
# "in March 2021", "in 2019", "on 3 March", "before 16 March", "after March 5, 2021",
# "between 1 and 10 March", "from March to May 2021": the reports published then. Month names
# are written out ("Mar" may be a word); a date without a year takes one from the caller.
_MONTH = r"(january|february|march|april|may|june|july|august|september|october|november|december)"
_YEAR = r"((?:19|20)\d{2})"
# A point in time: an ISO day, "3 March [2021]", "March 3[,] [2021]", "March [2021]" or "2021".
_POINT = (rf"(?:(\d{{4}})-(\d{{2}})-(\d{{2}})"
          rf"|(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?"
          rf"|{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+{_YEAR})?"
          rf"|{_MONTH}(?:\s+(?:of\s+)?{_YEAR})?"
          rf"|{_YEAR})")
_POINT_GROUPS = 12
_RANGE = re.compile(rf"\b(?:between|from)\s+(?:(\d{{1,2}})\s+(?:and|to|until|-)\s+{_POINT}"
                    rf"|{_POINT}\s+(?:and|to|until|through|-)\s+{_POINT})(?!\w)", re.IGNORECASE)
_SINGLE = re.compile(rf"\b(in|during|throughout|on|before|prior to|until|till|up to|through|by|after|since|from)\s+"
                     rf"{_POINT}(?!\w)", re.IGNORECASE)

# After a bare year, a lowercase word other than these makes it a number ("in 2000 homes").
_COUNTED = re.compile(r"\s+(?!(?:in|on|at|and|or|the|to|by|when|after|before|for|with|from|as|was|were|is|are|did|do|"
                      r"has|had|have)\b)[a-z]")


@dataclass(frozen=True)
class AskedPeriod:
    """A publication period the question names: ``since``/``until`` inclusive (None: open)."""

    since: str | None
    until: str | None
    phrase: str  # as the question words it


def asked_period(question: str, year: int | None) -> AskedPeriod | None:
    """The period ``question`` names, if any; ``year`` stands in for a date written without
    one (None: such a date names no period)."""
    if m := _RANGE.search(question):
        g = m.groups()
        if g[0]:  # "between 1 and 10 March": the day borrows the month of the second date
            end = _interval(g[1:1 + _POINT_GROUPS], year)
            start = _day(int(end[0][:4]), int(end[0][5:7]), int(g[0])) if end else None
            low, high = (start, end[1]) if end and start else (None, None)
        else:
            b = _interval(g[1 + 2 * _POINT_GROUPS:], year)  # "from March to May 2021": March of 2021
            a = _interval(g[1 + _POINT_GROUPS:1 + 2 * _POINT_GROUPS], int(b[1][:4]) if b else year)
            low, high = (a[0], b[1]) if a and b else (None, None)
        if low and high and low <= high:
            return AskedPeriod(low, high, m.group(0).strip())
    for m in _SINGLE.finditer(question):
        span = _interval(m.groups()[1:], year)
        if span is None or (m.groups()[-1] and _COUNTED.match(question, m.end())):
            continue  # "by 2000 soldiers" counts, it names no year
        word = m.group(1).lower()
        first, last = span
        if word in ("before", "prior to"):
            return AskedPeriod(None, _shift(first, -1), m.group(0).strip())
        if word in ("until", "till", "up to", "through", "by"):
            return AskedPeriod(None, last, m.group(0).strip())
        if word == "after":
            return AskedPeriod(_shift(last, 1), None, m.group(0).strip())
        if word in ("since", "from"):
            return AskedPeriod(first, None, m.group(0).strip())
        if word == "on" and first != last:
            continue  # "on 2019" is no day
        return AskedPeriod(first, last, m.group(0).strip())
    return None


def _interval(g: Sequence[str | None], year: int | None) -> tuple[str, str] | None:
    """The first and last day of a matched ``_POINT`` (its groups ``g``), or None."""
    iso_y, iso_m, iso_d, dmy_d, dmy_m, dmy_y, mdy_m, mdy_d, mdy_y, my_m, my_y, y_only = g
    if iso_y:
        day = _day(int(iso_y), int(iso_m), int(iso_d))
        return (day, day) if day else None
    if y_only:
        return f"{y_only}-01-01", f"{y_only}-12-31"
    if dmy_m or mdy_m:
        name, d, y = (dmy_m, dmy_d, dmy_y) if dmy_m else (mdy_m, mdy_d, mdy_y)
        y = int(y) if y else year
        day = _day(y, month_number(name), int(d)) if y else None
        return (day, day) if day else None
    y = int(my_y) if my_y else year
    if y is None:
        return None
    month = month_number(my_m)
    return f"{y:04d}-{month:02d}-01", f"{y:04d}-{month:02d}-{calendar.monthrange(y, month)[1]:02d}"


def _day(year: int, month: int, day: int) -> str | None:
    return valid_date(year, month, day) or None


def _shift(day: str, days: int) -> str:
    return (datetime.date.fromisoformat(day) + datetime.timedelta(days=days)).isoformat()
