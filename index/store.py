"""The index on disk: FAISS vectors, passages, documents and a manifest, written atomically.

Layout of an index folder::

    CURRENT            name of the live build folder (replaced atomically)
    build-<id>/        manifest.json, docs.json, chunks.json, chunks.npy, sentences.npy, chunks.faiss
    .lock              held while a build writes

A build is written to a temporary folder, renamed into place, and only then made live by
replacing CURRENT; a build killed half-way leaves the previous one untouched and usable.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexCorruptError, IndexMismatchError
from .hashing import file_sha256
from .records import Chunk, Document

FORMAT_VERSION = 1
_DATA_FILES = ("docs.json", "chunks.json", "chunks.npy", "sentences.npy", "chunks.faiss")


@dataclass
class IndexStore:
    """A loaded index. Rows of ``chunk_vectors`` follow ``chunks``; rows of
    ``sentence_vectors`` follow the documents' sentences in ``docs`` order."""

    manifest: dict[str, Any]
    docs: dict[str, Document]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    faiss_index: Any
    path: Path | None = None

    def __post_init__(self) -> None:
        self.sentence_offset: dict[str, int] = {}
        row = 0
        for doc_id, doc in self.docs.items():
            self.sentence_offset[doc_id] = row
            row += len(doc.sentences)
        self._chunk_by_id = {c.chunk_id: c for c in self.chunks}
        if row != len(self.sentence_vectors) or len(self.chunks) != len(self.chunk_vectors):
            raise IndexCorruptError("index vectors do not match its passages")

    def sentence_vector(self, doc_id: str, i: int) -> np.ndarray:
        return self.sentence_vectors[self.sentence_offset[doc_id] + i]

    def chunk(self, chunk_id: str) -> Chunk:
        """The passage with this id (KeyError when there is none)."""
        return self._chunk_by_id[chunk_id]


# "auto": exact search below this many passages (about 15 ms a question at 100k on two cores),
# HNSW above it, whose search time barely grows with the archive.
ANN_MIN_VECTORS = 100_000
HNSW_FACTORY = "HNSW32"
# Candidates HNSW keeps while searching (FAISS's default is 16). Measured on 24k real MiniLM
# vectors of news sentences, one thread: recall@10 against exact search for the bench's
# questions 0.887 at 128, 0.943 at 512, 0.963 at 640 (0.56 ms), 0.993 at 1024 (1.0 ms); for
# held-out sentences 0.994 at 640. Questions sit far from every passage, among near ties.
HNSW_EF_SEARCH = 640
HNSW_EF_CONSTRUCTION = 80


def resolve_factory(factory: str, count: int) -> str:
    """The FAISS factory string an index of ``count`` vectors is built with: ``factory``
    itself, or for "auto" exact search ("Flat") below ANN_MIN_VECTORS and HNSW above."""
    if factory != "auto":
        return factory
    return "Flat" if count < ANN_MIN_VECTORS else HNSW_FACTORY


