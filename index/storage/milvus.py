"""Milvus as an index's search engine: a collection of passages (text, document, sentence
offsets, dense vector and BM25 terms) searched by Milvus itself, on a Milvus Lite file or a
server (``http://host:19530``), through the same ``pymilvus`` client.

The index's SQLite database stays the record an index is built from (documents, sentence
vectors, the vocabulary, which files were read), so a build resumes and a killed one loses
nothing: passages committed there are copied to the collection after (``sync``), rows a
deletion removed are kept as tombstones until Milvus has dropped them too, and the meta row
``milvus.synced`` says how far the copy got. A missing collection is written again from the
database; one holding another model's vectors is an error naming the fix.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexMismatchError, StoreUnavailableError
from .db import from_blobs, read_meta, write_meta
from .vectors import HNSW_EF_SEARCH

log = logging.getLogger("index")

LITE_FILE = "milvus.db"  # the Milvus Lite file of an index folder, when no URI is given
_BATCH = 2000
_FLAT, _HNSW = "FLAT", "HNSW"
# Searched as in the FAISS store: exact below ANN_MIN_VECTORS passages, HNSW (M 32) above.
_HNSW_PARAMS = {"M": 32, "efConstruction": 200}
_TIMEOUT_S = 10.0
_MAX_LIMIT = 16384  # the most rows one Milvus search returns
_ALL_TERMS_POOL = 200
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def is_server(uri: str) -> bool:
    return "://" in uri


def unreachable(uri: str, exc: BaseException) -> StoreUnavailableError:
    if not is_server(uri):
        return StoreUnavailableError(
            f"Could not open the Milvus Lite file {uri} ({_short(exc)}): another process may be using it (a running "
            "`rag chat`?); stop it, or serve the index from a Milvus server (--milvus-uri http://host:19530)")
    return StoreUnavailableError(
        f"Milvus at {uri} is unreachable ({_short(exc)}): start the server (see the README, 'Beyond one "
        "machine') or give --milvus-uri a file path for Milvus Lite")


def _short(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
    return str(message).splitlines()[0][:200]


def client(uri: str) -> Any:
    """One client per URI and process (Milvus Lite serves a file to one process)."""
    # gRPC's C core prints connection notices (Milvus Lite's server asks its client to ping
    # less often during a long build) straight to the terminal; failures come as exceptions.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    # Milvus Lite answers a timestamp call it lacks with an error that gRPC's server logs with
    # its traceback; the client carries on without it, and the user must not see it.
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    # ... and Milvus Lite logs a file it cannot open with a traceback too: the error says it.
    logging.getLogger("milvus_lite.server_manager").setLevel(logging.CRITICAL)
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # its failures reach the user as our one line
    with _clients_lock:
        if uri not in _clients:
            try:
                _clients[uri] = MilvusClient(uri, timeout=_TIMEOUT_S)
            except MilvusException as exc:
                raise unreachable(uri, exc) from exc
        return _clients[uri]


def release(uri: str) -> None:
    """Close this process's client of the Milvus Lite file ``uri`` and the server it runs
    in a thread (the file's lock goes with it)."""
    with _clients_lock:
        found = _clients.pop(uri, None)
    if found is not None:
        found.close()
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)


def collection_name(folder: Path) -> str:
    """The collection of the index database in ``folder`` (named after it, so a rebuild
    writes a new collection while the live one still answers)."""
    return "rag_" + re.sub(r"[^A-Za-z0-9_]", "_", folder.name)


def location(folder: Path, meta: dict[str, Any]) -> tuple[str, str]:
    """(URI, collection name) of the Milvus index whose database in ``folder`` has ``meta``."""
    uri = (meta.get("store") or {}).get("uri") or str(folder / LITE_FILE)
    return uri, (meta.get("milvus") or {}).get("collection") or collection_name(folder)


def _encode_terms(terms: list[str]) -> str:
    # Milvus's standard analyzer splits at "." and ","; the project's terms ("1.5", "3,000")
    # are whole words, so they travel with "_" (a word character) instead.
    return " ".join(t.replace(".", "_").replace(",", "_") for t in terms)


