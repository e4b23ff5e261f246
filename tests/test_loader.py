import logging
from pathlib import Path

import pytest

from index import CorpusError
from index.ingest.loader import load_corpus, scan_corpus

from .pdfmaker import write_pdf


def _docs(root: Path) -> dict:
    return {d.doc_id: d for d in load_corpus(root)}


def test_reads_txt_md_html_recursively_with_relative_ids(small_corpus):
    docs = _docs(small_corpus)
    assert sorted(docs) == ["a.txt", "b.md", "world/c.html"]
    assert docs["a.txt"].title == "Rocket attack on the border"
    assert docs["b.md"].title == "Talks in Cairo"
    assert docs["b.md"].date == "2019-09-03"
    assert docs["b.md"].text.startswith("Egyptian mediators")


def test_html_keeps_visible_text_only(small_corpus):
    doc = _docs(small_corpus)["world/c.html"]
    assert doc.title == "Aid pledge"
    assert doc.text == "The fund pledged $5 million for schools in the region."
    assert "var x" not in doc.text and "color" not in doc.text


def test_reads_pdf_text_and_title(tmp_path):
    write_pdf(tmp_path / "report.pdf", ["Budget report for the year", "The council approved 40 new schools."],
              title="Council budget")
    doc = _docs(tmp_path)["report.pdf"]
    assert doc.title == "Council budget"
    assert "The council approved 40 new schools." in doc.text


def test_sentence_offsets_map_back_into_the_cleaned_text(small_corpus):
    doc = _docs(small_corpus)["a.txt"]
    sentences = [doc.text[a:b] for a, b in doc.sentences]
    assert sentences == ["Militants fired 12 rockets at the town on Monday.", "The army said nobody was hurt.",
                         "The mayor, Dr. Ruth Levi, asked for calm."]


