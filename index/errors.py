"""Errors that carry a one-line, user-facing message (the CLI and UI print them as is)."""

from __future__ import annotations


class RagError(Exception):
    """Base class: its message is shown to the user as one line, never with a traceback."""


class CorpusError(RagError, ValueError):
    """The corpus folder is missing or holds no readable document."""


class ModelError(RagError):
    """The embedding model cannot be found, verified or loaded."""


class IndexMismatchError(RagError):
    """An index on disk was built with another model, dimension or format."""


class IndexCorruptError(RagError):
    """An index on disk is unreadable or fails its checksums."""


class StoreUnavailableError(RagError):
    """The store an index lives in (a Milvus server or file) cannot be reached."""
