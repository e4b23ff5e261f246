"""Short answers, doubt and refusal through the API, the CLI and the JSON, on a corpus the
test writes (the real MiniLM, FAISS, the shipped reader and selector)."""

from __future__ import annotations

import json
import re

import pytest

from rag.cli import main
from rag.records import UNCERTAIN_LEAD

pytestmark = pytest.mark.integration

HARBOUR = ("Northport harbour reopens\n\nNorthport harbour reopened on Monday after a two-year renovation. "
           "The renovation cost 48 million dollars, the port authority said. Harbour master Ingrid Salo said "
           "the first container ships would return within a week.\n\nFishing boats had used a temporary pier "
           "at Kelby Point during the works.\n")
MUSEUM = ("Museum opens a new wing\n\nThe city museum opened a wing for maritime history on Saturday. "
          "Its curator, Tomas Berg, said the collection holds 3,000 objects from the old harbour.\n")


@pytest.fixture(scope="module")
def harbour(tmp_path_factory, embedder):
    import rag

    root = tmp_path_factory.mktemp("harbour")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (corpus / "museum.txt").write_text(MUSEUM, encoding="utf-8")
    return rag.Chatbot.from_corpus(corpus, index_dir=root / "index", embedder=embedder)


@pytest.mark.parametrize(("question", "short"), [
    ("How much did the renovation of Northport harbour cost?", "48 million dollars"),
    ("How many objects does the museum's collection hold?", "3,000"),
])
def test_the_short_answer_is_the_span_inside_the_cited_quote(harbour, question, short):
    answer = harbour.ask(question)
    assert answer.status == "answered" and answer.short_answer is not None
    s = answer.short_answer
    assert s["text"] == short
    cited = next(c for c in answer.citations if c.marker == s["marker"])
    assert cited.quote[s["start"]:s["end"]] == short  # offsets inside the quote that cites it
    assert short in answer.text.split(f"[{s['marker']}]")[0]


def test_status_follows_the_fitted_thresholds(harbour):
    selector = harbour.answerer.selector
    for question in ("Who is the harbour master of Northport?", "What is the population of Northport?",
                     "Why did the museum's curator resign?", "When did Northport harbour reopen?"):
        a = harbour.ask(question)
        lead = harbour.answerer.score(a.query, a.passages).candidates[0].probability
        expected = ("refused" if a.refused else "uncertain" if lead < selector.confident_threshold
                    else "answered")
        assert a.status == expected, question
        if a.status == "uncertain":  # the closest the articles come, said to be no more than that
            assert a.text.startswith(UNCERTAIN_LEAD) and not a.conflicts
        if a.status == "refused":
            assert a.short_answer is None


@pytest.mark.parametrize("question", ["?!?... ,;:!!", "What is it?"])
def test_a_question_without_content_words_is_a_clear_error(harbour, question):
    with pytest.raises(ValueError, match="no words to look for"):
        harbour.ask(question)


def test_the_cli_leads_with_the_short_answer_and_the_json_carries_it(harbour, capsys):
    index = str(harbour.index_dir)
    corpus = str(harbour.corpus_dir)
    question = "How much did the renovation of Northport harbour cost?"
    assert main(["ask", question, "--corpus", corpus, "--index-dir", index]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert re.fullmatch(r"Answer: 48 million dollars \[\d\]", first)
    assert main(["ask", "--json", question, "--corpus", corpus, "--index-dir", index]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["status"] == "answered" and obj["short_answer"]["text"] == "48 million dollars"
    assert main(["ask", "?!?", "--corpus", corpus, "--index-dir", index]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
