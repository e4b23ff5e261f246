"""The page's event handlers, apart from the layout so that tests can call them directly.

The conversation is data (``ui.conversations``): a server-side ``conv`` state for the one
on screen and the visitor's browser store of all of them; the HTML is rendered from that
data on every update, so nothing the browser sends back is ever put on the page unescaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from index import RagError
from rag.records import Answer

from . import conversations as C
from .render import (
    clip,
    render_answer,
    render_conversation,
    render_documents,
    render_notice,
    render_question,
    render_sources,
    render_timeline,
)
from .service import ChatService
from .visitors import new_visitor_id, valid_visitor_id

Handler = Callable[..., Any]


def notice(message: str = "", kind: str = "error") -> Any:
    """The one place errors and results are shown: hidden when there is nothing to say, so
    an empty slot leaves no gap."""
    return gr.update(value=render_notice(message, kind), visible=bool(message))


def chat_html(conversation: C.Conversation, live: Answer | None = None) -> str:
    """The conversation's turns, plus the answer still being written."""
    turns = [render_question(a.question) + render_answer(a, i, stopped) for i, (a, stopped)
             in enumerate(C.answers(conversation))]
    if live is not None:
        turns.append(render_question(live.question) + render_answer(live, len(turns)))
    return render_conversation(turns)


def sources_html(conversation: C.Conversation) -> str:
    """The Sources panel for the conversation's last answer."""
    done = C.answers(conversation)
    return render_sources(done[-1][0], len(done) - 1) if done else render_sources(None)


def picker(store: C.Store) -> Any:
    return gr.update(choices=C.choices(store), value=store["current"])


def _toast(message: str) -> str:
    # Gradio renders error-modal messages as HTML; these may quote a file name.
    return html.escape(message, quote=False)


NOTHING_TO_RETRY = "Nothing to retry yet: Retry asks your last question again once you have asked one."
NOTHING_TO_EDIT = "Nothing to edit yet: Edit puts your last question back in the box once you have asked one."


