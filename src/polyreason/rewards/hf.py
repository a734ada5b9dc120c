"""What the model-based rewards share: a transformers model loaded once, lazily, on the right device.

``reward_model`` (sequence classification) and ``process`` (token classification) build a
:class:`LazyModel` when the reward is built -- which only checks the spec -- and load the weights on the first
call, so validating a recipe or building the reward suite never loads a model.  Torch and transformers are
imported inside the functions that need them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from polyreason.errors import UserError

log = logging.getLogger(__name__)

HEADS = ("sequence_classification", "token_classification", "auto")


def check_model_spec(reward: str, spec: Any) -> str:
    """``spec`` as a model spec (hub id, local directory, ``tiny-random``); a UserError naming ``reward`` else."""
    from polyreason.models import validate_model_spec

    if not isinstance(spec, str) or not spec.strip():
        raise UserError(f"{reward}: `model` must name a model (hub id or local directory), got {spec!r}; "
                        f"fix: e.g. params: {{model: Skywork/Skywork-Reward-V2-Qwen3-0.6B}}")
    try:
        validate_model_spec(spec)
    except UserError as exc:
        raise UserError(f"{reward}: {exc}") from None
    return spec


def resolve_device(device: str) -> str:
    """``"policy"`` = this process's accelerator device (where the trainer puts the policy: ``cuda:<local
    rank>``, else ``cpu``); anything else (``cpu``, ``cuda``, ``cuda:1``, ``mps``) is used as given."""
    if device != "policy":
        return device
    from accelerate import PartialState

    return str(PartialState().device)


class LazyModel:
    """A (model, tokenizer) pair loaded on first use, once, thread-safely, in eval mode."""

    def __init__(self, spec: str, *, head: str, device: str = "policy", dtype: str = "auto",
                 trust_remote_code: bool = False, num_labels: int | None = None):
        if head not in HEADS:
            raise UserError(f"unknown model head {head!r}; fix: one of {', '.join(HEADS)}")
        self.spec, self.head, self.device_name, self.dtype = spec, head, device, dtype
        self.trust_remote_code, self.num_labels = trust_remote_code, num_labels
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def get(self) -> tuple[Any, Any]:
        """(model, tokenizer), loading them the first time."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> tuple[Any, Any]:
        import transformers

        from polyreason.models import load_tokenizer, resolve_dtype, resolve_model_path

        cls = {"sequence_classification": transformers.AutoModelForSequenceClassification,
               "token_classification": transformers.AutoModelForTokenClassification,
               "auto": transformers.AutoModel}[self.head]
        path = resolve_model_path(self.spec)
        kwargs: dict[str, Any] = {"dtype": resolve_dtype(self.dtype), "trust_remote_code": self.trust_remote_code}
        if self.num_labels is not None:
            kwargs["num_labels"] = self.num_labels
        device = resolve_device(self.device_name)
        try:
            model, info = cls.from_pretrained(path, output_loading_info=True, **kwargs)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot load {self.spec!r} as a {self.head.replace('_', ' ')} model: "
                            f"{str(exc).splitlines()[0]}; fix: check the model id/directory and its head") from None
        missing = list(info.get("missing_keys") or [])
        if missing:  # e.g. a causal LM loaded as a classifier: its head would be random and score noise
            raise UserError(f"{self.spec!r} has no trained weights for {', '.join(sorted(missing)[:3])} as a "
                            f"{self.head.replace('_', ' ')} model, so its scores would be random; fix: use a reward "
                            "model checkpoint (for a repo with its own head: head: auto, trust_remote_code: true)")
        tokenizer = load_tokenizer(self.spec, trust_remote_code=self.trust_remote_code)
        tokenizer.padding_side = "right"
        # sequence classifiers find the last real token through pad_token_id (TRL sets it the same way)
        model.config.pad_token_id = tokenizer.pad_token_id
        model.to(device)
        model.eval()
        log.info("loaded %s (%s) on %s", self.spec, self.head, device)
        return model, tokenizer


def render(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """A finished conversation as the model's chat template writes it (no generation prompt)."""
    from polyreason.prompts import format_prompt

    return format_prompt(tokenizer, messages, add_generation_prompt=False)


def model_logits(model: Any, batch: dict[str, Any]) -> Any:
    """Logits of a forward pass without gradients (``.logits``, or the first output of remote-code heads)."""
    import torch

    batch = {k: v.to(model.device) for k, v in batch.items()}
    with torch.inference_mode():
        out = model(**batch)
    logits = getattr(out, "logits", None)
    return (logits if logits is not None else out[0]).float()
