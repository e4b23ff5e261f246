"""Which generator to load: the configured folder or the built-in model, on which runtime."""

from __future__ import annotations

from pathlib import Path

from ..config import RagConfig
from . import builtin
from .lm import GeneratorError, LocalLM
from .onnx_lm import OnnxLM, is_onnx_folder, runtime_available

_NO_RUNTIME = "generator_runtime='onnx' needs onnxruntime-genai: pip install onnxruntime-genai (make install does)"


def model_name(config: RagConfig) -> str:
    """The generator's name as a reader is told it: its folder's, or the built-in model's."""
    return Path(config.generator_model).expanduser().name if config.generator_model else builtin.NAME


def load_lm(config: RagConfig, progress: bool = False) -> LocalLM | OnnxLM:
    """The generator ``config`` asks for. A folder is loaded as it is (an ONNX Runtime GenAI
    export, else a transformers folder); the built-in model runs on ONNX Runtime when
    ``generator_runtime`` allows it, exported once on first use.

    Raises GeneratorError when the model or the runtime asked for is not there.
    """
    runtime = config.generator_runtime
    on_gpu = config.generator_device.startswith("cuda")  # the ONNX export here is for the CPU
    if config.generator_model:
        folder = Path(config.generator_model).expanduser()
        if is_onnx_folder(folder) and runtime != "torch":
            return OnnxLM(folder, config.generator_threads)
        if runtime == "onnx":
            raise GeneratorError(f"{folder} is not an ONNX Runtime GenAI export (genai_config.json is missing); "
                                 "use generator_runtime 'torch' for a transformers folder")
        return LocalLM(folder, config.generator_device)
    if runtime == "onnx" and not runtime_available():
        raise GeneratorError(_NO_RUNTIME)
    if runtime == "onnx" or (runtime == "auto" and not on_gpu and runtime_available()):
        return OnnxLM(builtin.onnx_dir(progress), config.generator_threads)
    return LocalLM(builtin.model_dir(progress), config.generator_device)
