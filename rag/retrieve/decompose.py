"""Split a question with two parts ("Which paper said X, and which channel aired Y?")."""

from __future__ import annotations

import re

from ..answer.draft import Draft

# A second question starts at "and" followed by a question word.
_SECOND = re.compile(
    r",?\s+and\s+(?=(?:which|what|who|whom|whose|when|where|why|how|in what|on what|for how|from which)\b)",
    re.IGNORECASE,
)
_MIN_WORDS = 4  # each part must still be a question on its own


def split_question(question: str) -> list[str]:
    """The parts of a two-part question, each ending in '?'; a plain question is one part."""
    parts = [p.strip(" ,;?") for p in _SECOND.split(question.strip())]
    if len(parts) < 2 or any(len(p.split()) < _MIN_WORDS for p in parts):
        return [question]
    return [p[0].upper() + p[1:] + "?" for p in parts]


def merge_drafts(drafts: list[Draft]) -> Draft:
    """One draft answering every part that could be answered; a refusal only if none could."""
    answered = [d for d in drafts if not d.refused]
    if not answered:
        return drafts[0]
    if len(answered) == 1:
        return answered[0]
    sentences, seen = [], set()
    for draft in answered:
        for sentence in draft.sentences:
            if sentence.text not in seen:
                seen.add(sentence.text)
                sentences.append(sentence)
    confidences = [d.confidence for d in answered if d.confidence is not None]
    return Draft(sentences=sentences, conflicts=[c for d in answered for c in d.conflicts],
                 uncertain=all(d.uncertain for d in answered), short=answered[0].short,
                 confidence=max(confidences) if confidences else None)
