"""A causal LM exported for ONNX Runtime GenAI: the fast CPU path, with no torch at all.

A folder made by ``onnxruntime_genai.models.builder`` (``genai_config.json``, ``model.onnx``
and the tokenizer files) loads in well under a second and decodes several times faster than
transformers on a CPU: the whole decoding loop runs in native code. The built-in model is
exported this way once (rag/generate/builtin.py); any such folder can be given with --model.
Same interface as ``LocalLM``: render, encode, truncate, stream.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .lm import GenerationStats, GeneratorError, _first_line, _stop_index, cut_at_token

CONFIG_FILE = "genai_config.json"


def is_onnx_folder(path: str | Path) -> bool:
    """Whether ``path`` holds an ONNX Runtime GenAI export."""
    return (Path(path).expanduser() / CONFIG_FILE).is_file()


def runtime_available() -> bool:
    """Whether onnxruntime-genai is installed (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime_genai") is not None


class OnnxLM:
    """An ONNX Runtime GenAI model and its tokenizer from ``model_dir``, decoding greedily.

    ``threads`` caps the intra-op threads (0: ONNX Runtime's default). Raises GeneratorError
    when the runtime is missing or the folder holds no loadable export.
    """

    runtime = "onnxruntime-genai"

    def __init__(self, model_dir: str | Path, threads: int = 0):
        path = Path(model_dir).expanduser()
        if not is_onnx_folder(path):
            raise GeneratorError(f"No ONNX Runtime GenAI model in {path}: {CONFIG_FILE} is missing")
        try:
            import onnxruntime_genai as og
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise GeneratorError("onnxruntime-genai is not installed: pip install onnxruntime-genai "
                                 "(make install does)") from exc
        self.model_dir = path
        try:
            config = og.Config(str(path))
            if threads > 0:
                config.overlay(json.dumps({"model": {"decoder": {"session_options": {
                    "intra_op_num_threads": threads, "inter_op_num_threads": 1}}}}))
            self.model = og.Model(config)
            self.og_tokenizer = og.Tokenizer(self.model)
            # The same tokenizer.json through `tokenizers`: it gives the offsets truncation needs.
            self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
            settings = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
        except Exception as exc:  # the runtime raises plain RuntimeErrors
            raise GeneratorError(f"Cannot load an ONNX Runtime GenAI model from {path}: {_first_line(exc)}") from exc
        self._og = og
        self.context_size = int(settings.get("model", {}).get("context_length") or 2048)
        self.has_chat_template = (path / "chat_template.jinja").is_file() or "chat_template" in _json(
            path / "tokenizer_config.json")
        self.last_stats: GenerationStats | None = None

    # -- prompts -------------------------------------------------------------------------------
    def render(self, system: str, user: str) -> str:
        """The prompt text: the model's chat template when it has one, else a plain layout."""
        if not self.has_chat_template:
            return f"{system}\n\n{user}\n\nAnswer:"
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        try:
            return self.og_tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
        except Exception:  # a template that refuses a system turn: the instructions lead the user turn
            merged = [{"role": "user", "content": f"{system}\n\n{user}"}]
            return self.og_tokenizer.apply_chat_template(json.dumps(merged), add_generation_prompt=True)

    def encode(self, prompt: str) -> list[int]:
        """Token ids of a rendered prompt; a chat template already holds its special tokens."""
        return list(self.tokenizer.encode(prompt, add_special_tokens=not self.has_chat_template).ids)

    def truncate(self, text: str, max_tokens: int) -> str:
        """``text`` cut after its first ``max_tokens`` tokens (at a token boundary), with "…"."""
        return cut_at_token(text, self.tokenizer.encode(text, add_special_tokens=False).offsets, max_tokens)

    # -- generation ----------------------------------------------------------------------------
    def stream(self, prompt_ids: list[int], max_new_tokens: int) -> Iterator[str]:
        """Yield the generated text piece by piece as tokens arrive (greedy decoding); leaving
        the loop early stops generation. Raises GeneratorError when generation fails."""
        og = self._og
        stats = self.last_stats = GenerationStats(prompt_tokens=len(prompt_ids))
        started = time.perf_counter()
        text = ""
        try:
            params = og.GeneratorParams(self.model)
            params.set_search_options(max_length=len(prompt_ids) + max_new_tokens, do_sample=False)
            generator = og.Generator(self.model, params)
            generator.append_tokens(prompt_ids)  # the prompt, processed in one pass
            decoder = self.og_tokenizer.create_stream()
            while not generator.is_done():
                generator.generate_next_token()
                stats.new_tokens += 1
                piece = decoder.decode(int(generator.get_next_tokens()[0]))
                if not piece:
                    continue
                if stats.first_text_s is None:
                    stats.first_text_s = time.perf_counter() - started
                if not self.has_chat_template and (cut := _stop_index(text + piece)) is not None:
                    if cut > len(text):
                        yield (text + piece)[len(text):cut]
                    break
                text += piece
                yield piece
        except GeneratorExit:
            raise
        except Exception as exc:
            raise GeneratorError(f"Generation failed: {_first_line(exc)}") from exc
        finally:
            stats.total_s = time.perf_counter() - started


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
