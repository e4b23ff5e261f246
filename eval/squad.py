"""SQuAD v2.0 as an evaluation: the file's articles become a corpus, its questions a benchmark.

Each article title becomes one document (its paragraphs joined by blank lines). Every question
is asked of a fresh Chatbot over that corpus, and the report measures answers (gold answer
contained after SQuAD normalisation), refusals (of impossible and of answerable questions),
retrieval of the gold paragraph, answer length and latency.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .curves import refusal_ranking, risk_coverage
from .metrics import contains, normalize_answer, short_scores, strip_markers  # noqa: F401 - normalize_answer is part of this API

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM = 80  # file names stay far below the 255-byte limit of common file systems
# A passage sentence shorter than this is too generic (a one-word title line, "He agreed.")
# to show that the passage comes from the gold paragraph.
_MIN_MATCH_WORDS = 4


@dataclass(frozen=True)
class SquadQuestion:
    """One SQuAD question with its gold answers and the paragraph that holds them."""

    id: str
    question: str
    answers: list[str]  # gold answer strings (empty for is_impossible)
    impossible: bool
    source: str  # the document file name of its article
    context: str  # the gold paragraph text


def safe_file_name(name: str) -> str:
    """A file name for a title: ASCII letters, digits, ``._-`` only, no leading dot, ``.txt``.

    Idempotent, so a name it made maps to itself: ``"../../etc/passwd"`` -> ``"etc_passwd.txt"``.
    """
    stem = name[:-4] if name.endswith(".txt") else name
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    stem = _UNSAFE.sub("_", stem)
    stem = re.sub(r"\.{2,}", ".", stem).strip("._-")[:_MAX_STEM].rstrip("._-")
    return (stem or "article") + ".txt"


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name`` with ``-2``, ``-3``… before the suffix, unused in ``taken``.

    Compared case-insensitively, since macOS and Windows file systems are.
    """
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{name[:-4]}-{n}.txt"
    taken.add(candidate.lower())
    return candidate


def _field(obj: Any, key: str, kind: type, where: str) -> Any:
    """``obj[key]`` when it is a ``kind``, else a ValueError naming the place."""
    if not isinstance(obj, dict):
        raise ValueError(f"{where} is not a JSON object")
    value = obj.get(key)
    if not isinstance(value, kind):
        what = "text" if kind is str else "a list" if kind is list else kind.__name__
        problem = "no" if value is None else f"a non-{what}"
        raise ValueError(f'{where} has {problem} "{key}" ({what} expected)')
    return value


