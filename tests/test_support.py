"""The support checkers: each lexical rule on a hand-written pair, and the NLI tier on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.verify.support import Judgement, LexicalChecker, NLIChecker, SupportModelError, make_checker, strip_markers

PREMISE = (
    "Iran donated hundreds of thousands of dollars to more than 9,000 families in Gaza. "
    "It also paid $651,000 to the families of those killed in the Gaza protests on Monday. "
    "Haniyeh was unable to attend the meeting because Egypt refused to allow him to leave the Gaza Strip."
)


@pytest.fixture
def lexical() -> LexicalChecker:
    return LexicalChecker()


def test_supports_a_verbatim_sentence_with_citation_markers(lexical: LexicalChecker) -> None:
    j = lexical.check("It also paid $651,000 to the families of those killed in the Gaza protests [2].", PREMISE)
    assert j == Judgement(True, 1.0, "covers 100%; details agree")


def test_supports_a_paraphrase(lexical: LexicalChecker) -> None:
    j = lexical.check("Iran's donation went to more than 9,000 families in Gaza.", PREMISE)
    assert j.supported is True
    assert 0.7 <= j.score < 1.0


def test_flags_a_changed_number(lexical: LexicalChecker) -> None:
    j = lexical.check("It also paid $615,000 to the families of those killed in the Gaza protests.", PREMISE)
    assert j.supported is False
    assert "615,000" in j.reason


def test_a_count_is_not_an_amount_of_money(lexical: LexicalChecker) -> None:
    # SmolLM2's reading of "more than 20,000 iftar meals".
    premise = "Iran distributed more than 20,000 iftar meals in Gaza and paid $651,000 to the families."
    verdict = lexical.check("Iran spent $20,000 on the iftar meals it distributed in Gaza.", premise)
    assert not verdict.supported and "amount '$20,000'" in verdict.reason
    assert lexical.check("Iran paid $651,000 to the families.", premise).supported


def test_normalises_thousands_separators_possessives_and_case(lexical: LexicalChecker) -> None:
    assert lexical.check("IRAN donated to more than 9000 families in Gaza.", PREMISE).supported is True
    curly = "Iran\u2019s donation reached Gaza families."
    assert lexical.check("Iran's donation reached Gaza families.", curly).supported is True


def test_flags_a_changed_weekday(lexical: LexicalChecker) -> None:
    j = lexical.check("Iran paid $651,000 to the families of those killed in the Gaza protests on Tuesday.", PREMISE)
    assert j.supported is False
    assert "Tuesday" in j.reason


def test_flags_a_swapped_name(lexical: LexicalChecker) -> None:
    j = lexical.check("Arouri was unable to attend the meeting because Egypt refused to let him leave.", PREMISE)
    assert j.supported is False
    assert "Arouri" in j.reason


def test_name_particles_and_hyphens_do_not_matter(lexical: LexicalChecker) -> None:
    premise = "The delegation is headed by Saleh Al-Arouri, deputy chairman of Hamas' political wing."
    assert lexical.check("The delegation is headed by Saleh al-Arouri.", premise).supported is True
    assert lexical.check("Hamas's delegation is headed by Arouri.", premise).supported is True


def test_flags_an_added_negation(lexical: LexicalChecker) -> None:
    j = lexical.check("Iran never donated hundreds of thousands of dollars to families in Gaza.", PREMISE)
    assert j.supported is False
    assert j.reason == "claim is negated but the passage is not negated"


def test_flags_a_removed_negation(lexical: LexicalChecker) -> None:
    j = lexical.check("Haniyeh was able to attend the meeting because Egypt refused to allow him to leave.", PREMISE)
    assert j.supported is False
    assert "not negated" in j.reason


def test_negation_elsewhere_in_the_premise_is_not_held_against_the_claim(lexical: LexicalChecker) -> None:
    j = lexical.check("Iran paid $651,000 to the families of those killed in the Gaza protests.", PREMISE)
    assert j.supported is True


def test_flags_an_appended_clause(lexical: LexicalChecker) -> None:
    j = lexical.check("Iran donated to more than 9,000 families in Gaza, citing leaked budget memoranda.", PREMISE)
    assert j.supported is False
    assert j.reason == "unsupported words 'citing leaked budget memoranda'"


def test_flags_low_coverage(lexical: LexicalChecker) -> None:
    j = lexical.check("Egyptian mediators brokered a truce with militants.", PREMISE)
    assert j.supported is False


def test_empty_claim_is_unmeasured(lexical: LexicalChecker) -> None:
    for claim in ("", "[1]", "It was the one that they said."):
        j = lexical.check(claim, PREMISE)
        assert j.supported is None and j.score == 0.0


def test_empty_premise_does_not_support(lexical: LexicalChecker) -> None:
    assert lexical.check("Iran donated to families in Gaza.", "  ") == Judgement(False, 0.0, "no cited passage")


def test_strip_markers_and_factory() -> None:
    assert strip_markers("Hamas met Khamenei [1][2, 3].") == "Hamas met Khamenei."
    assert make_checker().name == "lexical"
    with pytest.raises(ValueError, match="min_coverage"):
        LexicalChecker(min_coverage=0)


# --- NLI tier, on a tiny randomly initialised model ---------------------------------------------

SENTENCES = [
    "a hamas delegation met khamenei in tehran on monday",
    "iran paid families in gaza and promised missiles",
    "haniyeh was unable to attend the meeting",
]


def _save_tokenizer(path: Path) -> int:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(SENTENCES, trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    fast.save_pretrained(path)
    return tok.get_vocab_size()


def _save_model(path: Path, id2label: dict[int, str] | None) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    vocab = _save_tokenizer(path)
    extra = {"id2label": id2label, "label2id": {v: k for k, v in id2label.items()}} if id2label else {}
    config = BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, **extra)
    BertForSequenceClassification(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_nli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_model(tmp_path_factory.mktemp("nli"), {0: "contradiction", 1: "entailment", 2: "neutral"})


def test_nli_reads_entailment_index_from_config(tiny_nli: Path) -> None:
    assert NLIChecker(tiny_nli).entailment_index == 1


def test_nli_splits_a_long_premise_into_overlapping_windows(tiny_nli: Path) -> None:
    checker = NLIChecker(tiny_nli, window_tokens=16, stride=4)
    premise = " ".join(SENTENCES * 4)  # 96 words: windows start at 0, 12, ..., 84 -> 8 windows
    windows = checker.windows(premise)
    assert len(windows) == 8
    assert windows[0].split()[-4:] == windows[1].split()[:4]  # neighbours share `stride` tokens
    j = checker.check("haniyeh met khamenei in tehran [1]", premise)
    assert checker.last_windows == 8
    assert isinstance(j, Judgement) and j.supported is not None
    assert 0.0 <= j.score <= 1.0
    assert j.supported == (j.score >= checker.threshold)


def test_nli_short_premise_is_one_window_and_empty_inputs_need_no_model(tiny_nli: Path) -> None:
    checker = NLIChecker(tiny_nli)
    assert checker.windows(SENTENCES[0]) == [SENTENCES[0]]
    assert checker.check("", SENTENCES[0]).supported is None
    assert checker.check("haniyeh met khamenei", "").supported is False


def test_nli_without_a_model_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SupportModelError, match="not found"):
        NLIChecker(tmp_path / "missing")
    with pytest.raises(SupportModelError, match=r"config\.json is missing"):
        NLIChecker(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    with pytest.raises(SupportModelError, match="Cannot load the NLI model"):
        NLIChecker(tmp_path).check("haniyeh met khamenei", "haniyeh met khamenei")


def test_nli_without_an_entailment_label_raises_a_clear_error(tmp_path: Path) -> None:
    checker = NLIChecker(_save_model(tmp_path, None))  # default labels: LABEL_0, LABEL_1
    with pytest.raises(SupportModelError, match="no entailment label"):
        checker.check("haniyeh met khamenei", "haniyeh met khamenei")
    assert make_checker(tmp_path).name == "nli"
