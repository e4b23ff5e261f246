"""Private uploads: each visitor of the page keeps the files they add to themselves.

With private uploads (the page's default) a visitor who adds a file gets a space of their own
under the page's uploads folder, ``<folder>/<visitor id>/``: their files (``files/``) and an
index of the corpus plus those files (``index/``, started as a copy of the corpus index, so
that only their own files are embedded). Their questions are answered from that index;
everyone else's from the corpus alone. A visitor is known by a random id their browser keeps
(sealed in its local storage); a visitor who never uploads costs nothing.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

Space = TypeVar("Space")

# What ``new_visitor_id`` makes; anything else the browser sends is not a visitor id (it also
# keeps a folder name made of it inside the uploads folder).
_VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{20,64}")


def new_visitor_id() -> str:
    """A fresh visitor id: 24 random URL-safe characters (144 bits), unguessable."""
    return secrets.token_urlsafe(18)


def valid_visitor_id(value: object) -> str | None:
    """``value`` when it is a visitor id ``new_visitor_id`` could have made, else None."""
    return value if isinstance(value, str) and _VISITOR_ID.fullmatch(value) else None


class VisitorSpaces(Generic[Space]):
    """The visitors' spaces under ``root``, opened on demand; at most ``capacity`` are kept
    open (the least recently used are closed and reopen from disk when their visitor returns)."""

    def __init__(self, root: Path, open_space: Callable[[Path, Path], Space], capacity: int = 32):
        self.root = Path(root)
        self._open_space = open_space  # (files folder, index folder) -> the visitor's space
        self._capacity = max(1, capacity)
        self._open: OrderedDict[str, Space] = OrderedDict()

    def folder(self, visitor: str) -> Path:
        return self.root / visitor

    def get(self, visitor: object, create: bool = False) -> Space | None:
        """The space of ``visitor``: None for a visitor without one (or no valid id), unless
        ``create``, which makes it. Not thread-safe: the caller holds its lock."""
        vid = valid_visitor_id(visitor)
        if vid is None:
            return None
        if vid in self._open:
            self._open.move_to_end(vid)
            return self._open[vid]
        files = self.folder(vid) / "files"
        if not files.is_dir():
            if not create:
                return None
            files.mkdir(parents=True)
        space = self._open_space(files, self.folder(vid) / "index")
        self._open[vid] = space
        while len(self._open) > self._capacity:
            self._open.popitem(last=False)
        return space
