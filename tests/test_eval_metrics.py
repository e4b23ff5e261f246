"""Each metric against a small hand-computed example."""

import pytest

from eval import metrics as M
from eval.runner import ItemResult, summarise


class WordChecker:
    """Supports a claim when every word of it occurs in the premise (a transparent fake)."""

    name = "words"

    def check(self, claim, premise):
        from rag.verify.support import Judgement

        words = claim.lower().strip(".").split()
        if not words:
            return Judgement(None, 0.0, "empty")
        ok = all(w in premise.lower() for w in words)
        return Judgement(ok, float(ok), "")


def test_squad_normalisation_and_token_f1():
    assert M.normalize_answer("The  $651,000 “deal”!") == "651000 deal"
    # pred: saleh alarouri deputy (3), gold: saleh alarouri (2); common 2 -> P=2/3, R=1, F1=0.8
    assert M.token_f1("the Saleh al-Arouri, deputy", "Saleh Al-Arouri") == pytest.approx(0.8)
    assert M.token_f1("", "") == 1.0 and M.token_f1("x", "") == 0.0


def test_fact_recall_needs_every_fact_with_any_alternative():
    facts = [["Egypt"], ["Gaza Strip", "Gaza"]]
    assert M.fact_recall("Egypt kept him in Gaza. [1]", facts)
    assert not M.fact_recall("Egypt kept him home. [1]", facts)
    assert not M.fact_recall("Egyptian officials. [1]", [["Egypt"]])  # whole words only
    assert not M.fact_recall("anything", [])
    # A possessive names its owner, with either apostrophe; it does not join other words.
    assert M.fact_recall("President al-Sisi\u2019s government tightened control. [1]", [["al-Sisi"]])
    assert M.fact_recall("Iran's leader. [1]", [["Iran"]])
    assert not M.fact_recall("Irans leader. [1]", [["Iran"]])


def test_retrieval_ranks_recall_and_mrr():
    gold = [("a.txt", 100, 150)]
    passages = [("b.txt", 0, 500), ("a.txt", 0, 90), ("a.txt", 140, 300)]
    assert M.first_relevant_rank(passages, gold) == 3
    ranks = [1, 3, None, 2]
    assert M.recall_at(ranks, 1) == 0.25
    assert M.recall_at(ranks, 3) == 0.75
    assert M.mean_reciprocal_rank(ranks) == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)


def test_answer_sentences_split_at_marker_runs():
    assert M.answer_sentences("A b c. [1][2] D e. [3] tail") == [("A b c.", [1, 2]), ("D e.", [3]), ("tail", [])]


def test_alce_citation_precision_and_recall():
    checker = WordChecker()
    # Two citations, each supports alone: both relevant.
    assert M.judge_sentence(checker, "red car", ["red car here", "a red car"]) == (True, 2, 2)
    # One supports alone, the other adds nothing: the second is irrelevant.
    assert M.judge_sentence(checker, "red car", ["red car", "blue sky"]) == (True, 1, 2)
    # Neither alone, but together: both are needed, both relevant.
    assert M.judge_sentence(checker, "red car", ["red", "car"]) == (True, 2, 2)
    # Unsupported together: recall 0; a citation is irrelevant only if the rest still support,
    # so both count as relevant (ALCE's definition).
    assert M.judge_sentence(checker, "red car", ["blue", "green"]) == (False, 2, 2)
    assert M.judge_sentence(checker, "red car", []) == (False, 0, 0)
    assert M.judge_sentence(checker, "", ["x"]) == (None, 0, 0)


def test_refusal_recall_precision_and_false_refusals():
    refused = [True, False, True, True, False]
    answerable = [False, False, True, False, True]
    scores = M.refusal_scores(refused, answerable)
    assert scores["refusal_recall"] == pytest.approx(2 / 3)
    assert scores["refusal_precision"] == pytest.approx(2 / 3)
    assert scores["false_refusal_rate"] == pytest.approx(1 / 2)
    # Nothing to count is not a zero.
    assert M.refusal_scores([False], [True])["refusal_recall"] is None


def test_refusal_ranking_gives_auc_and_the_best_recall_any_threshold_reaches():
    from eval.curves import refusal_ranking

    # 40 answerable questions at 0.50..0.89; unanswerable ones at 0.1, 0.3, 0.505 and 0.95.
    confidences = [0.5 + i / 100 for i in range(40)] + [0.1, 0.3, 0.505, 0.95]
    answerable = [True] * 40 + [False] * 4
    ranking = refusal_ranking(confidences, answerable)
    # Pairs ranked right: 0.1 and 0.3 below all 40, 0.505 below 39, 0.95 below none.
    assert ranking["refusal_auc"] == pytest.approx((40 + 40 + 39) / 160, abs=1e-4)
    # One false refusal allowed at 0.03 (1.2 of 40): a threshold at 0.51 also catches 0.505.
    assert ranking["refusal_recall_best_fr0.03"] == pytest.approx(3 / 4)
    assert ranking["refusal_recall_best_fr0.08"] == pytest.approx(3 / 4)  # 0.95 is out of any threshold's reach
    # A refusal without a confidence (nothing retrieved) counts as confidence 0.
    assert refusal_ranking([None, 0.9], [False, True])["refusal_auc"] == 1.0
    # With only one kind of question there is nothing to separate.
    assert set(refusal_ranking([0.4, 0.6], [True, True]).values()) == {None}
    assert set(refusal_ranking([None, None], [False, True]).values()) == {None}  # no score to rank by


