"""Where the project's corpus lives and where indexes are cached."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = PROJECT_ROOT / "corpus"


def cache_root() -> Path:
    """$RAG_CACHE_DIR, else the user cache ($XDG_CACHE_HOME or ~/.cache)/newsrag."""
    if env := os.environ.get("RAG_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "newsrag"


def default_index_dir(corpus_dir: Path, store: str = "faiss") -> Path:
    """One cached index per corpus folder and store, named after them and the folder's
    absolute path (switching stores back and forth rebuilds neither)."""
    resolved = Path(corpus_dir).resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    suffix = "" if store == "faiss" else f"-{store}"
    return cache_root() / "indexes" / f"{resolved.name or 'corpus'}-{digest}{suffix}"
