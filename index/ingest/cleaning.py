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
MONTH_PATTERN = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE_MDY = re.compile(MONTH_PATTERN + r"\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", re.IGNORECASE)
_DATE_DMY = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + MONTH_PATTERN + r"\.?,?\s+(\d{4})\b",
                       re.IGNORECASE)
_DATE_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ]\d|\b)")
_DATE_DOTS = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b")  # 22.07.2019: day first
# Words that say a date is the report's own: published (or posted, or "date:") before updated.
_PUBLISHED_CUE = re.compile(r"(\b(published|posted|released)\b|^\W*dated?\b)\s*(on|:)?", re.IGNORECASE)
_UPDATED_CUE = re.compile(r"\b(updated|last updated|modified)\b\s*(on|:)?", re.IGNORECASE)
_DATELINE = re.compile(r"^[A-Z]{2,}[A-Za-z .,'-]{0,40}\s[-\u2013\u2014]\s")  # "JERUSALEM, Israel - "
# "LONDON, March 16, 2019 (Reuters) -": a place in capitals, then the date.
_DATED_DATELINE = re.compile(r"^[A-Z][A-Z .'-]{1,30},")
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


def month_number(name: str) -> int:
    """1 for "January" (or "Jan", "jan."), 12 for "December"."""
    name = name.lower()[:3]
    return next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(name))


def find_date(text: str) -> str | None:
    """The first valid full date written in ``text`` (ISO, "July 22, 2019", "22 July 2019",
    "Sept. 3rd, 2019", "22.07.2019"), as YYYY-MM-DD; None when there is none."""
    found: list[tuple[int, str]] = []
    for m in _DATE_ISO.finditer(text):
        found.append((m.start(), valid_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))))
    for m in _DATE_MDY.finditer(text):
        found.append((m.start(), valid_date(int(m.group(3)), month_number(m.group(1)), int(m.group(2)))))
    for m in _DATE_DMY.finditer(text):
        found.append((m.start(), valid_date(int(m.group(3)), month_number(m.group(2)), int(m.group(1)))))
    for m in _DATE_DOTS.finditer(text):
        found.append((m.start(), valid_date(int(m.group(3)), int(m.group(2)), int(m.group(1)))))
    valid = sorted((at, d) for at, d in found if d)
    return valid[0][1] if valid else None


def valid_date(year: int, month: int, day: int) -> str:
    """YYYY-MM-DD for a real calendar date in 1900-2100, else "" (the one check every date
    read from an article, a page's metadata or a question goes through)."""
    import datetime

    try:
        return datetime.date(year, month, day).isoformat() if 1900 <= year <= 2100 else ""
    except ValueError:
        return ""


def extract_date(lines: list[str]) -> str | None:
    """The article's own date, from its first lines only (a date deeper in the body is an
    event's, not the report's): a `date YYYY-MM-DD` header; else a date the line says was
    published or posted (before one it says was updated); else one on a header-like line (a
    dateline, a byline, a line that is not a sentence) or a photo caption. A date inside a
    sentence of the story ("On March 16, 2005, the council voted.") is not taken, nor a
    dateline without a year ("LONDON, March 16 (Reuters) -")."""
    head = [line for line in lines if line][:_DATE_SEARCH_LINES]
    for line in head:
        if m := _DATE_HEADER.match(line):
            return m.group(1)
    for cue in (_PUBLISHED_CUE, _UPDATED_CUE):
        for line in head:
            for m in cue.finditer(line):
                if date := find_date(line[m.end():m.end() + 60]):
                    return date
    for line in head:
        if (date := find_date(line)) and (_header_like(line) or _CREDIT.search(line)):
            return date
    return None


def _is_stamp(line: str) -> bool:
    """A line that only says when the report was published or updated ("Published: 22 July
    2019 13:05 BST"): page furniture, not article text."""
    return (len(line.split()) <= 10 and bool(_PUBLISHED_CUE.search(line) or _UPDATED_CUE.search(line))
            and find_date(line) is not None and _header_like(line))


def _header_like(line: str) -> bool:
    """A dateline, byline or stamp rather than a sentence of the story."""
    if _DATED_DATELINE.match(line) and find_date(line[:60]):
        return True
    return len(line.split()) <= 16 and not line.rstrip().endswith((".", "!", "?", '"', "\u201d"))


def _is_title(line: str) -> bool:
    words = line.split()
    return 3 <= len(words) <= 25 and not line.endswith((".", ":", ";", ",")) and not _CREDIT.search(line)


def _fallback_title(body: list[str]) -> str:
    """A title from the first sentence when the text has no headline line: the whole
    sentence, never cut off mid-way."""
    first = _DATELINE.sub("", body[0]) if body else ""
    return re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0].rstrip(".")


def clean_text(raw: str, title_hint: str = "", fallback_title: str = "", date_hint: str | None = None,
               hint_first: bool = False) -> CleanText:
    """Clean raw article text; see the module docstring for the rules.

    ``title_hint`` is a title known from markup (an HTML <h1>, PDF metadata); it wins over
    the headline found in the text and is removed from the body where it heads it.
    ``fallback_title`` is used when neither exists and the text has no first sentence.
    ``date_hint`` is a date known from metadata (an HTML page's publication date, a PDF's
    creation date), used when the text's first lines give none; ``hint_first``: before them
    (a page's own publication metadata is more reliable than its visible text).
    """
    lines = normalise_lines(raw)
    date = date_hint if hint_first and date_hint else extract_date(lines) or date_hint
    if lines and (m := _DATE_HEADER.match(lines[0])):
        lines[0] = lines[0][m.end():]

    kept: list[str] = []
    for i, line in enumerate(lines):
        if not line or _NAV.match(line) or _is_stamp(line):
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
