"""The chat page: a Gradio Blocks app over a ``ChatService``, and the ``/ask`` HTTP API.

The conversation and the Sources panel are ``gr.HTML`` components whose HTML comes from
``ui.render``, which escapes all corpus and model text; nothing goes through a Markdown
renderer that could turn escaped text back into tags.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

# Before gradio is imported: no telemetry, no version check, nothing fetched at run time.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

from index.ingest.loader import SUPPORTED_SUFFIXES
from rag.chatbot import Chatbot
from rag.paths import DEFAULT_CORPUS, cache_root

from . import conversations as C
from .api import mount_json_api
from .assets import CITATION_JS, CSS, SOURCES_JS
from .config import EXAMPLE_QUESTIONS, UIConfig
from .handlers import make_handlers
from .render import render_conversation, render_sources
from .service import ChatService

__all__ = ["build_app", "launch_app", "make_handlers"]


def _browser_secret() -> str:
    """The key the visitor's stored conversations are sealed with: kept on disk, so that they
    still open after the server restarts."""
    path = cache_root() / "ui-browser-secret.json"
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["secret"])
    except (OSError, ValueError, KeyError, TypeError):
        secret = secrets.token_hex(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"secret": secret}), encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return secret


def _examples_for(bot: Chatbot, examples: tuple[str, ...]) -> tuple[str, ...]:
    """The example questions where they fit: the built-in ones are about the shipped articles,
    so another corpus gets none rather than questions it cannot answer."""
    if examples != EXAMPLE_QUESTIONS:
        return examples  # chosen for this page
    shipped = {p.name for p in DEFAULT_CORPUS.iterdir()} if DEFAULT_CORPUS.is_dir() else set()
    return examples if shipped and all(name in bot.store.docs for name in shipped) else ()


def build_app(bot: Chatbot | ChatService, config: UIConfig | None = None) -> gr.Blocks:
    """The chat page over ``bot`` (a Chatbot, or a ChatService holding one per answerer).

    Launch it with ``launch_app`` (which adds the stylesheet and the safe defaults).
    """
    service = bot if isinstance(bot, ChatService) else ChatService(bot, config)
    config = service.config
    h = make_handlers(service)
    default = service.default_bot.config
    examples_shown = _examples_for(service.default_bot, config.examples)
    private: dict[str, Any] = {"api_visibility": "private"}

    with gr.Blocks(title=config.title, analytics_enabled=False) as demo:
        gr.HTML(f"<h2>{config.title}</h2>", elem_id="title", js_on_load=None)
        conv = gr.State(C.new_conversation())
        pending = gr.State(None)  # the answer being written, kept if Stop is pressed
        editing = gr.State(False)  # the box holds the last question, edited: its answer replaces that turn
        trash = gr.State(None)  # the last deleted conversation, for Undo
        secret = _browser_secret()
        store = gr.BrowserState(C.empty_store(), storage_key=config.storage_key, secret=secret)
        # Who the visitor is, for their private uploads: a random id kept in their browser.
        visitor = gr.BrowserState(None, storage_key=f"{config.storage_key}-visitor", secret=secret)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                with gr.Row(elem_id="conversation-bar"):
                    # Custom values are allowed so that a stale choice is never a server error: the
                    # handler ignores an id the store does not hold.
                    picker = gr.Dropdown(choices=[], value=None, label="Conversations", elem_id="conversations",
                                         scale=4, interactive=True, allow_custom_value=True)
                    # Enabled once the stored conversations are on screen (restore), so that a
                    # click made before cannot be overwritten by them.
                    new_chat = gr.Button("New", size="sm", elem_id="new-chat", scale=1, min_width=60,
                                         interactive=False)
                    delete = gr.Button("Delete", size="sm", elem_id="delete-chat", scale=1, min_width=60,
                                       interactive=False)
                    undo = gr.Button("↶ Undo", size="sm", elem_id="undo-delete", scale=1, min_width=60,
                                     visible=False)
                chat = gr.HTML(render_conversation([]), elem_id="chat", js_on_load=CITATION_JS, container=True,
                               padding=True, autoscroll=True, min_height=320, max_height=620)
                notice = gr.HTML("", elem_id="notice", js_on_load=None, visible=False)
                timeline = gr.HTML("", elem_id="timeline", js_on_load=None, visible=False, max_height=620)
                with gr.Row():
                    question = gr.Textbox(placeholder="Ask about the articles…", show_label=False, lines=1,
                                          max_lines=4, scale=5, elem_id="question", autofocus=True)
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="send")
                    stop = gr.Button("Stop", variant="stop", scale=1, elem_id="stop", visible=False)
                with gr.Row(elem_id="turn-tools"):
                    retry = gr.Button("↻ Retry", size="sm", elem_id="retry")
                    edit = gr.Button("✎ Edit last question", size="sm", elem_id="edit")
                    clear = gr.Button("Clear", size="sm", elem_id="clear")
                    timeline_btn = gr.Button("Timeline", size="sm", elem_id="timeline-btn")
                with gr.Row(elem_id="examples"):
                    examples = [gr.Button(q, size="sm", variant="secondary") for q in examples_shown]
            with gr.Column(scale=2):
                gr.HTML("<h3>Sources</h3>", js_on_load=None)
                sources = gr.HTML(render_sources(None), elem_id="sources", js_on_load=SOURCES_JS, max_height=620)
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    k = gr.Slider(1, 20, value=default.top_k, step=1, label="Passages to retrieve (k)",
                                  elem_id="top-k")
                    answerer = gr.Dropdown(list(service.answerers), value=service.default_answerer,
                                           label="Answerer", elem_id="answerer")
                    hybrid = gr.Checkbox(value=default.hybrid, label="Hybrid retrieval (dense + BM25)",
                                         elem_id="hybrid")
                    with gr.Row():  # a publication period: only reports published then answer
                        since = gr.Textbox(label="Published from", placeholder="YYYY-MM-DD", elem_id="since",
                                           max_lines=1, min_width=120)
                        until = gr.Textbox(label="to", placeholder="YYYY-MM-DD", elem_id="until", max_lines=1,
                                           min_width=120)
                with gr.Accordion("Corpus", open=True, elem_id="corpus-panel"):
                    corpus = gr.HTML(h["corpus"](None), elem_id="corpus", js_on_load=None, max_height=360)
                    files = gr.File(label=f"Add articles ({', '.join(SUPPORTED_SUFFIXES)}; "
                                          f"{config.max_upload_bytes // (1024 * 1024)} MB at most)",
                                    file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), type="filepath",
                                    elem_id="upload", visible=service.takes_uploads)
                    with gr.Row(visible=service.takes_uploads):
                        uploaded = gr.Dropdown(choices=service.uploads, value=None, label="Uploaded files",
                                               elem_id="uploaded", scale=3, interactive=True)
                        remove = gr.Button("Remove", size="sm", elem_id="remove-upload", scale=1, min_width=80)

        answering: list[Any] = []  # every event that writes an answer: what Stop cancels
        answer_io: dict[str, Any] = {
            "fn": h["respond"], "inputs": [question, conv, store, k, answerer, hybrid, visitor, editing, since, until],
            "outputs": [chat, sources, notice, question, conv, store, picker, pending, send, stop, editing],
            "show_progress": "hidden", "concurrency_limit": config.chat_concurrency, "concurrency_id": "chat",
            **private,
        }
        answering.append(question.submit(**answer_io))
        answering.append(send.click(**answer_io))
        for button, text in zip(examples, examples_shown, strict=True):
            answering.append(button.click(lambda text=text: text, outputs=question, queue=False, **private)
                             .then(**answer_io))
        answering.append(retry.click(**{**answer_io, "fn": h["retry"],
                                        "inputs": [conv, store, k, answerer, hybrid, visitor, since, until]}))
        edit.click(h["edit"], inputs=conv, outputs=[question, notice, editing], queue=False,
                   js="(...args) => { setTimeout(() => document.querySelector('#question textarea')?.focus(), 50);"
                      " return args; }", **private)
        stop.click(h["stop"], inputs=[conv, store, pending],
                   outputs=[chat, sources, conv, store, picker, pending, send, stop], cancels=answering,
                   queue=False, **private)
        shown = [conv, store, chat, sources, picker, notice, editing]
        # Conversation events skip the queue and show no overlay: nothing waits behind an answer.
        quick: dict[str, Any] = {"queue": False, "show_progress": "hidden", **private}
        clear.click(h["clear"], inputs=[conv, store], outputs=shown, **quick)
        new_chat.click(h["new_chat"], inputs=store, outputs=shown, **quick)
        delete.click(h["delete"], inputs=[conv, store], outputs=[*shown, trash, undo], **quick)
        undo.click(h["undo_delete"], inputs=[trash, store], outputs=[*shown, trash, undo], **quick)
        picker.input(h["switch"], inputs=[picker, conv, store], outputs=shown, **quick)
        timeline_btn.click(h["timeline"], inputs=[question, conv, since, until], outputs=[timeline, notice],
                           show_progress="minimal", **private)
        answerer.change(h["switch_answerer"], inputs=answerer, outputs=notice, **private)
        files.upload(h["upload"], inputs=[files, visitor], outputs=[notice, corpus, files, uploaded, visitor],
                     show_progress_on=files, **private)
        remove.click(h["remove"], inputs=[uploaded, visitor], outputs=[notice, corpus, uploaded],
                     show_progress_on=remove, **private)
        demo.load(h["restore"], inputs=[store, conv], outputs=[conv, store, chat, sources, picker, new_chat, delete],
                  **quick)
        demo.load(h["visitor_id"], inputs=visitor, outputs=visitor, **private)
        demo.load(h["corpus"], inputs=visitor, outputs=corpus, **private)
        demo.load(h["uploads"], inputs=visitor, outputs=uploaded, **private)
        gr.api(h["ask"], api_name="ask")
    demo.rag_service = service  # launch_app serves the JSON API (ui.api) over it
    return demo


def launch_app(demo: gr.Blocks, config: UIConfig | None = None, *, prevent_thread_lock: bool = False,
               quiet: bool = False) -> str:
    """Serve ``demo`` on ``config.host:config.port`` (loopback by default); return its URL.

    No share link unless ``config.share``; uploads over ``config.max_upload_bytes`` are
    refused by the server itself.
    """
    config = config or UIConfig()
    demo.queue(default_concurrency_limit=1)
    app, url, share_url = demo.launch(
        server_name=config.host, server_port=config.port, share=config.share,
        prevent_thread_lock=True, quiet=quiet, css=CSS,
        max_file_size=config.max_upload_bytes, footer_links=["api"], run_history=False,
        enable_monitoring=False, mcp_server=False, ssr_mode=False, pwa=False, inbrowser=False,
    )
    if getattr(demo, "rag_service", None) is not None:
        mount_json_api(app, demo.rag_service)  # on the running server: same process, same port
    if not prevent_thread_lock:
        demo.block_thread()
    return share_url or url
