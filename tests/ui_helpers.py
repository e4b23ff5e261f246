"""Shared by the chat page's integration tests: a bot over a corpus copy, a launched app."""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path
from typing import Any

from .conftest import CORPUS

AROURI = "Who led the Hamas delegation that met Khamenei?"
PAYMENT = "How much did Iran pay to the families of those killed in the Gaza protests?"
ROCKETS = "How many rockets did Hamas fire at Israel in 2019?"
HANIYEH = "Why was Ismail Haniyeh unable to attend the meeting?"
OUT = Path(__file__).resolve().parent / "out" / "ui"  # gitignored; screenshots and timings land here


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_bot(root: Path, embedder: Any, shared_uploads: bool = True) -> Any:
    """A Chatbot over a copy of the project's corpus, indexed under ``root``, with a shared
    uploads folder of its own beside it (or none)."""
    import rag

    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    uploads = root / "uploads" if shared_uploads else None
    return rag.Chatbot.from_corpus(corpus, index_dir=root / "index", embedder=embedder, uploads_dir=uploads)


def launch(bot: Any, visitors_dir: Path | None = None, **config: Any) -> tuple[Any, str]:
    """Serve the page for ``bot`` on 127.0.0.1 and a free port, without blocking; with
    ``visitors_dir``, uploads are private to each visitor (as `rag chat` serves them)."""
    from ui.app import build_app, launch_app
    from ui.config import UIConfig
    from ui.service import ChatService

    ui_config = UIConfig(port=free_port(), **config)
    demo = build_app(ChatService(bot, ui_config, visitors_dir=visitors_dir))
    url = launch_app(demo, ui_config, prevent_thread_lock=True, quiet=True)
    assert url.startswith("http://127.0.0.1:"), url
    return demo, url


DESKTOP = {"width": 1200, "height": 900}
PHONE = {"width": 390, "height": 844}


def open_page(browser: Any, url: str, viewport: dict[str, int] = DESKTOP) -> Any:
    """A new browser context's page on ``url``, the chat ready."""
    page = browser.new_context(viewport=viewport).new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.wait_for_selector("#chat .chat-log")
    return page


def answer_on_page(page: Any, question: str) -> Any:
    """Type ``question``, submit it and return its answer's element, once complete."""
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    message = page.locator('#chat .msg.bot[data-complete="true"]').last
    message.wait_for()
    return message


def markers(text: str) -> set[int]:
    """The [n] markers of an answer text."""
    return {int(m) for m in re.findall(r"\[(\d+)\]", text)}
