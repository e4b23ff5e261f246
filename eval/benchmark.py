"""The whole benchmark: question set × answerers, plus the checker's meta-evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .dataset import load_items
from .runner import by_type, item_dicts, run_answerer, summarise, worst


def run_benchmark(set_path: Path, corpus_dir: Path, answerers: Sequence[str] = ("extractive",),
                  index_dir: Path | None = None, nli_model: str | None = None, progress: bool = True,
                  **config: Any) -> dict[str, Any]:
    """Run every question of ``set_path`` through each answerer; returns the report dict."""
    import rag
    from rag.verify.support import make_checker

    from .meta import run_meta

    items = load_items(set_path, corpus_dir)
    checker = make_checker(nli_model)
    report: dict[str, Any] = {"set": str(set_path), "questions": len(items), "checker": checker.name,
                              "answerers": {}}
    embedder = config.pop("embedder", None)
    for name in answerers:
        bot = rag.Chatbot.from_corpus(corpus_dir, index_dir=index_dir, answerer=name, embedder=embedder, **config)
        embedder = bot.embedder  # one embedding model for every answerer
        results = run_answerer(bot, items, checker, description=f"{name}", progress=progress)
        report["answerers"][name] = {**summarise(results), "by_type": by_type(results),
                                     "worst": item_dicts(worst(results)), "items": item_dicts(results)}
    report["checker_meta"] = run_meta(checker)
    return report
