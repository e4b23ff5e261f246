"""What the page does, without Gradio: answer, stream, switch answerer, add and remove files.

One ``ChatService`` serves every visitor of the page. Uploads are private by default: a
service made with ``visitors_dir`` gives each visitor who adds a file a space of their own
(``ui.visitors``), itself a ChatService over the corpus plus that visitor's files, found by
``space(visitor)``. Without it, uploads go to the bot's own uploads folder and every visitor
answers from them. Either way they never go into the corpus folder, so the seed articles
can be neither overwritten nor removed from the page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from index import BuildReport, copy_index, open_index, rebuild_hint
from rag.chatbot import UPLOADS_PREFIX, Chatbot, validate_question
from rag.records import Answer

from .config import UIConfig
from .upload import UploadError, save_upload
from .visitors import VisitorSpaces, valid_visitor_id

log = logging.getLogger(__name__)

BotFactory = Callable[[str], Chatbot]
Progress = Callable[[float, str], None]


@dataclass
class UploadResult:
    """What an upload did: files indexed, files refused (one line each), the build report."""

    added: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    report: BuildReport | None = None

    def message(self) -> str:
        """One line for the page."""
        parts = []
        if self.added:
            seconds = f" in {self.report.seconds:.1f}s" if self.report else ""
            parts.append(f"Indexed {len(self.added)} file(s){seconds}: {', '.join(self.added)}.")
        parts.extend(self.rejected)
        return " ".join(parts) or "No file was uploaded."


class ChatService:
    """Chatbots per answerer backend over one corpus, safe to call from many threads."""

    def __init__(self, bot: Chatbot, config: UIConfig | None = None, factory: BotFactory | None = None,
                 visitors_dir: Path | None = None, lock: threading.RLock | None = None):
        self.config = config or UIConfig()
        self._bots: dict[str, Chatbot] = {bot.config.answerer: bot}
        self._default = bot.config.answerer
        self._factory = factory or (lambda name: _sibling(bot, name))
        # Held for each step of an answer and for a refresh, which swaps the index under
        # every bot: a question never sees half an old index and half a new one. Visitors'
        # spaces share it, and with it the one generator model, which is never run twice at once.
        self._lock = lock or threading.RLock()
        if visitors_dir is not None and bot.uploads_dir is not None and \
                Path(visitors_dir).resolve().is_relative_to(bot.uploads_dir.resolve()):
            # The shared folder is indexed with its subfolders: visitors' files would leak into it.
            raise ValueError(f"the visitors' folder {visitors_dir} must not be inside the shared uploads folder")
        self._visitors = VisitorSpaces(visitors_dir, self._open_space, self.config.max_visitor_spaces) \
            if visitors_dir is not None else None

    @property
    def takes_uploads(self) -> bool:
        """Whether the page offers to add files (to a visitor's space, or to the shared folder)."""
        return self._visitors is not None or self.default_bot.uploads_dir is not None

    def space(self, visitor: object = None, create: bool = False) -> ChatService:
        """Where ``visitor``'s questions and uploads go: with private uploads, their own space
        once they have one (``create`` makes it, for an upload); otherwise this service."""
        if self._visitors is None:
            return self
        if create and valid_visitor_id(visitor) is None:
            raise ValueError("The page lost track of who you are: reload it, then add the file again.")
        with self._lock:
            return self._visitors.get(visitor, create) or self

    def _open_space(self, files: Path, index_dir: Path) -> ChatService:
        """A visitor's space: the corpus and ``files``, indexed in ``index_dir`` (first a copy
        of the corpus index, so that only the visitor's files are embedded)."""
        base = self.default_bot
        if base.corpus_dir is None:
            raise ValueError("Private uploads need a page made from a corpus folder.")
        if not index_dir.exists() and base.index_dir is not None and base.index_dir.is_dir():
            copy_index(base.index_dir, index_dir)
        extra = {UPLOADS_PREFIX: files}
        store, report = open_index(base.corpus_dir, index_dir, base.config.index, base.embedder,
                                   fix=rebuild_hint(base.corpus_dir, index_dir, base.config.index), extra=extra)
        bot = Chatbot(store, base.embedder, base.config, base.corpus_dir, report, index_dir, files, model_from=base)
        return ChatService(bot, self.config, lambda name: _sibling(bot, name, self.bot(name)), lock=self._lock)

    @property
    def answerers(self) -> tuple[str, ...]:
        """The answerer backends this build offers."""
        return tuple(self.default_bot.answerers)

    @property
    def default_answerer(self) -> str:
        return self._default

    @property
    def default_bot(self) -> Chatbot:
        return self._bots[self._default]

    @property
    def corpus_dir(self) -> Path | None:
        return self.default_bot.corpus_dir

    def bot(self, answerer: str | None = None) -> Chatbot:
        """The chatbot for ``answerer`` (default: the first one), built on first use and kept.

        Raises ValueError for an answerer this build does not offer.
        """
        name = answerer or self._default
        if name not in self.answerers:
            raise ValueError(f"unknown answerer {name!r}; available: {', '.join(self.answerers)}")
        with self._lock:
            if name not in self._bots:
                self._bots[name] = self._factory(name)
            return self._bots[name]

    def check_question(self, question: str) -> str:
        """The question as it will be asked (trimmed); raises ValueError when it is empty or
        too long, before anything is shown for it."""
        return validate_question(question, self.default_bot.config.max_question_chars)

    def streams(self, answerer: str | None = None) -> bool:
        """Whether ``answerer`` writes its answer over time (a generative model) rather than
        knowing it at once: only then is there anything worth streaming."""
        return callable(getattr(self.bot(answerer).answerer, "stream_answer", None))

    def ask(self, question: str, history: Sequence[Any] | None = None, k: int | None = None,
            answerer: str | None = None, hybrid: bool | None = None, since: str | None = None,
            until: str | None = None) -> Answer:
        """The complete answer (from reports published ``since`` .. ``until`` where given).
        Raises ValueError for bad input, RagError for index trouble."""
        bot = self.bot(answerer)
        with self._lock:
            return bot.ask(question, history, k, hybrid, since=since, until=until)

    def timeline(self, query: str, since: str | None = None, until: str | None = None) -> Any:
        """The reports on ``query`` in publication order (``Chatbot.timeline``)."""
        with self._lock:
            return self.default_bot.timeline(query, since=since, until=until)

    def stream(self, question: str, history: Sequence[Any] | None = None, k: int | None = None,
               answerer: str | None = None, hybrid: bool | None = None, since: str | None = None,
               until: str | None = None) -> Iterator[Answer]:
        """The growing answer, as ``Chatbot.stream`` yields it; the lock is held per step, not
        across the pauses a page makes between steps."""
        bot = self.bot(answerer)
        steps = bot.stream(question, history, k, hybrid, since=since, until=until)
        while True:
            with self._lock:
                answer = next(steps, None)
            if answer is None:
                return
            yield answer

    @property
    def documents(self) -> list[dict[str, Any]]:
        """The indexed articles (source, title, date)."""
        with self._lock:
            return self.default_bot.documents

    @property
    def uploads(self) -> list[str]:
        """The ids of the uploaded documents ("uploads/<name>"), which the page may remove."""
        if self.default_bot.uploads_dir is None:  # then "uploads/..." could only be corpus files
            return []
        with self._lock:
            return sorted(d for d, _, _ in self.default_bot.store.documents(f"{UPLOADS_PREFIX}/"))

    def add_files(self, paths: Sequence[str | Path], progress: Progress | None = None) -> UploadResult:
        """Copy uploads into the uploads folder and index them; each refused file gets a line."""
        progress = progress or (lambda fraction, desc: None)
        result = UploadResult()
        folder = self.default_bot.uploads_dir
        if folder is None:
            raise ValueError("This page takes no files (it was started without an uploads folder).")
        saved: list[Path] = []
        for i, path in enumerate(paths):
            progress(0.3 * i / max(len(paths), 1), f"Checking {Path(path).name}")
            try:
                saved.append(save_upload(path, folder, self.config.max_upload_bytes))
            except UploadError as exc:
                result.rejected.append(str(exc))
        if not saved:
            return result
        progress(0.3, f"Indexing {len(saved)} file(s)")
        result.report = self._refresh()
        skipped = set(result.report.skipped) if result.report else set()
        for path in saved:
            doc_id = f"{UPLOADS_PREFIX}/{path.relative_to(folder).as_posix()}"
            if doc_id in skipped:
                # Left in the folder it would be skipped with a warning on every refresh.
                path.unlink(missing_ok=True)
                result.rejected.append(f"{path.name}: no text could be read from it.")
            else:
                result.added.append(doc_id)
        progress(1.0, "Done")
        return result

    def remove_upload(self, doc_id: str) -> BuildReport:
        """Delete an uploaded file and take it out of the index; no answer cites it after.

        Raises ValueError for anything but a current upload (never a corpus article).
        """
        path = self.default_bot.source_path(doc_id) if doc_id in self.uploads else None
        if path is None:
            raise ValueError(f"{doc_id!r} is not an uploaded file; only uploads can be removed.")
        path.unlink(missing_ok=True)
        return self._refresh()

    def _refresh(self) -> BuildReport:
        with self._lock:
            report = self.default_bot.refresh()
            for name, bot in self._bots.items():
                if name != self._default:
                    bot.refresh()  # reuses the index the first refresh just wrote
        return report


def _sibling(bot: Chatbot, answerer: str, model_from: Chatbot | None = None) -> Chatbot:
    """A chatbot for another answerer over the same index (nothing is re-embedded), sharing
    the generator model of ``model_from`` when given."""
    return Chatbot(bot.store, bot.embedder, replace(bot.config, answerer=answerer), bot.corpus_dir,
                   bot.build_report, bot.index_dir, bot.uploads_dir, model_from)
