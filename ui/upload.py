"""Check uploaded files and copy them into the corpus folder under safe, unique names."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from index.ingest.loader import SUPPORTED_SUFFIXES

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM = 80  # long enough for a headline-like name, short of any filesystem limit
_TEXT_SUFFIXES = tuple(s for s in SUPPORTED_SUFFIXES if s != ".pdf")


class UploadError(ValueError):
    """An upload that is refused; the message is one line for the page."""


def safe_name(name: str) -> str:
    """A file name that is safe to create in the corpus folder.

    Keeps only the last path component (no traversal), ASCII letters, digits, ``.``, ``_``
    and ``-`` (anything else becomes ``_``), and no leading dot (no hidden files). The
    suffix must be one the indexer reads. Raises UploadError otherwise.

    >>> safe_name("../../etc/passwd.txt")
    'passwd.txt'
    """
    base = re.split(r"[\\/]", name or "")[-1]
    # NFKD then ASCII: "Café" keeps its "e" instead of becoming "Caf_".
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = f".{suffix.lower()}"
    if suffix not in SUPPORTED_SUFFIXES:
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise UploadError(f"{shown!r} is not a supported file type (use {', '.join(SUPPORTED_SUFFIXES)}).")
    stem = _UNSAFE.sub("_", stem)
    stem = re.sub(r"\.{2,}", ".", stem).strip("._-")[:_MAX_STEM].strip("._-")
    return f"{stem or 'upload'}{suffix}"


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/stem-2.suffix`` (-3, ...) when that name is taken."""
    path = folder / name
    stem, suffix = path.stem, path.suffix
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}{suffix}"
        n += 1
    return path


def check_content(data: bytes, name: str, max_bytes: int) -> None:
    """Refuse an empty, oversize or unreadable file with a one-line UploadError."""
    if not data:
        raise UploadError(f"{name} is empty.")
    if len(data) > max_bytes:
        raise UploadError(f"{name} is too large ({_size(len(data))}; the limit is {_size(max_bytes)}).")
    suffix = Path(name).suffix.lower()
    if suffix == ".pdf":
        if not data.startswith(b"%PDF-"):
            raise UploadError(f"{name} is not a PDF file.")
    elif suffix in _TEXT_SUFFIXES:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UploadError(f"{name} is not UTF-8 text.") from None
        if "\x00" in text or not text.strip():
            raise UploadError(f"{name} holds no readable text.")


def save_upload(src: str | Path, corpus_dir: Path, max_bytes: int, original_name: str | None = None) -> Path:
    """Copy the uploaded file ``src`` into ``corpus_dir``; return where it was saved.

    ``original_name`` is the name the user gave (defaults to ``src``'s name). Raises
    UploadError for an unsupported, empty, oversize or unreadable file.
    """
    src = Path(src)
    name = safe_name(original_name or src.name)
    try:
        size = src.stat().st_size
        if size > max_bytes:  # refuse before reading a huge file into memory
            raise UploadError(f"{name} is too large ({_size(size)}; the limit is {_size(max_bytes)}).")
        data = src.read_bytes()
    except OSError as exc:
        raise UploadError(f"Cannot read the uploaded file {name}: {exc.strerror or exc}.") from None
    check_content(data, name, max_bytes)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    while True:
        target = unique_path(corpus_dir, name)
        try:
            # "xb" fails if another upload took the name since unique_path looked.
            with open(target, "xb") as handle:
                handle.write(data)
        except FileExistsError:
            continue
        return target


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.2f} MB" if n >= 1024 * 1024 else f"{n:,} bytes"