def load_squad(path: Path) -> tuple[dict[str, str], list[SquadQuestion]]:
    """Read a SQuAD v2.0 JSON file: {file name: document text} and the questions, in file order.

    One document per article title (articles sharing a title are merged): the title (with
    underscores as spaces) as its first line, so it becomes the document title, then the
    paragraphs joined by blank lines. Raises ValueError with a one-line message naming what
    is wrong on an unreadable or malformed file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the SQuAD file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text, so not a SQuAD JSON file") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f'{path}: no "data" list at the top level, so not a SQuAD file')

    paragraphs: dict[str, list[str]] = {}  # file name -> its paragraphs
    titles: dict[str, str] = {}
    names: dict[str, str] = {}  # title -> file name
    taken: set[str] = set()
    questions: list[SquadQuestion] = []
    for i, article in enumerate(data["data"]):
        title = _field(article, "title", str, f"{path}: data[{i}]").strip()
        if title not in names:
            names[title] = _unique(safe_file_name(title), taken)
            titles[names[title]] = title
            paragraphs[names[title]] = []
        name = names[title]
        for j, paragraph in enumerate(_field(article, "paragraphs", list, f"{path}: data[{i}]")):
            where = f"{path}: data[{i}].paragraphs[{j}]"
            context = _field(paragraph, "context", str, where)
            paragraphs[name].append(context.strip())
            for k, qa in enumerate(_field(paragraph, "qas", list, where)):
                questions.append(_question(qa, f"{where}.qas[{k}]", name, context.strip()))
    if not questions:
        raise ValueError(f"{path}: the file holds no questions")
    documents = {
        name: "\n\n".join([titles[name].replace("_", " "), *(p for p in paras if p)])
        for name, paras in paragraphs.items()
    }
    return documents, questions


def _question(qa: Any, where: str, source: str, context: str) -> SquadQuestion:
    question = _field(qa, "question", str, where)
    qid = _field(qa, "id", str, where)
    impossible = qa.get("is_impossible", False)  # absent in SQuAD v1.1 files
    if not isinstance(impossible, bool):
        raise ValueError(f'{where} has a non-boolean "is_impossible"')
    answers = [] if impossible else [
        _field(a, "text", str, f"{where}.answers[{n}]") for n, a in enumerate(_field(qa, "answers", list, where))
    ]
    if not impossible and not answers:
        raise ValueError(f'{where} (id {qid}) has no answers and is not marked "is_impossible"')
    return SquadQuestion(qid, question, answers, impossible, source, context)


def write_corpus(documents: dict[str, str], folder: Path) -> Path:
    """Write each document as ``folder/<safe file name>`` and return ``folder``.

    Names pass through ``safe_file_name`` (those ``load_squad`` made are kept as they are)
    and are made unique. Raises ValueError when ``folder`` holds files of another corpus,
    which the index would otherwise mix in.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    named = {_unique(safe_file_name(name), taken): text for name, text in documents.items()}
    # Hidden files (.DS_Store) are never indexed, so they may stay.
    foreign = sorted(p.name for p in folder.iterdir() if p.name not in named and not p.name.startswith("."))
    if foreign:
        raise ValueError(f"{folder} holds files that are not part of this corpus ({', '.join(foreign[:3])}); "
                         "use an empty folder")
    for name, text in named.items():
        target = folder / name
        assert target.resolve().parent == folder.resolve(), name  # safe_file_name has no separators
        target.write_text(text + "\n", encoding="utf-8")
    return folder


def contains_answer(answer: str, gold: list[str]) -> bool:
    """True when some gold answer appears, as whole words, in the answer text."""
    return any(contains(answer, g) for g in gold)


def _squash(text: str) -> str:
    return " ".join(text.split())


