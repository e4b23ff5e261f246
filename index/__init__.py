"""Indexing stage: load and clean a corpus folder, chunk, embed, and store a FAISS index."""

from .builder import BuildReport, open_index, rebuild_hint
from .config import DEFAULT_MODEL, IndexConfig
from .embedder import Embedder, SentenceTransformerEmbedder
from .errors import CorpusError, IndexCorruptError, IndexMismatchError, ModelError, RagError
from .records import Chunk, Document
from .store import IndexStore

__all__ = [
    "DEFAULT_MODEL", "BuildReport", "Chunk", "CorpusError", "Document", "Embedder", "IndexConfig",
    "IndexCorruptError", "IndexMismatchError", "IndexStore", "ModelError", "RagError",
    "SentenceTransformerEmbedder", "open_index", "rebuild_hint",
]
