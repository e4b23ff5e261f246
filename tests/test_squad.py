"""SQuAD v2.0 input for the evaluation: parsing, safe corpus files, metrics and a real run."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

import pytest

from eval.squad import (
    SquadQuestion,
    contains_answer,
    load_squad,
    normalize_answer,
    overlaps_paragraph,
    run_squad,
    safe_file_name,
    write_corpus,
)

FLOOD_1 = ("The city council of Riverside approved a new flood barrier on Tuesday after three days of debate. "
           "The barrier will cost 48 million dollars and is due to be finished in 2027. "
           "Engineers from the Dutch firm Van Leeuwen will design the structure.")
FLOOD_2 = ("Residents of the eastern district had demanded protection since the river burst its banks in 2021. "
           "That flood damaged more than 600 homes and closed the main railway station for two weeks. "
           "The council leader, Maria Okafor, said the vote was a turning point for the city.")
VOTE_1 = ("Northport elected its first independent mayor on Sunday, ending forty years of party rule. "
          "Daniel Reyes won 54 percent of the vote in a runoff against the incumbent, Helen Brandt. "
          "Turnout reached 61 percent, the highest since 1998.")
VOTE_2 = ("Reyes, a former schoolteacher, promised to expand the city's tram network and to freeze parking fees "
          "for two years. His campaign was funded mostly by small donations from local residents. "
          "Brandt conceded defeat late on Sunday evening and congratulated her rival.")

# (paragraph, question, answer or None for impossible, plausible answer of an impossible one)
QAS: dict[str, list[tuple[str, str, str | None, str | None]]] = {
    "Riverside_flood_barrier": [
        (FLOOD_1, "How much will the Riverside flood barrier cost?", "48 million dollars", None),
        (FLOOD_1, "Which firm will design the Riverside flood barrier?", "Van Leeuwen", None),
        (FLOOD_2, "How many homes did the 2021 Riverside flood damage?", "more than 600", None),
        (FLOOD_2, "Who was the mayor of Riverside during the 2021 flood?", None, "Maria Okafor"),
    ],
    "Northport_mayoral_election": [
        (VOTE_1, "Who won the Northport mayoral runoff?", "Daniel Reyes", None),
        (VOTE_1, "What share of the vote did Daniel Reyes win in the runoff?", "54 percent", None),
        (VOTE_1, "Which party nominated Daniel Reyes in 1998?", None, "independent"),
        (VOTE_2, "What did Reyes promise to expand?", "the city's tram network", None),
        (VOTE_2, "How much money did the Reyes campaign raise from donors?", None, "small donations"),
    ],
}


def _qa(n: int, context: str, question: str, answer: str | None, plausible: str | None) -> dict[str, Any]:
    """A SQuAD v2 qa whose answer_start points at the answer in ``context``."""
    text = answer or plausible
    assert text is not None and text in context
    span = [{"text": text, "answer_start": context.index(text)}]
    qa: dict[str, Any] = {"id": f"q{n}", "question": question, "is_impossible": answer is None}
    qa.update({"answers": span} if answer else {"answers": [], "plausible_answers": span})
    return qa


def squad_json() -> dict[str, Any]:
    """Two articles of two paragraphs each, in SQuAD v2.0 layout."""
    data, n = [], 0
    for title, qas in QAS.items():
        paragraphs: list[dict[str, Any]] = []
        for context, question, answer, plausible in qas:
            if not paragraphs or paragraphs[-1]["context"] != context:
                paragraphs.append({"context": context, "qas": []})
            paragraphs[-1]["qas"].append(_qa(n, context, question, answer, plausible))
            n += 1
        data.append({"title": title, "paragraphs": paragraphs})
    return {"version": "v2.0", "data": data}


@pytest.fixture
def squad_file(tmp_path: Path) -> Path:
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(squad_json()), encoding="utf-8")
    return path


def test_answer_starts_point_at_the_answers():
    for article in squad_json()["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                for a in qa["answers"] + qa.get("plausible_answers", []):
                    assert paragraph["context"][a["answer_start"]:][:len(a["text"])] == a["text"]


def test_load_squad_makes_one_document_per_title_with_the_title_first(squad_file):
    documents, _ = load_squad(squad_file)
    assert list(documents) == ["Riverside_flood_barrier.txt", "Northport_mayoral_election.txt"]
    assert documents["Riverside_flood_barrier.txt"] == f"Riverside flood barrier\n\n{FLOOD_1}\n\n{FLOOD_2}"


def test_load_squad_reads_questions_answers_and_impossible_flags(squad_file):
    _, questions = load_squad(squad_file)
    assert [q.id for q in questions] == [f"q{i}" for i in range(9)]
    assert [q.impossible for q in questions] == [False, False, False, True, False, False, True, False, True]
    first = questions[0]
    assert first == SquadQuestion("q0", "How much will the Riverside flood barrier cost?", ["48 million dollars"],
                                  False, "Riverside_flood_barrier.txt", FLOOD_1)
    assert questions[3].answers == []  # plausible answers are not gold
    assert questions[8].source == "Northport_mayoral_election.txt" and questions[8].context == VOTE_2


def test_load_squad_merges_articles_that_share_a_title(tmp_path):
    data = squad_json()
    data["data"][1]["title"] = data["data"][0]["title"]
    path = tmp_path / "same.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    documents, questions = load_squad(path)
    assert list(documents) == ["Riverside_flood_barrier.txt"]
    assert VOTE_2 in documents["Riverside_flood_barrier.txt"]
    assert {q.source for q in questions} == {"Riverside_flood_barrier.txt"}


def _without(key: str, level: str) -> dict[str, Any]:
    data = squad_json()
    paragraph = data["data"][0]["paragraphs"][0]
    del (paragraph["qas"][1] if level == "qa" else paragraph)[key]
    return data


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    (json.dumps({"version": "v2.0"}), 'no "data" list'),
    (json.dumps([1, 2]), 'no "data" list'),
    (json.dumps(_without("context", "paragraph")), 'data[0].paragraphs[0] has no "context"'),
    (json.dumps(_without("question", "qa")), 'data[0].paragraphs[0].qas[1] has no "question"'),
    (json.dumps({"data": [{"paragraphs": []}]}), 'data[0] has no "title"'),
    (json.dumps({"data": [{"title": "T", "paragraphs": []}]}), "no questions"),
])
def test_malformed_file_raises_value_error_naming_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        load_squad(path)
    assert "\n" not in str(info.value)


def test_missing_file_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        load_squad(tmp_path / "absent.json")


def test_write_corpus_turns_hostile_titles_into_safe_unique_names_inside_the_folder(tmp_path):
    folder = tmp_path / "corpus"
    hostile = {"../../etc/passwd": "a", "etc/passwd": "b", "<script>": "c", ".hidden": "d", "ETC_PASSWD": "e",
               "Beyoncé": "f", "": "g"}
    assert write_corpus(hostile, folder) == folder
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["Beyonce.txt", "ETC_PASSWD-3.txt", "article.txt", "etc_passwd-2.txt", "etc_passwd.txt",
                     "hidden.txt", "script.txt"]
    assert not (tmp_path.parent / "etc").exists()
    assert (folder / "etc_passwd.txt").read_text(encoding="utf-8") == "a\n"


def test_safe_file_name_keeps_names_it_made():
    for title in ("../../etc/passwd", "<script>", "Super_Bowl_50", "Kievan_Rus'", "a" * 300):
        name = safe_file_name(title)
        assert safe_file_name(name) == name and "/" not in name and not name.startswith(".")
        assert len(name) <= 84


def test_write_corpus_refuses_a_folder_holding_another_corpus(tmp_path):
    (tmp_path / "old.txt").write_text("stale", encoding="utf-8")
    with pytest.raises(ValueError, match=r"old\.txt"):
        write_corpus({"new": "text"}, tmp_path)


@pytest.mark.parametrize("raw, expected", [
    ("The Cat!", "cat"),
    ("  An   apple, a day ", "apple day"),
    ("U.S.-led coalition", "usled coalition"),
    ("theatre of the absurd", "theatre of absurd"),
    ("Café au lait", "café au lait"),
    ("", ""),
])
def test_normalize_answer_matches_the_official_rules(raw, expected):
    assert normalize_answer(raw) == expected


def test_contains_answer_compares_whole_normalised_words_without_markers():
    assert contains_answer("The barrier will cost 48 Million dollars. [1]", ["48 million dollars"])
    assert contains_answer("It is the city's tram network. [2]", ["the city's tram network"])
    assert not contains_answer("Militants fired 10 rockets. [1]", ["1"])
    assert not contains_answer("Militants fired rockets. [1]", ["1"])
    assert not contains_answer("Anything at all.", [])


def test_passage_overlaps_gold_paragraph_by_a_shared_sentence_of_the_same_document():
    question = SquadQuestion("q", "?", ["x"], False, "a.txt", FLOOD_2)
    spanning = FLOOD_1.split(". ")[-1] + "\n\n" + FLOOD_2.split(". ")[0] + "."
    assert overlaps_paragraph(FLOOD_2[:120], "a.txt", question)  # substring
    assert overlaps_paragraph(spanning, "a.txt", question)  # a shared sentence
    assert not overlaps_paragraph(spanning, "b.txt", question)  # another document
    assert not overlaps_paragraph(FLOOD_1, "a.txt", question)
    assert not overlaps_paragraph("Riverside flood barrier\n\nThe flood.", "a.txt", question)  # too short


def test_report_rates_match_a_plain_count_of_the_items(tmp_path, fake_embedder):
    data = squad_json()
    data["data"][0]["paragraphs"][0]["qas"].append(
        {"id": "blank", "question": "   ",
         "answers": [{"text": "Van Leeuwen", "answer_start": FLOOD_1.index("Van Leeuwen")}]})
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    report = run_squad(path, out_dir=tmp_path / "out", embedder=fake_embedder)
    items = report["items"]
    assert report["errors"] == 1 and items[2]["id"] == "blank" and "ValueError" in items[2]["error"]
    answerable = [i for i in items if not i["impossible"]]
    impossible = [i for i in items if i["impossible"]]
    assert (report["questions"], report["answerable"], report["impossible"]) == (10, 7, 3)
    assert report["false_refusal_rate"] == pytest.approx(sum(i["refused"] for i in answerable) / 7, abs=1e-4)
    assert report["refusal_rate_impossible"] == pytest.approx(sum(i["refused"] for i in impossible) / 3, abs=1e-4)
    assert report["answer_containment"] == pytest.approx(sum(i["contained"] is True for i in answerable) / 7,
                                                         abs=1e-4)
    assert report["retrieval_recall"] == pytest.approx(sum(i["retrieved"] for i in answerable) / 7, abs=1e-4)
    withheld = [i["withheld_refused"] for i in answerable if i.get("withheld_refused") is not None]
    assert len(withheld) == 6  # the blank question raised, so it has no second ask either
    assert report["refusal_rate_withheld"] == pytest.approx(sum(withheld) / 6, abs=1e-4)
    assert all("withheld_refused" not in i for i in impossible)
    from eval.curves import refusal_ranking

    asked = [i for i in items if i["error"] is None]  # the blank question was never answered
    expected = refusal_ranking([i["confidence"] for i in asked], [not i["impossible"] for i in asked])
    assert {k: report[k] for k in expected} == expected
    words = [len(i["answer"].replace("[1]", "").replace("[2]", "").replace("[3]", "").split())
             for i in items if i["answer"] is not None and not i["refused"]]
    if words:
        assert report["answer_words_median"] == statistics.median(words)
    assert sorted(p.name for p in (tmp_path / "out" / "corpus").iterdir()) == [
        "Northport_mayoral_election.txt", "Riverside_flood_barrier.txt"]


def test_limit_asks_only_the_first_questions(squad_file, tmp_path, fake_embedder):
    report = run_squad(squad_file, out_dir=tmp_path / "out", limit=2, embedder=fake_embedder)
    assert [i["id"] for i in report["items"]] == ["q0", "q1"]
    assert (report["answerable"], report["impossible"], report["refusal_rate_impossible"]) == (2, 0, None)
    with pytest.raises(ValueError, match="limit"):
        run_squad(squad_file, limit=0)


@pytest.mark.integration
def test_real_model_run_reports_every_measure_and_finds_a_gold_answer(squad_file, tmp_path, embedder):
    report = run_squad(squad_file, out_dir=tmp_path, embedder=embedder)
    keys = {"questions", "answerable", "impossible", "answer_containment", "refusal_rate_impossible",
            "false_refusal_rate", "refusal_rate_withheld", "retrieval_recall", "answer_words_median",
            "answer_words_mean", "latency_p50_ms", "latency_p95_ms", "errors", "items", "refusal_auc",
            "refusal_recall_best_fr0.03", "refusal_recall_best_fr0.08"}
    assert keys <= set(report)
    assert (report["questions"], report["answerable"], report["impossible"], report["errors"]) == (9, 6, 3, 0)
    for rate in ("answer_containment", "refusal_rate_impossible", "false_refusal_rate", "refusal_rate_withheld",
                 "retrieval_recall", "refusal_auc", "refusal_recall_best_fr0.08"):
        assert 0 <= report[rate] <= 1, rate
    assert 0 < report["latency_p50_ms"] <= report["latency_p95_ms"]
    assert {"id", "question", "answer", "refused", "gold", "contained", "retrieved"} <= set(report["items"][0])
    assert any(i["contained"] for i in report["items"])
    assert report["retrieval_recall"] > 0


def test_ask_leaves_out_excluded_passages_and_takes_the_next_ones(small_corpus, tmp_path, fake_embedder):
    import rag

    bot = rag.Chatbot.from_corpus(small_corpus, index_dir=tmp_path / "index", embedder=fake_embedder, top_k=2)
    question = "How many rockets did the militants fire at the town?"
    plain = bot.ask(question)
    assert len(plain.passages) == 2
    first = plain.passages[0].source
    left = bot.ask(question, exclude=lambda passage: passage.source == first)
    assert len(left.passages) == 2 and first not in {p.source for p in left.passages}
    assert first not in {c.source for c in left.citations}
    assert plain.passages[1].chunk_id in {p.chunk_id for p in left.passages}  # the next one moved up
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        bot.ask(question, k=0, exclude=lambda passage: False)
