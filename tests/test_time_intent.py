"""Time in the question: the latest or the first report that answers, said so."""

from __future__ import annotations

import pytest

import rag
from rag.answer.when import AskedPeriod, asked_period, time_intent, without_time_words
from rag.records import claim_lead, strip_lead, time_lead

from .story import REPORTS, write_story


@pytest.mark.parametrize(("question", "intent"), [
    ("What is the latest death toll?", "latest"), ("What is the toll now?", "latest"),
    ("Who currently leads the inquiry?", "latest"), ("What is the most recent figure?", "latest"),
    ("What was the toll initially?", "first"), ("What did the first reports say?", "first"),
    ("What did engineers first say caused it?", "first"), ("What was the earliest estimate?", "first"),
    ("What is the first name of delegation member Hamdan?", None), ("Who was the first mayor?", None),
    ("When did the bridge collapse?", None),
])
def test_only_phrases_that_ask_about_time_count(question, intent):
    assert time_intent(question) == intent


@pytest.mark.parametrize(("question", "plain"), [
    ("What is the latest death toll?", "What is the death toll?"),
    ("What is the death toll now?", "What is the death toll?"),
    ("How do commuters currently cross the river?", "How do commuters cross the river?"),
    ("What is the most recent plan for the bridge?", "What is the plan for the bridge?"),
    ("What was the toll initially?", "What was the toll?"),
    ("What did the first reports say about the collapse?", "What did the reports say about the collapse?"),
    ("What did engineers first say caused it?", "What did engineers say caused it?"),
    ("Who was the first mayor?", "Who was the first mayor?"),  # an ordinal, not a time word
])
def test_the_time_words_are_taken_out_of_what_each_report_is_asked(question, plain):
    assert without_time_words(question) == plain


@pytest.mark.parametrize(("question", "since", "until", "phrase"), [
    ("What was the toll in March 2021?", "2021-03-01", "2021-03-31", "in March 2021"),
    ("What happened in 2019?", "2019-01-01", "2019-12-31", "in 2019"),
    ("What was the toll on 3 March?", "2021-03-03", "2021-03-03", "on 3 March"),  # the year given
    ("What was said on March 3rd, 2020?", "2020-03-03", "2020-03-03", "on March 3rd, 2020"),
    ("What was the toll before 16 March?", None, "2021-03-15", "before 16 March"),
    ("Who led it after March 5, 2021?", "2021-03-06", None, "after March 5, 2021"),
    ("What changed since 2020-02-03?", "2020-02-03", None, "since 2020-02-03"),
    ("What was reported until 5 March 2021?", None, "2021-03-05", "until 5 March 2021"),
    ("What was the toll between 1 and 10 March?", "2021-03-01", "2021-03-10", "between 1 and 10 March"),
    ("What was said from March to May 2019?", "2019-03-01", "2019-05-31", "from March to May 2019"),
    ("What happened between March 3 and March 9, 2021?", "2021-03-03", "2021-03-09",
     "between March 3 and March 9, 2021"),
    ("What was reported in February 2020?", "2020-02-01", "2020-02-29", "in February 2020"),  # a leap year
])
def test_a_period_the_question_names_is_read_with_its_bounds(question, since, until, phrase):
    assert asked_period(question, 2021) == AskedPeriod(since, until, phrase)


@pytest.mark.parametrize("question", [
    "What did he say has happened since the nuclear deal?", "Who was killed by 2000 soldiers?",
    "How many families lived in 2000 homes?", "What did the first report say?", "What was the toll?",
    "What was the toll on 31 February?", "Which city hosted talks after the IRGC praised Hamas?",
])
def test_words_that_name_no_period_are_not_read_as_one(question):
    assert asked_period(question, 2021) is None


def test_a_date_without_a_year_names_no_period_without_a_year_to_give_it():
    assert asked_period("What was the toll on 3 March?", None) is None
    assert asked_period("What was the toll in 2019?", None) == AskedPeriod("2019-01-01", "2019-12-31", "in 2019")


def test_time_leads_read_well_and_claim_nothing():
    assert time_lead("latest", "2019-07-24") == "As of 24 July 2019 (the most recent report):"
    assert time_lead("first", "2021-03-02") == "In the first report (2 March 2021):"
    assert time_lead("first", "2021-03-02", extreme=False) == "In the earliest report that answers this (2 March 2021):"
    assert strip_lead("As of 2 March 2021 (the most recent report that answers this): It rose.") == "It rose."
    # Undated reports that answer too are named, not passed over.
    assert (time_lead("latest", "2021-03-17", extreme=False, undated=1)
            == "As of 17 March 2021 (the most recent report that answers this; 1 undated report also answers):")
    assert (time_lead("first", "2021-03-01", undated=2)
            == "In the first report (1 March 2021; 2 undated reports also answer):")
    assert strip_lead("In the first report (1 March 2021; 2 undated reports also answer): It fell.") == "It fell."
    unsure = "The articles may not answer this; the closest they come: In the first report (2 March 2021): It rose."
    assert strip_lead(unsure) == "It rose." and strip_lead("As of 24 July 2019 (the most recent report): X.") == "X."
    assert claim_lead(0, 2, "2021-03-08") == "The later report (8 March 2021):"
    assert claim_lead(1, 2, "2021-03-05") == "An earlier report (5 March 2021):"
    assert strip_lead("Reports differ. The later report (8 March 2021): It is 10.") == "It is 10."


@pytest.fixture(scope="module")
def story(embedder, tmp_path_factory):
    root = tmp_path_factory.mktemp("story")
    return rag.Chatbot.from_corpus(write_story(root / "corpus"), index_dir=root / "index", embedder=embedder)


