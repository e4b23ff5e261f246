"""Read a corpus folder: .txt, .md, .html and .pdf files, recursively, into Documents.

A file that cannot be read as text (not UTF-8, binary, empty after cleaning) is skipped
with a warning naming it, so one bad file never stops the rest from being indexed.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CorpusError
from ..hashing import file_sha256
from ..records import Document
from .cleaning import clean_text, valid_date
from .sentences import split_sentences

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
# Elements whose text a browser never shows.
_INVISIBLE = ("script", "style", "noscript", "template", "head", "svg", "iframe", "nav", "footer")
_MD_MARKUP = [
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),  # heading markers
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), ""),  # images
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links keep their text
    (re.compile(r"(\*\*|__|`)"), ""),  # bold and code markers
    (re.compile(r"^\s{0,3}>\s?", re.M), ""),  # block quotes
]


@dataclass
class SourceFile:
    """A corpus file found on disk, before it is read. Its content hash is computed when
    first asked for: an update compares sizes and modification times first."""

    doc_id: str
    path: Path
    size: int = 0
    mtime_ns: int = 0
    _hash: str | None = None

    @property
    def content_hash(self) -> str:
        """sha256 of the file's bytes ("" when it cannot be read)."""
        if self._hash is None:
            try:
                self._hash = file_sha256(self.path)
            except OSError:
                self._hash = ""
        return self._hash


def scan_corpus(corpus_dir: Path, extra: Mapping[str, Path] | None = None) -> list[SourceFile]:
    """List the supported files under ``corpus_dir`` with their content hashes.

    ``extra`` adds other folders under a prefix of their own (``{"uploads": folder}``: its
    files get ids ``uploads/...``), so that files added from outside (the chat page's uploads)
    never have to be written into the corpus folder itself; one that does not exist adds
    nothing. Raises CorpusError when the corpus folder does not exist or no folder holds a
    supported file.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"Corpus folder not found: {corpus_dir}")
    files = _scan(corpus_dir, "")
    taken = {f.doc_id for f in files}
    for prefix, folder in (extra or {}).items():
        if Path(folder).is_dir():
            for f in _scan(Path(folder), f"{prefix}/"):
                if f.doc_id in taken:
                    log.warning("skipped %s: the corpus folder has a file of that name", f.doc_id)
                    continue
                files.append(f)
    if not files:
        raise CorpusError(
            f"No readable document in {corpus_dir} (looked for {', '.join(SUPPORTED_SUFFIXES)})"
        )
    return files


def _scan(folder: Path, prefix: str) -> list[SourceFile]:
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        try:
            stat = path.stat()
        except OSError as exc:
            log.warning("skipped %s: cannot read it (%s)", rel.as_posix(), exc.strerror or exc)
            continue
        files.append(SourceFile(prefix + rel.as_posix(), path, stat.st_size, stat.st_mtime_ns))
    return files


def _decode(data: bytes, name: str) -> str | None:
    if b"\x00" in data[:8192]:
        log.warning("skipped %s: binary file, not text", name)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.warning("skipped %s: not UTF-8 text", name)
        return None


# Elements that start a line of their own; every other element (a link, an image, a span, a
# line break inside a paragraph) flows inside the line of the block that holds it.
_BLOCKS = frozenset((
    "address article aside blockquote caption dd details dialog div dl dt fieldset figcaption figure "
    "form h1 h2 h3 h4 h5 h6 header hgroup hr legend li main ol p pre section summary table tbody td "
    "tfoot th thead tr ul body html").split())
# Inline elements whose content is not text a reader reads as part of the sentence.
_SKIPPED_INLINE = frozenset(("img", "picture", "video", "audio", "canvas", "object", "embed", "button",
                             "input", "select", "textarea"))


def _block_lines(root: Any) -> list[str]:
    """The visible text under ``root``, one line per block element, inline elements joined into
    the sentence they sit in (as a browser lays them out). Walks the tree without recursion,
    so hostile nesting cannot exhaust the stack."""
    from bs4 import NavigableString, Tag
    from bs4.element import PreformattedString

    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = " ".join("".join(current).split())
        if text:
            lines.append(text)
        current.clear()

    # (node, entering): a block flushes the line before it and again when it closes.
    stack: list[tuple[Any, bool]] = [(root, True)]
    while stack:
        node, entering = stack.pop()
        if isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):  # comments, CDATA, doctype
                current.append(str(node))
            continue
        if not isinstance(node, Tag):
            continue
        name = (node.name or "").lower()
        if not entering:
            flush()
            continue
        if name in _SKIPPED_INLINE:
            current.append(" ")
            continue
        if name == "br":
            current.append(" ")  # a line break inside a paragraph does not end its sentence
            continue
        if name in _BLOCKS:
            flush()
            stack.append((node, False))
        stack.extend((child, True) for child in reversed(node.contents))
    flush()
    return lines


# Where pages state their publication date: Open Graph / schema.org meta tags, then <time>.
_DATE_META = ("article:published_time", "datepublished", "date", "dc.date", "pubdate", "publishdate")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _iso_date(value: object) -> str | None:
    """YYYY-MM-DD from an ISO timestamp ("2019-07-22T10:00:00Z") or a datetime."""
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")
    m = _ISO_DATE.match(str(value or "").strip())
    return (valid_date(int(m.group(1)), int(m.group(2)), int(m.group(3))) or None) if m else None


def _json_ld_date(soup: Any) -> str | None:
    """``datePublished`` of the page's schema.org JSON-LD (an article, or one in a @graph)."""
    import json

    for script in soup.find_all("script", attrs={"type": "application/ld+json"}):
        try:
            data = json.loads(script.string or "")
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if date := _iso_date(item.get("datePublished")):
                    return date
                stack.extend(v for k, v in item.items() if k in ("@graph", "mainEntity", "mainEntityOfPage"))
    return None


