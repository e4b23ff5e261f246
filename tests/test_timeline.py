"""A story's timeline through the Python API and the CLI, on fourteen reports of one
developing story the test writes (twelve dated over three weeks, two undated)."""

from __future__ import annotations

import json

import pytest

import rag
from rag.cli import main

from .story import REPORTS, write_story

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def story_bot(embedder, tmp_path_factory):
    root = tmp_path_factory.mktemp("story")
    return rag.Chatbot.from_corpus(write_story(root / "corpus"), index_dir=root / "index", embedder=embedder)


def test_the_timeline_lists_the_reports_in_publication_order_with_the_undated_apart(story_bot):
    timeline = story_bot.timeline("What happened after the Marlow bridge collapse?", k=40)
    dates = {name: date for name, date, _, _ in REPORTS}
    assert [e.source for e in timeline.dated] == sorted((n for n, d in dates.items() if d), key=dates.get)
    assert sorted(e.source for e in timeline.undated) == ["u01.txt", "u02.txt"]
    for entry in timeline.dated + timeline.undated:
        doc = story_bot.store.docs[entry.source]
        assert doc.text[entry.start:entry.end] == entry.sentence  # offsets as citations give them
        assert entry.date == dates[entry.source] and entry.title == doc.title
        assert entry.sentence in entry.passage


