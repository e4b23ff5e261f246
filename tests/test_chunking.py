import itertools

from index.ingest.chunking import chunk_document, chunk_id
from index.ingest.sentences import split_sentences
from index.records import Document


def _doc(text: str, title: str = "T") -> Document:
    return Document("d.txt", title, None, text, "h", tuple(split_sentences(text)))


def _words(text: str) -> int:
    return len(text.split())


def test_chunks_respect_the_budget_including_title_and_special_tokens():
    text = " ".join(f"Sentence number {i} has six words." for i in range(40))
    _, chunks = chunk_document(_doc(text, title="Two words"), _words, max_tokens=30, overlap_sentences=0)
    for chunk in chunks:
        assert _words("Two words") + _words(chunk.text) + 2 <= 30
    assert " ".join(c.text for c in chunks) == text


def test_overlap_repeats_the_last_sentences_of_the_previous_chunk():
    text = " ".join(f"Sentence {i} is here." for i in range(12))
    _, chunks = chunk_document(_doc(text), _words, max_tokens=20, overlap_sentences=1)
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.first_sentence == prev.last_sentence - 1


def test_chunk_offsets_and_ids_are_stable():
    text = "One sentence here. Another sentence there.\n\nA third paragraph."
    doc, chunks = chunk_document(_doc(text), _words, max_tokens=64, overlap_sentences=1)
    assert len(chunks) == 1
    assert doc.text[chunks[0].start:chunks[0].end] == chunks[0].text
    assert chunks[0].chunk_id == chunk_id("d.txt", chunks[0].text)
    _, again = chunk_document(_doc(text), _words, max_tokens=64, overlap_sentences=1)
    assert again[0].chunk_id == chunks[0].chunk_id


def test_a_sentence_longer_than_the_budget_is_split_at_word_boundaries():
    text = " ".join(["word"] * 100) + "."
    doc, chunks = chunk_document(_doc(text), _words, max_tokens=40, overlap_sentences=0)
    assert len(chunks) >= 3
    assert all(_words(c.text) <= 40 - 2 - 1 for c in chunks)
    assert doc.text[chunks[0].start:chunks[-1].end] == text


def test_single_sentence_document_gives_one_chunk():
    _, chunks = chunk_document(_doc("Only this."), _words, max_tokens=64, overlap_sentences=2)
    assert [c.text for c in chunks] == ["Only this."]
