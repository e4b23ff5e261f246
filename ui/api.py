"""The plain JSON API beside the page: ``POST /api/ask`` and ``GET /api/health``.

Served by the page's own process and port (mounted into Gradio's server), documented by
its OpenAPI schema at ``/api/openapi.json`` (and ``/api/docs``). Each request runs in the
server's thread pool, so requests are taken concurrently; the bot answers them one at a
time (``ChatService`` holds its lock per answer, about 12 ms for a quoted one). A bad
request gets a 4xx status and ``{"error": "<one line>"}``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from index import RagError

from .service import ChatService

PREFIX = "/api"


class Message(BaseModel):
    """One earlier turn, as chat messages are written."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskRequest(BaseModel):
    """A question, with the conversation so far for a follow-up ("What did he promise?")."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="the question about the articles", max_length=20_000)
    history: list[Message] = Field(default_factory=list, max_length=200,
                                   description="earlier turns, oldest first")
    top_k: int | None = Field(default=None, ge=1, le=50, description="passages to retrieve (default: the bot's)")
    answerer: str | None = Field(default=None, description="extractive (default) or transformers, where served")
    since: str | None = Field(default=None, description="only reports published on or after (YYYY-MM-DD)")
    until: str | None = Field(default=None, description="only reports published on or before (YYYY-MM-DD)")


def json_api(service: ChatService) -> FastAPI:
    """The API's FastAPI app, to be mounted at ``PREFIX`` (``mount_json_api``)."""
    api = FastAPI(title="News RAG chatbot API", version="1", docs_url="/docs", redoc_url=None,
                  description="Answers questions about the indexed news articles, every sentence cited. "
                              "The answer object is the one `rag ask --json` prints.")

    @api.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid request')}"}, status_code=400)

    @api.post("/ask", summary="Answer a question, with citations",
              responses={400: {"description": "a bad question or request: {\"error\": \"...\"}"},
                         503: {"description": "the index cannot be read: {\"error\": \"...\"}"}})
    def ask(request: AskRequest) -> dict[str, Any]:
        """The answer object of `rag ask --json`: id, question, answer (with inline [n] markers),
        refused, status, short_answer, citations, conflicts, confidence, timings_ms."""
        if request.answerer is not None and request.answerer not in service.answerers:
            return _error(f"unknown answerer {request.answerer!r}: one of {', '.join(service.answerers)}", 400)
        history = [m.model_dump() for m in request.history]
        try:
            return service.ask(request.question, history, request.top_k, request.answerer,
                               since=request.since, until=request.until).to_json()
        except ValueError as exc:  # an empty question, one without content words, one too long
            return _error(str(exc), 400)
        except RagError as exc:
            return _error(str(exc), 503)

    @api.get("/health", summary="Whether the bot is up, and over how many articles")
    def health() -> dict[str, Any]:
        return {"status": "ok", "documents": len(service.documents), "answerers": list(service.answerers)}

    return api


def mount_json_api(app: Any, service: ChatService) -> None:
    """Serve the API under ``PREFIX`` on Gradio's running server, ahead of its own routes."""
    from starlette.routing import Mount

    app.router.routes.insert(0, Mount(PREFIX, app=json_api(service)))


def _error(message: str, status: int) -> Any:
    return JSONResponse({"error": " ".join(message.split())}, status_code=status)
