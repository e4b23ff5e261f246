"""The chat page as an HTTP API (gradio_client against the launched app), and its handlers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .ui_helpers import AROURI, HANIYEH, PAYMENT, ROCKETS, launch, make_bot, markers

pytestmark = pytest.mark.integration
KEYS = {"id", "question", "answer", "refused", "status", "short_answer", "citations", "conflicts", "confidence",
        "timings_ms"}
CITATION_KEYS = {"marker", "source", "title", "date", "chunk_id", "text", "quote", "start", "end"}


@pytest.fixture(scope="module")
def bot(embedder, tmp_path_factory: pytest.TempPathFactory):
    return make_bot(tmp_path_factory.mktemp("ui_server"), embedder)


@pytest.fixture(scope="module")
def server(bot):
    demo, url = launch(bot)
    yield url
    demo.close()


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, download_files=False)


def assert_complete_answer(result: dict, question: str) -> None:
    assert set(result) - {"period"} == KEYS  # a period only where the question names one
    assert result["question"] == question
    assert result["citations"], "every answer (and refusal) cites at least one passage"
    assert markers(result["answer"]) == {c["marker"] for c in result["citations"]}
    for c in result["citations"]:
        assert set(c) == CITATION_KEYS
        assert c["quote"] and c["quote"] in c["text"]
    assert set(result["timings_ms"]) == {"retrieve", "answer", "total"}


def test_ask_endpoint_returns_the_json_of_rag_ask(server, bot):
    result = client(server).predict(AROURI, api_name="/ask")
    assert_complete_answer(result, AROURI)
    assert "Arouri" in result["answer"] and not result["refused"]
    expected = bot.ask(AROURI).to_json()
    assert {k: v for k, v in result.items() if k != "timings_ms"} == \
        {k: v for k, v in expected.items() if k != "timings_ms"}


def test_twenty_concurrent_clients_each_get_their_own_complete_answer(server, bot):
    questions = [AROURI, PAYMENT, ROCKETS, HANIYEH] * 5
    expected = {q: bot.ask(q).to_json() for q in set(questions)}
    start = threading.Barrier(len(questions))

    def ask(question: str) -> dict:
        c = client(server)
        start.wait(timeout=60)  # all 20 hit the queue together
        return c.predict(question, api_name="/ask")

    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        results = list(pool.map(ask, questions))
    assert len(results) == 20
    for question, result in zip(questions, results, strict=True):
        assert_complete_answer(result, question)
        assert result["answer"] == expected[question]["answer"]
        assert result["citations"] == expected[question]["citations"]
    assert all("Arouri" in r["answer"] for q, r in zip(questions, results, strict=True) if q == AROURI)
    assert all("$651,000" in r["answer"] for q, r in zip(questions, results, strict=True) if q == PAYMENT)
    assert all(r["refused"] for q, r in zip(questions, results, strict=True) if q == ROCKETS)
    # "… in 2019": the reports published then (the dated three), the undated two left out and counted.
    assert all(r["period"] == {"since": "2019-01-01", "until": "2019-12-31", "undated_left_out": 2, "asked": "in 2019"}
               for q, r in zip(questions, results, strict=True) if q == ROCKETS)


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_gives_a_clear_error_not_a_traceback(server, question):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as info:
        client(server).predict(question, api_name="/ask")
    message = str(info.value)
    assert "The question is empty" in message
    assert "Traceback" not in message and "File \"" not in message


def _value(update):
    """The value of a component update (a dict from gr.update) or of a plain value."""
    return update.get("value") if isinstance(update, dict) else update


def test_chat_handler_shows_a_ready_answer_at_once_and_passes_history(bot, monkeypatch):
    from ui import conversations as C
    from ui.app import make_handlers
    from ui.service import ChatService

    service = ChatService(bot)
    seen_history = []
    real_ask = service.ask

    def spy(question, history=None, *args, **kwargs):
        seen_history.append(list(history or []))
        return real_ask(question, history, *args, **kwargs)

    monkeypatch.setattr(service, "ask", spy)
    respond = make_handlers(service)["respond"]
    conv, store = C.new_conversation(), C.empty_store()
    first = list(respond(AROURI, conv, store, 8, "extractive", True))
    # The question shows at once with Stop in place of Ask, then the whole answer: no pacing.
    assert len(first) == 2
    waiting, done = first
    assert AROURI in waiting[0] and 'data-complete="false"' in waiting[0]
    assert _value(waiting[8]) is None and waiting[8]["visible"] is False and waiting[9]["visible"] is True
    chat, sources, _notice, box, conv, store, _picker, pending, send, stop, editing = done
    assert "Arouri" in chat and 'data-complete="true"' in chat and "<mark>" in sources and box == ""
    assert pending is None and send["visible"] is True and stop["visible"] is False and editing is False
    assert [t["question"] for t in conv["turns"]] == [AROURI]
    assert store["current"] == conv["id"] and store["items"][0]["turns"] == conv["turns"]
    follow = list(respond("What did he promise Khamenei?", conv, store, 8, "extractive", True))
    assert seen_history[-1] == C.history(conv) and seen_history[-1][0] == {"role": "user", "content": AROURI}
    chat, *_rest = follow[-1]
    conv, store = follow[-1][4], follow[-1][5]
    assert "first line of defense" in chat
    assert chat.index("Arouri") < chat.index("first line of defense")  # both turns, in order
    assert len(conv["turns"]) == 2 and len(store["items"]) == 1


def test_chat_handler_turns_bad_input_into_one_notice(bot):
    from ui import conversations as C
    from ui.app import make_handlers
    from ui.service import ChatService

    respond = make_handlers(ChatService(bot))["respond"]
    (update,) = list(respond("  ", C.new_conversation(), C.empty_store(), 8, "extractive", True))
    notice = update[2]
    assert "The question is empty" in notice["value"] and "notice-error" in notice["value"] and notice["visible"]
    assert update[8]["visible"] is True and update[9]["visible"] is False  # Ask is back


def test_retry_edit_clear_new_switch_and_delete_work_on_the_saved_conversations(bot):
    from ui import conversations as C
    from ui.app import make_handlers
    from ui.service import ChatService

    h = make_handlers(ChatService(bot))
    empty = C.new_conversation()
    # On an empty chat each button says what it does, and neither asks anything.
    (nothing,) = list(h["retry"](empty, C.empty_store(), 8, "extractive", True))
    assert "Nothing to retry yet" in nothing[2]["value"]
    assert "Nothing to edit yet" in h["edit"](empty)[1]["value"] and h["edit"](empty)[2] is False
    *_, done = h["respond"](AROURI, empty, C.empty_store(), 8, "extractive", True)
    conv, store = done[4], done[5]
    # Retry: the same question again, in place, and it says so.
    *_, again = h["retry"](conv, store, 8, "extractive", True)
    assert again[4]["turns"][-1]["question"] == AROURI and len(again[4]["turns"]) == 1
    assert "Asked again" in again[2]["value"] and again[2]["visible"] is True
    # Edit: the question back in the box, the exchange still there until the edit is sent.
    question, _notice, editing = h["edit"](conv)
    assert question == AROURI and editing is True and len(conv["turns"]) == 1
    *_, done = h["respond"](PAYMENT, conv, store, 8, "extractive", True, None, editing)
    conv, store = done[4], done[5]
    assert [t["question"] for t in conv["turns"]] == [PAYMENT] and done[10] is False
    first_id = conv["id"]
    new_conv, store, chat, *_ = h["new_chat"](store)
    assert new_conv["turns"] == [] and store["current"] is None and len(store["items"]) == 1
    *_, done = h["respond"](ROCKETS, new_conv, store, 8, "extractive", True)
    conv, store = done[4], done[5]
    assert [c["id"] for c in store["items"]] == [conv["id"], first_id]  # newest first
    assert [label for label, _ in C.choices(store)] == [ROCKETS, AROURI]
    shown, store, chat, *_ = h["switch"](first_id, conv, store)
    assert shown["id"] == first_id and "$651,000" in chat and store["current"] == first_id
    shown, store, chat, _sources, _picker, said, _editing, gone, undo = h["delete"](shown, store)
    assert [c["id"] for c in store["items"]] == [conv["id"]] and shown["id"] == conv["id"]
    assert gone["id"] == first_id and undo["visible"] is True and "Undo brings it back" in said["value"]
    back, store, chat, *_, trash, undo = h["undo_delete"](gone, store)
    assert back["id"] == first_id and "$651,000" in chat and store["current"] == first_id and trash is None
    assert [c["id"] for c in store["items"]] == [first_id, conv["id"]] and undo["visible"] is False
    shown, store, chat, *_ = h["delete"](back, store)
    cleared, store, chat, *_ = h["clear"](shown, store)
    assert cleared["turns"] == [] and store["items"] == [] and "chat-log empty" in chat


def test_stop_keeps_what_was_shown_marked_as_stopped(bot):
    from rag.records import Answer
    from ui import conversations as C
    from ui.app import make_handlers
    from ui.service import ChatService

    h = make_handlers(ChatService(bot))
    partial = Answer(AROURI, "The visiting Palestinian terror group was led", False, complete=False)
    chat, _sources, conv, store, _picker, pending, send, stop = h["stop"](
        C.new_conversation(), C.empty_store(), C.answer_to_dict(partial))
    assert "Stopped" in chat and "was led" in chat and 'class="cursor"' not in chat
    assert conv["turns"][0]["answer"]["stopped"] is True and store["items"][0]["id"] == conv["id"]
    assert pending is None and send["visible"] is True and stop["visible"] is False


def test_unknown_answerer_is_refused_and_known_ones_are_kept(bot):
    from ui.service import ChatService

    service = ChatService(bot)
    assert service.answerers == tuple(bot.answerers)
    assert service.bot("extractive") is service.bot("extractive")
    with pytest.raises(ValueError, match="unknown answerer 'gpt'"):
        service.bot("gpt")


def test_rejected_uploads_each_get_one_line_and_nothing_is_indexed(bot, tmp_path: Path):
    from ui.config import UIConfig
    from ui.service import ChatService

    service = ChatService(bot, UIConfig(max_upload_bytes=100))
    (tmp_path / "tool.exe").write_bytes(b"MZ")
    (tmp_path / "big.txt").write_text("x" * 101, encoding="utf-8")
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    before = sorted(p.name for p in bot.corpus_dir.iterdir())
    result = service.add_files([tmp_path / "tool.exe", tmp_path / "big.txt", tmp_path / "empty.md"])
    assert result.added == [] and result.report is None
    assert len(result.rejected) == 3
    assert "not a supported file type" in result.rejected[0]
    assert "too large" in result.rejected[1] and "is empty" in result.rejected[2]
    assert sorted(p.name for p in bot.corpus_dir.iterdir()) == before


def test_uploads_go_to_their_own_folder_and_only_they_can_be_removed(bot, tmp_path: Path):
    from ui.service import ChatService

    service = ChatService(bot)
    (tmp_path / "harbour.md").write_text("# Harbour\n\nThe Port of Marisol opened Aurora Quay in 2019.\n",
                                         encoding="utf-8")
    before = sorted(p.name for p in bot.corpus_dir.iterdir())
    result = service.add_files([tmp_path / "harbour.md"])
    assert result.added == ["uploads/harbour.md"] and service.uploads == ["uploads/harbour.md"]
    assert (bot.uploads_dir / "harbour.md").is_file() and sorted(p.name for p in bot.corpus_dir.iterdir()) == before
    assert "uploads/harbour.md" in bot.store.docs
    for other in ("000_510b0e118f588ad4.txt", "../corpus/000_510b0e118f588ad4.txt", "uploads/../x"):
        with pytest.raises(ValueError, match="only uploads can be removed"):
            service.remove_upload(other)
    service.remove_upload("uploads/harbour.md")
    assert service.uploads == [] and not (bot.uploads_dir / "harbour.md").exists()
    assert "uploads/harbour.md" not in bot.store.docs
    assert sorted(p.name for p in bot.corpus_dir.iterdir()) == before


def test_settings_reach_retrieval(bot):
    """k and the hybrid switch are passed through: k=2 retrieves two passages at most."""
    import re

    from ui import conversations as C
    from ui.app import make_handlers
    from ui.config import UIConfig
    from ui.service import ChatService

    respond = make_handlers(ChatService(bot, UIConfig()))["respond"]
    counts = {}
    for k in (2, 12):
        *_, (_chat, sources, *_rest) = respond(PAYMENT, C.new_conversation(), C.empty_store(), k, "extractive", False)
        uncited = re.search(r"Retrieved but not cited \((\d+)\)", sources)
        counts[k] = sources.count('class="source"') + (int(uncited.group(1)) if uncited else 0)
    assert 1 <= counts[2] <= 2 < counts[12] <= 12


def test_rag_chat_keeps_uploads_in_the_cache_folder_apart_from_the_corpus(monkeypatch, tmp_path: Path):
    from ui.cli import default_uploads_dir

    from .conftest import CORPUS

    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path))
    folder = default_uploads_dir(CORPUS)
    assert folder.parent == tmp_path / "uploads" and folder.name.startswith("corpus-")
    assert CORPUS.resolve() not in folder.resolve().parents
    assert default_uploads_dir(tmp_path / "other") != folder  # one folder per corpus


def test_every_article_has_a_whole_title_and_an_undated_one_is_shown_undated(bot, monkeypatch):
    from dataclasses import replace

    from ui.render import render_documents

    docs = {d["source"]: d for d in bot.documents}
    assert all(d["title"] and "…" not in d["title"] for d in docs.values())
    assert docs["000_510b0e118f588ad4.txt"]["date_source"] == "article" and docs["000_510b0e118f588ad4.txt"]["date"]
    # The article gives no date: not the day its file was copied.
    assert docs["002_042ccd0105566bf1.txt"]["date"] is None and docs["002_042ccd0105566bf1.txt"]["date_source"] is None
    html = render_documents(bot.documents)
    assert html.count(">undated<") == sum(d["date"] is None for d in docs.values()) > 0
    # Where the user says the files' dates are publication dates, those are shown, marked.
    monkeypatch.setattr(bot, "config", replace(bot.config, file_dates=True))
    docs = {d["source"]: d for d in bot.documents}
    assert docs["002_042ccd0105566bf1.txt"]["date_source"] == "file" and docs["002_042ccd0105566bf1.txt"]["date"]
    assert "(file)" in render_documents(bot.documents) and ">undated<" not in render_documents(bot.documents)


def test_private_uploads_answer_only_the_visitor_who_added_them(embedder, tmp_path: Path):
    """With a visitors' folder each visitor's files get an index of their own (a copy of the
    corpus index plus their files); the corpus index and other visitors never see them."""
    from ui import conversations as C
    from ui.handlers import make_handlers
    from ui.service import ChatService
    from ui.visitors import new_visitor_id

    bot = make_bot(tmp_path, embedder, shared_uploads=False)
    service = ChatService(bot, visitors_dir=tmp_path / "visitors")
    h = make_handlers(service)
    alice, bob = h["visitor_id"](None), new_visitor_id()
    assert alice != bob and h["visitor_id"](alice) == alice and h["visitor_id"]("../../etc") != "../../etc"
    (tmp_path / "harbour.md").write_text("# Harbour\n\nThe Port of Marisol opened Aurora Quay in 2019.\n",
                                         encoding="utf-8")
    notice, corpus, _, listed, kept = h["upload"]([str(tmp_path / "harbour.md")], alice, progress=lambda *a, **k: None)
    assert "Indexed 1 file(s)" in notice["value"] and listed["choices"] == ["uploads/harbour.md"] and kept == alice
    assert (tmp_path / "visitors" / alice / "files" / "harbour.md").is_file()
    assert "6 articles indexed" in corpus and "5 articles indexed" in h["corpus"](bob)
    assert h["uploads"](bob)["choices"] == [] and "uploads/harbour.md" not in bot.store.docs

    def answer(visitor: str) -> str:
        steps = list(h["respond"]("Which quay did the Port of Marisol open?", C.new_conversation(),
                                  C.empty_store(), 5, "extractive", True, visitor))
        return steps[-1][4]["turns"][-1]["answer"]["text"]

    assert "Aurora Quay" in answer(alice)
    assert "Aurora Quay" not in answer(bob) and "Aurora Quay" not in answer(None)
    # Bob cannot remove Alice's file, and an upload without a visitor id is refused.
    assert "only uploads can be removed" in h["remove"]("uploads/harbour.md", bob)[0]["value"]
    with pytest.raises(ValueError, match="reload"):
        service.space("x", create=True)
    # A restarted page finds Alice's space again on disk.
    again = ChatService(bot, visitors_dir=tmp_path / "visitors")
    assert again.space(alice).uploads == ["uploads/harbour.md"] and again.space(bob) is again
    h["remove"]("uploads/harbour.md", alice)
    assert "Aurora Quay" not in answer(alice)


def test_visitors_folder_inside_the_shared_uploads_folder_is_refused(bot):
    from ui.service import ChatService

    with pytest.raises(ValueError, match="must not be inside"):
        ChatService(bot, visitors_dir=bot.uploads_dir / "visitors")


def test_the_json_endpoint_answers_as_rag_ask_json_with_history_and_health(server, bot):
    import httpx

    result = httpx.post(f"{server}api/ask", json={"question": AROURI}, timeout=60)
    assert result.status_code == 200 and result.headers["content-type"].startswith("application/json")
    body = result.json()
    assert_complete_answer(body, AROURI)
    expected = bot.ask(AROURI).to_json()
    assert {k: v for k, v in body.items() if k != "timings_ms"} == \
        {k: v for k, v in expected.items() if k != "timings_ms"}
    # A follow-up resolved against the history it is given.
    followup = httpx.post(f"{server}api/ask", timeout=60, json={
        "question": "What did he promise?",
        "history": [{"role": "user", "content": AROURI}, {"role": "assistant", "content": body["answer"]}]}).json()
    assert followup["question"] == "What did he promise?" and followup["citations"]
    dated = httpx.post(f"{server}api/ask", timeout=60, json={"question": AROURI, "since": "2019-07-23"}).json()
    assert dated["period"]["since"] == "2019-07-23" and all(c["date"] >= "2019-07-23" for c in dated["citations"])
    health = httpx.get(f"{server}api/health", timeout=30).json()
    assert health == {"status": "ok", "documents": len(bot.documents), "answerers": list(bot.answerers)}
    schema = httpx.get(f"{server}api/openapi.json", timeout=30).json()
    assert {"/ask", "/health"} <= set(schema["paths"]) and "AskRequest" in schema["components"]["schemas"]


@pytest.mark.parametrize(("payload", "reason"), [
    ({"question": "   "}, "The question is empty"),
    ({}, "question: Field required"),
    ({"question": 3}, "question: Input should be a valid string"),
    ({"question": "Who?", "history": [{"role": "system", "content": "x"}]}, "history.0.role"),
    ({"question": "Who led it?", "answerer": "gpt-9"}, "unknown answerer"),
    ({"question": "Who led it?", "extra": 1}, "extra: Extra inputs are not permitted"),
    ({"question": "Who led the Hamas delegation?", "since": "July 2019"}, "since must be a date written YYYY-MM-DD"),
])
def test_a_bad_json_request_gets_a_4xx_with_a_one_line_reason(server, payload, reason):
    import httpx

    result = httpx.post(f"{server}api/ask", json=payload, timeout=30)
    assert result.status_code == 400
    error = result.json()["error"]
    assert reason in error and "\n" not in error and "Traceback" not in error
    broken = httpx.post(f"{server}api/ask", content=b"{not json", timeout=30,
                        headers={"content-type": "application/json"})
    assert broken.status_code == 400 and "\n" not in broken.json()["error"]


def test_fifty_concurrent_json_requests_each_get_their_own_answer(server, bot):
    import httpx

    questions = [AROURI, PAYMENT, ROCKETS, HANIYEH] * 12 + [AROURI, PAYMENT]
    expected = {q: bot.ask(q).to_json()["answer"] for q in set(questions)}
    start = threading.Barrier(len(questions))

    def ask(question: str) -> dict:
        with httpx.Client(timeout=120) as http:
            start.wait(timeout=60)
            return http.post(f"{server}api/ask", json={"question": question}).json()

    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        results = list(pool.map(ask, questions))
    assert [r["answer"] for r in results] == [expected[q] for q in questions]
