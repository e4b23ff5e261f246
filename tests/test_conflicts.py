"""Conflicting reports: polarity and value disagreements between documents, and none where they agree."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answer.conflicts import denies, find_conflict
from rag.answer.features import Candidate
from rag.answer.qtypes import answer_items, classify
from rag.config import RagConfig


def _candidate(doc: str, text: str, probability: float, vector: list[float], question: str = "") -> Candidate:
    v = np.asarray(vector, dtype=np.float32)
    c = Candidate(doc, 0, 0, len(text), text, f"{doc}-0", 1.0, v / np.linalg.norm(v), probability=probability)
    qtype = classify(question)
    c.items = tuple(answer_items(text, qtype, question)) if qtype.typed else ()
    return c


CONFIG = RagConfig()


def test_denial_words_are_found_and_plain_statements_are_not():
    assert denies("The minister was unable to attend the summit.")
    assert denies("She did not attend the summit.")
    assert not denies("The minister attended the summit in Oslo.")


def test_one_report_denying_what_another_reports_is_a_polarity_conflict():
    q = "Did Maria Lund attend the Oslo summit?"
    ranked = [
        _candidate("a.txt", "Maria Lund was unable to attend the Oslo summit because of a strike.", 0.8, [1, 0.2, 0]),
        _candidate("b.txt", "Maria Lund spoke to the Oslo summit on its opening day.", 0.7, [1, 0.5, 0]),
    ]
    conflict = find_conflict(q, classify(q), ranked, CONFIG)
    assert conflict is not None and conflict.kind == "polarity"
    assert [c.doc_id for c in conflict.claims] == ["a.txt", "b.txt"]


def test_two_reports_that_agree_are_no_conflict():
    q = "Did Maria Lund attend the Oslo summit?"
    ranked = [
        _candidate("a.txt", "Maria Lund was unable to attend the Oslo summit because of a strike.", 0.8, [1, 0.2, 0]),
        _candidate("b.txt", "A strike meant Maria Lund could not attend the Oslo summit.", 0.7, [1, 0.3, 0]),
    ]
    assert find_conflict(q, classify(q), ranked, CONFIG) is None


def test_the_same_document_never_conflicts_with_itself():
    q = "Did Maria Lund attend the Oslo summit?"
    ranked = [
        _candidate("a.txt", "Maria Lund was unable to attend the Oslo summit.", 0.8, [1, 0.2, 0]),
        _candidate("a.txt", "Maria Lund spoke at the Oslo summit.", 0.7, [1, 0.4, 0]),
    ]
    assert find_conflict(q, classify(q), ranked, CONFIG) is None


def test_different_figures_for_the_same_fact_are_a_value_conflict():
    q = "How many rockets were fired at the town?"
    ranked = [
        _candidate("a.txt", "Militants fired 12 rockets at the town on Monday.", 0.9, [1, 0.1, 0], q),
        _candidate("b.txt", "Militants fired 20 rockets at the town on Monday night.", 0.8, [1, 0.15, 0], q),
    ]
    conflict = find_conflict(q, classify(q), ranked, CONFIG)
    assert conflict is not None and conflict.kind == "value"


@pytest.mark.parametrize("other, probability, vector", [
    ("Militants fired 12 rockets at the town, the army said.", 0.8, [1, 0.1, 0]),  # the same figure
    ("Militants fired 20 rockets at the town on Monday night.", 0.2, [1, 0.1, 0]),  # too unlikely to answer
    ("The port handled 20 ships last year.", 0.8, [0, 1, 0]),  # another fact
])
def test_agreeing_unlikely_or_unrelated_figures_are_no_conflict(other, probability, vector):
    q = "How many rockets were fired at the town?"
    ranked = [_candidate("a.txt", "Militants fired 12 rockets at the town on Monday.", 0.9, [1, 0.1, 0], q),
              _candidate("b.txt", other, probability, vector, q)]
    assert find_conflict(q, classify(q), ranked, CONFIG) is None


def test_conflicts_can_be_switched_off():
    q = "How many rockets were fired at the town?"
    ranked = [_candidate("a.txt", "Militants fired 12 rockets at the town.", 0.9, [1, 0.1, 0], q),
              _candidate("b.txt", "Militants fired 20 rockets at the town.", 0.8, [1, 0.1, 0], q)]
    assert find_conflict(q, classify(q), ranked, RagConfig(show_conflicts=False)) is None


def test_one_name_spelled_two_ways_is_a_value_conflict_unless_the_question_gives_it():
    listing_a = "The delegation included Usama Hamdan, Maher Salah and Ismail Radwan."
    listing_b = "Other participants included Osama Hamdan, Maher Salah and Ismail Radwan."
    asked = "What is the first name of delegation member Hamdan?"
    ranked = [_candidate("a.txt", listing_a, 0.6, [1, 0.3, 0], asked),
              _candidate("b.txt", listing_b, 0.2, [1, 0.5, 0], asked)]
    conflict = find_conflict(asked, classify(asked), ranked, CONFIG)
    assert conflict is not None and conflict.kind == "value"
    about = "Which office does Osama Hamdan lead in the delegation?"
    ranked = [_candidate("a.txt", listing_a, 0.6, [1, 0.3, 0], about),
              _candidate("b.txt", listing_b, 0.2, [1, 0.5, 0], about)]
    assert find_conflict(about, classify(about), ranked, CONFIG) is None


def test_dates_of_different_slots_are_no_conflict_but_the_same_slot_is():
    q = "When did the delegation visit Oslo?"
    month = _candidate("a.txt", "The delegation arrived in Oslo in late July and met the king.", 0.8, [1, 0.1, 0], q)
    weekday = _candidate("b.txt", "The delegation met the king in Oslo on Monday.", 0.7, [1, 0.15, 0], q)
    assert find_conflict(q, classify(q), [month, weekday], CONFIG) is None  # both can be true
    june = _candidate("b.txt", "The delegation arrived in Oslo in late June and met the king.", 0.7, [1, 0.12, 0], q)
    conflict = find_conflict(q, classify(q), [month, june], CONFIG)
    assert conflict is not None and conflict.kind == "value"


def test_a_year_with_an_era_and_a_century_fill_different_slots():
    q = "When did the legion cross the river?"
    year = _candidate("a.txt", "The legion crossed the river in AD 14 under Germanicus.", 0.8, [1, 0.1, 0], q)
    century = _candidate("b.txt", "The legion crossed the river in the 1st century, Tacitus says.", 0.7,
                         [1, 0.12, 0], q)
    assert find_conflict(q, classify(q), [year, century], CONFIG) is None  # both can be true
    other = _candidate("b.txt", "The legion crossed the river in AD 16 under Germanicus.", 0.7, [1, 0.12, 0], q)
    conflict = find_conflict(q, classify(q), [year, other], CONFIG)
    assert conflict is not None and conflict.kind == "value"


def _spanned(doc: str, text: str, span: str, margin: float, probability: float, vector: list[float]) -> Candidate:
    from rag.answer.reading import Found

    c = _candidate(doc, text, probability, vector)
    start = text.index(span)
    c.span = Found(doc, start, start + len(span), span, margin, margin)
    return c


@pytest.mark.parametrize(("a", "b", "differ"), [
    ("Kamal Kharazi", "Kamal Kharrazi", True),  # one name spelled two ways
    ("$651,000", "$615,000", True),
    ("the third", "the fifth", True),
    ("Saleh al-Arouri", "Arouri", False),  # one is part of the other
    ("to arm Hamas", "support for the cause", False),  # accounts, not values
])
def test_the_readers_spans_disagree_only_on_different_values(a, b, differ):
    q = "Whom did Arouri meet in Tehran?"
    ranked = [_spanned("a.txt", f"In Tehran Arouri met {a} on Monday.", a, 6.0, 0.8, [1, 0.1, 0]),
              _spanned("b.txt", f"On Monday Arouri met {b} in Tehran.", b, 5.0, 0.7, [1, 0.15, 0])]
    conflict = find_conflict(q, classify(q), ranked, CONFIG, span_floor=0.0)
    assert (conflict is not None and conflict.kind == "value") is differ


def test_a_span_the_reader_does_not_find_answering_makes_no_conflict():
    q = "Whom did Arouri meet in Tehran?"
    ranked = [_spanned("a.txt", "In Tehran Arouri met Kamal Kharazi.", "Kamal Kharazi", 6.0, 0.8, [1, 0.1, 0]),
              _spanned("b.txt", "Arouri met Kamal Kharrazi in Tehran.", "Kamal Kharrazi", -3.0, 0.7, [1, 0.15, 0])]
    assert find_conflict(q, classify(q), ranked, CONFIG, span_floor=0.0) is None
