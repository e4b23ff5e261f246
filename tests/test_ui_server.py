"""The chat page as an HTTP API (gradio_client against the launched app), and its handlers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .ui_helpers import AROURI, HANIYEH, PAYMENT, ROCKETS, launch, make_bot, markers

pytestmark = pytest.mark.integration
KEYS = {"id", "question", "answer", "refused", "citations", "conflicts", "confidence", "timings_ms"}
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
    assert set(result) == KEYS
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


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_gives_a_clear_error_not_a_traceback(server, question):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as info:
        client(server).predict(question, api_name="/ask")
    message = str(info.value)
    assert "The question is empty" in message
    assert "Traceback" not in message and "File \"" not in message


def test_chat_handler_streams_and_passes_history_for_follow_ups(bot, monkeypatch):
    from ui.app import make_handlers
    from ui.config import UIConfig
    from ui.service import ChatService

    service = ChatService(bot, UIConfig(stream_delay_s=0))
    seen_history = []
    real_stream = service.stream

    def spy(question, history=None, *args, **kwargs):
        seen_history.append(list(history or []))
        return real_stream(question, history, *args, **kwargs)

    monkeypatch.setattr(service, "stream", spy)
    respond = make_handlers(service)["respond"]
    first = list(respond(AROURI, [], [], 8, "extractive", True))
    assert len(first) > 3, "the answer grows over several updates"
    chat, sources, _notice, _box, messages, turns = first[-1]
    assert "Arouri" in chat and 'data-complete="true"' in chat and "<mark>" in sources
    assert messages[0] == {"role": "user", "content": AROURI}
    assert messages[1]["role"] == "assistant" and "Arouri" in messages[1]["content"]
    follow = list(respond("What did he promise Khamenei?", messages, turns, 8, "extractive", True))
    assert seen_history[-1] == messages
    chat, *_, messages, turns = follow[-1]
    assert "first line of defense" in chat
    assert chat.index("Arouri") < chat.index("first line of defense")  # both turns, in order
    assert len(messages) == 4 and len(turns) == 2


def test_chat_handler_turns_bad_input_into_a_notice(bot):
    from ui.app import make_handlers
    from ui.service import ChatService

    respond = make_handlers(ChatService(bot))["respond"]
    with pytest.warns(UserWarning, match="The question is empty"):  # gr.Warning outside a page
        (update,) = list(respond("  ", [], [], 8, "extractive", True))
    assert "The question is empty" in update[2] and "notice-error" in update[2]


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


def test_settings_reach_retrieval(bot):
    """k and the hybrid switch are passed through: k=2 retrieves two passages at most."""
    import re

    from ui.app import make_handlers
    from ui.config import UIConfig
    from ui.service import ChatService

    respond = make_handlers(ChatService(bot, UIConfig(stream_delay_s=0)))["respond"]
    counts = {}
    for k in (2, 12):
        *_, (_chat, sources, *_rest) = respond(PAYMENT, [], [], k, "extractive", False)
        uncited = re.search(r"Retrieved but not cited \((\d+)\)", sources)
        counts[k] = sources.count('class="source"') + (int(uncited.group(1)) if uncited else 0)
    assert 1 <= counts[2] <= 2 < counts[12] <= 12
