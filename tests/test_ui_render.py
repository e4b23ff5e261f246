"""The chat page's HTML, from hand-made answers: markers, escaping, refusals, sources."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser

from rag.records import Answer, Citation, Passage
from ui.render import (
    answer_text_html,
    highlight_quote,
    render_answer,
    render_citation,
    render_conversation,
    render_documents,
    render_notice,
    render_question,
    render_sources,
    source_id,
    uncited_passages,
)

HOSTILE = '<script>alert(1)</script> and <img src=x onerror=alert(1)> "quoted" & \'single\''
PASSAGE_TEXT = "Talks began on Monday. The delegation is headed by Saleh Al-Arouri. Nothing else was said."
QUOTE = "The delegation is headed by Saleh Al-Arouri."


def passage(chunk_id: str = "c1", text: str = PASSAGE_TEXT, start: int = 100, title: str = "Khamenei hosts Hamas",
            source: str = "a.txt") -> Passage:
    return Passage(chunk_id, source, title, "2019-07-24", text, start, start + len(text), 0.5)


def citation(marker: int = 1, chunk_id: str = "c1", text: str = PASSAGE_TEXT, quote: str = QUOTE,
             start: int = 123, title: str = "Khamenei hosts Hamas", source: str = "a.txt") -> Citation:
    return Citation(marker, source, title, "2019-07-24", chunk_id, text, quote, start, start + len(quote))


def answer(text: str = f"{QUOTE} [1]", refused: bool = False, citations: list[Citation] | None = None,
           passages: list[Passage] | None = None, complete: bool = True) -> Answer:
    return Answer("Who led the delegation?", text, refused,
                  [citation()] if citations is None else citations,
                  [passage()] if passages is None else passages, {}, "", complete=complete)


class _Tags(HTMLParser):
    """Collects the tags and attributes a browser would build from the HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(name for name, _ in attrs)


def parsed(html: str) -> _Tags:
    tags = _Tags()
    tags.feed(html)
    return tags


def assert_inert(html: str) -> None:
    """No script or img element and no event-handler attribute: hostile text stayed text."""
    tags = parsed(html)
    assert "script" not in tags.tags and "img" not in tags.tags
    assert not [a for a in tags.attrs if a.startswith("on")]
    assert "<script>" not in html and "<img" not in html


def test_markers_become_superscript_links_to_their_source_entry():
    html = answer_text_html(answer(), turn=3)
    assert re.search(r'<sup class="cite"><a class="cite-link" href="#src-3-1" data-target="src-3-1" role="button" '
                     r'aria-expanded="false" title="[^"]*">\[1\]</a></sup>', html)
    # The card a click, tap or Enter opens in place: source, date, quote, and a way to Sources.
    card = re.search(r'<span class="cite-card" role="dialog"[^>]*hidden>(.*?)</span>$', html).group(1)
    assert "Khamenei hosts Hamas" in card and "2019-07-24" in card and "<q>" in card
    assert 'class="open-src" data-target="src-3-1"' in card and 'class="card-close"' in card
    assert source_id(3, 1) == "src-3-1"
    # The hover text names the article and quotes the supporting sentence.
    title = re.search(r'title="([^"]*)"', html).group(1)
    assert "Khamenei hosts Hamas" in title and "Saleh Al-Arouri" in title


def test_marker_without_a_citation_stays_plain_text():
    html = answer_text_html(answer(text="Something [7]."), turn=0)
    assert "[7]" in html and "<sup" not in html


def test_every_marker_in_a_multi_citation_answer_is_linked():
    cites = [citation(1), citation(2, chunk_id="c2", source="b.txt")]
    html = answer_text_html(answer(text="One. [1][2] Two. [2]", citations=cites), turn=0)
    assert html.count('class="cite-link"') == 3
    assert html.count('class="cite-link" href="#src-0-2" data-target="src-0-2"') == 2


def test_hostile_answer_text_is_escaped():
    html = render_answer(answer(text=f"{HOSTILE} [1]"), turn=0)
    assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_hostile_title_passage_quote_and_file_name_are_escaped_everywhere():
    bad_text = f"Before. {HOSTILE} After."
    cite = citation(title=HOSTILE, text=bad_text, quote=HOSTILE, source="<img src=x onerror=alert(1)>.txt",
                    start=108)
    bad_passage = passage(title=HOSTILE, text=bad_text, source=cite.source)
    other = passage(chunk_id="c9", title=HOSTILE, text=HOSTILE, source=cite.source)
    hostile = answer(text=f"{HOSTILE} [1]", citations=[cite], passages=[bad_passage, other])
    pieces = [render_answer(hostile, 0), render_sources(hostile, 0), render_question(HOSTILE),
              render_notice(HOSTILE), render_documents([{"source": cite.source, "title": HOSTILE, "date": HOSTILE}])]
    for html in pieces:
        assert_inert(html)
    # The quote is still found and highlighted, as escaped text.
    assert "<mark>&lt;script&gt;" in render_sources(hostile, 0)


