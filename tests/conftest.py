"""Shared fixtures: a fake embedder for unit tests, the real MiniLM model for integration."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Indexes, converted models, upload folders and the page's key go to a cache of the test
# run's own, never the user's (~/.cache/newsrag), which a running `rag chat` may be using.
_TEST_CACHE = tempfile.mkdtemp(prefix="rag-test-cache-")
os.environ["RAG_CACHE_DIR"] = _TEST_CACHE

PROJECT = Path(__file__).resolve().parent.parent
CORPUS = PROJECT / "corpus"


class FakeEmbedder:
    """Bag-of-words vectors hashed into a few dimensions: similar words, similar vectors.

    Counts every call, so tests can check what was (re-)embedded.
    """

    name = "fake-embedder"
    weights_hash = "f" * 64

    def __init__(self, dimension: int = 32):
        self._dimension = dimension
        self.encoded: list[str] = []

    @property
    def dimension(self) -> int:
        return self._dimension

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self._dimension, dtype=np.float32)
        for word in text.lower().split():
            v[int(hashlib.md5(word.strip(".,\"'").encode()).hexdigest(), 16) % self._dimension] += 1
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def encode_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.encoded.extend(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self._dimension), np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts])

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """A three-article corpus written by the test."""
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "a.txt").write_text(
        "Rocket attack on the border\n\nMilitants fired 12 rockets at the town on Monday. "
        "The army said nobody was hurt.\n\nThe mayor, Dr. Ruth Levi, asked for calm.\n", encoding="utf-8")
    (root / "b.md").write_text(
        "# Talks in Cairo\n\n*Published Sept. 3, 2019*\n\n"
        "Egyptian mediators hosted both delegations in Cairo on Monday. "
        "The talks ended without an agreement.\n", encoding="utf-8")
    sub = root / "world"
    sub.mkdir()
    (sub / "c.html").write_text(
        "<html><head><title>Aid pledge</title><script>var x = 1;</script></head><body>"
        "<h1>Aid pledge</h1><p>The fund pledged $5 million for schools in the region.</p>"
        "<style>p {color: red}</style></body></html>", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 model, loaded once for the whole session, as a Chatbot makes
    it: documents on sentence-transformers, questions through its ONNX export (made once in
    the run's own cache folder)."""
    from rag.chatbot import make_embedder
    from rag.config import RagConfig

    return make_embedder(RagConfig())


@pytest.fixture(scope="session")
def bot(embedder, tmp_path_factory: pytest.TempPathFactory):
    """A Chatbot over the project's five articles, with the real model and FAISS."""
    import rag

    return rag.Chatbot.from_corpus(CORPUS, index_dir=tmp_path_factory.mktemp("index"), embedder=embedder)


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the project's corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture(scope="session", autouse=True)
def _test_cache():
    """The run's own cache folder (set when this module is imported), removed at the end."""
    yield Path(_TEST_CACHE)
    shutil.rmtree(_TEST_CACHE, ignore_errors=True)


CHROMIUM = Path("/usr/bin/chromium")  # Debian's; .ci/run installs it


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Playwright (nothing is downloaded: the system browser)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()