def build_faiss(vectors: np.ndarray, factory: str) -> Any:
    """A FAISS inner-product index over ``vectors`` (``factory`` is a faiss factory string,
    or "auto", see ``resolve_factory``)."""
    import faiss

    index = faiss.index_factory(vectors.shape[1], resolve_factory(factory, len(vectors)), faiss.METRIC_INNER_PRODUCT)
    hnsw = getattr(faiss.downcast_index(index), "hnsw", None)
    if hnsw is not None:  # kept in the file: a reopened index searches the same way
        hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        hnsw.efSearch = HNSW_EF_SEARCH
    if not index.is_trained:
        index.train(vectors)
    index.add(vectors)
    return index


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Serialise builds of one index folder across processes."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_index(index_dir: Path, store: IndexStore) -> Path:
    """Write ``store`` as a new build and make it live atomically; returns its folder.

    Call under ``build_lock``. Older builds and leftovers of killed builds are removed after
    the switch.
    """
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=index_dir))
    try:
        _write_json(tmp / "docs.json", [asdict(d) for d in store.docs.values()])
        _write_json(tmp / "chunks.json", [asdict(c) for c in store.chunks])
        np.save(tmp / "chunks.npy", store.chunk_vectors)
        np.save(tmp / "sentences.npy", store.sentence_vectors)
        faiss.write_index(store.faiss_index, str(tmp / "chunks.faiss"))
        manifest = dict(store.manifest)
        manifest["data_sha256"] = {name: file_sha256(tmp / name) for name in _DATA_FILES}
        _write_json(tmp / "manifest.json", manifest)
        for name in (*_DATA_FILES, "manifest.json"):
            with open(tmp / name, "rb") as fh:
                os.fsync(fh.fileno())
        final = index_dir / f"build-{time.strftime('%Y%m%d-%H%M%S')}-{tmp.name[5:13]}"
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pointer = index_dir / "CURRENT.tmp"
    pointer.write_text(final.name + "\n")
    with open(pointer, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(pointer, index_dir / "CURRENT")
    dir_fd = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    for old in index_dir.iterdir():
        if old.is_dir() and old != final and old.name.startswith(("build-", ".tmp-")):
            shutil.rmtree(old, ignore_errors=True)
    store.manifest = manifest
    store.path = final
    return final


def read_index(index_dir: Path, fix: str) -> IndexStore | None:
    """Load the live build of ``index_dir``; None when there is none yet.

    Raises IndexMismatchError for another format version and IndexCorruptError for anything
    unreadable; ``fix`` is the command that repairs it, quoted in the message.
    """
    pointer = index_dir / "CURRENT"
    if not pointer.exists():
        return None
    build = index_dir / pointer.read_text().strip()

    def corrupt(why: str) -> IndexCorruptError:
        return IndexCorruptError(f"The index at {index_dir} is corrupt ({why}). Rebuild it: {fix}")

    try:
        manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise corrupt(f"manifest unreadable: {exc.__class__.__name__}") from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise IndexMismatchError(
            f"The index at {index_dir} has format version {found}, this program reads "
            f"version {FORMAT_VERSION}. Rebuild it: {fix}"
        )
    expected = manifest.get("data_sha256", {})
    for name in _DATA_FILES:
        path = build / name
        if not path.is_file():
            raise corrupt(f"{name} is missing")
        if file_sha256(path) != expected.get(name):
            raise corrupt(f"{name} fails its checksum")
    try:
        import faiss

        docs = [Document(**{**d, "sentences": tuple(map(tuple, d["sentences"]))})
                for d in json.loads((build / "docs.json").read_text(encoding="utf-8"))]
        chunks = [Chunk(**c) for c in json.loads((build / "chunks.json").read_text(encoding="utf-8"))]
        store = IndexStore(
            manifest=manifest,
            docs={d.doc_id: d for d in docs},
            chunks=chunks,
            chunk_vectors=np.load(build / "chunks.npy"),
            sentence_vectors=np.load(build / "sentences.npy"),
            faiss_index=faiss.read_index(str(build / "chunks.faiss")),
            path=build,
        )
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise corrupt(f"{exc.__class__.__name__}: {exc}") from exc
    return store


def check_model(manifest: dict[str, Any], embedder: Any, fix: str) -> None:
    """Raise IndexMismatchError when the index was built with another embedding model.

    The weights hash is compared first, so a mismatch is reported without loading the model.
    """
    built = manifest.get("model", {})
    name, weights_hash = embedder.name, embedder.weights_hash
    same_weights = built.get("weights_sha256") == weights_hash
    dimension = embedder.dimension if same_weights else "?"
    if not same_weights or built.get("dimension") != dimension:
        raise IndexMismatchError(
            f"The index was built with model {built.get('name')} (dimension {built.get('dimension')}, "
            f"weights {str(built.get('weights_sha256'))[:12]}…) but {name} (dimension {dimension}, "
            f"weights {weights_hash[:12]}…) is configured. Rebuild it: {fix}"
        )
