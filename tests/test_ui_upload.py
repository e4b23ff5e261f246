"""Uploads: safe names, unique names, and refusals with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui.upload import UploadError, check_content, safe_name, save_upload, unique_path

LIMIT = 1024


@pytest.mark.parametrize(("given", "expected"), [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\win.ini.md", "win.ini.md"),
    (".hidden.md", "hidden.md"),
    ("a b<c>.html", "a_b_c.html"),
    ("Report 2019 (final).PDF", "Report_2019_final.pdf"),
    ("Café.txt", "Cafe.txt"),
    ("日本.txt", "upload.txt"),
    ("...txt", "upload.txt"),
    ("/abs/path/to/article.htm", "article.htm"),
])
def test_safe_name_keeps_only_a_plain_file_name(given, expected):
    assert safe_name(given) == expected


@pytest.mark.parametrize("given", ["virus.exe", "archive.txt.zip", "noextension", "", "notes.txt/"])
def test_safe_name_refuses_unsupported_types(given):
    with pytest.raises(UploadError, match="not a supported file type"):
        safe_name(given)


def test_safe_name_limits_length():
    name = safe_name("x" * 500 + ".txt")
    assert name.endswith(".txt") and len(name) <= 84


def test_unique_path_numbers_a_taken_name(tmp_path: Path):
    assert unique_path(tmp_path, "a.txt") == tmp_path / "a.txt"
    (tmp_path / "a.txt").write_text("x")
    assert unique_path(tmp_path, "a.txt") == tmp_path / "a-2.txt"
    (tmp_path / "a-2.txt").write_text("x")
    assert unique_path(tmp_path, "a.txt") == tmp_path / "a-3.txt"


def test_save_upload_copies_under_a_sanitised_unique_name(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "passwd.txt").write_text("already here", encoding="utf-8")
    src = tmp_path / "upload.bin"
    src.write_text("The Zephyr Council approved 17 bridges.", encoding="utf-8")
    saved = save_upload(src, corpus, LIMIT, original_name="../../etc/passwd.txt")
    assert saved == corpus / "passwd-2.txt"
    assert saved.read_text(encoding="utf-8") == "The Zephyr Council approved 17 bridges."
    assert (corpus / "passwd.txt").read_text(encoding="utf-8") == "already here"
    assert not (tmp_path / "etc").exists()
    # The name defaults to the uploaded file's own.
    (tmp_path / ".notes.md").write_text("# Notes\n\nSome text.", encoding="utf-8")
    assert save_upload(tmp_path / ".notes.md", corpus, LIMIT) == corpus / "notes.md"


def test_oversize_upload_is_refused_and_nothing_is_written(tmp_path: Path):
    corpus = tmp_path / "corpus"
    src = tmp_path / "big.txt"
    src.write_text("x" * (LIMIT + 1), encoding="utf-8")
    with pytest.raises(UploadError, match=r"big\.txt is too large \(1,025 bytes; the limit is 1,024 bytes\)"):
        save_upload(src, corpus, LIMIT)
    assert not corpus.exists() or not any(corpus.iterdir())


def test_upload_exactly_at_the_limit_is_accepted(tmp_path: Path):
    src = tmp_path / "edge.txt"
    src.write_text("y" * LIMIT, encoding="utf-8")
    assert save_upload(src, tmp_path / "corpus", LIMIT).stat().st_size == LIMIT


@pytest.mark.parametrize(("name", "data", "message"), [
    ("empty.txt", b"", "is empty"),
    ("blank.md", b"   \n\n", "no readable text"),
    ("latin.txt", "caf\xe9".encode("latin-1"), "not UTF-8 text"),
    ("binary.html", b"abc\x00def", "no readable text"),
    ("fake.pdf", b"hello, not a pdf", "not a PDF file"),
])
def test_unreadable_content_is_refused_with_one_line(name, data, message):
    with pytest.raises(UploadError, match=message) as info:
        check_content(data, name, LIMIT)
    assert "\n" not in str(info.value)


def test_pdf_and_text_content_pass(tmp_path: Path):
    check_content(b"%PDF-1.4\n...", "a.pdf", LIMIT)
    check_content("Grüße aus Teheran.".encode(), "a.txt", LIMIT)


def test_missing_upload_file_gives_a_clear_error(tmp_path: Path):
    with pytest.raises(UploadError, match=r"Cannot read the uploaded file gone\.txt"):
        save_upload(tmp_path / "gone.txt", tmp_path / "corpus", LIMIT)