def test_summary_ranks_confidence_over_the_answered_questions_only():
    def item(i, answerable, confidence, error=None):
        return ItemResult(f"q{i}", "single", "q", answerable, [["x"]] if answerable else [], answer="x. [1]",
                          confidence=confidence, error=error)

    results = [item(1, True, 0.9), item(2, True, 0.6), item(3, False, 0.3), item(4, False, 0.7),
               item(5, False, None, error="ValueError: empty question")]
    summary = summarise(results)
    assert summary["refusal_auc"] == pytest.approx(3 / 4)  # 0.3 below both, 0.7 below one; the error left out
    assert summary["refusal_recall_best_fr0.08"] == pytest.approx(1 / 2)


def test_summary_faithfulness_and_latency_percentiles():
    def item(i, supported, latency, answerable=True, fact=True):
        r = ItemResult(f"q{i}", "single", "q", answerable, [["x"]], answer="x. [1]", latency_ms=latency, fact_ok=fact)
        r.sentences = [{"supported": s, "relevant_citations": 1, "citations": 1} for s in supported]
        return r

    results = [item(1, [True, True], 10.0), item(2, [False], 20.0, fact=False), item(3, [None, True], 30.0),
               item(4, [], 40.0, answerable=False)]
    summary = summarise(results)
    assert summary["faithfulness_checker"] == pytest.approx(3 / 4)  # the unmeasured one is left out
    assert summary["sentences_unmeasured"] == 1
    assert summary["fact_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["latency_p50_ms"] == pytest.approx(25.0)
    assert summary["latency_p95_ms"] == pytest.approx(38.5)


def test_a_sentence_is_on_topic_when_it_states_a_gold_fact_or_gold_evidence():
    facts, quotes = [["Saleh al-Arouri", "Arouri"]], ["The delegation is headed by Saleh Al-Arouri, deputy chairman."]
    assert M.states_gold("It was led by Arouri.", facts, quotes)  # the fact
    assert M.states_gold("The delegation is headed by the deputy chairman of the bureau.", facts, quotes)  # evidence
    assert not M.states_gold("Iran hosted a delegation in Tehran last week.", facts, quotes)
    # A sentence that only restates the question states neither.
    assert not M.states_gold("The man who led the delegation is the man who led it.", facts, quotes)


def test_gold_judge_counts_the_cited_passages_that_hold_the_evidence():
    gold = [("a.txt", 100, 160)]
    on_topic, holding = M.judge_gold("Arouri led it.", [("a.txt", 80, 300), ("b.txt", 0, 200)], [["Arouri"]],
                                     [], gold)
    assert on_topic and holding == 1
    assert M.judge_gold("Arouri led it.", [("b.txt", 0, 200)], [["Arouri"]], [], gold) == (True, 0)


def test_summary_judges_faithfulness_by_gold_evidence_apart_from_the_checker():
    def item(sentences, conflicts=0, type_="single"):
        r = ItemResult("q", type_, "q", True, [["x"]], answer="x. [1]", fact_ok=True, conflicts=conflicts)
        r.sentences = [{"supported": True, "relevant_citations": 1, "citations": c, "on_topic": t,
                        "gold_citations": g} for t, g, c in sentences]
        return r

    # Three on-topic sentences (two cite the evidence) and one off-topic sentence.
    summary = summarise([item([(True, 1, 1), (False, 0, 1)]), item([(True, 0, 1), (True, 2, 2)], conflicts=1)])
    assert summary["on_topic"] == pytest.approx(3 / 4)
    assert summary["faithfulness"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["citation_precision"] == pytest.approx(3 / 4)
    assert summary["faithfulness_checker"] == 1.0
    assert summary["conflicts_on_agreeing"] == 1


def test_short_answer_exact_match_and_f1_take_the_best_gold():
    assert M.short_scores("the Rhine", ["Rhine", "river Rhine"]) == (1.0, 1.0)
    em, f1 = M.short_scores("1,230 km long", ["1,230 km"])
    assert em == 0.0 and f1 == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert M.short_scores(None, ["x"]) == (0.0, 0.0)


def test_risk_coverage_reads_confident_answers_and_every_tenth_of_coverage():
    from eval.curves import risk_coverage

    confidences = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, None]
    correct = [True, True, True, False, True, False, True, False, False, False]
    confident = [True, True, True, True, False, False, False, False, False, False]
    out = risk_coverage(confidences, correct, confident)
    assert out["confident_coverage"] == 0.4 and out["confident_containment"] == 0.75
    curve = {p["coverage"]: p["containment"] for p in out["risk_coverage"]}
    assert curve[0.1] == 1.0 and curve[0.5] == 0.8 and curve[1.0] == 0.5


def test_citation_recall_against_the_gold_evidence_counts_each_evidence_span_an_answer_quotes():
    from eval.metrics import evidence_cited

    gold = [("a.txt", 100, 160), ("b.txt", 40, 90)]  # e.g. both accounts of a disagreement
    assert evidence_cited([("a.txt", 120, 150)], gold) == 0.5
    assert evidence_cited([("a.txt", 150, 200), ("b.txt", 0, 41)], gold) == 1.0  # any overlap counts
    assert evidence_cited([("a.txt", 160, 200), ("c.txt", 40, 90)], gold) == 0.0  # touching is not quoting
    assert evidence_cited([("a.txt", 120, 150)], []) is None
