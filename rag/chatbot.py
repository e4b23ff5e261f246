"""The public entry point: a chatbot over a folder of articles."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from index import BuildReport, Embedder, IndexStore, SentenceTransformerEmbedder, open_index, rebuild_hint

from .answer.draft import Draft, compose
from .answer.extractive import ExtractiveAnswerer
from .answer.vocabulary import CorpusVocabulary
from .answer.when import asked_period, time_intent, without_phrase
from .config import RagConfig
from .paths import DEFAULT_CORPUS, cache_root, default_index_dir
from .records import Answer, Passage
from .retrieve.aliases import CapitalAliases
from .retrieve.decompose import merge_drafts, split_question
from .retrieve.followup import normalise_history, resolve_followup
from .retrieve.retriever import HybridRetriever
from .text import content_terms
from .threads import pin_query_threads
from .verify.citations import number_records

# Documents of a bot's uploads folder have ids under this prefix ("uploads/notes.md").
UPLOADS_PREFIX = "uploads"

if TYPE_CHECKING:
    from .timeline import Timeline

# Which retrieved passages to leave out (a distrusted source; the evaluation's withheld answer).
Exclude = Callable[[Passage], bool]
# How much deeper than asked a retrieval that leaves passages out may look.
_DEEPEST = 32
# Periods whose passages are kept at hand (each a sorted array of row ids).
_PERIODS_KEPT = 16
# A year to try a question's dates with, to learn whether it names a period at all.
_ANY_YEAR = 2000


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


class Answerer(Protocol):
    """Turns a question and its retrieved passages into a Draft.

    A generative answerer also offers ``stream_answer(question, passages)``, yielding its
    text as it is generated and then the checked Draft; ``Chatbot.stream`` uses it when present.
    """

    name: str

    def answer(self, question: str, passages: list[Passage]) -> Draft: ...


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

    # Every answerer name this build knows. An instance's ``answerers`` lists those it can
    # offer: "transformers" only with a generator model (a configured folder, or the built-in one).
    answerers: tuple[str, ...] = ("extractive", "transformers")

    def __init__(self, store: IndexStore, embedder: Embedder, config: RagConfig,
                 corpus_dir: Path | None = None, build_report: BuildReport | None = None,
                 index_dir: Path | None = None, uploads_dir: Path | None = None,
                 model_from: Chatbot | None = None):
        self.answerers = self.available_answerers(config)
        if config.answerer == "transformers" and config.answerer not in self.answerers:
            from .generate import builtin
            from .generate.lm import GeneratorError

            raise GeneratorError(builtin.MISSING)
        if config.answerer not in self.answerers:
            raise ValueError(f"unknown answerer {config.answerer!r}; available: {', '.join(self.answerers)}")
        self.embedder = embedder
        self.config = config
        self.corpus_dir = corpus_dir
        self.index_dir = index_dir
        # Files added from outside (the chat page's uploads), indexed as "uploads/<name>"
        # beside the corpus without ever being written into the corpus folder.
        self.uploads_dir = uploads_dir
        self.build_report = build_report
        pin_query_threads(config.query_threads)
        # ``model_from``: another bot whose generator model this one shares instead of loading
        # its own (the page's per-visitor bots all use the one model already in memory).
        self._use(store, getattr(model_from, "answerer", None))
        # Load the model now rather than inside the first question, so that question's
        # timings measure answering, not start-up.
        embedder.encode_queries(["warm-up"])

    @classmethod
    def available_answerers(cls, config: RagConfig) -> tuple[str, ...]:
        """The answerer names a bot with ``config`` can offer."""
        from .generate import builtin  # cheap: finds the built-in model's file, loads nothing

        return tuple(a for a in cls.answerers if a != "transformers" or config.generator_model or builtin.available())

    def _use(self, store: IndexStore, previous: Answerer | None = None) -> None:
        self.store = store
        self._dated: tuple[str | None, int] | None = None  # the newest date, the undated count
        self._published: dict[tuple[str | None, str | None], np.ndarray] = {}
        # Read from the index as questions need it, and shared: the aliases and the answerer
        # both consult it.
        vocabulary = CorpusVocabulary(store)
        self.retriever = HybridRetriever(store, self.embedder, self.config)
        self.aliases = CapitalAliases(vocabulary.mentions)
        self.answerer: Answerer = self._make_answerer(store, vocabulary, getattr(self, "answerer", previous))

    def _make_answerer(self, store: IndexStore, vocabulary: CorpusVocabulary,
                       previous: Answerer | None = None) -> Answerer:
        if self.config.answerer == "transformers":
            from .generate.generative import TransformersAnswerer  # loads torch and transformers on use only

            # A refreshed index keeps the language model already loaded.
            return TransformersAnswerer(store, self.embedder, self.config, lm=getattr(previous, "lm", None),
                                        vocabulary=vocabulary)
        return ExtractiveAnswerer(store, self.embedder, self.config, vocabulary=vocabulary)

    def refresh(self, progress: bool = False) -> BuildReport:
        """Re-scan the corpus folder and index what was added or changed since (incremental).

        For a bot made by ``from_corpus``; the new documents are answerable on return.
        """
        if self.corpus_dir is None or self.index_dir is None:
            raise ValueError("refresh needs a Chatbot made by Chatbot.from_corpus")
        fix = rebuild_hint(self.corpus_dir, self.index_dir, self.config.index)
        store, report = open_index(self.corpus_dir, self.index_dir, self.config.index, self.embedder,
                                   progress=progress, fix=fix, extra=self.extra_dirs)
        self._use(store)
        self.build_report = report
        return report

    @property
    def extra_dirs(self) -> dict[str, Path]:
        """The folders indexed beside the corpus, by the prefix of their documents' ids."""
        return {UPLOADS_PREFIX: self.uploads_dir} if self.uploads_dir is not None else {}

    @classmethod
    def from_corpus(cls, path: str | Path = DEFAULT_CORPUS, *, index_dir: str | Path | None = None,
                    rebuild: bool = False, progress: bool = False, embedder: Embedder | None = None,
                    uploads_dir: str | Path | None = None, update: bool = True, **config: Any) -> Chatbot:
        """Open (building or updating as needed) the index of the corpus folder ``path``, and
        of ``uploads_dir`` when given (its files are documents ``uploads/<name>``).

        ``update=False`` answers from an existing index as it is, without listing the corpus
        folder for changes (an archive's takes a while). ``config`` takes any RagConfig or
        IndexConfig field (``top_k=3``, ``model=DIR``).
        Raises CorpusError, IndexMismatchError, IndexCorruptError or ModelError.
        """
        cfg = RagConfig.from_kwargs(**config)
        corpus_dir = Path(path)
        explicit = index_dir is not None
        index_dir = Path(index_dir) if explicit else default_index_dir(corpus_dir, cfg.index.store)
        embedder = embedder or make_embedder(cfg)
        uploads = Path(uploads_dir) if uploads_dir is not None else None
        store, report = open_index(corpus_dir, index_dir, cfg.index, embedder, rebuild=rebuild,
                                   progress=progress, update=update,
                                   fix=rebuild_hint(corpus_dir, index_dir if explicit else None, cfg.index),
                                   extra={UPLOADS_PREFIX: uploads} if uploads is not None else None)
        return cls(store, embedder, cfg, corpus_dir, report, index_dir, uploads)

    def ask(self, question: str, history: Sequence[Any] | None = None, k: int | None = None,
            hybrid: bool | None = None, exclude: Exclude | None = None,
            since: str | None = None, until: str | None = None) -> Answer:
        """Answer ``question``; ``history`` holds earlier turns (chat messages, (question,
        answer) pairs or earlier questions); ``k`` and ``hybrid`` override the configured
        retrieval for this call. Passages ``exclude`` is true of are left out, and the next
        ones take their places, as an archive without them would answer (a source the reader
        distrusts; the evaluation's withheld-answer check). ``since`` / ``until`` (YYYY-MM-DD,
        inclusive) answer only from reports published then; undated reports are left out, and
        the answer's ``period`` says how many. Raises ValueError for an empty or over-long
        question, or a malformed date."""
        period = self._period(question, since, until)
        turn = self._retrieve(question, history, k, hybrid, exclude, period)
        if period and period.rows is not None and not turn.passages:  # say so plainly, not a generic refusal
            return self._finish(turn, [Draft(refused=True, refusal=_no_report(period.said))], period.said)
        drafts = [self.answerer.answer(part, ps) for part, ps in zip(turn.parts, turn.rankings, strict=True)]
        return self._finish(turn, drafts, period.said if period else None)

    def _period(self, question: object, since: str | None, until: str | None) -> _Period | None:
        """What a period restriction says (for the answer) and the passages it keeps: the one
        asked for (``since``/``until``) and the one the question names ("in March 2021",
        "before 16 March"), both if both. Undated reports are left out, and counted. A period
        the question names in which no report was published is the events', not the reports'
        ("the drone shot down on June 20"): it restricts nothing, and the answer says so."""
        low, high = _iso_day(since, "since"), _iso_day(until, "until")
        if low and high and low > high:
            raise ValueError(f"the period is empty: since {low} is after until {high}")
        # Most questions name no period: they never read the archive's dates (a million rows).
        named = isinstance(question, str) and asked_period(question, _ANY_YEAR) is not None
        if not low and not high and not named:
            return None
        if self._dated is None:  # read once per index, not per question
            self._dated = self.store.dates_summary()
        newest, undated = self._dated
        asked = asked_period(question, int(newest[:4])) if newest and named else None
        if asked is not None and not len(self._rows(asked.since, asked.until)):
            none = {"since": asked.since, "until": asked.until, "asked": asked.phrase, "no_reports": True}
            return _Period(none, None) if not low and not high else self._period(None, since, until)
        if not low and not high and asked is None:
            return None
        if asked is not None:  # both: the reports of both periods
            low = max(filter(None, (low, asked.since)), default=None)
            high = min(filter(None, (high, asked.until)), default=None)
        said: dict[str, Any] = {"since": low, "until": high, "undated_left_out": undated}
        if asked is not None:
            said["asked"] = asked.phrase
        return _Period(said, self._rows(low, high))

    def _rows(self, low: str | None, high: str | None) -> np.ndarray:
        """The passages of the reports published from ``low`` to ``high``; the same period
        asked again needs no new look-up."""
        if (low, high) not in self._published:
            if len(self._published) >= _PERIODS_KEPT:
                self._published.pop(next(iter(self._published)))
            self._published[(low, high)] = self.store.rows_published(low, high)
        return self._published[(low, high)]

    def _retrieve(self, question: str, history: Sequence[Any] | None, k: int | None,
                  hybrid: bool | None, exclude: Exclude | None = None,
                  period: _Period | None = None) -> _Turn:
        """The question resolved against ``history`` and its passages (only the ``period``'s,
        where one applies). The question's words for that period are no longer looked for in
        the articles ("in March" is not what a report says)."""
        allowed = period.rows if period is not None else None
        period_words = period.said.get("asked") if period is not None and allowed is not None else None
        started = time.perf_counter()
        question = validate_question(question, self.config.max_question_chars)
        query = self.aliases.rewrite(resolve_followup(question, normalise_history(history)))
        if period_words and content_terms(without := without_phrase(query, period_words)):
            query = without
        if not content_terms(query):
            raise ValueError("The question has no words to look for in the articles (only punctuation or words "
                             "like 'what' and 'is'): ask about a person, place, event or figure.")
        parts = split_question(query)
        if time_intent(query):  # the latest or first of the reports: look through twice as many
            k = 2 * (self.config.top_k if k is None else k)
        rankings = [self._ranking(part, k, hybrid, exclude, allowed) for part in parts]
        return _Turn(question, query, parts, rankings, _interleave(rankings), started, time.perf_counter())

    def _ranking(self, query: str, k: int | None, hybrid: bool | None,
                 exclude: Exclude | None, allowed: np.ndarray | None = None) -> list[Passage]:
        """The passages for one part of the question, among the ``allowed`` rows (a period's:
        filtered inside the searches, so a few reports of an archive are found however far
        down they rank), less those ``exclude`` is true of."""
        if exclude is None:
            return self.retriever.retrieve(query, k, hybrid, allowed)
        k = self.config.top_k if k is None else k
        if k <= 0:
            return [p for p in self.retriever.retrieve(query, k, hybrid, allowed) if not exclude(p)]
        # Deeper, so that the passages left out are replaced by the next ones: twice as deep,
        # then four times deeper while too few are kept, up to a bound on the work one
        # question may take.
        depth = 2 * k
        while True:
            found = self.retriever.retrieve(query, depth, hybrid, allowed)
            kept = [p for p in found if not exclude(p)]
            if len(kept) >= k or len(found) < depth or depth >= _DEEPEST * k:
                return kept[:k]
            depth *= 4

    def _finish(self, turn: _Turn, drafts: list[Draft], period: dict[str, Any] | None = None) -> Answer:
        """The answer composed from each part's draft, with its timings."""
        draft = merge_drafts(drafts)
        composed = compose(draft, self.store, turn.passages)
        records = [r for d in drafts for r in getattr(d, "verification", ())]  # generated answers only
        done = time.perf_counter()
        timings = {"retrieve": (turn.retrieved - turn.started) * 1000, "answer": (done - turn.retrieved) * 1000,
                   "total": (done - turn.started) * 1000}
        return Answer(turn.question, composed.text, draft.refused, composed.citations, turn.passages, timings,
                      turn.query, verification=number_records(records, composed.citations),
                      conflicts=composed.conflicts, confidence=draft.confidence, status=draft.status,
                      short_answer=composed.short,
                      written_by=next((d.written_by for d in drafts if getattr(d, "written_by", None)), None),
                      period=period)

    def stream(self, question: str, history: Sequence[Any] | None = None,
               k: int | None = None, hybrid: bool | None = None, since: str | None = None,
               until: str | None = None) -> Iterator[Answer]:
        """Yield the answer as it grows; the last one has ``complete=True``.

        A generative answerer's sentences are yielded as each one passes the citation check
        (the partial answers carry no markers or citations; the last one is composed with
        them). The extractive answerer knows its whole answer at once, so it is paced out
        word by word.
        """
        stream_answer = getattr(self.answerer, "stream_answer", None)
        if stream_answer is None:
            answer = self.ask(question, history, k, hybrid, since=since, until=until)
            pieces = re.findall(r"\S+\s*", answer.text)
            for i in range(1, len(pieces)):
                yield Answer(answer.question, "".join(pieces[:i]).rstrip(), answer.refused,
                             answer.citations, answer.passages, answer.timings_ms, answer.query,
                             answer.id, complete=False)
            yield answer
            return
        period = self._period(question, since, until)
        turn = self._retrieve(question, history, k, hybrid, None, period)
        if period and period.rows is not None and not turn.passages:  # as ``ask`` says it
            yield self._finish(turn, [Draft(refused=True, refusal=_no_report(period.said))], period.said)
            return
        drafts: list[Draft] = []
        shown = ""
        for part, passages in zip(turn.parts, turn.rankings, strict=True):
            for piece in stream_answer(part, passages):
                if isinstance(piece, Draft):
                    drafts.append(piece)
                else:
                    before, shown = shown.strip(), shown + piece
                    if shown.strip() == before:  # whitespace only: nothing new to show
                        continue
                    yield Answer(turn.question, shown.strip(), False, [], turn.passages, {}, turn.query,
                                 complete=False)
            shown += " "  # the next part's answer follows as a new sentence
        yield self._finish(turn, drafts, period.said if period else None)

    def timeline(self, query: str, k: int | None = None, since: str | None = None,
                 until: str | None = None) -> Timeline:
        """The reports on ``query`` in publication order, each with its sentence that best
        matches, undated ones apart (``rag/timeline.py``); ``since``/``until`` as for ``ask``."""
        from .timeline import build_timeline

        return build_timeline(self, query, k, since, until)

    @property
    def documents(self) -> list[dict[str, Any]]:
        """The indexed articles: source, title and date, in corpus order. ``date_source`` says
        where the date is from: "article" (its text, front matter, or the page's or PDF's own
        metadata), "file" (the file's modification date, only with ``file_dates``), or None
        (undated)."""
        out = []
        for doc_id, title, date in self.store.documents():
            source = "article"
            if date is None and self.config.file_dates:
                date, source = self._file_date(doc_id), "file"
            out.append({"source": doc_id, "title": title, "date": date, "date_source": source if date else None})
        return out

    def source_path(self, doc_id: str) -> Path | None:
        """The file document ``doc_id`` was read from (None for a bot without folders)."""
        prefix = f"{UPLOADS_PREFIX}/"
        if doc_id.startswith(prefix) and self.uploads_dir is not None:
            return self.uploads_dir / doc_id.removeprefix(prefix)
        return self.corpus_dir / doc_id if self.corpus_dir is not None else None

    def _file_date(self, doc_id: str) -> str | None:
        path = self.source_path(doc_id)
        try:
            return time.strftime("%Y-%m-%d", time.localtime(path.stat().st_mtime)) if path else None
        except OSError:
            return None


