"""The `rag` command: output contract, bad input, and no tracebacks."""

import json
import os
import re
import subprocess
import sys

import pytest

from rag.cli import main

from .conftest import CORPUS, PROJECT

AROURI = "Who led the Hamas delegation that met Khamenei?"


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True,
                          cwd=PROJECT, env={**os.environ, **(env or {})}, timeout=300)


@pytest.mark.parametrize("question", ["   ", ""])
def test_empty_question_exits_2_with_one_line_and_no_traceback(question):
    result = run_cli("ask", question)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "empty" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_over_long_question_is_a_clear_error():
    result = run_cli("ask", "why " * 600)
    assert result.returncode == 2 and "limit is 2000" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_corpus_is_a_clear_error(tmp_path):
    result = run_cli("ask", "Who?", "--corpus", str(tmp_path / "missing"))
    assert result.returncode == 2 and "Corpus folder not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_corpus_without_readable_documents_is_a_clear_error(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"\x00")
    result = run_cli("index", "--corpus", str(tmp_path), "--index-dir", str(tmp_path / "i"))
    assert result.returncode == 2 and "No readable document" in result.stderr


@pytest.mark.integration
def test_fresh_process_json_answer_names_arouri(bot):
    result = run_cli("ask", "--json", AROURI, "--index-dir", str(bot.store.path.parent))
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert set(obj) == {"id", "question", "answer", "refused", "status", "short_answer", "citations", "conflicts",
                        "confidence", "timings_ms"}
    assert set(obj["timings_ms"]) == {"retrieve", "answer", "total"}
    assert "Arouri" in obj["answer"] and obj["refused"] is False
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", obj["answer"])}
    assert markers == {c["marker"] for c in obj["citations"]}
    for c in obj["citations"]:
        assert set(c) == {"marker", "source", "title", "date", "chunk_id", "text", "quote", "start", "end"}
        assert (CORPUS / c["source"]).is_file()
        assert "Arouri" in c["quote"]


@pytest.mark.integration
def test_rockets_question_is_refused_in_json(bot, capsys):
    code = main(["ask", "--json", "How many rockets did Hamas fire at Israel in 2019?",
                 "--index-dir", str(bot.store.path.parent)])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["refused"] is True


@pytest.mark.integration
def test_file_mode_answers_in_order_and_reports_malformed_lines(bot, tmp_path, capsys):
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join([
        json.dumps({"id": "a", "question": AROURI}),
        "{not json",
        json.dumps({"id": "c", "text": "no question field"}),
        json.dumps({"id": "d", "question": "   "}),
        "",
        json.dumps({"question": "How much did Iran pay to families of those killed in the Gaza protests?"}),
    ]) + "\n", encoding="utf-8")
    code = main(["ask", "--file", str(questions), "--json", "--index-dir", str(bot.store.path.parent)])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [x.get("id") for x in lines] == ["a", None, "c", "d", None]
    assert "Arouri" in lines[0]["answer"]
    assert lines[1]["line"] == 2 and "invalid JSON" in lines[1]["error"]
    assert lines[2]["line"] == 3 and "question" in lines[2]["error"]
    assert lines[3]["line"] == 4 and "empty" in lines[3]["error"]
    assert "$651,000" in lines[4]["answer"]


@pytest.mark.integration
def test_text_mode_prints_answer_and_numbered_sources(bot, capsys):
    assert main(["ask", AROURI, "-k", "3", "--index-dir", str(bot.store.path.parent)]) == 0
    out = capsys.readouterr().out
    assert "Arouri" in out and "Sources:" in out and re.search(r"^\s+\[1\] .+\(\d{3}_\w+\.txt", out, re.M)


