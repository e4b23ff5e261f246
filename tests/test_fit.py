"""`rag fit` end to end on a SQuAD file the test writes: a loadable, reproducible selector."""

from __future__ import annotations

import json

import pytest

from rag.answer.features import QUESTION_FEATURES, SENTENCE_FEATURES
from rag.answer.reading import READ_FEATURES, READ_QUESTION_FEATURES
from rag.answer.selector import SelectorError, load_selector
from rag.cli import main

from .test_squad import squad_json

pytestmark = pytest.mark.integration


def test_fit_writes_a_selector_that_loads_answers_and_refits_identically(tmp_path):
    source = tmp_path / "train.json"
    source.write_text(json.dumps(squad_json()), encoding="utf-8")
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    for out in (first, second):
        assert main(["fit", "--squad", str(source), "--work", str(tmp_path / "work"), "--out", str(out)]) == 0
    assert first.read_text() == second.read_text()  # seeded: the same data gives the same file
    selector = load_selector(first)
    assert selector.sentence.features == SENTENCE_FEATURES and selector.reading.features == READ_FEATURES
    assert selector.refusal.features == QUESTION_FEATURES + READ_QUESTION_FEATURES
    assert 0 < selector.refusal_threshold < 1 and 0 < selector.second_ratio <= 1.01
    assert 0 < selector.confident_threshold < 1
    assert selector.meta["seed"] == 0 and "rag fit --squad FILE" in selector.meta["command"]

    import rag

    work = tmp_path / "work" / "squad"
    bot = rag.Chatbot.from_corpus(work / "corpus", index_dir=work / "index", selector_model=str(first))
    answer = bot.ask("How much will the Riverside flood barrier cost?")
    assert answer.refused or "48 million" in answer.text


def test_a_selector_fitted_over_other_features_is_a_clear_error(tmp_path):
    shipped = json.loads(json.dumps(load_selector().to_json()))
    shipped["sentence"]["features"] = ["cosine"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(shipped), encoding="utf-8")
    with pytest.raises(SelectorError, match="refit it with `rag fit`"):
        load_selector(path)
    with pytest.raises(SelectorError, match="cannot read"):
        load_selector(tmp_path / "missing.json")


def test_the_second_sentence_ratio_is_the_most_focused_within_the_tolerance():
    from eval.fit import focused_ratio

    containment = {0.3: 0.794, 0.4: 0.792, 0.5: 0.787, 0.6: 0.783, 0.7: 0.778}
    assert focused_ratio(containment, 0.0) == 0.3  # the best containment
    assert focused_ratio(containment, 0.01) == 0.5  # fewer second sentences for under a point
    assert focused_ratio(containment, 0.02) == 0.7
    assert focused_ratio({}, 0.01) == 1.01  # no ratio under the word bar: one sentence
