"""Checks and copies of a whole index: what ``rag index --verify`` runs, and the copy a
visitor's private index starts from."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from ..builder import _folder, _replace_file
from .db import DB_NAME, connect, read_meta, spans_from_blob, write_meta
from .milvus import collection_name


def verify_index(index_dir: Path) -> list[str]:
    """Problems found in the index of ``index_dir`` (empty when it is sound): SQLite's own
    integrity check, FTS5's, and that passages, sentences, terms and vectors agree."""
    folder = _folder(Path(index_dir))
    if not (folder / DB_NAME).is_file():
        return [f"no index at {index_dir}"]
    problems: list[str] = []
    try:
        con = connect(folder / DB_NAME)
        meta = read_meta(con)
        problems += [f"sqlite: {r}" for (r,) in con.execute("PRAGMA integrity_check") if r != "ok"]
        counts = meta.get("counts", {})
        docs, chunks = (con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("docs", "chunks"))
        sentences = con.execute("SELECT count(*) FROM sentences").fetchone()[0]
        spans = sum(len(spans_from_blob(b)) for (b,) in con.execute("SELECT sentences FROM docs"))
        terms = con.execute("SELECT coalesce(sum(length(terms) - length(replace(terms, ' ', '')) + "
                            "(terms != '')), 0) FROM chunks").fetchone()[0]
        dim = int(meta["model"]["dimension"]) * 4
        bad = con.execute("SELECT count(*) FROM chunks WHERE length(vector) != ?", (dim,)).fetchone()[0]
        bad += con.execute("SELECT count(*) FROM sentences WHERE length(vector) != ?", (dim,)).fetchone()[0]
        found = {"documents": docs, "chunks": chunks, "sentences": sentences, "terms": terms}
        if any(counts.get(k) != v for k, v in found.items()):
            problems.append(f"counts recorded {counts} but found {found}")
        if sentences != spans:
            problems.append(f"{spans} sentences in the documents but {sentences} sentence vectors")
        if bad:
            problems.append(f"{bad} vectors of the wrong size")
        orphans = con.execute("SELECT count(*) FROM chunks WHERE doc NOT IN (SELECT id FROM docs)").fetchone()[0]
        if orphans:
            problems.append(f"{orphans} passages of no document")
        record = meta.get("vectors") or {}
        if record.get("file"):
            import faiss

            main = faiss.read_index(str(folder / record["file"]))
            covered = con.execute("SELECT count(*) FROM chunks WHERE row <= ?", (record["covered"],)).fetchone()[0]
            if main.ntotal - int(record.get("removed", 0)) != covered:
                problems.append(f"the vector file holds {main.ntotal} vectors ({record.get('removed', 0)} removed) "
                                f"but {covered} passages are recorded in it")
        if (meta.get("store") or {}).get("kind") == "milvus":
            problems += _check_milvus(folder, meta, chunks)
        else:
            problems += _check_lexical(folder, con, meta)
        con.close()
    except (sqlite3.DatabaseError, OSError, RuntimeError, KeyError, ValueError) as exc:
        problems.append(f"unreadable: {exc.__class__.__name__}: {exc}")
    return problems


def _check_milvus(folder: Path, meta: dict, chunks: int) -> list[str]:
    """The Milvus collection holds as many passages as the database, all copied."""
    from .milvus import MilvusCollection, location

    uri, name = location(folder, meta)
    collection = MilvusCollection(uri, name, int(meta["model"]["dimension"]), meta["model"])
    if not collection.exists:
        return [f"no Milvus collection {name} at {uri}"]
    found = collection.count()
    return [] if found == chunks else [f"the Milvus collection {name} holds {found} passages, the database {chunks}"]


def _check_lexical(folder: Path, con: sqlite3.Connection, meta: dict) -> list[str]:
    """The BM25 snapshot holds each passage it covers with its number of terms."""
    import numpy as np

    name = (meta.get("lexical") or {}).get("dir")
    covered = int((meta.get("vectors") or {}).get("covered", 0))
    if not name:
        return ["no BM25 snapshot"] if covered else []
    lengths = np.load(folder / name / "lengths.npy", mmap_mode="r")
    wrong = sum(1 for row, text in con.execute("SELECT row, terms FROM chunks WHERE row <= ?", (covered,))
                if row >= len(lengths) or lengths[row] != len(text.split()))
    return [f"{wrong} passages differ from the BM25 snapshot"] if wrong else []


def copy_index(source: Path, target: Path) -> None:
    """Copy the live index of ``source`` into the index folder ``target`` (which must not
    exist): the database through SQLite's backup (consistent while others read or write
    it), the vector file as it is. A copy cut short leaves no index at ``target``."""
    folder = _folder(Path(source))
    target = Path(target)
    tmp = target.with_name(f".{target.name}.copy")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / folder.name).mkdir(parents=True)
    try:
        src = connect(folder / DB_NAME)
        dst = sqlite3.connect(str(tmp / folder.name / DB_NAME))
        with dst:
            src.backup(dst)
        meta = read_meta(src)
        if (meta.get("store") or {}).get("kind") == "milvus":  # a collection of its own, copied on open
            with dst:
                dst.execute("DELETE FROM dropped")
                write_meta(dst, {"milvus": {"collection": f"{collection_name(target)}_{os.urandom(3).hex()}",
                                            "synced": 0}})
        dst.close()
        src.close()
        if name := (meta.get("vectors") or {}).get("file"):
            shutil.copy2(folder / name, tmp / folder.name / name)
        if name := (meta.get("lexical") or {}).get("dir"):
            shutil.copytree(folder / name, tmp / folder.name / name)
        _replace_file(tmp / "CURRENT", folder.name)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