def overlaps_paragraph(passage_text: str, passage_source: str, question: SquadQuestion) -> bool:
    """True when a retrieved passage comes from the question's gold paragraph.

    Same document, and (whitespace-normalised) either the passage is a substring of the
    paragraph or one of its sentences of at least four words is: passages are cleaned
    sentence runs that may start or end in a neighbouring paragraph.
    """
    from index.ingest.sentences import split_sentences

    if passage_source != question.source:
        return False
    paragraph = _squash(question.context)
    if _squash(passage_text) in paragraph:
        return True
    return any(
        len(sentence.split()) >= _MIN_MATCH_WORDS and _squash(sentence) in paragraph
        for sentence in (passage_text[s:e] for s, e in split_sentences(passage_text))
    )


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def run_squad(path: Path, out_dir: Path | None = None, limit: int | None = None, **config: Any) -> dict[str, Any]:
    """Ask every question of a SQuAD file of a Chatbot over its articles; return the report.

    The corpus and index go to ``out_dir/corpus`` and ``out_dir/index`` (reused on a rerun),
    else to a temporary folder. ``limit`` asks only the first N questions (of the whole
    corpus). ``config`` goes to ``rag.Chatbot.from_corpus`` (``top_k=3``, ``embedder=...``).
    Rates are shares of the questions of their kind, None when there are none; a question
    whose ``ask`` raised counts in ``errors`` and as neither refused nor answered correctly.
    ``refusal_rate_withheld`` asks each answerable question again without the passages that
    hold its answer: the share refused then.
    Raises ValueError for a malformed file or a limit below 1.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    documents, questions = load_squad(Path(path))
    questions = questions[:limit] if limit else questions
    if out_dir is not None:
        return _evaluate(documents, questions, Path(out_dir), config)
    with tempfile.TemporaryDirectory(prefix="rag-squad-") as tmp:
        return _evaluate(documents, questions, Path(tmp), config)


def _withheld_refused(bot: Any, q: SquadQuestion) -> bool | None:
    """Whether ``q`` is refused when the passages holding its answer are left out (None when
    that ask fails): the topic is still there, the fact is not, as with a news question about
    a detail no article gives. Unlike SQuAD's unanswerable questions, nothing here depends on
    how the questions were written."""
    try:
        return bot.ask(q.question, exclude=lambda passage: contains_answer(passage.text, q.answers)).refused
    except Exception:  # counted by the first ask's error, if it was the question; never fatal
        return None


def _evaluate(documents: dict[str, str], questions: list[SquadQuestion], work: Path,
              config: dict[str, Any]) -> dict[str, Any]:
    import rag
    from rag.bench import percentile

    corpus = write_corpus(documents, work / "corpus")
    bot = rag.Chatbot.from_corpus(corpus, index_dir=work / "index", **config)
    items: list[dict[str, Any]] = []
    latencies: list[float] = []
    lengths: list[int] = []
    for q in questions:
        item: dict[str, Any] = {"id": q.id, "question": q.question, "impossible": q.impossible, "answer": None,
                                "refused": False, "gold": q.answers, "contained": None if q.impossible else False,
                                "retrieved": False, "error": None}
        items.append(item)
        started = time.perf_counter()
        try:
            answer = bot.ask(q.question)
        except Exception as exc:  # one bad question must not end a long run: record it, go on
            item["error"] = f"{type(exc).__name__}: {exc}"
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        short = answer.short_answer["text"] if answer.short_answer and not answer.refused else None
        item.update(answer=answer.text, refused=answer.refused, confidence=answer.confidence, status=answer.status,
                    short_answer=short, retrieved=any(overlaps_paragraph(p.text, p.source, q) for p in answer.passages))
        if not q.impossible:
            item["short_em"], item["short_f1"] = short_scores(short, q.answers)
        if not answer.refused:
            lengths.append(len(strip_markers(answer.text).split()))
            if not q.impossible:
                item["contained"] = contains_answer(answer.text, q.answers)
        if not q.impossible:
            item["withheld_refused"] = _withheld_refused(bot, q)

    answerable = [i for i in items if not i["impossible"]]
    impossible = [i for i in items if i["impossible"]]
    withheld = [i for i in answerable if i.get("withheld_refused") is not None]
    asked = [i for i in items if i["error"] is None]
    return {
        "questions": len(items),
        "answerable": len(answerable),
        "impossible": len(impossible),
        "answer_containment": _share(sum(bool(i["contained"]) for i in answerable), len(answerable)),
        "refusal_rate_impossible": _share(sum(i["refused"] for i in impossible), len(impossible)),
        "false_refusal_rate": _share(sum(i["refused"] for i in answerable), len(answerable)),
        "short_exact_match": _mean([i.get("short_em", 0.0) for i in answerable]),
        "short_f1": _mean([i.get("short_f1", 0.0) for i in answerable]),
        **risk_coverage([i.get("confidence") for i in answerable if i["error"] is None],
                        [bool(i["contained"]) for i in answerable if i["error"] is None],
                        [i.get("status") == "answered" for i in answerable if i["error"] is None]),
        "refusal_rate_withheld": _share(sum(i["withheld_refused"] for i in withheld), len(withheld)),
        **refusal_ranking([i.get("confidence") for i in asked], [not i["impossible"] for i in asked]),
        "retrieval_recall": _share(sum(i["retrieved"] for i in answerable), len(answerable)),
        "answer_words_median": statistics.median(lengths) if lengths else None,
        "answer_words_mean": round(statistics.fmean(lengths), 2) if lengths else None,
        "latency_p50_ms": round(percentile(latencies, 50), 2) if latencies else None,
        "latency_p95_ms": round(percentile(latencies, 95), 2) if latencies else None,
        "errors": sum(i["error"] is not None for i in items),
        "items": items,
    }