@pytest.mark.integration
def test_latest_questions_are_answered_from_the_newest_report_that_answers_and_say_so(story):
    dates = {name: date for name, date, _, _ in REPORTS}
    for question in ("What is the latest death toll of the Marlow bridge collapse?",
                     "What is the death toll of the Marlow bridge collapse now?"):
        answer = story.ask(question)
        assert [c.source for c in answer.citations][:1] == ["r10.txt"], answer.text
        # Newer reports were retrieved that do not give the toll: the answer says it is the newest that does.
        assert "As of 17 March 2021 (the most recent report that answers this):" in answer.text
        assert answer.short_answer and answer.short_answer["text"] == "10"
    # Without a time word the best-scoring sentence answers, whatever its date.
    plain = story.ask("What was the death toll of the Marlow bridge collapse?")
    assert "most recent report" not in plain.text and "first report" not in plain.text
    first = story.ask("What was the toll of the Marlow bridge collapse initially?")
    cited = first.citations[0].source
    assert "that answers this (" in first.text and dates[cited] <= "2021-03-02"


@pytest.mark.integration
def test_on_an_undated_corpus_a_time_word_changes_nothing(embedder, tmp_path):
    corpus = write_story(tmp_path / "corpus")
    for f in corpus.iterdir():  # the same reports, none of them dated
        f.write_text("\n".join(f.read_text(encoding="utf-8").splitlines()[1:]) if f.name.startswith("r")
                     else f.read_text(encoding="utf-8"), encoding="utf-8")
    bot = rag.Chatbot.from_corpus(corpus, index_dir=tmp_path / "index", embedder=embedder)
    answer = bot.ask("What is the latest death toll of the Marlow bridge collapse?")
    assert "most recent report" not in answer.text and answer.citations


@pytest.mark.integration
def test_a_period_in_the_question_answers_only_from_reports_published_then(story):
    dates = {name: date for name, date, _, _ in REPORTS}
    for question in ("What was the death toll of the Marlow bridge collapse before 5 March?",
                     "What did engineers say about the Marlow bridge in March 2021?",
                     "Who led the inquiry into the Marlow bridge collapse after 9 March?",
                     "What was the death toll of the Marlow bridge collapse between 6 and 9 March?",
                     "What was the death toll of the Marlow bridge collapse on 3 March?"):
        answer = story.ask(question)
        period = answer.period
        assert period and period["asked"] in question and period["undated_left_out"] == 2, question
        inside = [c for c in answer.citations
                  if (not period["since"] or dates[c.source] >= period["since"])
                  and (not period["until"] or dates[c.source] <= period["until"])]
        assert answer.citations and inside == answer.citations, (question, answer.text)
        assert "March" not in answer.query  # the period filters; it is not looked for in the words
    # A period in which no report was published names the events, not the reports: all
    # reports answer, and the answer says none was published then.
    later = story.ask("What was the death toll of the Marlow bridge collapse in April 2021?")
    assert later.period == {"since": "2021-04-01", "until": "2021-04-30", "asked": "in April 2021", "no_reports": True}
    assert later.citations and "April" in later.query
    # Asked for a period as well, the answer keeps to both.
    both = story.ask("What was the death toll of the Marlow bridge collapse in March 2021?", since="2021-03-06")
    assert both.period["since"] == "2021-03-06" and both.period["until"] == "2021-03-31"
    assert all(dates[c.source] >= "2021-03-06" for c in both.citations)


@pytest.mark.integration
def test_the_page_says_which_report_a_latest_answer_comes_from(story, browser):
    from .ui_helpers import DESKTOP, OUT, PHONE, answer_on_page, launch, open_page

    demo, url = launch(story)
    try:
        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page = open_page(browser, url, viewport)
            message = answer_on_page(page, "What is the latest death toll of the Marlow bridge collapse?")
            assert "As of 17 March 2021 (the most recent report that answers this):" in message.inner_text()
            assert message.locator("b.short-answer").inner_text() == "10"
            assert page.locator("#sources details.source .src-date").first.inner_text() == "2021-03-17"
            assert page.locator("#examples button").count() == 0  # those are about other articles
            page.screenshot(path=str(OUT / f"latest-answer-{name}.png"), full_page=True)
            page.context.close()
    finally:
        demo.close()


@pytest.mark.integration
def test_an_undated_report_that_also_answers_is_named_not_passed_over(embedder, tmp_path):
    corpus = write_story(tmp_path / "corpus")
    (corpus / "u03.txt").write_text("Victims remembered\n\nThe death toll of the Marlow bridge collapse is 10, "
                                    "a memorial plaque says.\n", encoding="utf-8")
    bot = rag.Chatbot.from_corpus(corpus, index_dir=tmp_path / "index", embedder=embedder)
    answer = bot.ask("What is the latest death toll of the Marlow bridge collapse?")
    assert answer.citations[0].source == "r10.txt"
    assert "(the most recent report that answers this; 1 undated report also answers):" in answer.text


@pytest.mark.integration
def test_the_news_time_benchmark_keeps_its_figures(tmp_path, capsys):
    """`rag eval --story`: latest, first and period questions and the timeline on the story."""
    import json

    from rag.cli import main

    assert main(["eval", "--story", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "story_report.json").read_text(encoding="utf-8"))
    assert result["latest"] == 1.0 and result["period"] == 1.0 and result["timeline_exact"]
    assert result["first"] >= 0.5  # 2 of 4: a first report's "3 people died" is not read as the toll
    assert '"latest" questions answered from the newest report that answers: 5/5' in out
