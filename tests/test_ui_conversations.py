"""Conversations as the browser keeps them: round trips, limits, and storage that lies."""

from __future__ import annotations

from rag.records import Answer, Citation, Passage
from ui import conversations as C
from ui.render import render_answer

PASSAGE = Passage("c1", "a.txt", "Harbour news", "2019-03-04", "The port opened Aurora Quay.", 0, 28, 0.03, 1, 2)
CITATION = Citation(1, "a.txt", "Harbour news", "2019-03-04", "c1", PASSAGE.text, "The port opened Aurora Quay.",
                    0, 28)


def answer(question: str = "What opened?") -> Answer:
    return Answer(question, "The port opened Aurora Quay. [1]", False, [CITATION], [PASSAGE],
                  conflicts=[{"kind": "value", "claims": [{"text": "x", "markers": [1], "source": "a.txt"}]}])


def test_an_answer_survives_the_round_trip_through_storage():
    parsed, stopped = C.answer_from_dict(C.answer_to_dict(answer()))
    assert parsed == answer() and stopped is False
    assert C.answer_from_dict(C.answer_to_dict(answer(), stopped=True))[1] is True


def test_turns_titles_history_and_the_last_turn_taken_back():
    conv = C.with_turn(C.with_turn(C.new_conversation(), answer("  What   opened?  ")), answer("And when?"))
    assert conv["title"] == "What opened?" and len(conv["turns"]) == 2
    assert C.history(conv)[0] == {"role": "user", "content": "  What   opened?  "}
    assert C.history(conv)[1]["content"] == "The port opened Aurora Quay. [1]"
    shorter, question = C.without_last(conv)
    assert question == "And when?" and len(shorter["turns"]) == 1
    assert C.without_last(C.new_conversation())[1] is None
    long = C.with_turn(C.new_conversation(), answer("why " * 40))
    assert len(long["title"]) <= 60 and long["title"].endswith("…")


def test_the_store_keeps_the_newest_first_drops_empty_ones_and_slims_old_turns():
    store = C.empty_store()
    convs = []
    for i in range(C.MAX_CONVERSATIONS + 3):
        conv = C.with_turn(C.with_turn(C.new_conversation(), answer(f"q{i}")), answer(f"q{i} again"))
        convs.append(conv)
        store = C.saved(store, conv)
    assert len(store["items"]) == C.MAX_CONVERSATIONS and store["items"][0]["id"] == convs[-1]["id"]
    first, last = store["items"][0]["turns"]
    assert first["answer"]["passages"] == [] and last["answer"]["passages"]  # the Sources panel's answer
    assert C.saved(store, C.new_conversation())["items"] == store["items"]  # an empty one is not kept
    assert C.removed(store, convs[-1]["id"])["current"] == convs[-2]["id"]


def test_storage_that_is_not_a_store_is_read_as_empty_or_cleaned():
    for junk in (None, 3, "x", [], {"items": "no"}, {"items": [{"id": 5}]}):
        assert C.clean_store(junk) == C.empty_store()
    good = C.with_turn(C.new_conversation(), answer())
    bad_turn = {"question": "q", "answer": {"text": "no citations key"}}
    store = C.clean_store({"current": "gone", "items": [{**good, "turns": [*good["turns"], bad_turn, 7]}]})
    assert store["current"] is None and store["items"][0]["turns"] == good["turns"]


def test_markup_kept_in_the_browser_is_escaped_when_shown_again():
    hostile = C.answer_to_dict(answer())
    hostile["text"] = "<img src=x onerror=alert(1)> [1]"
    hostile["citations"][0]["title"] = "<script>alert(2)</script>"
    parsed, _ = C.answer_from_dict(hostile)
    html = render_answer(parsed, 0)
    assert "<img" not in html and "<script>" not in html and "&lt;img" in html


def test_status_and_short_answer_survive_storage_and_a_tampered_one_is_dropped():
    from dataclasses import replace

    short = {"text": "Aurora Quay", "marker": 1, "start": 16, "end": 27}
    uncertain = replace(answer(), status="uncertain", short_answer=short)
    assert C.answer_from_dict(C.answer_to_dict(uncertain))[0] == uncertain
    stored = C.answer_to_dict(uncertain)
    stored.update(status="<b>", short_answer={**short, "start": "0"})
    parsed = C.answer_from_dict(stored)[0]
    assert parsed.status == "answered" and parsed.short_answer is None
