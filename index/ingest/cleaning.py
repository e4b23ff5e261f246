"""Turn raw article text into clean body text, a title and a date, with general rules.

The rules target the boilerplate that web scrapes of news articles carry: navigation and
share widgets, photo captions and credits, "More from …" / "Recommended" tails, and lines
repeated by page templates. Nothing here knows about any particular file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Whole-line navigation and share widgets (matched case-insensitively, after stripping).
_NAV = re.compile(
    r"^(skip to (the )?(main )?content|skip navigation|print friendly,? pdf (& |and )?email|"
    r"print friendly|send to kindle|share (this|on|via)\b.*|share|print|email|tweet|"
    r"advertisement|subscribe( now)?|sign (up|in)|log ?in|menu|search|close|back to top|"
    r"toggle navigation|follow us\b.*|click here\b.*|listen to (this )?article)$",
    re.IGNORECASE,
)
# Photo credits, agency hand-out notices and contributor lines.
_CREDIT = re.compile(
    r"\(photo( credit)?\s*:|\[photo\s*:|\bphoto by\b|\bphoto:\s|\bvia getty images\b|"
    r"\bmandatory credit\b|\beditorial use only\b|\bimage credit\b|^credit\s*:|"
    r"^\(?(photo|image|picture)s?\)?\s*:|contributed to this report",
    re.IGNORECASE,
)
# Lines that start the link lists appended after an article's body.
_TAIL = re.compile(
    r"^(recommended( articles| for you| reading| stories)?|more from\b.*|related( articles|"
    r" stories| coverage| content)?|read more\b.*|you may also like|most (read|popular)|"
    r"trending( now)?|sponsored( content)?|more stories|latest news)$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^[\u2022\u00b7\u25aa\u25cf\-*]+\s+")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_DATE_HEADER = re.compile(r"^\s*date:?\s+(\d{4}-\d{2}-\d{2})\b\s*", re.IGNORECASE)
_MONTHS = (
    "january february march april may june july august september october november december"
).split()
_MONTH_RE = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE_MDY = re.compile(_MONTH_RE + r"\.?\s+(\d{1,2}),?\s+(\d{4})\b", re.IGNORECASE)
_DATE_DMY = re.compile(r"\b(\d{1,2})\s+" + _MONTH_RE + r"\.?,?\s+(\d{4})\b", re.IGNORECASE)
_DATELINE = re.compile(r"^[A-Z]{2,}[A-Za-z .,'-]{0,40}\s[-\u2013\u2014]\s")  # "JERUSALEM, Israel - "
# A date is taken only from the first lines (header, headline, caption), so a historical
# date in the body is not mistaken for the article's own.
_DATE_SEARCH_LINES = 8


@dataclass(frozen=True)
class CleanText:
    """The result of cleaning: body paragraphs joined by blank lines."""

    title: str
    date: str | None
    text: str


def normalise_lines(raw: str) -> list[str]:
    """Split into stripped lines with unified whitespace and no bullet markers."""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    lines = []
    for line in raw.split("\n"):
        line = _SPACES.sub(" ", line).strip()
        line = _BULLET.sub("", line).strip()
        lines.append(line)
    return lines


def _month_number(name: str) -> int:
    name = name.lower()[:3]
    return next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(name))


def extract_date(lines: list[str]) -> str | None:
    """Find the article's date in its first lines: a `date YYYY-MM-DD` header or a full date."""
    head = [line for line in lines if line][:_DATE_SEARCH_LINES]
    for line in head:
        if m := _DATE_HEADER.match(line):
            return m.group(1)
    for line in head:
        if m := _DATE_MDY.search(line):
            month, day, year = _month_number(m.group(1)), int(m.group(2)), int(m.group(3))
        elif m := _DATE_DMY.search(line):
            day, month, year = int(m.group(1)), _month_number(m.group(2)), int(m.group(3))
        else:
            continue
        if 1 <= day <= 31 and 1900 <= year <= 2100:
            return f"{year:04d}-{month:02d}-{day:02d}"
    return None


def _is_title(line: str) -> bool:
    words = line.split()
    return 3 <= len(words) <= 25 and not line.endswith((".", ":", ";", ",")) and not _CREDIT.search(line)


def _fallback_title(body: list[str]) -> str:
    """A title from the first sentence when the text has no headline line: the whole
    sentence, never cut off mid-way."""
    first = _DATELINE.sub("", body[0]) if body else ""
    return re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0].rstrip(".")


def clean_text(raw: str, title_hint: str = "", fallback_title: str = "", date_hint: str | None = None) -> CleanText:
    """Clean raw article text; see the module docstring for the rules.

    ``title_hint`` is a title known from markup (an HTML <h1>, PDF metadata); it wins over
    the headline found in the text and is removed from the body where it heads it.
    ``fallback_title`` is used when neither exists and the text has no first sentence.
    ``date_hint`` is a date known from metadata (an HTML page's publication date, a PDF's
    creation date), used when the text's first lines give none.
    """
    lines = normalise_lines(raw)
    date = extract_date(lines) or date_hint
    if lines and (m := _DATE_HEADER.match(lines[0])):
        lines[0] = lines[0][m.end():]

    kept: list[str] = []
    for i, line in enumerate(lines):
        if not line or _NAV.match(line):
            continue
        if _TAIL.match(line) and len(kept) >= 3:
            break  # everything after is a link list, not article text
        if _CREDIT.search(line):
            # A caption is often repeated just above its credit-only line; captions, unlike
            # body paragraphs, seldom end with a full stop.
            if (kept and _is_credit_only(line) and i > 0 and lines[i - 1] == kept[-1]
                    and not kept[-1].endswith((".", "!", "?", '"', "\u201d"))):
                kept.pop()
            continue
        kept.append(line)

    # Page templates repeat lines (a standfirst shown twice): keep the first.
    seen: set[str] = set()
    deduped = []
    for line in kept:
        if line in seen:
            continue
        seen.add(line)
        deduped.append(line)

    title = ""
    for j, line in enumerate(deduped[:4]):
        if (title_hint and line == title_hint) or (not title_hint and _is_title(line)):
            title = line
            # Lines above the headline are section labels ("Iran", "World").
            deduped = deduped[j + 1:]
            break
    if not title:
        title = title_hint or _fallback_title(deduped) or fallback_title
    return CleanText(title=title, date=date, text="\n\n".join(deduped))


def _is_credit_only(line: str) -> bool:
    """True for a line that is nothing but a credit, such as "(photo credit: REUTERS)"."""
    stripped = re.sub(r"[\[\](){}]", "", line).strip()
    return len(stripped.split()) <= 8 and bool(_CREDIT.search(line))
