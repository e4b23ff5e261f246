"""The chat page: a Gradio Blocks app over a ``ChatService``, and the ``/ask`` HTTP API.

The conversation and the Sources panel are ``gr.HTML`` components whose HTML comes from
``ui.render``, which escapes all corpus and model text; nothing goes through a Markdown
renderer that could turn escaped text back into tags.
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

# Before gradio is imported: no telemetry, no version check, nothing fetched at run time.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

from index import RagError
from index.loader import SUPPORTED_SUFFIXES
from rag.chatbot import Chatbot

from .assets import CITATION_JS, CSS
from .config import UIConfig
from .render import render_answer, render_conversation, render_documents, render_notice, render_question, render_sources
from .service import ChatService

ChatOutputs = tuple[Any, Any, Any, Any, Any, Any]  # chat, sources, notice, question box, messages, turns


def _toast(message: str) -> str:
    # Gradio renders toast and error-modal messages as HTML; these may quote a file name.
    return html.escape(message, quote=False)


def _constant(value: str) -> Callable[[], str]:
    return lambda: value


def make_handlers(service: ChatService) -> dict[str, Callable[..., Any]]:
    """The page's event handlers, by name (separate from the layout so tests can call them)."""
    config = service.config

    def respond(question: str, messages: list[dict[str, str]], turns: list[str], k: float, answerer: str,
                hybrid: bool) -> Iterator[ChatOutputs]:
        """Stream the answer to ``question`` into the chat; keep the turn and its history."""
        turn = len(turns)
        try:
            for step, answer in enumerate(service.stream(question, messages, int(k), answerer, bool(hybrid))):
                if step and config.stream_delay_s:
                    time.sleep(config.stream_delay_s)
                html = render_question(answer.question) + render_answer(answer, turn)
                chat = render_conversation([*turns, html])
                # The sources are known from the first step; send them again only once complete.
                sources = render_sources(answer, turn) if step == 0 or answer.complete else gr.skip()
                if answer.complete:
                    history = [*messages, {"role": "user", "content": answer.question},
                               {"role": "assistant", "content": answer.text}]
                    yield chat, sources, "", "", history, [*turns, html]
                else:
                    cleared = "" if step == 0 else gr.skip()  # the notice and the question box
                    yield chat, sources, cleared, cleared, gr.skip(), gr.skip()
        except (ValueError, RagError) as exc:
            # Bad input (an empty question) or index trouble: one friendly line, no traceback.
            gr.Warning(_toast(str(exc)))
            yield gr.skip(), gr.skip(), render_notice(str(exc)), gr.skip(), gr.skip(), gr.skip()

    def ask(question: str) -> dict[str, Any]:
        """Answer one question about the articles; returns the JSON object of `rag ask --json`:
        id, question, answer (with inline [n] markers), refused, citations, timings_ms."""
        try:
            return service.ask(question).to_json()
        except (ValueError, RagError) as exc:
            raise gr.Error(_toast(str(exc)), print_exception=False) from None

    def upload(files: list[str] | str | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, Any, Any]:  # noqa: B008
        """Add uploaded files to the corpus and index them; refresh the corpus panel."""
        paths = [files] if isinstance(files, str) else list(files or [])
        if not paths:
            return gr.skip(), gr.skip(), gr.skip()
        try:
            result = service.add_files(paths, lambda fraction, desc: progress(fraction, desc=desc))
        except (ValueError, RagError) as exc:
            gr.Warning(_toast(str(exc)))
            return render_notice(str(exc)), gr.skip(), None
        if result.rejected:
            gr.Warning(_toast(" ".join(result.rejected)))
        kind = "info" if not result.rejected else ("warning" if result.added else "error")
        return render_notice(result.message(), kind), render_documents(service.documents), None

    def switch_answerer(name: str) -> str:
        """Build (once) and keep the chatbot of the chosen answerer backend."""
        try:
            service.bot(name)
        except (ValueError, RagError) as exc:
            return render_notice(str(exc))
        return render_notice(f"Answerer: {name}.", "info")

    def corpus() -> str:
        return render_documents(service.documents)

    def clear() -> tuple[str, str, str, list[Any], list[Any]]:
        return render_conversation([]), render_sources(None), "", [], []

    return {"respond": respond, "ask": ask, "upload": upload, "switch_answerer": switch_answerer,
            "corpus": corpus, "clear": clear}


