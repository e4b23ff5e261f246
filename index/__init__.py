"""Indexing stage: load and clean a corpus folder, chunk, embed, and store the passages in a
SQLite database with a FAISS vector index and FTS5 full-text search."""

from .builder import BuildReport, open_index, rebuild_hint
from .config import DEFAULT_MODEL, IndexConfig
from .embed.embedder import Embedder, SentenceTransformerEmbedder
from .errors import CorpusError, IndexCorruptError, IndexMismatchError, ModelError, RagError
from .records import Chunk, Document
from .storage.store import IndexStore
from .storage.verify import copy_index, verify_index

__all__ = [
    "DEFAULT_MODEL", "BuildReport", "Chunk", "CorpusError", "Document", "Embedder", "IndexConfig",
    "IndexCorruptError", "IndexMismatchError", "IndexStore", "ModelError", "RagError",
    "SentenceTransformerEmbedder", "copy_index", "open_index", "rebuild_hint", "verify_index",
]
