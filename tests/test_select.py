"""How many sentences an answer gets (``select_sentences``), on hand-made candidates."""

from __future__ import annotations

import numpy as np

from rag import text as T
from rag.answer.extractive import Scored, select_sentences
from rag.answer.features import Candidate
from rag.answer.qtypes import QuestionType
from rag.config import RagConfig


def _cand(n: int, text: str, probability: float, items: tuple[str, ...] = ()) -> Candidate:
    vector = np.zeros(8, dtype=np.float32)
    vector[n] = 1.0  # orthogonal: no two candidates state the same fact
    return Candidate(f"d{n}", 0, 0, len(text), text, f"d{n}#0", 1.0, vector, items=items, probability=probability,
                     terms=frozenset(T.content_terms(text)))


def _scored(kind: str, cands: list[Candidate], question: str = "?") -> Scored:
    return Scored(question, QuestionType(kind), [], cands, np.zeros((len(cands), 1)), np.zeros(1), 1.0)


def test_open_question_gets_a_close_second_sentence_that_adds_a_fact() -> None:
    cands = [_cand(0, "The river rises in the Alps.", 0.6), _cand(1, "It flows north to the sea.", 0.5),
             _cand(2, "Boats carry coal along it.", 0.1)]
    chosen = select_sentences(_scored("open", cands), 0.5, RagConfig())
    assert [c.text for c in chosen] == [cands[0].text, cands[1].text]


def test_typed_question_whose_best_sentence_names_someone_gets_one_sentence() -> None:
    cands = [_cand(0, "The mayor, Anna Berg, opened it.", 0.6, ("Anna Berg",)),
             _cand(1, "Carl Holm spoke at the opening.", 0.55, ("Carl Holm",))]
    assert [c.text for c in select_sentences(_scored("person", cands), 0.5, RagConfig())] == [cands[0].text]


def test_typed_question_whose_best_sentence_names_nobody_gets_a_second_chance() -> None:
    cands = [_cand(0, "The bridge was opened by the mayor.", 0.6),
             _cand(1, "Anna Berg has been mayor since 2019.", 0.55, ("Anna Berg",))]
    chosen = select_sentences(_scored("person", cands), 0.5, RagConfig())
    assert [c.text for c in chosen] == [cands[0].text, cands[1].text]


def test_a_far_less_likely_sentence_is_left_out() -> None:
    cands = [_cand(0, "The bridge was opened by the mayor.", 0.8), _cand(1, "Anna Berg is mayor.", 0.3, ("Anna Berg",))]
    assert len(select_sentences(_scored("person", cands), 0.5, RagConfig())) == 1


def test_another_article_retelling_the_same_quote_is_not_a_second_sentence() -> None:
    # Orthogonal vectors: only the words show that the second retells the first's answer.
    question = "What did the mayor thank the council for?"
    first = _cand(0, 'The mayor thanked the council for "its patience with the flood works" and asked for funds.', 0.8)
    retold = _cand(1, 'At the ceremony, the mayor, Anna Berg, thanked the council for "its patience with the flood '
                      'works" and asked for more funds.', 0.7)
    other = _cand(2, "In a letter, the mayor thanked the council for approving the new bridge.", 0.6)
    chosen = select_sentences(_scored("open", [first, retold, other], question), 0.5, RagConfig())
    assert [c.text for c in chosen] == [first.text, other.text]


def test_a_headline_on_its_own_line_is_no_candidate_but_a_paragraphs_first_sentence_is() -> None:
    from types import SimpleNamespace

    from rag.answer.features import body_start

    def doc(first: str, sep: str, rest: str, title: str) -> SimpleNamespace:
        text = first + sep + rest
        return SimpleNamespace(text=text, title=title,
                               sentences=[(0, len(first)), (len(first) + len(sep), len(text))])

    assert body_start(doc("Rebuilding plan", "\n\n", "The city approved a plan.", "Rebuilding plan")) == 1
    # Untitled: the title is the first sentence, which is also the story's first fact.
    first = "The bridge collapsed on Monday."
    assert body_start(doc(first, " ", "Rescuers said 3 people died.", first)) == 0
    assert body_start(doc("Rebuilding plan", "\n", "The city approved a plan.", "")) == 0