def _html_text(html: str) -> tuple[str, str, str | None]:
    """Visible text of an HTML page, one block per line, its title and its publication date."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    h1 = soup.find("h1")
    date = None
    for meta in soup.find_all("meta"):
        key = str(meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in _DATE_META and (date := _iso_date(meta.get("content"))):
            break
    if date is None:
        date = _json_ld_date(soup)
    if date is None and (tag := soup.find("time", attrs={"datetime": True})):
        date = _iso_date(tag.get("datetime"))
    for tag in soup(list(_INVISIBLE)):
        tag.decompose()
    body = soup.body or soup
    return "\n".join(_block_lines(body)), (h1.get_text(" ", strip=True) if h1 else title), date


_SENTENCE_END = (".", "!", "?", ":", '"', "\u201d", "\u2019", ")")


def reflow(page: str) -> str:
    """A PDF page's text with the lines that wrap inside a paragraph joined: a line runs on
    into the next unless it ends a sentence, is short (a heading, a paragraph's last line), or
    the next is blank. A hyphen that splits a word at the wrap ("inter-" / "national") goes."""
    lines = [line.strip() for line in page.split("\n")]
    full = sorted(len(x) for x in lines if x)
    if not full:
        return ""
    wide = 0.6 * full[int(0.9 * (len(full) - 1))]  # most wrapped lines run close to the margin
    out: list[str] = []
    joining = False
    for line in lines:
        if joining and line:
            if out[-1].endswith("-"):  # "inter-" + "national"; "Abu-" + "Marzouk" keeps its hyphen
                out[-1] = (out[-1][:-1] if line[:1].islower() else out[-1]) + line
            else:
                out[-1] += " " + line
        else:
            out.append(line)
        last = out[-1]
        joining = bool(line) and not last.endswith(_SENTENCE_END) and (len(line) >= wide or last.endswith("-"))
    return "\n".join(out)


def _pdf_text(data: bytes, name: str) -> tuple[str, str, str | None] | None:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [reflow(page.extract_text() or "") for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or ""
        try:
            created = reader.metadata.creation_date if reader.metadata else None
        except (ValueError, TypeError):  # a malformed date string in the metadata
            created = None
    except (PyPdfError, ValueError, KeyError, OSError) as exc:
        log.warning("skipped %s: unreadable PDF (%s)", name, exc)
        return None
    return "\n".join(pages), str(title), _iso_date(created) if created else None


# A Markdown or text file may open with front matter: "---", "key: value" lines, "---".
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
_FRONT_DATES = ("date", "published", "publication_date", "pubdate")


def front_matter(raw: str) -> tuple[str, str, str | None]:
    """The text without its front matter, and the title and date it states ("" / None)."""
    m = _FRONT_MATTER.match(raw)
    if m is None:
        return raw, "", None
    fields: dict[str, str] = {}
    for line in m.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            fields.setdefault(key.strip().lower(), value.strip().strip("\"'"))
    date = next((d for k in _FRONT_DATES if (d := _iso_date(fields.get(k)))), None)
    return raw[m.end():], fields.get("title", ""), date


def read_document(source: SourceFile) -> Document | None:
    """Read, clean and sentence-split one file; None (with a warning) when it is unusable."""
    name = source.doc_id
    try:
        data = source.path.read_bytes()
    except OSError as exc:
        log.warning("skipped %s: cannot read it (%s)", name, exc.strerror or exc)
        return None
    suffix = source.path.suffix.lower()
    title_hint, date_hint = "", None
    if suffix == ".pdf":
        result = _pdf_text(data, name)
        if result is None:
            return None
        raw, title_hint, date_hint = result
    else:
        decoded = _decode(data, name)
        if decoded is None:
            return None
        raw = decoded
        if suffix in (".html", ".htm"):
            raw, title_hint, date_hint = _html_text(raw)
        else:
            raw, title_hint, date_hint = front_matter(raw)
        if suffix in (".md", ".markdown"):
            for pattern, repl in _MD_MARKUP:
                raw = pattern.sub(repl, raw)
    cleaned = clean_text(raw, title_hint=" ".join(title_hint.split()), fallback_title=Path(name).stem,
                         date_hint=date_hint, hint_first=suffix in (".html", ".htm", ".md", ".markdown", ".txt"))
    if not cleaned.text.strip():
        log.warning("skipped %s: no text left after cleaning", name)
        return None
    return Document(
        doc_id=name,
        title=cleaned.title,
        date=cleaned.date,
        text=cleaned.text,
        content_hash=source.content_hash,
        sentences=tuple(split_sentences(cleaned.text)),
    )


def load_corpus(corpus_dir: Path) -> Iterator[Document]:
    """Yield every usable document of a corpus folder (see ``scan_corpus`` for errors)."""
    for source in scan_corpus(corpus_dir):
        doc = read_document(source)
        if doc is not None:
            yield doc