def build_app(bot: Chatbot | ChatService, config: UIConfig | None = None) -> gr.Blocks:
    """The chat page over ``bot`` (a Chatbot, or a ChatService holding one per answerer).

    Launch it with ``launch_app`` (which adds the stylesheet and the safe defaults).
    """
    service = bot if isinstance(bot, ChatService) else ChatService(bot, config)
    config = service.config
    h = make_handlers(service)
    default = service.default_bot.config
    private: dict[str, Any] = {"api_visibility": "private"}

    with gr.Blocks(title=config.title, analytics_enabled=False) as demo:
        gr.HTML(f"<h2>{config.title}</h2>", elem_id="title", js_on_load=None)
        messages = gr.State([])
        turns = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chat = gr.HTML(render_conversation([]), elem_id="chat", js_on_load=CITATION_JS, container=True,
                               padding=True, autoscroll=True, min_height=320, max_height=620)
                notice = gr.HTML("", elem_id="notice", js_on_load=None)
                with gr.Row():
                    question = gr.Textbox(placeholder="Ask about the articles…", show_label=False, lines=1,
                                          max_lines=4, scale=5, elem_id="question", autofocus=True)
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="send")
                with gr.Row(elem_id="examples"):
                    examples = [gr.Button(q, size="sm", variant="secondary") for q in config.examples]
                new_chat = gr.Button("New conversation", size="sm", elem_id="new-chat")
            with gr.Column(scale=2):
                gr.HTML("<h3>Sources</h3>", js_on_load=None)
                sources = gr.HTML(render_sources(None), elem_id="sources", js_on_load=None, max_height=620)
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    k = gr.Slider(1, 20, value=default.top_k, step=1, label="Passages to retrieve (k)",
                                  elem_id="top-k")
                    answerer = gr.Dropdown(list(service.answerers), value=service.default_answerer,
                                           label="Answerer", elem_id="answerer")
                    hybrid = gr.Checkbox(value=default.hybrid, label="Hybrid retrieval (dense + BM25)",
                                         elem_id="hybrid")
                with gr.Accordion("Corpus", open=True, elem_id="corpus-panel"):
                    corpus = gr.HTML(h["corpus"](), elem_id="corpus", js_on_load=None, max_height=360)
                    files = gr.File(label=f"Add articles ({', '.join(SUPPORTED_SUFFIXES)}; "
                                          f"{config.max_upload_bytes // (1024 * 1024)} MB at most)",
                                    file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), type="filepath",
                                    elem_id="upload")

        chat_io: dict[str, Any] = {
            "fn": h["respond"], "inputs": [question, messages, turns, k, answerer, hybrid],
            "outputs": [chat, sources, notice, question, messages, turns], "show_progress": "hidden",
            "concurrency_limit": config.chat_concurrency, "concurrency_id": "chat", **private,
        }
        question.submit(**chat_io)
        send.click(**chat_io)
        for button, text in zip(examples, config.examples, strict=True):
            button.click(_constant(text), outputs=question, queue=False, **private).then(**chat_io)
        new_chat.click(h["clear"], outputs=[chat, sources, notice, messages, turns], queue=False, **private)
        answerer.change(h["switch_answerer"], inputs=answerer, outputs=notice, **private)
        files.upload(h["upload"], inputs=files, outputs=[notice, corpus, files], **private)
        demo.load(h["corpus"], outputs=corpus, **private)
        gr.api(h["ask"], api_name="ask")
    return demo


def launch_app(demo: gr.Blocks, config: UIConfig | None = None, *, prevent_thread_lock: bool = False,
               quiet: bool = False) -> str:
    """Serve ``demo`` on ``config.host:config.port`` (loopback by default); return its URL.

    No share link unless ``config.share``; uploads over ``config.max_upload_bytes`` are
    refused by the server itself.
    """
    config = config or UIConfig()
    demo.queue(default_concurrency_limit=1)
    _, url, share_url = demo.launch(
        server_name=config.host, server_port=config.port, share=config.share,
        prevent_thread_lock=prevent_thread_lock, quiet=quiet, css=CSS,
        max_file_size=config.max_upload_bytes, footer_links=["api"], run_history=False,
        enable_monitoring=False, mcp_server=False, ssr_mode=False, pwa=False, inbrowser=False,
    )
    return share_url or url