def test_conflicting_accounts_render_side_by_side_with_source_and_date():
    second = citation(marker=2, chunk_id="c2", quote="The delegation was led by Saleh al-Arouri.", source="b.txt",
                      title="Other report")
    conflicted = answer(text=f"Reports differ. {QUOTE} [1] The delegation was led by Saleh al-Arouri. [2]",
                        citations=[citation(), second])
    conflicted.conflicts = [{"kind": "value", "claims": [
        {"text": QUOTE, "markers": [1], "source": "a.txt"},
        {"text": "The delegation was led by Saleh al-Arouri.", "markers": [2], "source": "b.txt"}]}]
    html = render_answer(conflicted, 0)
    assert "Reports differ" in html and html.count('class="account"') == 2
    assert "a.txt" in html and "b.txt" in html and "2019-07-24" in html
    assert 'data-target="src-0-1"' in html and 'data-target="src-0-2"' in html


def test_hostile_text_in_conflicting_accounts_is_escaped():
    cite = citation(title=HOSTILE, quote=HOSTILE, source="<img src=x onerror=alert(1)>.txt")
    hostile = answer(text=f"Reports differ. {HOSTILE} [1] {HOSTILE} [1]", citations=[cite])
    hostile.conflicts = [{"kind": f"<script>{HOSTILE}", "claims": [
        {"text": HOSTILE, "markers": [1], "source": cite.source},
        {"text": HOSTILE, "markers": [7], "source": HOSTILE}]}]
    html = render_answer(hostile, 0)
    assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_hostile_text_cannot_break_out_of_the_tooltip_attribute():
    html = answer_text_html(answer(citations=[citation(title='x" onmouseover="alert(1)')]), turn=0)
    assert_inert(html)
    assert "&quot; onmouseover=&quot;" in html


def test_refusal_is_styled_apart_from_an_answer():
    refused = render_answer(answer(text="The articles don't say. The closest passage is [1].", refused=True), 0)
    answered = render_answer(answer(), 0)
    assert 'class="msg bot refusal"' in refused and "Not in the articles" in refused
    assert 'class="msg bot answer"' in answered and "Not in the articles" not in answered
    assert 'class="sources refusal"' in render_sources(answer(refused=True), 0)


def test_partial_answer_shows_a_cursor_and_is_marked_incomplete():
    partial = render_answer(answer(text="The delegation", complete=False), 0)
    assert 'data-complete="false"' in partial and "cursor" in partial
    assert 'data-complete="true"' in render_answer(answer(), 0)


def test_quote_is_highlighted_at_its_offset_in_the_passage():
    html = render_citation(citation(), turn=2, passages=[passage()])
    assert f"<mark>{QUOTE}</mark>" in html
    assert 'id="src-2-1"' in html
    assert "Khamenei hosts Hamas" in html and "2019-07-24" in html and "a.txt" in html
    assert 'class="back-to-answer" href="#answer-2"' in html


def test_each_source_says_in_words_how_it_was_found_with_the_score_in_its_tooltip():
    both = replace(passage(), dense_rank=1, bm25_rank=3, score=0.0325)
    bm25 = replace(passage(chunk_id="c2"), dense_rank=None, bm25_rank=1, score=0.0161)
    html = render_sources(answer(passages=[both, bm25]), 0)
    assert "Best match of 2 · found by meaning (#1) and by its words (#3)" in html
    assert "Match 2 of 2 · found by its words (#1)" in html
    assert 'title="fused score 0.0325' in html and "score 0.0325 ·" not in html
    assert html.count('class="rel-bar"') == 3 and "width:100%" in html and "width:90%" in html


def test_a_complete_answer_can_be_copied_with_its_numbered_sources():
    from ui.render import copy_text

    text = copy_text(answer())
    assert text.startswith(answer().text) and "\n\nSources:\n[1] Khamenei hosts Hamas, 2019-07-24 (a.txt)" in text
    html = render_answer(answer(), 0)
    assert 'class="copy-btn"' in html and "Sources:" in html
    assert "copy-btn" not in render_answer(answer(complete=False), 0)
    stopped = render_answer(answer(complete=False), 0, stopped=True)
    assert "Stopped" in stopped and "cursor" not in stopped and 'data-complete="true"' in stopped