class MilvusCollection:
    """The passages of one index in one Milvus collection."""

    def __init__(self, uri: str, name: str, dimension: int, model: dict[str, Any]):
        from pymilvus.exceptions import MilvusException

        self.uri, self.name, self.dimension, self.model = uri, name, dimension, model
        self.client = client(uri)
        self.index_type = ""
        try:
            if self.client.has_collection(name):
                self._check_model()
                self.index_type = self._current_index()
                self.client.load_collection(name)  # a reopened Milvus Lite file starts released
        except MilvusException as exc:
            raise unreachable(uri, exc) from exc

    @property
    def exists(self) -> bool:
        return bool(self.index_type)

    def _check_model(self) -> None:
        properties = self.client.describe_collection(self.name).get("properties", {})
        built = json.loads(properties.get("rag.model", "{}"))
        if built != self.model:
            raise IndexMismatchError(
                f"The Milvus collection {self.name} at {self.uri} was built with model {built.get('name')} "
                f"(weights {str(built.get('weights_sha256'))[:12]}…), not {self.model.get('name')}. "
                f"Rebuild it: rag index --rebuild --store milvus --milvus-uri {self.uri}")

    def _current_index(self) -> str:
        for name in self.client.list_indexes(self.name, field_name="dense"):
            return str(self.client.describe_index(self.name, name).get("index_type", _FLAT))
        return _FLAT

    def create(self, index_type: str) -> None:
        """The collection, empty, with its dense and BM25 indexes."""
        from pymilvus import DataType, Function, FunctionType

        schema = self.client.create_schema(auto_id=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=1024)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
        schema.add_field("text", DataType.VARCHAR, max_length=65535)
        for field in ("start", "end", "first_sentence", "last_sentence"):
            schema.add_field(field, DataType.INT64)
        schema.add_field("terms", DataType.VARCHAR, max_length=65535, enable_analyzer=True, enable_match=True,
                         analyzer_params={"tokenizer": "standard"})
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                     output_field_names=["sparse"]))
        params = self.client.prepare_index_params()
        self._add_dense_index(params, index_type)
        # k1 and b as in the FAISS store's BM25 (SQLite FTS5's).
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": 1.2, "bm25_b": 0.75})
        self.client.create_collection(self.name, schema=schema, index_params=params,
                                      properties={"rag.model": json.dumps(self.model, sort_keys=True)})
        self.index_type = index_type

    def _add_dense_index(self, params: Any, index_type: str) -> None:
        extra = _HNSW_PARAMS if index_type == _HNSW else {}
        params.add_index("dense", index_type=index_type, metric_type="IP", params=extra)

    def use_index(self, index_type: str) -> None:
        """Search with ``index_type`` from now on (the archive grew past the threshold)."""
        if index_type == self.index_type:
            return
        self.client.release_collection(self.name)
        for name in self.client.list_indexes(self.name, field_name="dense"):
            self.client.drop_index(self.name, name)
        params = self.client.prepare_index_params()
        self._add_dense_index(params, index_type)
        self.client.create_index(self.name, params)
        self.client.load_collection(self.name)
        self.index_type = index_type

    def drop(self) -> None:
        if self.client.has_collection(self.name):
            self.client.drop_collection(self.name)
        self.index_type = ""

    def count(self) -> int:
        return int(self.client.query(self.name, filter="", output_fields=["count(*)"])[0]["count(*)"])

    # -- searches ----------------------------------------------------------------------------
    def search(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        params = {"metric_type": "IP", "params": {"ef": max(HNSW_EF_SEARCH, n)} if self.index_type == _HNSW else {}}
        if allowed is not None and not len(allowed):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        hits = self._call(self.client.search, self.name, data=[np.asarray(query, dtype=np.float32).ravel().tolist()],
                          anns_field="dense", limit=n, output_fields=["row"], search_params=params,
                          **_only(allowed))[0]
        return (np.asarray([h["row"] for h in hits], dtype=np.int64),
                np.asarray([h["distance"] for h in hits], dtype=np.float32))

    def bm25(self, terms: list[str], n: int, allowed: np.ndarray | None = None) -> list[int]:
        text = _encode_terms(list(dict.fromkeys(terms)))
        if not text or n < 1 or (allowed is not None and not len(allowed)):
            return []
        hits = self._call(self.client.search, self.name, data=[text], anns_field="sparse", limit=n,
                          output_fields=["row"], search_params={"metric_type": "BM25"}, **_only(allowed))[0]
        return [int(h["row"]) for h in hits]

    def rows_with_all(self, terms: list[str], limit: int) -> list[int]:
        """Passages holding every one of ``terms``, found among the best BM25 matches of all
        of them (a passage holding them all scores above those that miss one, as a rule:
        Milvus Lite's TEXT_MATCH scans every passage, 0.9 s at 20,000)."""
        words = list(dict.fromkeys(_encode_terms([t]) for t in terms))
        if not words or limit < 1:
            return []
        pool = self.bm25(terms, min(_MAX_LIMIT, max(_ALL_TERMS_POOL, 4 * limit)))
        if not pool:
            return []
        found = self._call(self.client.query, self.name, filter=f"row in {pool}", output_fields=["row", "terms"])
        wanted = set(words)
        return sorted(int(r["row"]) for r in found if wanted <= set(r["terms"].split()))[:limit]

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        from pymilvus.exceptions import MilvusException

        try:
            return method(*args, **kwargs)
        except MilvusException as exc:
            raise unreachable(self.uri, exc) from exc

    # -- copying from the database -------------------------------------------------------------
    def sync(self, con: sqlite3.Connection, index_type: str) -> None:
        """Copy the passages written to the database since its ``milvus.synced`` row, drop
        those deleted there since, and record how far the copy got (a copy cut short is
        taken up again from there: rows are upserted by their id)."""
        from pymilvus.exceptions import MilvusException

        record = dict(read_meta(con).get("milvus") or {})
        try:
            if not self.exists:
                self.create(index_type)
                record["synced"] = 0
            dropped = [r for (r,) in con.execute("SELECT row FROM dropped")]
            for i in range(0, len(dropped), _BATCH):
                self.client.delete(self.name, ids=dropped[i:i + _BATCH])
            synced = int(record.get("synced", 0))
            for rows in _rows_after(con, synced, self.dimension):
                self.client.upsert(self.name, rows)
                synced = rows[-1]["row"]
            self.client.flush(self.name)
            self.use_index(index_type)
        except MilvusException as exc:
            raise unreachable(self.uri, exc) from exc
        con.execute("BEGIN IMMEDIATE")
        try:
            con.executemany("DELETE FROM dropped WHERE row=?", [(r,) for r in dropped])
            write_meta(con, {"milvus": {**record, "collection": self.name, "synced": synced,
                                        "index_type": self.index_type}})
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def behind(self, con: sqlite3.Connection) -> bool:
        """Whether the database holds changes the collection lacks."""
        synced = int((read_meta(con).get("milvus") or {}).get("synced", 0))
        newer = con.execute("SELECT 1 FROM chunks WHERE row > ? LIMIT 1", (synced,)).fetchone()
        return not self.exists or newer is not None or con.execute("SELECT 1 FROM dropped LIMIT 1").fetchone()

    def close(self) -> None:
        """Let go of a Milvus Lite file, so that another process may open it."""
        if not is_server(self.uri):
            release(self.uri)


def index_type_for(factory: str, count: int) -> str:
    """The Milvus index matching the FAISS store's choice for ``count`` passages."""
    from .vectors import resolve_factory

    return _HNSW if resolve_factory(factory, count).upper().startswith("HNSW") else _FLAT


def open_milvus(folder: Path, con: sqlite3.Connection, meta: dict[str, Any],
                factory: str = "auto") -> tuple[MilvusVectors, MilvusLexical]:
    """The Milvus searches of the index database in ``folder``, brought up to date with it."""
    uri, name = location(folder, meta)
    collection = MilvusCollection(uri, name, int(meta["model"]["dimension"]), meta["model"])
    if collection.behind(con):
        count = int((meta.get("counts") or {}).get("chunks", 0))
        collection.sync(con, index_type_for(meta.get("faiss_factory") or factory, count))
    return MilvusVectors(collection), MilvusLexical(collection)


def drop_collection_of(folder: Path) -> None:
    """Drop the collection of a replaced index folder (best effort: a server that is down
    keeps it, to be dropped by hand)."""
    from .db import DB_NAME, connect

    try:
        con = connect(folder / DB_NAME)
        meta = read_meta(con)
        con.close()
    except (OSError, sqlite3.DatabaseError, ValueError):
        return
    if (meta.get("store") or {}).get("kind") != "milvus":
        return
    uri, name = location(folder, meta)
    if Path(uri).parent == folder:  # its own Milvus Lite file, removed with the folder
        release(uri)
        return
    try:
        client(uri).drop_collection(name)
    except Exception as exc:  # kept (a server that is down, a file in use): the new index does not use it
        log.warning("could not drop Milvus collection %s at %s: %s", name, uri, _short(exc))


def _rows_after(con: sqlite3.Connection, last: int, dimension: int) -> Iterator[list[dict[str, Any]]]:
    """The passages after row ``last`` as collection rows, in batches."""
    while True:
        batch = con.execute(
            "SELECT c.row, c.chunk_id, d.doc_id, substr(d.text, c.start + 1, c.end - c.start), c.start, c.end, "
            "c.first_sentence, c.last_sentence, c.terms, c.vector FROM chunks c JOIN docs d ON d.id = c.doc "
            "WHERE c.row > ? ORDER BY c.row LIMIT ?", (last, _BATCH)).fetchall()
        if not batch:
            return
        vectors = from_blobs([b[-1] for b in batch], dimension)
        yield [{"row": r[0], "chunk_id": r[1], "doc_id": r[2], "text": r[3], "start": r[4], "end": r[5],
                "first_sentence": r[6], "last_sentence": r[7], "terms": _encode_terms(r[8].split()),
                "dense": vectors[i].tolist()} for i, r in enumerate(batch)]
        last = batch[-1][0]


class MilvusVectors:
    """Dense search in Milvus, in place of the FAISS VectorIndex (same attributes)."""

    main_file = None
    main_rows = covered = removed = 0

    def __init__(self, collection: MilvusCollection):
        self.collection = collection
        self.pending = 0
        self.factory = f"milvus:{collection.index_type or _FLAT}"

    @property
    def ntotal(self) -> int:
        return self.collection.count()

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        """Nothing to do: rows reach Milvus by ``sync``."""

    def drop(self, rows: set[int]) -> None:
        """Nothing to do: the database's tombstones reach Milvus by ``sync``."""

    def search(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.collection.search(query, n, allowed)

    def merge_needed(self, factory: str) -> bool:
        return False

    def close(self) -> None:
        self.collection.close()


class MilvusLexical:
    """BM25 in Milvus (its own full-text search), in place of the LexicalIndex."""

    def __init__(self, collection: MilvusCollection):
        self.collection = collection

    def drop(self, rows: set[int]) -> None:
        """Nothing to do: see MilvusVectors.drop."""

    def search(self, terms: list[str], n: int, passages: int, total_terms: int,
               allowed: np.ndarray | None = None) -> list[int]:
        return self.collection.bm25(terms, n, allowed)

    def rows_with_all(self, terms: list[str], limit: int) -> list[int]:
        return self.collection.rows_with_all(terms, limit)


def _only(allowed: np.ndarray | None) -> dict[str, str]:
    """The search filter that keeps to ``allowed`` rows (a boolean expression Milvus
    evaluates before ranking), or none."""
    return {} if allowed is None else {"filter": f"row in {[int(r) for r in allowed]}"}
