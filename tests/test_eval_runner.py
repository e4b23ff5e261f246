"""The runner and the question-set loader: errors are named, recorded, and never stop a run."""

import json

import pytest

from eval.dataset import DatasetError, load_items
from eval.runner import run_answerer, summarise
from rag.records import Answer, Citation, Passage

from .conftest import CORPUS, PROJECT
from .test_eval_metrics import WordChecker

QUOTE = "Haniyeh was unable to be a part of the delegation since Egypt refused to allow him to exit the Gaza Strip."


def _write(tmp_path, rows):
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _item(**over):
    base = {"id": "x1", "type": "single", "question": "Why?", "answers": [["Egypt"]],
            "evidence": [{"source": "001_7275e75621703767.txt", "quote": QUOTE}]}
    return {**base, **over}


def test_project_question_sets_load_and_every_quote_is_in_its_document():
    dev = load_items(PROJECT / "eval/data/dev.jsonl", CORPUS)
    test = load_items(PROJECT / "eval/data/test.jsonl", CORPUS)
    items = dev + test
    assert len(items) >= 80
    assert len({i.id for i in items}) == len(items)
    assert sum(not i.answerable for i in items) >= 20
    assert {i.type for i in dev} == {i.type for i in test}
    for item in items:
        for ev in item.evidence:
            assert ev.end > ev.start


@pytest.mark.parametrize(("row", "message"), [
    ("{not json", "line 1: invalid JSON"),
    (_item(question=None) | {"question": 3}, "line 1: field 'question' must be str"),
    ({"id": "x", "type": "single", "answers": [["a"]]}, "line 1: missing field 'question'"),
    (_item(evidence=[{"source": "001_7275e75621703767.txt", "quote": "never said"}]),
     "line 1: evidence quote is not in"),
    (_item(type="odd"), "line 1: unknown type"),
])
def test_malformed_question_file_names_the_line(tmp_path, row, message):
    with pytest.raises(DatasetError, match=message):
        load_items(_write(tmp_path, [row]), CORPUS)


def test_duplicate_ids_are_rejected(tmp_path):
    with pytest.raises(DatasetError, match="line 2: duplicate id"):
        load_items(_write(tmp_path, [_item(), _item()]), CORPUS)


class FlakyBot:
    """Answers from the gold quote, and raises on one question."""

    def ask(self, question, history=None):
        if "boom" in question:
            raise RuntimeError("model exploded")
        passage = Passage("c1", "001_7275e75621703767.txt", "T", None, QUOTE, 0, len(QUOTE), 1.0)
        citation = Citation(1, passage.source, "T", None, "c1", QUOTE, QUOTE, 0, len(QUOTE))
        return Answer(question, QUOTE + " [1]", False, [citation], [passage], {"total": 5.0})


def test_an_answerer_error_is_recorded_and_the_run_goes_on(tmp_path):
    items = load_items(_write(tmp_path, [_item(), _item(id="x2", question="boom?"), _item(id="x3")]), CORPUS)
    results = run_answerer(FlakyBot(), items, WordChecker(), progress=False)
    assert [r.error is None for r in results] == [True, False, True]
    assert "model exploded" in results[1].error
    summary = summarise(results)
    assert summary["errors"] == 1
    assert summary["fact_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["faithfulness_checker"] == 1.0
