"""Pack a document's sentences into passages that fit the embedder's token budget."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from ..records import Chunk, Document

TokenCounter = Callable[[str], int]


def chunk_id(doc_id: str, text: str) -> str:
    """Stable id of a passage: the same text in the same document keeps its id across builds."""
    return hashlib.sha256(f"{doc_id}\x00{text}".encode()).hexdigest()[:16]


def embedding_text(title: str, text: str) -> str:
    """What the embedder sees for a passage: its document title, then the passage."""
    return f"{title}\n{text}" if title else text


def split_long_sentences(
    doc: Document, count_tokens: TokenCounter, budget: int
) -> tuple[Document, list[int]]:
    """Cut any sentence longer than ``budget`` word pieces at word boundaries; returns the
    document and the word pieces of each of its sentences (each counted once)."""
    spans: list[tuple[int, int]] = []
    sizes: list[int] = []
    for start, end in doc.sentences:
        size = count_tokens(doc.text[start:end])
        if size <= budget:
            spans.append((start, end))
            sizes.append(size)
            continue
        piece_start = start
        last_fit = start
        for m in re.finditer(r"\S+", doc.text[start:end]):
            word_end = start + m.end()
            if count_tokens(doc.text[piece_start:word_end]) > budget and last_fit > piece_start:
                spans.append((piece_start, last_fit))
                sizes.append(count_tokens(doc.text[piece_start:last_fit]))
                piece_start = start + m.start()
            last_fit = word_end
        spans.append((piece_start, end))
        sizes.append(count_tokens(doc.text[piece_start:end]))
    if len(spans) == len(doc.sentences):
        return doc, sizes
    return Document(doc.doc_id, doc.title, doc.date, doc.text, doc.content_hash, tuple(spans)), sizes


def chunk_document(
    doc: Document, count_tokens: TokenCounter, max_tokens: int, overlap_sentences: int
) -> tuple[Document, list[Chunk]]:
    """Greedily pack whole sentences into chunks of at most ``max_tokens`` word pieces.

    ``count_tokens`` counts word pieces without special tokens; the budget covers the title
    prefix and the two special tokens too. Returns the document (with over-long sentences
    split) and its chunks in reading order.
    """
    budget = max_tokens - 2 - count_tokens(doc.title)
    if budget < 16:
        raise ValueError(
            f"title of {doc.doc_id} leaves only {budget} of {max_tokens} tokens for text"
        )
    doc, sizes = split_long_sentences(doc, count_tokens, budget)
    chunks: list[Chunk] = []
    first = 0
    while first < len(sizes):
        last, used = first, 0
        while last < len(sizes) and used + sizes[last] <= budget:
            used += sizes[last]
            last += 1
        start, end = doc.sentences[first][0], doc.sentences[last - 1][1]
        text = doc.text[start:end]
        chunks.append(Chunk(chunk_id(doc.doc_id, text), doc.doc_id, start, end, text, first, last))
        if last >= len(sizes):
            break
        # Step back for overlap, but always move forward by at least one sentence.
        first = max(first + 1, last - overlap_sentences)
    return doc, chunks
