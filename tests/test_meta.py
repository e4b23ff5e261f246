"""Perturbation generators on hand-written sentences, and the lexical checker's meta-evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.meta import meta_table, run_meta, summarise
from eval.perturb import (
    NEGATIVE_TYPES,
    EntityPool,
    EvidencePair,
    MetaItem,
    append_clause,
    build_items,
    change_number,
    load_pairs,
    paraphrase,
    swap_entity,
    toggle_negation,
    usable_clauses,
    wrong_passage,
)
from index.ingest.sentences import split_sentences
from index.records import Document
from rag.verify.support import LexicalChecker


def _doc(doc_id: str, text: str) -> Document:
    return Document(doc_id, doc_id, None, text, "0" * 64, tuple(split_sentences(text)))


POOL = EntityPool(
    people=("Ismail Haniyeh", "Saleh al-Arouri", "Yahya Sinwar"),
    surnames=("Haniyeh", "al-Arouri", "Sinwar"),
    others=("Tehran", "Beirut", "Gaza Strip", "Persian Gulf"),
)


def test_paraphrase_drops_adverbs_swaps_synonyms_and_turns_possessives() -> None:
    out = paraphrase("Hamas also said it met with Khamenei's envoy in Tehran.")
    assert out == "Hamas stated it held talks with the envoy of Khamenei in Tehran."
    assert paraphrase("The plan was unveiled in Washington.") is None  # no rule applies


def test_swap_entity_replaces_a_person_by_a_person_absent_from_the_premise() -> None:
    premise = "The delegation was led by Saleh al-Arouri. Ismail Haniyeh stayed in Gaza."
    out = swap_entity("The delegation was led by Saleh al-Arouri.", premise, POOL)
    assert out == "The delegation was led by Yahya Sinwar."  # Haniyeh is in the premise: not a pick


def test_swap_entity_replaces_a_place_by_a_place_and_skips_sentences_without_names() -> None:
    out = swap_entity("Rockets were fired from the Gaza Strip.", "Rockets were fired from the Gaza Strip.", POOL)
    assert out == "Rockets were fired from the Persian Gulf."
    assert swap_entity("rockets were fired at night.", "rockets were fired at night.", POOL) is None


def test_change_number_alters_digits_months_and_weekdays_to_values_not_in_the_premise() -> None:
    assert change_number("It paid $651,000 to families.", "It paid $651,000.") == "It paid $652,000 to families."
    assert change_number("They met on Monday.", "They met on Monday.") == "They met on Tuesday."
    # June is in the premise, so May becomes July.
    assert change_number("Ties resumed in May.", "Ties resumed in May, talks in June.") == "Ties resumed in July."
    assert change_number("Elections on Sept. 17", "") == "Elections on Oct. 17"
    assert change_number("After eight years of strain", "") == "After nine years of strain"
    assert change_number("No figure here.", "") is None


def test_toggle_negation_removes_or_adds_one_negation() -> None:
    assert toggle_negation("Haniyeh was unable to attend.") == "Haniyeh was able to attend."
    assert toggle_negation("Victory will not be achieved.") == "Victory will be achieved."
    assert toggle_negation("Their stance didn\u2019t help.") == "Their stance did help."
    assert toggle_negation("The delegation is headed by Arouri.") == "The delegation is not headed by Arouri."
    assert toggle_negation("A Hamas delegation met Khamenei.") == "A Hamas delegation never met Khamenei."
    assert toggle_negation("anti-tank missiles") is None


def test_append_clause_inserts_before_the_final_period_with_corpus_absent_words() -> None:
    clauses = usable_clauses({"qatar", "negoti"})  # as if the corpus spoke of talks in Qatar
    assert ", after negotiations in Qatar collapsed" not in clauses
    out = append_clause("Hamas met Khamenei.", [", citing a leaked Pentagon memo"])
    assert out == "Hamas met Khamenei, citing a leaked Pentagon memo."
    assert append_clause("Hamas will be Iran\u2019s \u201cfirst line of defense,\u201d", [", amid protests"]) == (
        "Hamas will be Iran\u2019s \u201cfirst line of defense, amid protests,\u201d"
    )
    assert append_clause("Hamas met Khamenei.", []) is None


def test_wrong_passage_comes_from_another_document_that_does_not_restate_the_quote() -> None:
    same = _doc("a.txt", "Intro here. Hamas met Khamenei in Tehran on Monday. Outro here.")
    copy = _doc("b.txt", "Lead. Hamas met Khamenei in Tehran on Monday. Tail.")
    other = _doc("c.txt", "Egypt closed the border. Trucks waited for days. Aid was delayed.")
    pair = EvidencePair("a.txt", "Hamas met Khamenei in Tehran on Monday.", same.text)
    assert wrong_passage(pair, [same, copy, other]) == other.text
    assert wrong_passage(pair, [same, copy]) is None


def test_build_items_skips_perturbations_that_do_not_apply() -> None:
    doc = _doc("a.txt", "Intro here. The rockets were fired at night. Outro here.")
    other = _doc("b.txt", "Egypt closed the border. Trucks waited for days. Aid was delayed.")
    pair = EvidencePair("a.txt", "The rockets were fired at night.", doc.text)
    types = [i.type for i in build_items([pair], [doc, other])]
    assert "number_change" not in types and "entity_swap" not in types and "paraphrase" not in types
    assert {"quote", "negation", "appended_clause", "wrong_citation", "citation_removed"} <= set(types)
    removed = next(i for i in build_items([pair], [doc, other]) if i.type == "citation_removed")
    assert removed.claim == pair.quote and removed.premise == ""


def test_load_pairs_finds_quotes_across_whitespace_and_dedupes(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(
        "Title line\n\nFirst sentence here. The aid reached Gaza on Monday. Third one. Fourth one.\n", encoding="utf-8"
    )
    ev = [{"source": "a.txt", "quote": "The aid reached\u00a0Gaza  on Monday."}]
    rows = [{"evidence": ev}, {"evidence": ev}, {"evidence": [{"source": "a.txt", "quote": "not in the text"}]}]
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    skipped: list[str] = []
    pairs = load_pairs(corpus, [gold], skipped)
    assert [p.premise for p in pairs] == ["First sentence here. The aid reached Gaza on Monday. Third one."]
    assert len(skipped) == 1 and "not in the text" in skipped[0]


def test_summarise_excludes_unmeasured_items_from_rates() -> None:
    items = [MetaItem(t, "c", "p", "s") for t in ("quote", "quote", "negation", "negation", "negation")]
    result = summarise(items, [True, False, False, None, True])
    assert result["false_positive_rate"] == 0.5
    assert result["detection"]["negation"] == 0.5
    assert result["unmeasured"]["negation"] == 1 and result["counts"]["negation"] == 3
    assert result["detection"]["entity_swap"] is None
    assert "| negation | detection | 0.500 | 3 | 1 |" in meta_table(result)


_DIGEST = (
    "import hashlib; from index.ingest.loader import load_corpus; from rag.paths import DEFAULT_CORPUS; "
    "from eval.perturb import build_items, load_pairs; "
    "items = build_items(load_pairs(), list(load_corpus(DEFAULT_CORPUS))); "
    "print(hashlib.sha256(repr(items).encode()).hexdigest())"
)


def test_items_are_the_same_on_every_run() -> None:
    # Python's str hash is salted per process: two seeds must still give the same items.
    root = Path(__file__).resolve().parent.parent
    digests = {
        subprocess.run([sys.executable, "-c", _DIGEST], cwd=root, capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1 and len(digests.pop().strip()) == 64


@pytest.fixture(scope="module")
def lexical_meta() -> dict:
    return run_meta(LexicalChecker())


def test_lexical_checker_meets_the_detection_and_false_positive_targets(lexical_meta: dict) -> None:
    for kind in ("number_change", "entity_swap", "negation"):
        assert lexical_meta["detection"][kind] >= 0.9, (kind, lexical_meta["detection"])
    assert lexical_meta["false_positive_rate"] <= 0.1
    # Every type was generated from the real gold pairs and judged.
    assert all(lexical_meta["counts"][t] >= 20 for t in NEGATIVE_TYPES), lexical_meta["counts"]
    assert lexical_meta["counts"]["quote"] >= 100
