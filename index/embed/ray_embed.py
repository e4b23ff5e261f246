"""Reading, chunking and embedding on a Ray cluster (``rag index --ray [ADDRESS]``).

The files to index become a Ray Data dataset; ``map_batches`` runs them through a pool of
actors, each of which loads the embedding model once and reads, cleans, chunks and embeds a
batch of documents at a time. The driver takes the batches as they come (Ray Data streams
them, so memory stays bounded) and writes each in one transaction to whichever store is
configured, so a build that fails or is killed keeps what was written and resumes there.

With no address Ray starts on this machine. A cluster's workers must see the corpus at the
same path (a shared or mounted folder) and have the project installed.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import IndexConfig
from ..errors import RagError
from ..ingest.loader import SourceFile
from ..prepare import embed_batch, prepare_batch
from .embedder import Embedder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RaySettings:
    """Where and how wide: ``address`` None starts Ray here; ``workers`` actors embed."""

    address: str | None = None
    workers: int = 1


class RayIngestError(RagError):
    """Embedding on Ray stopped before the end (what was written is kept)."""


class _Embed:
    """A Ray Data actor: the embedder is loaded once, then each batch of files is read,
    chunked and embedded."""

    def __init__(self, embedder: Embedder, config: IndexConfig, threads: int):
        self.prepare, self.embed = prepare_batch, embed_batch
        self.embedder, self.config = embedder, config
        if hasattr(embedder, "document_threads"):
            embedder.document_threads = threads  # its share of the machine's cores
        embedder.encode_documents(["warm up"])  # the model, loaded here once

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[bytes]]:
        sources = [SourceFile(str(d), _path(p), int(s), int(m)) for d, p, s, m in
                   zip(batch["doc_id"], batch["path"], batch["size"], batch["mtime_ns"], strict=True)]
        prepared = self.prepare(sources, self.config, self.embedder)
        chunk_vectors, sentence_vectors = self.embed(prepared, self.embedder)
        return {"payload": [pickle.dumps((prepared, chunk_vectors, sentence_vectors))]}


def _bound(embedder: Embedder, config: IndexConfig, threads: int) -> type:
    """``_Embed`` with its arguments in the class itself (pickled with it, so a restarted
    actor never depends on arguments kept in Ray's object store)."""

    class Embed(_Embed):
        def __init__(self) -> None:
            super().__init__(embedder, config, threads)

    return Embed


def _path(value: Any) -> Any:
    from pathlib import Path

    return Path(str(value))


def _start(settings: RaySettings) -> Any:
    # Ray's own notices (its C++ core's too) would bury the build's progress bar; what fails
    # reaches the user as one line (RayIngestError).
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    _quiet()
    import ray

    if not ray.is_initialized():
        for attempt in range(2):
            try:
                with _stderr_silenced():
                    ray.init(address=settings.address, include_dashboard=False, log_to_driver=False,
                             logging_level=logging.ERROR, configure_logging=False,
                             **({} if settings.address else {"num_cpus": os.cpu_count() or 1}))
                break
            except Exception as exc:  # Ray raises a bare Exception when its node starts too slowly
                ray.shutdown()
                if attempt or settings.address:
                    where = f"at {settings.address} is unreachable" if settings.address else "did not start here"
                    raise RayIngestError(f"Ray {where} ({_first_line(exc)}): start the cluster (ray start --head) "
                                         "or leave out the address to run Ray here") from exc
                log.warning("Ray did not start (%s); trying once more", _first_line(exc))
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the build shows its own
    context.print_on_execution_start = False
    context.execution_options.preserve_order = True  # written in the corpus's order: a rerun resumes after them
    _quiet()
    return ray


@contextmanager
def _stderr_silenced() -> Iterator[None]:
    """File descriptor 2 sent to /dev/null: ray.init's notices come from its C++ core too."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _quiet() -> None:
    for name in list(logging.root.manager.loggerDict):
        if name == "ray" or name.startswith("ray."):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    logging.getLogger("ray").setLevel(logging.CRITICAL)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


_RAISED = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)): (.+)$")


def _cause(exc: BaseException) -> str:
    """The error inside Ray's wrappers: a task's own exception is kept only as text."""
    for line in str(exc).splitlines():
        found = _RAISED.match(line.strip())
        if found and not found.group(1).startswith("ray."):
            return f"{found.group(1)}: {found.group(2)[:200]}"
    return _first_line(exc)


def embed_on_ray(sources: Sequence[SourceFile], config: IndexConfig, embedder: Embedder, settings: RaySettings,
                 batch_documents: int) -> Iterator[tuple[list[Any], np.ndarray, np.ndarray]]:
    """(prepared documents, passage vectors, sentence vectors) for batches of ``sources``,
    read, chunked and embedded by ``settings.workers`` Ray actors, in the order they finish."""
    if not sources:
        return
    started_here = not _ray_running()
    ray = _start(settings)
    try:
        yield from _embed(ray, sources, config, embedder, settings, batch_documents)
    finally:
        if started_here:  # its actors go with it (a failed run's would hold their cores)
            ray.shutdown()


def _ray_running() -> bool:
    import ray

    return bool(ray.is_initialized())


def _embed(ray: Any, sources: Sequence[SourceFile], config: IndexConfig, embedder: Embedder, settings: RaySettings,
           batch_documents: int) -> Iterator[tuple[list[Any], np.ndarray, np.ndarray]]:
    cores = int(ray.cluster_resources().get("CPU", 1))
    threads = max(1, cores // max(1, settings.workers))
    items = [{"doc_id": s.doc_id, "path": str(s.path), "size": s.size, "mtime_ns": s.mtime_ns} for s in sources]
    # Batches of at most ``batch_documents`` (one transaction each), enough of them for every worker.
    per_call = max(1, min(batch_documents, math.ceil(len(items) / max(1, settings.workers))))
    dataset = ray.data.from_items(items, override_num_blocks=math.ceil(len(items) / per_call))
    embedded = dataset.map_batches(_bound(embedder, config, threads), batch_size=per_call, batch_format="numpy",
                                   compute=ray.data.ActorPoolStrategy(size=settings.workers),
                                   # Half a core short of its threads: Ray Data's own small tasks
                                   # must find a free slot, or the pipeline waits for ever.
                                   num_cpus=max(0.5, threads - 0.5))
    try:
        for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            for payload in batch["payload"]:
                yield pickle.loads(payload)
    except ray.exceptions.RayError as exc:
        raise RayIngestError(f"Embedding on Ray stopped ({_cause(exc)}); what was written is kept: "
                             "run the same command again to resume") from exc