def make_handlers(service: ChatService) -> dict[str, Handler]:
    """The page's event handlers, by name."""

    def restore(store: Any, shown: C.Conversation | None = None) -> tuple[Any, ...]:
        """On page load: the visitor's last conversation, from their browser storage; then the
        conversation buttons work (a click before this would be overwritten by it). A
        conversation already asked in on this page stays."""
        store = C.clean_store(store)
        if shown and shown.get("turns"):
            conversation = shown
        else:
            conversation = C.find(store, store["current"]) or (store["items"][0] if store["items"] else None)
            conversation = conversation or C.new_conversation()
        ready = gr.update(interactive=True)
        return (conversation, store, chat_html(conversation), sources_html(conversation), picker(store), ready,
                ready)

    def visitor_id(visitor: Any) -> str:
        """On page load: the visitor's id from their browser storage, or a new one."""
        return valid_visitor_id(visitor) or new_visitor_id()

    def respond(question: str, conversation: C.Conversation, store: Any, k: float, answerer: str,
                hybrid: bool, visitor: Any = None, editing: bool = False, since: str | None = None,
                until: str | None = None, done: str = "") -> Iterator[tuple[Any, ...]]:
        """Answer ``question`` in the conversation. A ready answer (extractive) is shown at
        once; a generated one grows as its sentences pass the check. Outputs: chat, sources,
        notice, question box, conversation, store, picker, pending (the partial answer), the
        Ask and Stop buttons (Stop in place of Ask while the answer is written), and whether a
        question is being edited. ``editing``: the question is the last one, edited, and its
        answer replaces that turn. ``since`` / ``until``: the publication period (Settings).
        ``done``: a line shown once the answer is in. Answered from the visitor's own space
        when they have added files."""
        store = C.clean_store(store)
        try:
            space = service.space(visitor)
            waiting = Answer(space.check_question(question), "", False, complete=False)
            if editing:
                conversation, _ = C.without_last(conversation)
            history = C.history(conversation)
            yield (chat_html(conversation, waiting), gr.skip(), notice(), "", gr.skip(), gr.skip(), gr.skip(),
                   C.answer_to_dict(waiting), *stop_mode(), False)
            when = {"since": (since or "").strip() or None, "until": (until or "").strip() or None}
            if space.streams(answerer):
                steps: Iterator[Answer] = space.stream(question, history, int(k), answerer, bool(hybrid), **when)
            else:
                steps = iter([space.ask(question, history, int(k), answerer, bool(hybrid), **when)])
            for answer in steps:
                if not answer.complete:
                    yield (chat_html(conversation, answer), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                           gr.skip(), C.answer_to_dict(answer), gr.skip(), gr.skip(), gr.skip())
                    continue
                conversation = C.with_turn(conversation, answer)
                store = C.saved(store, conversation)
                yield (chat_html(conversation), sources_html(conversation), notice(done, "info"), "", conversation,
                       store, picker(store), None, *ask_mode(), False)
        except (ValueError, RagError) as exc:
            # Bad input (an empty question) or index trouble: one friendly line, no traceback.
            yield (chat_html(conversation), gr.skip(), notice(str(exc)), gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                   None, *ask_mode(), gr.skip())

    def retry(conversation: C.Conversation, store: Any, k: float, answerer: str, hybrid: bool,
              visitor: Any = None, since: str | None = None, until: str | None = None) -> Iterator[tuple[Any, ...]]:
        """Retry: the last question asked again, its new answer in place of the old one."""
        trimmed, question = C.without_last(conversation)
        if question is None:
            yield (gr.skip(), gr.skip(), notice(NOTHING_TO_RETRY, "warning"), *[gr.skip()] * 8)
            return
        yield from respond(question, trimmed, store, k, answerer, hybrid, visitor, False, since, until,
                           done=f"Asked again: {clip(question)}")

    def edit(conversation: C.Conversation) -> tuple[Any, ...]:
        """Edit: the last question back in the box; its exchange stays until the edited one is
        sent (Ask then replaces it). Outputs: question box, notice, editing."""
        turns = conversation["turns"]
        if not turns:
            return gr.skip(), notice(NOTHING_TO_EDIT, "warning"), False
        return (turns[-1]["question"], notice("Edit the question and send it: its answer replaces the last one.",
                                              "info"), True)

    def stop(conversation: C.Conversation, store: Any, pending: dict[str, Any] | None) -> tuple[Any, ...]:
        """Stop pressed: what was shown of the answer stays, marked as stopped."""
        store = C.clean_store(store)
        parsed = C.answer_from_dict(pending) if pending else None
        if parsed is not None:
            conversation = C.with_turn(conversation, parsed[0], stopped=True)
            store = C.saved(store, conversation)
        return (chat_html(conversation), sources_html(conversation), conversation, store, picker(store), None,
                *ask_mode())

    def clear(conversation: C.Conversation, store: Any) -> tuple[Any, ...]:
        """Clear: the conversation on screen loses its turns (and leaves the saved list)."""
        store = C.removed(C.clean_store(store), conversation["id"])
        conversation = {**conversation, "title": "", "turns": []}
        store = {**store, "current": conversation["id"]}
        return conversation, store, chat_html(conversation), sources_html(conversation), picker(store), notice(), False

    def new_chat(store: Any) -> tuple[Any, ...]:
        """New conversation: the current one stays in the list."""
        store = C.clean_store(store)
        conversation = C.new_conversation()
        store = {**store, "current": None}
        return conversation, store, chat_html(conversation), sources_html(conversation), picker(store), notice(), False

    def switch(conversation_id: str | None, conversation: C.Conversation, store: Any) -> tuple[Any, ...]:
        """Show another saved conversation."""
        store = C.clean_store(store)
        chosen = C.find(store, conversation_id)
        if chosen is None:
            return conversation, store, gr.skip(), gr.skip(), picker(store), notice(), gr.skip()
        store = {**store, "current": chosen["id"]}
        return chosen, store, chat_html(chosen), sources_html(chosen), picker(store), notice(), False

    def delete(conversation: C.Conversation, store: Any) -> tuple[Any, ...]:
        """Delete the conversation on screen; the newest remaining one (or a new one) shows,
        and Undo brings the deleted one back. Outputs: the shown ones, the deleted one, Undo."""
        store = C.clean_store(store)
        gone = C.find(store, conversation["id"])
        store = C.removed(store, conversation["id"])
        shown = C.find(store, store["current"]) or C.new_conversation()
        if gone is None:  # nothing saved to delete (an empty conversation)
            return (shown, store, chat_html(shown), sources_html(shown), picker(store), notice(), False, gr.skip(),
                    gr.skip())
        said = notice(f"Deleted “{clip(gone.get('title') or 'Untitled', 60)}”. Undo brings it back.", "info")
        return (shown, store, chat_html(shown), sources_html(shown), picker(store), said, False, gone,
                gr.update(visible=True))

    def undo_delete(gone: C.Conversation | None, store: Any) -> tuple[Any, ...]:
        """Undo: the last deleted conversation back in the list, and on screen."""
        store = C.clean_store(store)
        restored = C.clean_store({"current": None, "items": [gone]})["items"] if gone else []
        if not restored:
            return (gr.skip(), store, gr.skip(), gr.skip(), picker(store), notice(), gr.skip(), None,
                    gr.update(visible=False))
        conversation = restored[0]
        store = C.saved(store, conversation)
        return (conversation, store, chat_html(conversation), sources_html(conversation), picker(store),
                notice(f"Restored “{clip(conversation.get('title') or 'Untitled', 60)}”.", "info"), False, None,
                gr.update(visible=False))

    def timeline(question: str, conversation: C.Conversation, since: str = "", until: str = "") -> tuple[Any, ...]:
        """Timeline: the reports on the question in the box (else the last one asked), in
        publication order, kept to the Settings' period. Outputs: the timeline panel, notice."""
        query = (question or "").strip() or next((t["question"] for t in reversed(conversation["turns"])), "")
        if not query:
            return gr.skip(), notice("Type a question or a few words about the story, then press Timeline.",
                                     "warning")
        try:
            shown = service.timeline(query, (since or "").strip() or None, (until or "").strip() or None)
        except (ValueError, RagError) as exc:
            return gr.skip(), notice(str(exc))
        return gr.update(value=render_timeline(shown), visible=True), notice()

    def ask(question: str) -> dict[str, Any]:
        """Answer one question about the articles; returns the JSON object of `rag ask --json`:
        id, question, answer (with inline [n] markers), refused, citations, timings_ms."""
        try:
            return service.ask(question).to_json()
        except (ValueError, RagError) as exc:
            raise gr.Error(_toast(str(exc)), print_exception=False) from None

    def upload(files: list[str] | str | None, visitor: Any = None,
               progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        """Add uploaded files to the index (the visitor's own, with private uploads); refresh
        the corpus panel and the list of uploads."""
        paths = [files] if isinstance(files, str) else list(files or [])
        if not paths:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        # A visitor whose id has not reached the page yet (an upload before the page's load
        # event finished) gets theirs now; it goes back to their browser with the result.
        visitor = visitor_id(visitor)
        try:
            space = service.space(visitor, create=True)
            result = space.add_files(paths, lambda fraction, desc: progress(fraction, desc=desc))
        except (ValueError, RagError) as exc:
            return notice(str(exc)), gr.skip(), None, gr.skip(), visitor
        kind = "info" if not result.rejected else ("warning" if result.added else "error")
        return notice(result.message(), kind), render_documents(space.documents), None, uploads(visitor), visitor

    def remove(doc_id: str | None, visitor: Any = None) -> tuple[Any, ...]:
        """Remove an uploaded file of the visitor's from the index (and delete it)."""
        if not doc_id:
            return notice("Choose an uploaded file to remove.", "warning"), gr.skip(), gr.skip()
        space = service.space(visitor)
        try:
            space.remove_upload(doc_id)
        except (ValueError, RagError) as exc:
            return notice(str(exc)), gr.skip(), uploads(visitor)
        return notice(f"Removed {doc_id}: no answer will cite it.", "info"), render_documents(space.documents), \
            uploads(visitor)

    def uploads(visitor: Any = None) -> Any:
        names = service.space(visitor).uploads
        return gr.update(choices=names, value=names[0] if names else None)

    def switch_answerer(name: str) -> Any:
        """Build (once) and keep the chatbot of the chosen answerer backend."""
        try:
            service.bot(name)
        except (ValueError, RagError) as exc:
            return notice(str(exc))
        return notice(f"Answerer: {name}.", "info")

    def corpus(visitor: Any = None) -> str:
        return render_documents(service.space(visitor).documents)

    return {"restore": restore, "visitor_id": visitor_id, "respond": respond, "stop": stop, "retry": retry,
            "edit": edit, "clear": clear, "new_chat": new_chat, "switch": switch, "delete": delete,
            "undo_delete": undo_delete, "timeline": timeline, "ask": ask,
            "upload": upload,
            "remove": remove, "uploads": uploads, "switch_answerer": switch_answerer, "corpus": corpus}


def ask_mode() -> tuple[Any, Any]:
    """The Ask button shown, Stop hidden (outputs: send, stop)."""
    return gr.update(visible=True), gr.update(visible=False)


def stop_mode() -> tuple[Any, Any]:
    """While an answer is written: Stop in place of Ask."""
    return gr.update(visible=False), gr.update(visible=True)
