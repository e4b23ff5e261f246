"""eval/keep.py: choosing KEEP_SHARE from both answerers' SQuAD items."""

from __future__ import annotations

from eval.keep import choose, simulate

BEST = "The rate of flow was increased and the ground water level fell significantly. [1]"


def item(i: int, answer: str, contained: bool, question: str = "What happened to the ground water?") -> dict:
    return {"id": str(i), "question": question, "answer": answer, "refused": False, "impossible": False,
            "contained": contained}


def test_a_rephrasing_that_keeps_little_falls_back_and_the_threshold_is_the_smallest_safe_one():
    extractive = [item(1, BEST, True), item(2, BEST, True), item(3, BEST, True)]
    generative = [item(1, "The passage discusses the ground water. [1]", False),  # keeps almost nothing
                  item(2, "The rate of flow increased and the ground water level fell significantly. [1]", True),
                  item(3, BEST, True)]  # unchanged: not a rephrasing
    curve = simulate(extractive, generative)
    assert curve[0.0] == 2 / 3 and curve[1.01] == 1.0
    assert curve[0.3] == 1.0  # the lossy rephrasing keeps under 30%: it falls back and recovers its answer
    assert choose(curve) == 0.2 and 0.2 in curve
