from rag import text as T
from rag.retrieve.aliases import CapitalAliases, capitals

TEXTS = ["Syria cut its relations with Hamas.", "Egypt refused to let him leave Gaza.",
         "Talks were held in Tehran, Iran."]
WORDS = {w for t in TEXTS for w in T.words(t)}


def test_geonames_table_maps_capitals_to_countries():
    table = capitals()
    assert table["Damascus"] == "Syria" and table["Cairo"] == "Egypt" and table["Riyadh"] == "Saudi Arabia"
    assert "Jerusalem" not in table and "Male" not in table  # disputed or ambiguous


def test_an_unknown_capital_becomes_its_known_country():
    aliases = CapitalAliases(WORDS)
    assert aliases.rewrite("What does Damascus want Hamas to say sorry for?") == \
        "What does Syria want Hamas to say sorry for?"
    assert aliases.rewrite("Did Cairo's officials object?") == "Did Egypt's officials object?"


def test_known_capitals_and_unknown_countries_are_left_alone():
    aliases = CapitalAliases(WORDS)
    # Tehran is in the articles; nothing about Jordan is, so "Amman" stays as asked and
    # the answerer can say the articles don't mention it.
    assert aliases.rewrite("Who met in Tehran?") == "Who met in Tehran?"
    assert aliases.rewrite("Who met in Amman?") == "Who met in Amman?"
    assert aliases.rewrite("A damascus rose") == "A damascus rose"  # capitals are capitalised


def test_a_corpus_with_no_countries_rewrites_nothing():
    assert CapitalAliases(set(T.words("Nothing here.")), {"Damascus": "Syria"}).rewrite("Damascus?") == "Damascus?"
