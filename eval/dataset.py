"""The question set: JSONL files of questions with gold answers and gold evidence."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.ingest.loader import load_corpus

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_SET = DATA_DIR / "test.jsonl"
TYPES = ("single", "multi_source", "two_article", "disagreement", "paraphrase", "followup", "unanswerable")


class DatasetError(ValueError):
    """A malformed question file; the message names the file and line."""


@dataclass(frozen=True)
class Evidence:
    """A gold quote, located in the cleaned text of its document."""

    source: str
    quote: str
    start: int
    end: int


@dataclass(frozen=True)
class EvalItem:
    id: str
    type: str
    question: str
    answers: list[list[str]]  # gold facts, each a list of alternative strings
    evidence: list[Evidence]
    history: list[dict[str, str]] = field(default_factory=list)
    note: str = ""

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


def locate(quote: str, text: str) -> tuple[int, int] | None:
    """Offsets of ``quote`` in ``text``, allowing any run of whitespace to differ."""
    words = quote.split()
    if not words:
        return None
    m = re.search(r"\s+".join(map(re.escape, words)), text)
    return (m.start(), m.end()) if m else None


def _require(item: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in item:
        raise DatasetError(f"{where}: missing field {key!r}")
    if not isinstance(item[key], kind):
        raise DatasetError(f"{where}: field {key!r} must be {kind.__name__}")
    return item[key]


def _parse(item: Any, where: str, docs: dict[str, str]) -> EvalItem:
    if not isinstance(item, dict):
        raise DatasetError(f"{where}: expected a JSON object")
    qid = _require(item, "id", str, where)
    qtype = _require(item, "type", str, where)
    if qtype not in TYPES:
        raise DatasetError(f"{where}: unknown type {qtype!r} (one of {', '.join(TYPES)})")
    question = _require(item, "question", str, where)
    if not question.strip():
        raise DatasetError(f"{where}: empty question")
    answers = _require(item, "answers", list, where)
    if not all(isinstance(f, list) and f and all(isinstance(a, str) for a in f) for f in answers):
        raise DatasetError(f"{where}: answers must be a list of non-empty lists of strings")
    if qtype != "unanswerable" and not answers:
        raise DatasetError(f"{where}: an answerable question needs gold answers")
    evidence = []
    for ev in item.get("evidence") or []:
        if not isinstance(ev, dict) or not isinstance(ev.get("source"), str) or not isinstance(ev.get("quote"), str):
            raise DatasetError(f"{where}: evidence entries need a source and a quote")
        if ev["source"] not in docs:
            raise DatasetError(f"{where}: evidence source {ev['source']!r} is not in the corpus")
        span = locate(ev["quote"], docs[ev["source"]])
        if span is None:
            raise DatasetError(f"{where}: evidence quote is not in {ev['source']}: {ev['quote'][:60]!r}")
        evidence.append(Evidence(ev["source"], ev["quote"], *span))
    history = item.get("history") or []
    if not isinstance(history, list) or not all(isinstance(t, dict) for t in history):
        raise DatasetError(f"{where}: history must be a list of messages")
    return EvalItem(qid, qtype, question, answers, evidence, history, str(item.get("note") or ""))


def load_items(path: Path, corpus_dir: Path) -> list[EvalItem]:
    """Read and validate a question file against the cleaned documents of ``corpus_dir``.

    Raises DatasetError naming the line for bad JSON, a missing field, a duplicate id, or an
    evidence quote that is not in its document.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read question file {path}: {exc}") from exc
    docs = {d.doc_id: d.text for d in load_corpus(corpus_dir)}
    items: list[EvalItem] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: invalid JSON ({exc.msg})") from exc
        item = _parse(raw, where, docs)
        if item.id in seen:
            raise DatasetError(f"{where}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise DatasetError(f"{path} holds no questions")
    return items
