"""A local causal language model: loaded from a folder only, prompted, and streamed.

Nothing is downloaded: the folder must hold what ``save_pretrained`` writes for a causal LM
and its tokenizer. torch and transformers are imported here, on first use, so that
``import rag`` stays cheap.

    >>> lm = LocalLM("/models/qwen2.5-0.5b-instruct")
    >>> ids = lm.encode(lm.render("Answer briefly.", "Who leads Hamas in Gaza?"))
    >>> "".join(lm.stream(ids, max_new_tokens=40))
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.errors import RagError

# tokenizer.model_max_length is a huge sentinel when a tokenizer does not know its model's
# context; anything above this is not a real context length.
_NO_LIMIT = 1_000_000
# Used only when neither the model config nor the tokenizer states a context length.
_FALLBACK_CONTEXT = 2048
# Without a chat template the model continues a plain text; these lines start a new turn.
_PLAIN_STOPS = ("\nQuestion:", "\nPassages:")


class GeneratorError(RagError, ValueError):
    """The generator model folder is missing or unusable, or its context is too small."""


@dataclass
class GenerationStats:
    """Figures of one generation, for ``rag bench``."""

    prompt_tokens: int
    new_tokens: int = 0
    first_text_s: float | None = None  # from the start of generation to its first streamed text
    total_s: float = 0.0

    @property
    def tokens_per_s(self) -> float | None:
        """Generated tokens per second of generation (prompt processing included)."""
        return self.new_tokens / self.total_s if self.total_s > 0 else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def resolve_device(device: str) -> str:
    """"auto" is the GPU when torch sees one, else the CPU; other names pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class LocalLM:
    """A causal LM and its tokenizer from ``model_dir``, decoding greedily.

    Raises GeneratorError when the folder is missing or holds no loadable model.
    """

    runtime = "transformers"

    def __init__(self, model_dir: str | Path, device: str = "auto"):
        path = Path(model_dir).expanduser()
        if not path.is_dir():
            raise GeneratorError(f"Generator model folder not found: {path} (give a local folder; nothing is "
                                 "downloaded)")
        if not (path / "config.json").is_file():
            raise GeneratorError(f"No model in {path}: config.json is missing (save one there with "
                                 "model.save_pretrained and tokenizer.save_pretrained)")
        self.model_dir = path
        self.device = resolve_device(device)
        self.tokenizer, self.model = self._load()
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.context_size = self._context_size()
        self.last_stats: GenerationStats | None = None

    def _load(self) -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a loading bar on every `rag ask` is noise
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            # float32 on the CPU, where half-precision kernels are slow or missing.
            dtype = "auto" if self.device.startswith("cuda") else torch.float32
            model = AutoModelForCausalLM.from_pretrained(self.model_dir, local_files_only=True, dtype=dtype)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GeneratorError(f"Cannot load a causal language model from {self.model_dir}: "
                                 f"{_first_line(exc)}") from exc
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        model.to(self.device).eval()
        if tokenizer.pad_token_id is None and tokenizer.eos_token_id is None:
            raise GeneratorError(f"The tokenizer in {self.model_dir} has neither an end-of-text nor a padding token")
        return tokenizer, model

    def _context_size(self) -> int:
        """The tokens the model attends over: the smaller of what its config and its tokenizer state."""
        stated = [getattr(self.model.config, "max_position_embeddings", None),
                  getattr(self.tokenizer, "model_max_length", None)]
        known = [int(n) for n in stated if isinstance(n, int | float) and 0 < n < _NO_LIMIT]
        return min(known) if known else _FALLBACK_CONTEXT

    # -- prompts -------------------------------------------------------------------------------
    def render(self, system: str, user: str) -> str:
        """The prompt text: the chat template when the tokenizer has one, else a plain layout."""
        if not self.has_chat_template:
            return f"{system}\n\n{user}\n\nAnswer:"
        from jinja2.exceptions import TemplateError

        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        try:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except TemplateError:
            # Some templates (Gemma's) refuse a system turn: the instructions lead the user turn.
            merged = [{"role": "user", "content": f"{system}\n\n{user}"}]
            return self.tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)

    def encode(self, prompt: str) -> list[int]:
        """Token ids of a rendered prompt; a chat template already holds its special tokens."""
        return list(self.tokenizer(prompt, add_special_tokens=not self.has_chat_template)["input_ids"])

    def truncate(self, text: str, max_tokens: int) -> str:
        """``text`` cut after its first ``max_tokens`` tokens (at a token boundary), with "…"."""
        offsets = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        return cut_at_token(text, offsets, max_tokens)

    # -- generation ----------------------------------------------------------------------------
    def stream(self, prompt_ids: list[int], max_new_tokens: int) -> Iterator[str]:
        """Yield the generated text piece by piece as tokens arrive (greedy decoding).

        Generation runs in a thread feeding a TextIteratorStreamer; leaving the loop early
        stops it at the next token. Raises GeneratorError when generation fails.
        """
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), halt.is_set(), dtype=torch.bool, device=input_ids.device)

        halt = threading.Event()
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        stats = self.last_stats = GenerationStats(prompt_tokens=len(prompt_ids))
        failure: list[BaseException] = []
        inputs = torch.tensor([prompt_ids], device=self.device)

        def run() -> None:
            try:
                with torch.inference_mode():
                    out = self.model.generate(
                        input_ids=inputs, attention_mask=torch.ones_like(inputs), streamer=streamer,
                        generation_config=self._generation_config(max_new_tokens),
                        stopping_criteria=StoppingCriteriaList([_Stop()]))
                stats.new_tokens = int(out.shape[1]) - len(prompt_ids)
            except BaseException as exc:  # handed to the reading thread below
                failure.append(exc)
                streamer.end()  # unblocks the reader
            finally:
                stats.total_s = time.perf_counter() - started

        started = time.perf_counter()
        thread = threading.Thread(target=run, name="rag-generate", daemon=True)
        thread.start()
        text = ""
        try:
            for piece in streamer:
                if not piece:
                    continue
                if stats.first_text_s is None:
                    stats.first_text_s = time.perf_counter() - started
                if not self.has_chat_template:
                    cut = _stop_index(text + piece)
                    if cut is not None:
                        if cut > len(text):
                            yield (text + piece)[len(text):cut]
                        break
                text += piece
                yield piece
        finally:
            halt.set()
            thread.join()
        if failure:
            raise GeneratorError(f"Generation failed: {_first_line(failure[0])}") from failure[0]

    def _generation_config(self, max_new_tokens: int) -> Any:
        """The model's own generation settings, made greedy so that runs reproduce."""
        import copy

        config = copy.deepcopy(self.model.generation_config)
        config.do_sample = False
        config.num_beams = 1
        config.temperature = config.top_p = config.top_k = None  # sampling knobs: unused when greedy
        config.max_new_tokens = max_new_tokens
        config.max_length = None
        if config.pad_token_id is None:
            config.pad_token_id = self.tokenizer.pad_token_id
            if config.pad_token_id is None:
                config.pad_token_id = self.tokenizer.eos_token_id
        if config.eos_token_id is None:
            config.eos_token_id = self.tokenizer.eos_token_id
        return config


def cut_at_token(text: str, offsets: Sequence[tuple[int, int]], max_tokens: int) -> str:
    """``text`` cut after its first ``max_tokens`` tokens, given each token's character
    ``offsets``, with "…" when anything was cut."""
    if len(offsets) <= max_tokens:
        return text
    if max_tokens <= 0:
        return ""
    return text[: offsets[max_tokens - 1][1]].rstrip() + "…"


def _stop_index(text: str) -> int | None:
    """Where the first plain-prompt stop line starts in ``text``, if one does."""
    found = [i for stop in _PLAIN_STOPS if (i := text.find(stop)) >= 0]
    return min(found) if found else None
