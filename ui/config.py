"""Settings of the chat page, in one frozen dataclass built once and passed down."""

from __future__ import annotations

from dataclasses import dataclass

EXAMPLE_QUESTIONS = (
    "Who led the Hamas delegation that met Khamenei?",
    "How much did Iran pay to the families of those killed in the Gaza protests?",
    "How many rockets did Hamas fire at Israel in 2019?",
)


@dataclass(frozen=True)
class UIConfig:
    """What the page offers and how it serves."""

    # Loopback only: the page reads and writes the corpus folder, so it is private by default.
    host: str = "127.0.0.1"
    port: int = 7860
    # A public gradio.live tunnel; off unless asked for on the command line.
    share: bool = False
    # Largest accepted upload; news articles are kilobytes, a PDF a few megabytes at most.
    max_upload_bytes: int = 5 * 1024 * 1024
    # Chat answers being written at the same time (a generated one holds its slot while the
    # model writes; an extractive one is ready at once and shown whole, with no made-up wait).
    chat_concurrency: int = 8
    # With private uploads (``ChatService(..., visitors_dir=...)``, `rag chat`'s default): the
    # visitors' spaces kept open at once; the least recently used reopen from disk on return.
    max_visitor_spaces: int = 32
    # Where the visitor's browser keeps their conversations (localStorage, sealed with a key
    # the server keeps in its cache folder).
    storage_key: str = "newsrag-conversations"
    examples: tuple[str, ...] = EXAMPLE_QUESTIONS
    title: str = "newsrag — cited answers over news articles"

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1:
            raise ValueError(f"max_upload_bytes must be >= 1, got {self.max_upload_bytes}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")
