from index.ingest.cleaning import clean_text, extract_date, normalise_lines


def test_drops_navigation_share_widgets_and_section_label():
    raw = ("World\n\n  • Print Friendly, PDF & Email\n  • Send to Kindle\nSkip to main content\n\n"
           "Leaders meet to discuss the ceasefire\n\nThe leaders met on Tuesday.\n")
    cleaned = clean_text(raw)
    assert cleaned.title == "Leaders meet to discuss the ceasefire"
    assert cleaned.text == "The leaders met on Tuesday."


def test_drops_photo_credit_and_the_caption_repeated_above_it():
    raw = ("Talks resume in Doha\n\nThe minister greets the envoy in Doha July 2, 2020 (photo credit: REUTERS)\n"
           "The minister greets the envoy in Doha July 2, 2020\n(photo credit: REUTERS)\n"
           "Talks resumed on Thursday.\n[Photo: State News ]\n"
           "Smith contributed to this report.\n")
    cleaned = clean_text(raw)
    assert cleaned.text == "Talks resumed on Thursday."
    assert cleaned.date == "2020-07-02"  # taken from the caption before it is dropped


def test_drops_agency_handout_caption_with_getty_credit():
    raw = ("Title of the story here\n\nCAIRO - MAY 3: (EDITORIAL USE ONLY) The president speaks. "
           "(Photo by PRESS OFFICE / HANDOUT via Getty Images)\nBody sentence one.\n")
    assert clean_text(raw).text == "Body sentence one."


def test_cuts_recommended_and_more_from_tails():
    raw = ("A headline about the region\n\nFirst paragraph.\n\nSecond paragraph.\n\nThird paragraph.\n\n"
           "More from Jane Doe\n\nAnother story title\n\nRecommended Articles\n")
    assert clean_text(raw).text == "First paragraph.\n\nSecond paragraph.\n\nThird paragraph."


def test_drops_lines_repeated_verbatim_keeping_the_first():
    raw = "A headline for the test\n\nThe standfirst line.\nBody text.\nThe standfirst line.\nEnd.\n"
    assert clean_text(raw).text == "The standfirst line.\n\nBody text.\n\nEnd."


def test_date_header_is_read_and_removed_from_text():
    cleaned = clean_text(" date 2019-07-24 JERUSALEM, Israel - The paper reports that talks went well.\n")
    assert cleaned.date == "2019-07-24"
    assert cleaned.text.startswith("JERUSALEM, Israel - The paper")
    # No headline line: the title comes from the first sentence, without the dateline.
    assert cleaned.title == "The paper reports that talks went well"


def test_a_title_from_the_first_sentence_is_the_whole_sentence_never_cut_off():
    sentence = ("Lebanon's Al-Akhbar newspaper reports that Hamas wants to strengthen its relationship with Iran "
                "and its proxies to fight the United States and Israel")
    cleaned = clean_text(f"JERUSALEM, Israel - {sentence}. A second sentence follows.\n")
    assert cleaned.title == sentence and "…" not in cleaned.title


def test_date_only_from_the_first_lines_not_from_deep_body_text():
    lines = ["Headline of this article"] + [f"Paragraph {i}." for i in range(12)] + ["On March 3, 2001 it began."]
    assert extract_date(lines) is None
    assert extract_date(["Seen on 22 July 2019 in Tehran"]) == "2019-07-22"


def test_normalise_lines_unifies_whitespace_and_bullets():
    assert normalise_lines("a\u00a0 b\r\n\u2022 item\r") == ["a b", "item", ""]
