"""The generative answerer's prompt: numbered passages and instructions, fitted to the context.

Tokens are counted with the model's own tokenizer. Passages are kept best first; when they
do not all fit, the lowest-ranked ones go first, and the last one that fits in part is cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..records import Passage
from .lm import GeneratorError

REFUSAL = "The articles don't say."
# Short on purpose: a small model reads every prompt token slowly, and follows one plain
# instruction better than several. The citations come from the check, not from the model.
INSTRUCTIONS = (
    "Answer the question in one short sentence, using only the numbered passages below. "
    f"If they do not answer it, reply exactly: {REFUSAL}"
)
# A passage cut shorter than this rarely still holds a whole fact.
MIN_PASSAGE_TOKENS = 32


class PromptModel(Protocol):
    """What prompt fitting needs of a model (``LocalLM`` provides it)."""

    context_size: int

    def render(self, system: str, user: str) -> str: ...

    def encode(self, prompt: str) -> list[int]: ...

    def truncate(self, text: str, max_tokens: int) -> str: ...


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt; ``passages[i]`` is the passage numbered ``[i + 1]`` in it."""

    text: str
    ids: list[int]
    passages: list[Passage]  # as retrieved (full text), best first
    cut: bool = False  # the last passage was shortened to fit


def passage_block(number: int, passage: Passage, text: str | None = None) -> str:
    """One numbered passage: marker, date when known, then its text."""
    date = f"({passage.date}) " if passage.date else ""
    return f"[{number}] {date}{passage.text if text is None else text}"


def user_message(question: str, blocks: Sequence[str]) -> str:
    return "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"


def _too_small(model: PromptModel, needed: int, max_new_tokens: int) -> GeneratorError:
    return GeneratorError(
        f"The generator model's context ({model.context_size} tokens) cannot hold the instructions, the "
        f"question and one passage ({needed} tokens at least) plus max_new_tokens={max_new_tokens}; use a model "
        "with a longer context or a smaller max_new_tokens")


def check_context(model: PromptModel, max_new_tokens: int) -> None:
    """Raise GeneratorError unless the instructions, a short question and a passage of
    MIN_PASSAGE_TOKENS fit in the context with ``max_new_tokens`` to spare."""
    base = len(model.encode(model.render(INSTRUCTIONS, user_message("?", ["[1] "]))))
    if base + MIN_PASSAGE_TOKENS + max_new_tokens > model.context_size:
        raise _too_small(model, base + MIN_PASSAGE_TOKENS, max_new_tokens)


def fit_prompt(model: PromptModel, question: str, passages: Sequence[Passage], max_new_tokens: int) -> Prompt:
    """The prompt with as many passages (best first) as fit beside ``max_new_tokens``.

    Raises GeneratorError when not even one passage cut to MIN_PASSAGE_TOKENS fits.
    """
    if not passages:
        raise ValueError("fit_prompt needs at least one passage")
    budget = model.context_size - max_new_tokens

    def render(blocks: Sequence[str]) -> tuple[str, list[int]]:
        text = model.render(INSTRUCTIONS, user_message(question, blocks))
        return text, model.encode(text)

    blocks = [passage_block(i, p) for i, p in enumerate(passages, start=1)]
    # Most prompts fit whole, so try everything first and drop from the bottom.
    for n in range(len(blocks), -1, -1):
        text, ids = render(blocks[:n])
        if len(ids) <= budget:
            break
    if n == len(blocks):
        return Prompt(text, ids, list(passages))
    # Room left for the next passage, cut to fit.
    nxt = passages[n]
    _, empty = render([*blocks[:n], passage_block(n + 1, nxt, "")])
    room = budget - len(empty)
    if room >= MIN_PASSAGE_TOKENS:
        for _ in range(4):  # token counts shift a little where the cut text joins the template
            cut_text, cut_ids = render([*blocks[:n], passage_block(n + 1, nxt, model.truncate(nxt.text, room))])
            if len(cut_ids) <= budget:
                return Prompt(cut_text, cut_ids, list(passages[: n + 1]), cut=True)
            room -= len(cut_ids) - budget
            if room < MIN_PASSAGE_TOKENS:
                break
    if n == 0:
        raise _too_small(model, len(empty) + MIN_PASSAGE_TOKENS, max_new_tokens)
    return Prompt(text, ids, list(passages[:n]))