@dataclass(frozen=True)
class _Period:
    """A publication period an answer keeps to: what the answer says of it (``period`` in its
    JSON), and the row ids of the passages it keeps (None: it keeps all, the question's words
    naming the events, not the reports)."""

    said: dict[str, Any]
    rows: np.ndarray | None


@dataclass
class _Turn:
    """One question on its way through: what was asked and retrieved, and when."""

    question: str
    query: str  # follow-up resolved
    parts: list[str]  # the query split into its questions
    rankings: list[list[Passage]]  # passages retrieved for each part
    passages: list[Passage]  # all of them interleaved, best first
    started: float
    retrieved: float


def _no_report(period: dict[str, Any]) -> str:
    when = " and ".join(x for x in (f"from {period['since']}" if period["since"] else "",
                                    f"until {period['until']}" if period["until"] else "") if x)
    undated = period["undated_left_out"]
    return (f"No report published {when} speaks of this" +
            (f" ({undated} undated report{'s' if undated != 1 else ''} left out)." if undated else "."))


def _iso_day(value: str | None, name: str) -> str | None:
    """``value`` as YYYY-MM-DD (None stays None); ValueError with a one-line reason otherwise."""
    import datetime

    if not value:
        return None
    try:
        return datetime.date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError:
        raise ValueError(f"{name} must be a date written YYYY-MM-DD, got {value!r}") from None


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


def make_embedder(config: RagConfig) -> SentenceTransformerEmbedder:
    """The embedder a Chatbot uses: questions and documents through the cached ONNX export
    of the model, unless ``config.query_encoder`` is "torch" (sentence-transformers)."""
    onnx = cache_root() / "models" if config.query_encoder == "onnx" else None
    return SentenceTransformerEmbedder(config.index.model, config.index.device, config.index.batch_size,
                                       onnx_cache=onnx, query_threads=config.query_threads,
                                       document_precision=config.index.document_encoder)