@pytest.mark.integration
def test_corrupt_index_via_cli_gives_the_fix_and_no_traceback(tmp_path, corpus_copy, capsys):
    index_dir = tmp_path / "idx"
    assert main(["index", "--corpus", str(corpus_copy), "--index-dir", str(index_dir)]) == 0
    assert "Indexed 5 documents (3 dated)" in capsys.readouterr().out  # 002 and 003 state no date
    build = index_dir / (index_dir / "CURRENT").read_text().strip()
    (build / "index.sqlite").write_bytes(b"not a database" * 100)
    code = main(["ask", AROURI, "--corpus", str(corpus_copy), "--index-dir", str(index_dir)])
    err = capsys.readouterr().err
    assert code == 1 and "corrupt" in err and "rag index --rebuild" in err and "Traceback" not in err
    assert main(["index", "--rebuild", "--corpus", str(corpus_copy), "--index-dir", str(index_dir)]) == 0
    assert main(["index", "--corpus", str(corpus_copy), "--index-dir", str(index_dir)]) == 0
    assert "Index up to date" in capsys.readouterr().out


@pytest.mark.integration
def test_index_verify_says_whether_the_index_is_sound(tmp_path, corpus_copy, capsys):
    import sqlite3

    index_dir = tmp_path / "idx"
    args = ["--corpus", str(corpus_copy), "--index-dir", str(index_dir)]
    assert main(["index", *args]) == 0
    assert main(["index", "--verify", *args]) == 0 and "Index sound" in capsys.readouterr().out
    build = index_dir / (index_dir / "CURRENT").read_text().strip()
    with sqlite3.connect(build / "index.sqlite") as con:  # a passage's vector lost
        con.execute("DELETE FROM sentences WHERE idx = 1")
    assert main(["index", "--verify", *args]) == 1
    err = capsys.readouterr().err
    assert "sentence vectors" in err and "rag index --rebuild" in err and "Traceback" not in err


@pytest.mark.integration
def test_unreadable_file_is_skipped_with_a_warning_and_the_rest_indexed(tmp_path, corpus_copy, capsys):
    (corpus_copy / "bad.txt").write_bytes("\xe9t\xe9".encode("latin-1"))
    assert main(["index", "--corpus", str(corpus_copy), "--index-dir", str(tmp_path / "i")]) == 0
    captured = capsys.readouterr()
    assert "Indexed 5 documents" in captured.out and "1 skipped" in captured.out


def test_query_threads_come_from_the_environment_and_a_bad_value_is_one_clear_error():
    from rag.cli import answerer_options

    assert answerer_options(environ={"RAG_QUERY_THREADS": "2"}) == {"query_threads": 2}
    assert answerer_options(environ={}) == {}
    with pytest.raises(ValueError, match="RAG_QUERY_THREADS must be a whole number"):
        answerer_options(environ={"RAG_QUERY_THREADS": "two"})


def test_json_stdout_carries_json_alone_whatever_a_library_prints_on_first_use(monkeypatch, capsys, tmp_path):
    """A small fake bot that prints as a first use does ("converting … once"): under --json
    that goes to stderr, and stdout parses as JSON, one object a line, in both modes."""
    from rag import cli
    from rag.records import Answer

    class Chatty:
        def __init__(self) -> None:
            print("Converting the model to float32 weights once (about 30-60 s) ...")

        def ask(self, question: str, **period: str | None) -> Answer:
            print("Exporting to ONNX once ...")
            return Answer(question, "An answer [1].", False)

    monkeypatch.setattr(cli, "_open_bot", lambda args, **config: Chatty())
    assert main(["ask", "--json", "Who came?"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["question"] == "Who came?"
    assert "Converting" in captured.err and "Exporting" in captured.err
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "a", "question": "Who came?"}) + "\n{bad\n", encoding="utf-8")
    assert main(["ask", "--file", str(questions), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [x.get("id") for x in lines] == ["a", None] and "error" in lines[1]
    assert main(["ask", "Who came?"]) == 0  # without --json the text answer goes to stdout as before
    assert "An answer [1]." in capsys.readouterr().out


def test_the_built_in_model_says_it_converts_once_on_stderr(tmp_path, capsys):
    from rag.generate.builtin import _made_once

    made = []
    _made_once(tmp_path / "made", "abc", "Converting once ...", True, lambda: made.append(1))
    captured = capsys.readouterr()
    assert made == [1] and captured.out == "" and "Converting once" in captured.err
