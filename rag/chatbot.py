"""The public entry point: a chatbot over a folder of articles."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from index import BuildReport, Embedder, IndexStore, SentenceTransformerEmbedder, open_index, rebuild_hint

from .config import RagConfig
from .decompose import merge_drafts, split_question
from .draft import compose
from .extractive import ExtractiveAnswerer
from .followup import normalise_history, resolve_followup
from .paths import DEFAULT_CORPUS, default_index_dir
from .records import Answer, Passage
from .retriever import HybridRetriever


def validate_question(question: object, max_chars: int) -> str:
    """Return the stripped question, or raise ValueError with a one-line reason."""
    if not isinstance(question, str):
        raise ValueError(f"The question must be text, got {type(question).__name__}.")
    question = question.strip()
    if not question:
        raise ValueError("The question is empty: type a question about the articles.")
    if len(question) > max_chars:
        raise ValueError(f"The question is {len(question)} characters long; the limit is {max_chars}.")
    return question


class Chatbot:
    """Answers questions about a corpus with inline ``[n]`` citations.

    Example::

        >>> import rag
        >>> bot = rag.Chatbot.from_corpus("corpus")
        >>> answer = bot.ask("Who led the Hamas delegation that met Khamenei?")
        >>> answer.text
        "The delegation is headed by Saleh Al-Arouri, deputy chairman of Hamas' political wing. [1]..."
        >>> answer.citations[0].source
        '000_510b0e118f588ad4.txt'
        >>> bot.ask("What did he promise Khamenei?", history=[answer.question, answer.text])
    """

    answerers = ("extractive",)  # the answerer names this build offers

    def __init__(self, store: IndexStore, embedder: Embedder, config: RagConfig,
                 corpus_dir: Path | None = None, build_report: BuildReport | None = None,
                 index_dir: Path | None = None):
        if config.answerer not in self.answerers:
            raise ValueError(f"unknown answerer {config.answerer!r}; available: {', '.join(self.answerers)}")
        self.embedder = embedder
        self.config = config
        self.corpus_dir = corpus_dir
        self.index_dir = index_dir
        self.build_report = build_report
        self._use(store)
        # Load the model now rather than inside the first question, so that question's
        # timings measure answering, not start-up.
        embedder.encode_queries(["warm-up"])

    def _use(self, store: IndexStore) -> None:
        self.store = store
        self.retriever = HybridRetriever(store, self.embedder, self.config)
        self.answerer = ExtractiveAnswerer(store, self.embedder, self.config)

    def refresh(self, progress: bool = False) -> BuildReport:
        """Re-scan the corpus folder and index what was added or changed since (incremental).

        For a bot made by ``from_corpus``; the new documents are answerable on return.
        """
        if self.corpus_dir is None or self.index_dir is None:
            raise ValueError("refresh needs a Chatbot made by Chatbot.from_corpus")
        store, report = open_index(self.corpus_dir, self.index_dir, self.config.index, self.embedder,
                                   progress=progress, fix=rebuild_hint(self.corpus_dir, self.index_dir))
        self._use(store)
        self.build_report = report
        return report

    @classmethod
    def from_corpus(cls, path: str | Path = DEFAULT_CORPUS, *, index_dir: str | Path | None = None,
                    rebuild: bool = False, progress: bool = False, embedder: Embedder | None = None,
                    **config: Any) -> Chatbot:
        """Open (building or updating as needed) the index of the corpus folder ``path``.

        ``config`` takes any RagConfig or IndexConfig field (``top_k=3``, ``model=DIR``).
        Raises CorpusError, IndexMismatchError, IndexCorruptError or ModelError.
        """
        cfg = RagConfig.from_kwargs(**config)
        corpus_dir = Path(path)
        explicit = index_dir is not None
        index_dir = Path(index_dir) if explicit else default_index_dir(corpus_dir)
        embedder = embedder or SentenceTransformerEmbedder(cfg.index.model, cfg.index.device,
                                                           cfg.index.batch_size)
        store, report = open_index(corpus_dir, index_dir, cfg.index, embedder, rebuild=rebuild,
                                   progress=progress,
                                   fix=rebuild_hint(corpus_dir, index_dir if explicit else None))
        return cls(store, embedder, cfg, corpus_dir, report, index_dir)

    def ask(self, question: str, history: Sequence[Any] | None = None, k: int | None = None,
            hybrid: bool | None = None) -> Answer:
        """Answer ``question``; ``history`` holds earlier turns (chat messages, (question,
        answer) pairs or earlier questions); ``k`` and ``hybrid`` override the configured
        retrieval for this call. Raises ValueError for an empty or over-long question."""
        started = time.perf_counter()
        question = validate_question(question, self.config.max_question_chars)
        query = resolve_followup(question, normalise_history(history))
        parts = split_question(query)
        retrieved_parts = [self.retriever.retrieve(part, k, hybrid) for part in parts]
        retrieved = time.perf_counter()
        drafts = [self.answerer.answer(part, ps) for part, ps in zip(parts, retrieved_parts, strict=True)]
        draft = merge_drafts(drafts)
        passages = _interleave(retrieved_parts)
        text, citations = compose(draft, self.store, passages)
        done = time.perf_counter()
        timings = {"retrieve": (retrieved - started) * 1000, "answer": (done - retrieved) * 1000,
                   "total": (done - started) * 1000}
        return Answer(question, text, draft.refused, citations, passages, timings, query)

    def stream(self, question: str, history: Sequence[Any] | None = None,
               k: int | None = None, hybrid: bool | None = None) -> Iterator[Answer]:
        """Yield the answer as it grows, word by word; the last one has ``complete=True``.

        The extractive answerer knows its whole answer at once, so this paces it out for a
        chat page; a generative answerer streams its tokens through the same interface.
        """
        answer = self.ask(question, history, k, hybrid)
        pieces = re.findall(r"\S+\s*", answer.text)
        for i in range(1, len(pieces)):
            yield Answer(answer.question, "".join(pieces[:i]).rstrip(), answer.refused,
                         answer.citations, answer.passages, answer.timings_ms, answer.query,
                         answer.id, complete=False)
        yield answer

    @property
    def documents(self) -> list[dict[str, Any]]:
        """The indexed articles: source, title and date, in corpus order."""
        return [{"source": d.doc_id, "title": d.title, "date": d.date} for d in self.store.docs.values()]


def _interleave(rankings: list[list[Passage]]) -> list[Passage]:
    """Passages of several retrievals, best of each first, each passage once."""
    out: list[Passage] = []
    seen: set[str] = set()
    for rank in range(max(map(len, rankings), default=0)):
        for ranking in rankings:
            if rank < len(ranking) and ranking[rank].chunk_id not in seen:
                seen.add(ranking[rank].chunk_id)
                out.append(ranking[rank])
    return out
