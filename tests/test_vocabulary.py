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
    assert vocabulary.idf("object") > vocabulary.idf("sanction")
    assert vocabulary.idf("object") == vocabulary.default_idf  # as rare as a term can be


def test_the_vocabulary_follows_documents_in_and_out_of_the_index(tmp_path):
    """Counts are kept as documents are added and removed, never recomputed at start."""
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.txt").write_text("Talks in Tehran\n\nThe United States imposed sanctions on 12 firms.\n")
    (root / "b.txt").write_text("Aid arrives\n\nA convoy of the United Nations reached Gaza.\n")
    store, _ = open_index(root, tmp_path / "i", IndexConfig(max_tokens=64), FourDimEmbedder())
    assert CorpusVocabulary(store).unknown_names("What did the United Nations say?") == []
    (root / "b.txt").unlink()
    store, _ = open_index(root, tmp_path / "i", IndexConfig(max_tokens=64), FourDimEmbedder())
    vocabulary = CorpusVocabulary(store)
    assert vocabulary.unknown_names("What did the United Nations say?") == ["United Nations"]
    assert vocabulary.unknown_names("Did a convoy reach Gaza?") == ["Gaza"]
    assert vocabulary.idf("sanction") == vocabulary.default_idf  # one sentence of one holds it
