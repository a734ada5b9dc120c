"""The vLLM backend: offline continuous batching on GPUs (vLLM is an optional extra)."""

from __future__ import annotations

from typing import Any

from polyreason.errors import UserError
from polyreason.generation.base import Conversation, Generated, Progress, SamplingParams, repeat_generate

VLLM_INSTALL = "pip install 'polyreason[vllm]'"


class VLLMBackend:
    """``vllm.LLM`` on the model's files; prompts go in as token ids, each with its own derived seed.

    vLLM's ``SamplingParams`` has no top-k cut by default, which is the rule in :mod:`generation.base`.
    """

    variant = "vllm"

    def __init__(
        self,
        model_spec: str,
        *,
        batch_size: int = 512,
        dtype: str | None = None,
        trust_remote_code: bool = False,
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.85,
    ):
        vllm = import_vllm()
        from polyreason.models import load_tokenizer, resolve_model_path

        path = resolve_model_path(model_spec)
        self.name = model_spec
        self.tokenizer = load_tokenizer(model_spec, trust_remote_code=trust_remote_code)
        self.batch_size = batch_size
        kwargs: dict[str, Any] = {
            "model": path,
            "dtype": dtype or "auto",
            "trust_remote_code": trust_remote_code,
            "gpu_memory_utilization": gpu_memory_utilization,
        }
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self._vllm = vllm
        self.llm = vllm.LLM(**kwargs)

    def generate(self, prompts: list[str], params: SamplingParams, seed: int,
                 progress: Progress | None = None) -> list[Generated]:
        """Generate with vLLM's continuous batching; prompt ``i`` gets seed ``seed + i``."""
        sampling = [
            self._vllm.SamplingParams(
                temperature=params.temperature,
                top_p=params.top_p if params.temperature > 0 else 1.0,
                max_tokens=params.max_new_tokens,
                seed=seed + i,
            )
            for i in range(len(prompts))
        ]
        # token ids, not text: the chat template already holds BOS/special tokens, and vLLM would add BOS again
        token_prompts = [
            {"prompt_token_ids": self.tokenizer(p, add_special_tokens=False)["input_ids"]} for p in prompts
        ]
        outputs = self.llm.generate(token_prompts, sampling, use_tqdm=False)
        results = []
        for out in outputs:
            best = out.outputs[0]
            results.append(Generated(best.text, len(best.token_ids), truncated=best.finish_reason == "length"))
        if progress is not None:
            progress(float(len(results)), sum(g.n_tokens or 0 for g in results))
        return results

    def chat(self, conversations: list[Conversation], params: SamplingParams, *, n: int = 1, seed: int = 0,
             progress: Progress | None = None) -> list[list[Generated]]:
        """``n`` completions per conversation, rendered with the tokenizer's chat template."""
        from polyreason.prompts import format_prompt

        return repeat_generate(self, [format_prompt(self.tokenizer, c) for c in conversations], params, n, seed,
                               progress)


def import_vllm() -> Any:
    """Import vLLM or raise a UserError naming the install command."""
    try:
        import vllm
    except ImportError as exc:
        raise UserError(
            f"the vllm backend needs vLLM, which is not installed; fix: `{VLLM_INSTALL}` on a CUDA machine, "
            "or use --backend transformers"
        ) from exc
    return vllm