def test_highlight_uses_the_offset_when_the_quote_occurs_twice():
    text = "He said yes. Then he said no. He said yes."
    assert highlight_quote(text, "He said yes.", 30) == "He said yes. Then he said no. <mark>He said yes.</mark>"
    assert highlight_quote(text, "He said yes.", 0).startswith("<mark>He said yes.</mark>")


def test_highlight_falls_back_to_search_and_to_whitespace_differences():
    text = "First line.\nThe delegation is headed\nby Saleh Al-Arouri. End."
    assert "<mark>The delegation is headed\nby Saleh Al-Arouri.</mark>" in highlight_quote(text, QUOTE, 999)
    assert "<mark>" not in highlight_quote(text, "A sentence that is not there.", None)
    assert highlight_quote("", "", None) == ""


def test_uncited_passages_sit_in_a_collapsed_details():
    extra = passage(chunk_id="c2", text="An unrelated passage about weather.", title="Weather")
    result = answer(passages=[passage(), extra])
    assert uncited_passages(result) == [extra]
    html = render_sources(result, 0)
    details = re.search(r'<details class="uncited">(.*?)</details>', html, re.S)
    assert details and "Retrieved but not cited (1)" in details.group(1)
    assert "unrelated passage about weather" in details.group(1)
    assert "<details class=\"uncited\" open" not in html
    # The cited passage is not repeated among the uncited ones.
    assert PASSAGE_TEXT not in details.group(1)


def test_sources_panel_without_uncited_passages_has_no_details_section():
    assert "uncited" not in render_sources(answer(), 0)


def test_empty_states_render_placeholders():
    assert "placeholder" in render_sources(None)
    assert "placeholder" in render_conversation([])
    assert render_notice("") == ""
    assert "0 articles indexed" in render_documents([])


def test_conversation_keeps_every_turn_in_order():
    turns = [render_question("first?") + render_answer(answer(), 0),
             render_question("second?") + render_answer(answer(), 1)]
    html = render_conversation(turns)
    assert html.index("first?") < html.index("second?")
    assert 'data-turn="0"' in html and 'data-turn="1"' in html


def test_corpus_panel_lists_title_date_and_file():
    html = render_documents([{"source": "a.txt", "title": "Khamenei hosts Hamas", "date": "2019-07-24"},
                             {"source": "b.md", "title": "Undated", "date": None}])
    assert "2 articles indexed" in html
    assert html.count("<tr>") == 3  # header and two rows
    assert "Khamenei hosts Hamas" in html and "b.md" in html and ">undated<" in html


def test_the_short_answer_is_bold_inside_its_sentence_and_escaped():
    quote = "Talks began. The delegation is headed by Saleh <Al-Arouri>."
    text = "The delegation is headed by Saleh <Al-Arouri>. [1]"
    short = {"text": "Saleh <Al-Arouri>", "marker": 1, "start": quote.index("Saleh"), "end": len(quote) - 1}
    a = replace(answer(text, citations=[citation(quote=quote)]), short_answer=short)
    html_out = answer_text_html(a, 0)
    assert '<b class="short-answer">Saleh &lt;Al-Arouri&gt;</b>' in html_out
    assert "<Al-Arouri>" not in html_out and 'class="cite-link"' in html_out
    # A short answer that does not stand where its offsets say is not shown in bold anywhere.
    wrong = replace(a, short_answer={**short, "start": 0, "end": len(short["text"])})
    assert "short-answer" not in answer_text_html(wrong, 0)


def test_an_uncertain_answer_is_marked_apart_from_answers_and_refusals():
    from rag.records import UNCERTAIN_LEAD

    html_out = render_answer(replace(answer(f"{UNCERTAIN_LEAD} {QUOTE} [1]"), status="uncertain"), 0)
    assert 'class="msg bot uncertain"' in html_out and "badge-uncertain" in html_out
    assert "badge-uncertain" not in render_answer(answer(), 0)


def test_a_generated_answer_is_marked_as_written_by_its_model_and_a_quoted_one_is_not():
    from ui.render import render_answer

    quoted = answer()
    written = replace(answer(), written_by="SmolLM2-135M-Instruct<script>")
    assert "Written by" not in render_answer(quoted, 0)
    html = render_answer(written, 0)
    assert "✎ Written by SmolLM2-135M-Instruct&lt;script&gt;" in html and "<script>" not in html
    assert 'sup class="cite"' in html or "[1]" in html  # its citations stay as they were
