"""Time in the question: the latest or the first report that answers, said so."""

from __future__ import annotations

import pytest

import rag
from rag.answer.when import time_intent
from rag.records import strip_lead, time_lead

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


def test_time_leads_read_well_and_claim_nothing():
    assert time_lead("latest", "2019-07-24") == "As of 24 July 2019 (the most recent report):"
    assert time_lead("first", "2021-03-02") == "In the first report (2 March 2021):"
    unsure = "The articles may not answer this; the closest they come: In the first report (2 March 2021): It rose."
    assert strip_lead(unsure) == "It rose." and strip_lead("As of 24 July 2019 (the most recent report): X.") == "X."


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
        assert "As of 17 March 2021 (the most recent report):" in answer.text
        assert answer.short_answer and answer.short_answer["text"] == "10"
    # Without a time word the best-scoring sentence answers, whatever its date.
    plain = story.ask("What was the death toll of the Marlow bridge collapse?")
    assert "most recent report" not in plain.text and "first report" not in plain.text
    first = story.ask("What was the toll of the Marlow bridge collapse initially?")
    cited = first.citations[0].source
    assert "In the first report (" in first.text and dates[cited] <= "2021-03-02"


@pytest.mark.integration
def test_on_an_undated_corpus_a_time_word_changes_nothing(embedder, tmp_path):
    corpus = write_story(tmp_path / "corpus")
    for f in corpus.iterdir():  # the same reports, none of them dated
        f.write_text("\n".join(f.read_text(encoding="utf-8").splitlines()[1:]) if f.name.startswith("r")
                     else f.read_text(encoding="utf-8"), encoding="utf-8")
    bot = rag.Chatbot.from_corpus(corpus, index_dir=tmp_path / "index", embedder=embedder)
    answer = bot.ask("What is the latest death toll of the Marlow bridge collapse?")
    assert "most recent report" not in answer.text and answer.citations
