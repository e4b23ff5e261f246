"""Plain records shared by the indexing stage and everything downstream."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """A cleaned document. Offsets of chunks and sentences point into ``text``."""

    doc_id: str  # path relative to the corpus folder, with forward slashes
    title: str
    date: str | None  # ISO date (YYYY-MM-DD) when the text gives one
    text: str  # cleaned body text
    content_hash: str  # sha256 of the raw file bytes
    sentences: tuple[tuple[int, int], ...]  # (start, end) spans into text

    def sentence(self, i: int) -> str:
        start, end = self.sentences[i]
        return self.text[start:end]


@dataclass(frozen=True)
class Chunk:
    """A passage: consecutive sentences of one document, packed to the token budget."""

    chunk_id: str  # stable: hash of doc id + text
    doc_id: str
    start: int
    end: int
    text: str
    first_sentence: int  # sentence indices [first_sentence, last_sentence)
    last_sentence: int
