"""The fitted part of answer selection: two logistic models and the operating points they
were fitted with, read from ``data/selector.json`` (written by ``rag fit``).

The sentence model gives each candidate a first score over hand-built signals; the reader
reads the windows of the best ones, and the reading model (stacked on the first score and
what the reader found, ``reading.py``) gives the probability that a sentence holds the
answer. The refusal model gives the probability that the question is answerable from what
was retrieved: refused below ``refusal_threshold``. An answer is shown as uncertain when the
probability that the sentence it leads with holds the answer is below ``confident_threshold``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .features import QUESTION_FEATURES, SENTENCE_FEATURES
from .reading import READ_FEATURES, READ_QUESTION_FEATURES

DEFAULT_MODEL = Path(__file__).resolve().parent / "data" / "selector.json"


class SelectorError(ValueError):
    """The selector file is missing, unreadable or fitted over other features."""


@dataclass(frozen=True)
class Linear:
    """A logistic model: logit = features @ weights + bias."""

    features: tuple[str, ...]
    weights: np.ndarray
    bias: float

    def logits(self, rows: np.ndarray) -> np.ndarray:
        return rows @ self.weights + self.bias if len(rows) else np.zeros(0)

    def to_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "weights": [round(float(w), 6) for w in self.weights],
                "bias": round(float(self.bias), 6)}


@dataclass(frozen=True)
class Selector:
    """The sentence, reading and refusal models and the fitted operating points."""

    sentence: Linear
    reading: Linear
    refusal: Linear
    refusal_threshold: float  # refuse when P(answerable) is below this
    # The reading model's probability of the answer's first sentence below which the answer is
    # shown as uncertain.
    confident_threshold: float
    second_ratio: float  # a second sentence needs at least this share of the best one's probability
    meta: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"sentence": self.sentence.to_json(), "reading": self.reading.to_json(),
                "refusal": self.refusal.to_json(), "refusal_threshold": round(self.refusal_threshold, 6),
                "confident_threshold": round(self.confident_threshold, 6),
                "second_ratio": round(self.second_ratio, 4), "meta": self.meta}


def sigmoid(x: np.ndarray | float) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


def _linear(obj: dict[str, Any], expected: tuple[str, ...], path: Path) -> Linear:
    features = tuple(obj["features"])
    if features != expected:
        raise SelectorError(f"{path} was fitted over features {features}, this code computes {expected}: "
                            "refit it with `rag fit`")
    return Linear(features, np.asarray(obj["weights"], dtype=np.float32), float(obj["bias"]))


@lru_cache(maxsize=4)
def load_selector(path: str | Path | None = None) -> Selector:
    """Read a selector file (the shipped one by default). Raises SelectorError."""
    path = Path(path) if path else DEFAULT_MODEL
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        return Selector(_linear(obj["sentence"], SENTENCE_FEATURES, path),
                        _linear(obj["reading"], READ_FEATURES, path),
                        _linear(obj["refusal"], QUESTION_FEATURES + READ_QUESTION_FEATURES, path),
                        float(obj["refusal_threshold"]), float(obj["confident_threshold"]),
                        float(obj["second_ratio"]), obj.get("meta", {}))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, SelectorError):
            raise
        raise SelectorError(f"cannot read the answer selector {path}: {exc}") from exc
