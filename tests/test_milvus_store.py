"""The Milvus store on Milvus Lite files: builds, updates, deletions, killed builds and
copies, wrong models and unreachable servers (fake embedder); the same answers as the FAISS
store on the project's articles (real MiniLM)."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index import IndexConfig, IndexMismatchError, copy_index, open_index, verify_index
from index.builder import _folder
from index.errors import StoreUnavailableError
from index.storage import db as db_module
from index.storage.milvus import client
from tests.test_store import _kill_build_after

PROJECT = Path(__file__).resolve().parent.parent
MILVUS = IndexConfig(max_tokens=64, store="milvus")


def _write_docs(folder: Path, n: int, start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        (folder / f"{i:03d}.txt").write_text(f"Report {i}\n\nMilitants fired {i + 2} rockets on day {i}. "
                                             f"The mayor number {i} asked for calm.\n", encoding="utf-8")


def _meta(index_dir: Path) -> dict:
    con = sqlite3.connect(_folder(index_dir) / db_module.DB_NAME)
    meta = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}
    con.close()
    return meta


def test_a_milvus_index_finds_each_passage_by_vector_and_by_words(small_corpus, tmp_path, fake_embedder):
    store, _ = open_index(small_corpus, tmp_path / "idx", MILVUS, fake_embedder)
    assert store.manifest["store"] == {"kind": "milvus", "uri": None}
    assert (_folder(tmp_path / "idx") / "milvus.db").exists()  # Milvus Lite, inside the index folder
    chunks = list(store.iter_chunks())
    assert store.vectors.ntotal == len(chunks) == store.manifest["counts"]["chunks"]
    for chunk in chunks:
        row = store.row_of(chunk.chunk_id)
        assert store.search(store.chunk_vectors([row])[0], 1) == [row]
        assert row in store.bm25(store.passage_terms(row), 10)
    # Terms with dots and commas are whole words in Milvus too.
    row = store.row_of(next(c.chunk_id for c in chunks if "$5 million" in c.text))
    assert store.rows_with_all(["5", "million", "school"], 10) == [row]
    assert store.rows_with_all(["rocket", "school"], 10) == []
    assert verify_index(tmp_path / "idx") == []
    store.close()


def test_updates_and_deletions_reach_the_collection(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    _write_docs(corpus, 5)
    store, _ = open_index(corpus, tmp_path / "idx", MILVUS, fake_embedder)
    gone = store.row_of(next(c.chunk_id for c in store.iter_chunks() if c.doc_id == "002.txt"))
    store.close()
    (corpus / "002.txt").unlink()
    (corpus / "009.txt").write_text("Later\n\nA flood hit the valley on day nine.\n", encoding="utf-8")
    store, report = open_index(corpus, tmp_path / "idx", MILVUS, fake_embedder)
    assert report.embedded == ["009.txt"] and report.removed == ["002.txt"]
    assert store.vectors.ntotal == len(store) == 5
    assert store.bm25(["flood"], 3) == [store.row_of(next(c.chunk_id for c in store.iter_chunks()
                                                          if c.doc_id == "009.txt"))]
    assert store.bm25(["4"], 10) and gone not in store.bm25(["4"], 10)  # "fired 4 rockets" went with 002
    assert gone not in store.rows_with_all(["4", "rocket"], 10)
    assert store.query("SELECT count(*) FROM dropped")[0][0] == 0  # the tombstone went with the row
    assert verify_index(tmp_path / "idx") == []
    store.close()


def test_a_lost_or_half_copied_collection_is_written_again_from_the_database(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    _write_docs(corpus, 4)
    store, _ = open_index(corpus, tmp_path / "idx", MILVUS, fake_embedder)
    name, uri = store.manifest["milvus"]["collection"], store.vectors.collection.uri
    rows = sorted(store.row_of(c.chunk_id) for c in store.iter_chunks())
    # A copy cut short: Milvus has only the first row, the database says nothing was copied.
    client(uri).delete(name, ids=rows[1:])
    con = sqlite3.connect(_folder(tmp_path / "idx") / db_module.DB_NAME)
    with con:
        con.execute("UPDATE meta SET value=? WHERE key='milvus'", (json.dumps({"collection": name, "synced": 0}),))
    con.close()
    store.close()
    store, report = open_index(corpus, tmp_path / "idx", MILVUS, fake_embedder, update=False)
    assert report.reused and store.vectors.ntotal == 4 and verify_index(tmp_path / "idx") == []
    store.close()
    client(uri).drop_collection(name)  # dropped by hand: rebuilt from the database on open
    store, _ = open_index(corpus, tmp_path / "idx", MILVUS, fake_embedder)
    assert store.vectors.ntotal == 4 and store.search(store.chunk_vectors([rows[2]])[0], 1) == [rows[2]]
    store.close()


def test_a_killed_milvus_build_resumes_and_loses_nothing(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    _write_docs(corpus, 5)
    store, _ = open_index(corpus, tmp_path / "idx", MILVUS, fake_embedder)
    store.close()  # a Milvus Lite file serves one process: the build below opens it
    _write_docs(corpus, 6, start=5)
    _kill_build_after(corpus, tmp_path / "idx", 1, tmp_path / "marker", store="milvus")
    time.sleep(0.5)  # the killed process's Milvus Lite server lets go of the file
    partial, _ = open_index(corpus, tmp_path / "idx", MILVUS, fake_embedder, update=False)
    # The batch it committed is in the database and, copied on open, searchable in Milvus.
    assert len(partial.docs) == 7 and partial.vectors.ntotal == len(partial)
    assert partial.bm25(["5"], 5) and verify_index(tmp_path / "idx") == []
    partial.close()
    fake_embedder.encoded.clear()
    store, report = open_index(corpus, tmp_path / "idx", MILVUS, fake_embedder)
    assert sorted(report.embedded) == [f"{i:03d}.txt" for i in range(7, 11)]
    assert len(store.docs) == 11 and store.vectors.ntotal == 11 and verify_index(tmp_path / "idx") == []
    store.close()


def test_a_copy_gets_a_collection_of_its_own(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    _write_docs(corpus, 3)
    uri = str(tmp_path / "shared-milvus.db")  # one Milvus for both, as a server would be
    config = IndexConfig(max_tokens=64, store="milvus", milvus_uri=uri)
    store, _ = open_index(corpus, tmp_path / "idx", config, fake_embedder)
    copy_index(tmp_path / "idx", tmp_path / "copy")
    (corpus / "007.txt").write_text("Extra\n\nOnly the copy holds this visitor's flood.\n", encoding="utf-8")
    copy, _ = open_index(corpus, tmp_path / "copy", config, fake_embedder)
    assert copy.manifest["milvus"]["collection"] != store.manifest["milvus"]["collection"]
    assert copy.vectors.ntotal == 4 and store.vectors.ntotal == 3 and copy.bm25(["flood"], 2)
    assert not store.bm25(["flood"], 2)
    store.close()


def test_a_collection_of_another_model_is_a_clear_error(small_corpus, tmp_path, fake_embedder):
    store, _ = open_index(small_corpus, tmp_path / "idx", MILVUS, fake_embedder)
    name, uri = store.manifest["milvus"]["collection"], store.vectors.collection.uri
    other = {"name": "other-model", "weights_sha256": "0" * 64, "dimension": 32}
    client(uri).alter_collection_properties(name, properties={"rag.model": json.dumps(other)})
    store.close()
    with pytest.raises(IndexMismatchError) as err:
        open_index(small_corpus, tmp_path / "idx", MILVUS, fake_embedder)
    message = str(err.value)
    assert "\n" not in message and "other-model" in message and "rag index --rebuild --store milvus" in message


def test_an_unreachable_milvus_server_is_one_line_and_writes_nothing(small_corpus, tmp_path, fake_embedder):
    config = IndexConfig(max_tokens=64, store="milvus", milvus_uri="http://127.0.0.1:9")
    with pytest.raises(StoreUnavailableError) as err:
        open_index(small_corpus, tmp_path / "idx", config, fake_embedder)
    assert "\n" not in str(err.value) and "unreachable" in str(err.value) and "--milvus-uri" in str(err.value)
    assert not (tmp_path / "idx").exists()


def test_the_cli_says_in_one_line_that_milvus_is_unreachable(small_corpus, tmp_path):
    env = {**os.environ, "RAG_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "rag", "ask", "Who fired rockets?", "--corpus", str(small_corpus),
                           "--store", "milvus", "--milvus-uri", "http://127.0.0.1:9"],
                          capture_output=True, text=True, env=env, cwd=PROJECT, timeout=300)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Milvus at http://127.0.0.1:9 is unreachable" in lines[0], done.stderr


def test_a_milvus_lite_file_in_use_is_named_as_such(tmp_path, small_corpus, fake_embedder):
    uri = str(tmp_path / "busy.db")
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom pymilvus import MilvusClient\n"
                               "MilvusClient(sys.argv[1]); print('open', flush=True); time.sleep(600)", uri],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        config = IndexConfig(max_tokens=64, store="milvus", milvus_uri=uri)
        with pytest.raises(StoreUnavailableError, match="another process may be using it"):
            open_index(small_corpus, tmp_path / "idx", config, fake_embedder)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.integration
def test_the_milvus_store_answers_the_eval_questions_as_the_faiss_store(embedder, tmp_path):
    """Same retrieval and answers with real MiniLM vectors; BM25 differs only in Milvus's idf
    (Lucene's log(1 + (N - n + .5) / (n + .5)) against FTS5's floor for terms in most passages)."""
    import rag

    corpus = PROJECT / "corpus"
    questions = [json.loads(line)["question"] for name in ("dev.jsonl", "test.jsonl")
                 for line in (PROJECT / "eval" / "data" / name).read_text(encoding="utf-8").splitlines() if line]
    faiss_bot = rag.Chatbot.from_corpus(corpus, index_dir=tmp_path / "faiss", embedder=embedder)
    milvus_bot = rag.Chatbot.from_corpus(corpus, index_dir=tmp_path / "milvus", embedder=embedder, store="milvus")
    query = embedder.encode_queries(["Did Haniyeh attend the meeting in Tehran?"])[0]
    assert milvus_bot.store.search(query, 10) == faiss_bot.store.search(query, 10)  # exact search both
    same = sum(faiss_bot.ask(q).text == milvus_bot.ask(q).text for q in questions)
    assert same >= 0.95 * len(questions), f"{len(questions) - same} of {len(questions)} answers differ"
    milvus_bot.store.close()


@pytest.mark.integration
def test_the_chat_page_answers_from_milvus_and_keeps_a_visitors_files_in_their_own_collection(embedder, tmp_path):
    """`rag chat --store milvus`: the served page answers as the bot does, and a visitor's
    private index (a copy of the corpus index) gets a collection of its own."""
    import shutil

    from gradio_client import Client

    import rag
    from tests.ui_helpers import launch
    from ui import conversations as C
    from ui.handlers import make_handlers
    from ui.service import ChatService
    from ui.visitors import new_visitor_id

    corpus = tmp_path / "corpus"
    shutil.copytree(PROJECT / "corpus", corpus)
    bot = rag.Chatbot.from_corpus(corpus, index_dir=tmp_path / "index", embedder=embedder, store="milvus")
    question = "Who led the Hamas delegation that met Khamenei?"
    demo, url = launch(bot)
    try:
        result = Client(url, verbose=False, analytics_enabled=False, download_files=False).predict(
            question, api_name="/ask")
    finally:
        demo.close()
    assert "Arouri" in result["answer"] and result["answer"] == bot.ask(question).text

    h = make_handlers(ChatService(bot, visitors_dir=tmp_path / "visitors"))
    alice, bob = h["visitor_id"](None), new_visitor_id()
    (tmp_path / "harbour.md").write_text("# Harbour\n\nThe Port of Marisol opened Aurora Quay in 2019.\n",
                                         encoding="utf-8")
    notice = h["upload"]([str(tmp_path / "harbour.md")], alice, progress=lambda *a, **k: None)[0]
    assert "Indexed 1 file(s)" in notice["value"]

    def answer(visitor: str | None) -> str:
        steps = list(h["respond"]("Which quay did the Port of Marisol open?", C.new_conversation(),
                                  C.empty_store(), 5, "extractive", True, visitor))
        return steps[-1][4]["turns"][-1]["answer"]["text"]

    assert "Aurora Quay" in answer(alice)
    assert "Aurora Quay" not in answer(bob) and "Aurora Quay" not in answer(None)
    assert bot.store.vectors.ntotal == len(bot.store)  # the corpus collection did not take her file
