"""Publication dates on real-world page and text shapes: datelines, bylines, stamps, meta
tags, JSON-LD, <time>, front matter; and dates that are not the report's own (an event in
the story's first sentence, a dateline without a year, a year in a headline) left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.ingest.loader import load_corpus

BODY = "The council met on Monday and agreed to reopen the harbour.\n\nIt will cost 4 million dollars.\n"

TEXT_SHAPES = [
    # (what the file's first lines say, the publication date expected; None: undated)
    ("date 2019-07-24 JERUSALEM, Israel - The paper reports that talks went well.", "2019-07-24"),
    ("Date: 2019-07-22", "2019-07-22"),
    ("Date: July 22, 2019", "2019-07-22"),
    ("LONDON, March 16, 2019 (Reuters) - Britain said on Saturday it would act.", "2019-03-16"),
    ("WASHINGTON, Sept. 3, 2019 /PRNewswire/ -- The agency said it would act.", "2019-09-03"),
    ("Published: 22 July 2019", "2019-07-22"),
    ("Published 22 July 2019 13:05 BST", "2019-07-22"),
    ("Updated: 23 July 2019 / Published: 22 July 2019", "2019-07-22"),
    ("Last updated: 24 July 2019", "2019-07-24"),
    ("Posted on July 22, 2019 by Staff", "2019-07-22"),
    ("By Jane Doe | July 22, 2019", "2019-07-22"),
    ("By Jane Doe, Reuters\nJuly 22, 2019", "2019-07-22"),
    ("Monday, July 22, 2019", "2019-07-22"),
    ("July 22, 2019 | 10:45 AM", "2019-07-22"),
    ("22 July 2019", "2019-07-22"),
    ("Jul 22, 2019", "2019-07-22"),
    ("Sept. 3rd, 2019", "2019-09-03"),
    ("3rd of September 2019", "2019-09-03"),
    ("Published 22.07.2019", "2019-07-22"),
    ("Published: 2019-07-22T10:00:00Z", "2019-07-22"),
    ("Iran's leader meets Hamas deputy in Tehran July 22, 2019 (photo credit: REUTERS)", "2019-07-22"),
    ("TEHRAN, IRAN - JULY 22, 2019: (EDITORIAL USE ONLY MANDATORY CREDIT - PRESS OFFICE / HANDOUT)", "2019-07-22"),
    # Not the report's own date, or no full date at all: undated, never invented.
    ("LONDON, March 16 (Reuters) - Britain said on Saturday it would act.", None),
    ("On March 16, 2005, the council voted to close the plant.", None),
    ("The talks, which began on 3 May 2018, resumed on Monday after a long pause.", None),
    ("The largest protest to date, on 3 May 2019, drew thousands of people.", None),
    ("Iran marks 40 years since the 1979 revolution", None),
    ("Copyright 2019 The Daily News", None),
    ("In July, Iran's Revolutionary Guards praised the group.", None),
    ("February 30, 2019", None),
    ("Published 31.02.2019", None),
    ("Posted in March", None),
]


@pytest.mark.parametrize(("head", "expected"), TEXT_SHAPES, ids=[h[:40] for h, _ in TEXT_SHAPES])
def test_a_text_files_date_is_its_own_and_only_its_own(tmp_path: Path, head: str, expected: str | None):
    (tmp_path / "a.txt").write_text(f"Harbour to reopen after repairs\n\n{head}\n\n{BODY}", encoding="utf-8")
    (doc,) = load_corpus(tmp_path)
    assert doc.date == expected


def test_a_date_deep_in_the_body_is_not_the_reports():
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        paragraphs = [f"Paragraph {i} of the story goes on." for i in range(12)]
        (Path(tmp) / "a.txt").write_text("Harbour news\n\n" + "\n\n".join(paragraphs) + "\n\nPublished 3 May 2019\n",
                                        encoding="utf-8")
        (doc,) = load_corpus(Path(tmp))
        assert doc.date is None


def _page(head: str = "", body: str = "<h1>Harbour reopens</h1><p>The council met on Monday.</p>") -> str:
    return f"<html><head><title>Harbour reopens</title>{head}</head><body>{body}</body></html>"


HTML_SHAPES = [
    (_page('<meta property="article:published_time" content="2019-07-22T09:30:00Z">'), "2019-07-22"),
    (_page('<meta name="date" content="2019-07-22">'), "2019-07-22"),
    (_page('<meta itemprop="datePublished" content="2019-07-22">'), "2019-07-22"),
    (_page('<meta name="pubdate" content="20190722">'), None),  # not ISO: not guessed
    (_page('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
           '"headline": "Harbour reopens", "datePublished": "2019-07-22T10:00:00+02:00"}</script>'), "2019-07-22"),
    (_page('<script type="application/ld+json">{"@graph": [{"@type": "WebPage"}, {"@type": "NewsArticle", '
           '"datePublished": "2019-07-21"}]}</script>'), "2019-07-21"),
    (_page('<script type="application/ld+json">{"@type": "NewsArticle", "dateModified": "2019-07-25"}</script>'),
     None),
    (_page('<script type="application/ld+json">{not json</script>'), None),
    (_page(body='<h1>Harbour reopens</h1><time datetime="2019-07-22T08:00">22 July</time><p>It met.</p>'),
     "2019-07-22"),
    (_page('<meta name="date" content="garbage">',
           '<h1>Harbour reopens</h1><p class="byline">Published 22 July 2019</p><p>It met.</p>'), "2019-07-22"),
    (_page('<meta property="article:published_time" content="2019-07-20">',
           '<h1>Harbour reopens</h1><p>Published 22 July 2019</p><p>It met.</p>'), "2019-07-20"),
    (_page(body='<h1>Harbour reopens</h1><p>On 3 May 2018 the council first met to discuss it.</p>'), None),
    # No such day: not a date, so the next source answers (here, none).
    (_page('<meta property="article:published_time" content="2019-02-30T10:00:00Z">'), None),
]


@pytest.mark.parametrize(("html", "expected"), HTML_SHAPES, ids=[f"html{i}" for i in range(len(HTML_SHAPES))])
def test_a_pages_date_comes_from_its_metadata_then_its_header_lines(tmp_path: Path, html: str,
                                                                     expected: str | None):
    (tmp_path / "page.html").write_text(html, encoding="utf-8")
    (doc,) = load_corpus(tmp_path)
    assert doc.date == expected
    assert "Published" not in doc.text  # a date stamp is page furniture, not article text


@pytest.mark.parametrize(("text", "expected"), [
    ("---\ndate: 2019-07-22\n---\nHarbour reopens\n\n" + BODY, "2019-07-22"),
    ("---\ntitle: Harbour reopens\npublished: '2019-07-22'\n---\n" + BODY, "2019-07-22"),
    ("---\ntitle: Harbour reopens\n---\nDate: 2019-07-01\n\n" + BODY, "2019-07-01"),
    ("# Harbour reopens\n\n*Published July 22, 2019*\n\n" + BODY, "2019-07-22"),
    ("---\ntitle: Harbour reopens\ndate: soon\n---\n" + BODY, None),
], ids=["front-date", "front-published", "first-line", "md-byline", "front-bad"])
def test_markdown_and_front_matter_dates(tmp_path: Path, text: str, expected: str | None):
    (tmp_path / "a.md").write_text(text, encoding="utf-8")
    (doc,) = load_corpus(tmp_path)
    assert doc.date == expected


def test_the_seed_articles_are_dated_from_their_own_text():
    from .conftest import CORPUS

    dates = {d.doc_id[:3]: d.date for d in load_corpus(CORPUS)}
    assert dates == {"000": "2019-07-24", "001": "2019-07-22", "002": None, "003": None, "004": "2019-07-22"}
