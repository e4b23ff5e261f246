from index.ingest.sentences import split_sentences


def _split(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_abbreviations_do_not_end_sentences():
    text = "Gen. Smith met Dr. Jones in the U.S. capital on Sept. 17. They talked for an hour."
    assert _split(text) == ["Gen. Smith met Dr. Jones in the U.S. capital on Sept. 17.", "They talked for an hour."]


def test_closing_quote_stays_with_its_sentence():
    text = 'They agreed on "Unity of All Fronts.\u201d They also met again.'
    assert _split(text) == ['They agreed on "Unity of All Fronts.\u201d', "They also met again."]


def test_attribution_after_a_quote_is_not_cut_off():
    text = "\u201cWe will spare no efforts to stop the 'deal of the century,\u2019\u201d Arouri said.\n\nNext one."
    assert _split(text) == ["\u201cWe will spare no efforts to stop the 'deal of the century,\u2019\u201d Arouri said.",
                            "Next one."]


def test_paragraphs_never_share_a_sentence_and_offsets_map_back():
    text = "First paragraph has no full stop\n\nSecond one. Third one!"
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == ["First paragraph has no full stop", "Second one.", "Third one!"]
    assert all(text[a:b] == text[a:b].strip() for a, b in spans)


def test_empty_text_has_no_sentences():
    assert split_sentences("") == []