def test_bad_files_are_skipped_with_a_warning_naming_them(small_corpus, caplog):
    (small_corpus / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me".encode("latin-1"))
    (small_corpus / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    (small_corpus / "empty.md").write_text("   \n\n", encoding="utf-8")
    (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    with caplog.at_level(logging.WARNING):
        docs = _docs(small_corpus)
    assert sorted(docs) == ["a.txt", "b.md", "world/c.html"]
    messages = " | ".join(r.getMessage() for r in caplog.records)
    for name in ("latin1.txt", "blob.txt", "empty.md", "broken.pdf"):
        assert name in messages


def test_hidden_and_unsupported_files_are_ignored(small_corpus):
    (small_corpus / ".secret.txt").write_text("hidden text here", encoding="utf-8")
    (small_corpus / "image.png").write_bytes(b"\x89PNG")
    assert [s.doc_id for s in scan_corpus(small_corpus)] == ["a.txt", "b.md", "world/c.html"]


def test_missing_corpus_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="Corpus folder not found"):
        scan_corpus(tmp_path / "nope")


def test_folder_without_documents_is_a_clear_error(tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="No readable document"):
        scan_corpus(tmp_path)


def test_hostile_html_in_a_text_file_is_kept_as_text(tmp_path):
    (tmp_path / "x.txt").write_text("Hostile page title\n\nHello <script>alert(1)</script> there.\n",
                                    encoding="utf-8")
    assert "<script>alert(1)</script>" in _docs(tmp_path)["x.txt"].text


def test_an_extra_folder_is_scanned_under_its_prefix_and_never_shadows_the_corpus(small_corpus, tmp_path, caplog):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "notes.md").write_text("# Port notes\n\nThe port opened a quay.\n", encoding="utf-8")
    (small_corpus / "uploads").mkdir()
    (small_corpus / "uploads" / "notes.md").write_text("# Corpus notes\n\nThe corpus wins.\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        files = scan_corpus(small_corpus, {"uploads": uploads})
    ids = [f.doc_id for f in files]
    assert ids.count("uploads/notes.md") == 1
    assert next(f for f in files if f.doc_id == "uploads/notes.md").path == small_corpus / "uploads" / "notes.md"
    assert "the corpus folder has a file of that name" in caplog.text
    (small_corpus / "uploads" / "notes.md").unlink()
    files = scan_corpus(small_corpus, {"uploads": uploads, "gone": tmp_path / "missing"})
    assert next(f for f in files if f.doc_id == "uploads/notes.md").path == uploads / "notes.md"


def test_dates_come_from_page_and_pdf_metadata_when_the_text_gives_none(tmp_path):
    (tmp_path / "page.html").write_text(
        '<html><head><meta property="article:published_time" content="2019-07-22T09:30:00Z"></head>'
        "<body><h1>Port opens quay</h1><p>The port opened a quay.</p></body></html>", encoding="utf-8")
    (tmp_path / "timed.html").write_text(
        '<html><body><h1>Council meets</h1><time datetime="2020-01-05">5 Jan</time><p>It met.</p></body></html>',
        encoding="utf-8")
    write_pdf(tmp_path / "report.pdf", ["Budget report for the year", "The council approved 40 schools."],
              title="Council budget", created="D:20180301120000Z")
    (tmp_path / "dated.html").write_text(
        '<html><head><meta name="date" content="2001-01-01"></head><body><h1>Old news</h1>'
        "<p>Published 22 July 2019</p><p>It happened.</p></body></html>", encoding="utf-8")
    docs = _docs(tmp_path)
    assert docs["page.html"].date == "2019-07-22" and docs["timed.html"].date == "2020-01-05"
    assert docs["report.pdf"].date == "2018-03-01"
    assert docs["dated.html"].date == "2001-01-01"  # a page's own publication metadata wins over its text


def _html_doc(tmp_path: Path, body: str) -> "object":
    (tmp_path / "page.html").write_text(f"<html><head><title>Bridge repairs</title></head><body>{body}</body></html>",
                                        encoding="utf-8")
    return _docs(tmp_path)["page.html"]


def _sentences(doc) -> list[str]:
    return [doc.text[a:b] for a, b in doc.sentences]


def test_inline_elements_stay_inside_their_sentence(tmp_path):
    doc = _html_doc(tmp_path, (
        '<h1>Bridge repairs</h1>'
        '<p>Engineers found corrosion in the <a href="#">main span</a> last spring.</p>'
        '<p>Quillan Marsh said the strange <img src="x.png" alt="banner"> banner text was fake.<br>'
        'The <span class="x"><em>city</em></span> removed it on <time datetime="2019-07-02">Tuesday</time>.</p>'
        '<figure><img src="y.png"><figcaption>The bridge at dusk.</figcaption></figure>'
        '<p>Repairs cost <b>$4</b> million<!-- a comment -->, officials said.</p>'))
    assert _sentences(doc) == [
        "Engineers found corrosion in the main span last spring.",
        "Quillan Marsh said the strange banner text was fake.",
        "The city removed it on Tuesday.",
        "The bridge at dusk.",
        "Repairs cost $4 million, officials said."]


def test_messy_and_hostile_markup_keeps_blocks_apart_and_runs_nothing(tmp_path):
    doc = _html_doc(tmp_path, (
        "<div>Unclosed first paragraph.<p>Second&nbsp;one &amp; more.<p>Third <script>alert(1)</script>one."
        "</div><ul><li>A <a href='#'><strong>linked</strong> item</a>.</li><li>Another item.</li></ul>"
        + "<span>" * 3000 + "Deep text." + "</span>" * 3000))
    assert "alert" not in doc.text
    assert doc.text.split("\n\n") == ["Unclosed first paragraph.", "Second one & more.", "Third one.",
                                      "A linked item.", "Another item.", "Deep text."]


def test_pdf_lines_wrapped_inside_a_paragraph_are_one_sentence(tmp_path):
    write_pdf(tmp_path / "report.pdf", [
        "Council budget",
        "The council approved forty new schools after a long debate in which the mayor and",
        "the opposition agreed that the inter-",
        "national fund would pay half of the cost.",
        "Building starts in May."], title="Council budget")
    doc = _docs(tmp_path)["report.pdf"]
    assert _sentences(doc) == [
        "The council approved forty new schools after a long debate in which the mayor and the opposition "
        "agreed that the international fund would pay half of the cost.",
        "Building starts in May."]


def test_front_matter_gives_a_text_or_markdown_file_its_title_and_date(tmp_path):
    (tmp_path / "a.md").write_text("---\ntitle: \"Talks in Cairo\"\ndate: 2019-09-03T08:00:00Z\nauthor: X\n---\n"
                                   "Egyptian mediators met both sides on Tuesday.\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("---\npublished: 2019-07-22\n---\nHarbour reopens\n\nThe port reopened.\n",
                                    encoding="utf-8")
    (tmp_path / "c.txt").write_text("Date: 2019-08-01\nA first-line date\n\nThe council met.\n", encoding="utf-8")
    (tmp_path / "d.txt").write_text("No date here\n\nThe council met again.\n", encoding="utf-8")
    docs = _docs(tmp_path)
    assert (docs["a.md"].title, docs["a.md"].date) == ("Talks in Cairo", "2019-09-03")
    assert docs["a.md"].text == "Egyptian mediators met both sides on Tuesday."  # the front matter is not text
    assert (docs["b.txt"].title, docs["b.txt"].date) == ("Harbour reopens", "2019-07-22")
    assert docs["c.txt"].date == "2019-08-01" and docs["d.txt"].date is None