def test_rag_timeline_prints_json_or_dated_lines(story_bot, capsys):
    args = ["timeline", "Marlow bridge collapse toll", "-k", "40", "--corpus", str(story_bot.corpus_dir),
            "--index-dir", str(story_bot.index_dir)]
    assert main([*args, "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert [e["date"] for e in obj["dated"]] == sorted(e["date"] for e in obj["dated"]) and len(obj["dated"]) == 12
    assert {e["source"] for e in obj["undated"]} == {"u01.txt", "u02.txt"}
    assert set(obj["dated"][0]) == {"source", "title", "date", "sentence", "chunk_id", "start", "end", "score"}
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.index("2021-03-01") < out.index("2021-03-21") < out.index("Undated:")
    # Kept to a period, as answers are: its reports only, the undated left out and counted.
    assert main([*args, "--json", "--since", "2021-03-05", "--until", "2021-03-10"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert {e["date"] for e in obj["dated"]} <= {"2021-03-05", "2021-03-06", "2021-03-08", "2021-03-10"}
    assert obj["dated"] and obj["undated"] == [] and obj["period"]["undated_left_out"] == 2
    assert main([*args, "--until", "2021-03-03"]) == 0
    assert "(Only reports published any time to 2021-03-03; 2 undated reports left out.)" in capsys.readouterr().out


def test_a_timeline_keeps_to_the_period_its_query_names(story_bot):
    timeline = story_bot.timeline("What happened to the Marlow bridge before 6 March?", k=40)
    assert timeline.period["asked"] == "before 6 March" and timeline.period["until"] == "2021-03-05"
    assert [e.date for e in timeline.dated] == ["2021-03-01", "2021-03-02", "2021-03-03", "2021-03-05"]
    assert timeline.undated == [] and story_bot.timeline("Marlow bridge collapse", k=40).period is None


def test_an_empty_timeline_query_is_a_clear_error(story_bot):
    with pytest.raises(ValueError, match="empty"):
        story_bot.timeline("   ")


def test_the_pages_timeline_lists_the_reports_in_order_escaped_on_desktop_and_phone(story_bot, browser):
    from ui.render import render_timeline

    from .ui_helpers import OUT, PHONE, launch, open_page

    hostile = render_timeline(story_bot.timeline("Marlow bridge <script>alert(1)</script> collapse", k=40))
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile
    demo, url = launch(story_bot)
    try:
        OUT.mkdir(parents=True, exist_ok=True)
        for name, viewport in (("desktop", {"width": 1400, "height": 1000}), ("phone", PHONE)):
            page = open_page(browser, url, viewport)
            page.locator("#question textarea").fill("What happened after the Marlow bridge collapse?")
            page.locator("#timeline-btn").click()
            page.locator("#timeline ol.tl li.tl-entry").first.wait_for()
            dates = page.locator("#timeline ol.tl:not(.undated) .tl-date").all_inner_texts()
            assert dates == sorted(dates) and len(dates) >= 10 and dates[0] == "2021-03-01"
            assert page.locator("#timeline ol.undated li").count() == 2
            page.locator("#timeline ol.tl li.tl-entry summary").first.click()  # its passage, a click away
            page.locator("#timeline details[open] blockquote.passage mark").first.wait_for()
            page.screenshot(path=str(OUT / f"timeline-{name}.png"), full_page=True)
            if name == "desktop":  # the Settings' period holds for the timeline too
                page.locator("#settings").get_by_text("Settings").click()
                page.locator("#until textarea, #until input").first.fill("2021-03-05")
                page.locator("#timeline-btn").click()
                page.locator("#timeline .period-note").wait_for()
                assert "any time to 2021-03-05" in page.locator("#timeline .period-note").inner_text()
                dates = page.locator("#timeline ol.tl:not(.undated) .tl-date").all_inner_texts()
                assert dates and max(dates) <= "2021-03-05"
                assert page.locator("#timeline ol.undated li").count() == 0
            page.context.close()
    finally:
        demo.close()


def test_a_period_answers_only_from_reports_published_then_and_says_what_it_left_out(story_bot, capsys):
    question = "What was the death toll of the Marlow bridge collapse?"
    early = story_bot.ask(question, since="2021-03-01", until="2021-03-03")
    dates = {name: date for name, date, _, _ in REPORTS}
    assert early.citations and all("2021-03-01" <= dates[c.source] <= "2021-03-03" for c in early.citations)
    assert all(p.date and "2021-03-01" <= p.date <= "2021-03-03" for p in early.passages)
    assert early.period == {"since": "2021-03-01", "until": "2021-03-03", "undated_left_out": 2}
    assert early.to_json()["period"] == early.period and "period" not in story_bot.ask(question).to_json()
    none = story_bot.ask(question, since="2022-01-01")
    assert none.refused and "No report published from 2022-01-01" in none.text and "2 undated" in none.text
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        story_bot.ask(question, since="March 2021")
    with pytest.raises(ValueError, match="the period is empty"):
        story_bot.ask(question, since="2021-03-05", until="2021-03-01")
    args = ["ask", question, "--corpus", str(story_bot.corpus_dir), "--index-dir", str(story_bot.index_dir),
            "--until", "2021-03-02"]
    assert main([*args, "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["period"]["until"] == "2021-03-02" and {c["date"] for c in obj["citations"]} <= {"2021-03-01",
                                                                                                "2021-03-02"}
    assert main(args) == 0
    assert "(Only reports published any time to 2021-03-02; 2 undated reports left out.)" in capsys.readouterr().out
    asked = ["ask", "What was the death toll of the Marlow bridge collapse before 5 March?", *args[2:6]]
    assert main(asked) == 0
    assert ("(Only reports published any time to 2021-03-04 (the question's “before 5 March”); 2 undated reports "
            "left out.)") in capsys.readouterr().out


def test_the_pages_settings_restrict_answers_to_a_period_and_the_answer_says_so(story_bot, browser):
    from .ui_helpers import launch, open_page

    demo, url = launch(story_bot)
    try:
        page = open_page(browser, url, {"width": 1400, "height": 1000})
        page.locator("#settings").get_by_text("Settings").click()
        page.locator("#since textarea, #since input").first.fill("2021-03-01")
        page.locator("#until textarea, #until input").first.fill("2021-03-03")
        box = page.locator("#question textarea")
        box.fill("What was the death toll of the Marlow bridge collapse?")
        box.press("Enter")
        answer = page.locator('#chat .msg.bot[data-complete="true"]').last
        answer.wait_for()
        assert "Only reports published 2021-03-01 to 2021-03-03; 2 undated reports left out." in answer.inner_text()
        dates = page.locator("#sources details.source .src-date").all_inner_texts()
        assert dates and all("2021-03-01" <= d <= "2021-03-03" for d in dates)
        # A period named in the question (the Settings' period cleared) is kept to, and said so.
        page.locator("#since textarea, #since input").first.fill("")
        page.locator("#until textarea, #until input").first.fill("")
        box.fill("What was the death toll of the Marlow bridge collapse before 5 March?")
        box.press("Enter")
        page.wait_for_function("document.querySelectorAll('#chat .msg.bot[data-complete=\"true\"]').length == 2")
        answer = page.locator('#chat .msg.bot[data-complete="true"]').last
        assert ("Only reports published any time to 2021-03-04 (the question's “before 5 March”); "
                "2 undated reports left out.") in answer.inner_text()
        dates = page.locator("#sources details.source .src-date").all_inner_texts()
        assert dates and all(d <= "2021-03-04" for d in dates)
        page.context.close()
    finally:
        demo.close()


def test_a_period_finds_its_few_reports_among_many_that_rank_above_them(embedder, tmp_path):
    from .test_store import _dated_reports

    corpus = _dated_reports(tmp_path / "corpus", 40, 2)
    bot = rag.Chatbot.from_corpus(corpus, index_dir=tmp_path / "index", embedder=embedder)
    # One passage asked for: the two June reports rank 40th to 42nd of 42 that all say the
    # same (measured), and near-copies of better ones are collapsed, so a retrieval that
    # looked first and filtered after found none of them.
    answer = bot.ask("How many containers did the harbour crane lift?", k=1, since="2021-06-01")
    assert [p.source for p in answer.passages] and all(p.date >= "2021-06-01" for p in answer.passages)
    assert answer.citations and all(c.date >= "2021-06-01" for c in answer.citations)
    asked = bot.ask("How many containers did the harbour crane lift in June 2021?", k=1)
    assert asked.period["asked"] == "in June 2021" and all(p.date >= "2021-06-01" for p in asked.passages)
