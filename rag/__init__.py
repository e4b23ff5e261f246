"""Question answering over a folder of news articles, with inline citations.

    >>> import rag
    >>> bot = rag.Chatbot.from_corpus("corpus")
    >>> print(bot.ask("Who led the Hamas delegation that met Khamenei?").text)

Importing ``rag`` is cheap: the embedding model loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Answer", "Chatbot", "Citation", "Passage", "RagConfig", "RagError"]

if TYPE_CHECKING:
    from index import RagError

    from .chatbot import Chatbot
    from .config import RagConfig
    from .records import Answer, Citation, Passage

_LAZY = {
    "Chatbot": ".chatbot", "RagConfig": ".config", "Answer": ".records",
    "Citation": ".records", "Passage": ".records",
}


def __getattr__(name: str) -> Any:
    # Lazy so that `import rag` (and `rag --help`) does not import torch.
    if name == "RagError":
        from index import RagError

        return RagError
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
