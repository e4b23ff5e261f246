import pytest

from index import IndexConfig, open_index
from rag.answer.vocabulary import CorpusVocabulary
from tests.test_retriever import FourDimEmbedder


def _vocabulary(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.txt").write_text(
        "Talks in Tehran\n\nIsmail Haniyeh met officers of Iran's Islamic Revolutionary Guard Corps. "
        "The United States imposed sanctions on 12 firms. Several nations objected to sanctions.\n")
    store, _ = open_index(root, tmp_path / "i", IndexConfig(max_tokens=64), FourDimEmbedder())
    return CorpusVocabulary(store)


def test_names_and_figures_the_corpus_never_mentions(tmp_path):
    vocabulary = _vocabulary(tmp_path)
    assert vocabulary.unknown_names("What did Hassan Nasrallah say in Tehran?") == ["Hassan Nasrallah"]
    assert vocabulary.unknown_names("Were 40 firms sanctioned, or 12?") == ["40"]
    # An acronym of a name that is there, and a near spelling of a long name, are known.
    assert vocabulary.unknown_names("What does the IRGC want from Haniyah?") == []
    # Each word is known, but never together: "United Nations" is not in the text.
    assert vocabulary.unknown_names("What did the United Nations say?") == ["United Nations"]
    # A request after the question starts a sentence: its capital is no name.
    assert vocabulary.unknown_names("What did the IRGC want? Give all details") == []


def test_rarer_terms_weigh_more(tmp_path):
    vocabulary = _vocabulary(tmp_path)
    # "sanctions" is in two of the three sentences, "objected" in one.
    assert vocabulary.idf["object"] > vocabulary.idf["sanction"]
    assert vocabulary.idf["object"] == vocabulary.default_idf  # as rare as a term can be


@pytest.mark.integration
def test_the_vocabulary_is_kept_beside_its_index_build_and_read_back_alike(bot, caplog):
    """Computed once per build (seconds for a large archive), read back at the next start;
    an unreadable copy is computed anew, never trusted."""
    import json

    from rag.answer.vocabulary import CorpusVocabulary

    (kept,) = bot.store.path.glob("vocabulary-*.json")  # written when the bot was made
    computed = CorpusVocabulary(bot.store)
    read = CorpusVocabulary.for_store(bot.store)
    assert json.dumps(read.to_json(), sort_keys=True) == json.dumps(computed.to_json(), sort_keys=True)
    assert read.unknown_names("Did Ismael Haniya meet the IRGC?") == computed.unknown_names(
        "Did Ismael Haniya meet the IRGC?")
    original = kept.read_text(encoding="utf-8")
    try:
        kept.write_text(original[: len(original) // 2], encoding="utf-8")  # cut short
        again = CorpusVocabulary.for_store(bot.store)
        assert again.passage_terms == computed.passage_terms and "recomputing" in caplog.text
        assert json.loads(kept.read_text(encoding="utf-8"))["passage_terms"] == computed.passage_terms
    finally:
        kept.write_text(original, encoding="utf-8")


@pytest.mark.integration
def test_the_bm25_index_is_kept_beside_its_index_build_and_ranks_alike(bot, embedder):
    from rag.answer.vocabulary import code_version
    from rag.retrieve.retriever import HybridRetriever

    assert (bot.store.path / f"bm25-{code_version()}").is_dir()
    kept = HybridRetriever(bot.store, embedder, bot.config, bot.answerer.vocabulary.passage_terms, code_version())
    built = HybridRetriever(bot.store, embedder, bot.config)  # tokenised and indexed anew
    for query in ("Who led the Hamas delegation that met Khamenei?", "rockets fired at Israel in 2019",
                  "Ismail Haniyeh unable to attend"):
        assert kept.bm25_ranking(query, 8) == built.bm25_ranking(query, 8) != []
