"""DAPO-style dynamic sampling on top of TRL's GRPOTrainer, plus a completions sample per logged step.

Dynamic sampling: a group whose G rewards are all equal has zero advantage everywhere, so it adds no gradient
but still costs a backward pass and dilutes token-mean losses.  DAPO drops such groups and samples new prompts
until the batch is full of groups with signal.  TRL 1.16 has no such option.

The seam used here is the one TRL itself exposes for a generation batch: ``_generate_and_score_completions``
(called once per ``steps_per_generation × num_iterations`` optimiser steps, on a batch of
``per_device_batch_size × steps_per_generation`` completions).  The subclass calls TRL's implementation
unchanged, reads which groups had zero reward variance from the rewards TRL computed (captured by wrapping
``_calculate_rewards``, which returns the rewards gathered over all processes), and, while the batch holds fewer
useful completions than it should, scores fresh prompts through the same TRL method -- as many groups as the
useful rate seen so far says are missing (at most one batch per round), so a nearly full batch is topped up
with a few groups instead of a whole batch.  The
useful completions are kept first, the batch is cut back to its normal size (topped up with zero-signal
completions only when ``dynamic_sampling_max_rounds`` is exhausted), and ``num_items_in_batch`` is recomputed.
No TRL code is copied; advantages are TRL's own, computed within each original group.

Refill prompts are drawn from the training set with a generator seeded by (seed, global step, round), so a
resumed run draws the same refills.  Each refill round costs one extra generation batch; the logged metrics
``dynamic_sampling/rounds``, ``dynamic_sampling/useful_frac_first`` (before refilling) and
``dynamic_sampling/useful_frac`` (after) show what it bought.

Which rewards count: by default a group has signal when its weighted reward sums differ.  With a composite
reward whose parts are continuous (a language probability, a naturalness score) nearly every group differs a
little even when all its answers are right or all wrong; ``dynamic_sampling_rewards: [accuracy]`` judges
groups by the named rewards only, as DAPO does (it filters prompts whose accuracy is all 0 or all 1).  The
advantages are unchanged: every reward still counts in them.

Zero-advantage micro-batches (with or without dynamic sampling): with beta = 0 a micro-batch whose advantages
are all zero adds exactly nothing to the update, so the generation batch's useful groups are put first and
such micro-batches skip their forward and backward (``skip_zero_advantage``; docs/benchmarks.md measures it).
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections import deque
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Per-sample tensors in TRL's scored batch: prompt-side ones are left-padded, completion-side right-padded.
_PROMPT_KEYS = ("prompt_ids", "prompt_mask")
_COMPLETION_KEYS = (
    "completion_ids",
    "completion_mask",
    "tool_mask",
    "old_per_token_logps",
    "sampling_per_token_logps",
    "ref_per_token_logps",
    "importance_sampling_ratio",
)
_SCALAR_KEYS = ("num_items_in_batch",)
_VECTOR_KEYS = ("advantages",)


def group_has_signal(rewards: Any, num_generations: int) -> Any:
    """Bool per completion: its group's (weighted) rewards are not all equal.

    ``rewards``: 1-D tensor of per-completion rewards, groups of ``num_generations`` consecutive entries (NaN =
    unscorable, ignored).  A group with fewer than two scorable rewards has no signal.
    """
    import torch
    from trl.trainer.utils import nanstd

    grouped = rewards.view(-1, num_generations)
    std = nanstd(grouped, dim=1)
    signal = ~torch.isclose(std, torch.zeros_like(std)) & ~torch.isnan(std)
    return signal.repeat_interleave(num_generations)


def merge_scored_batches(parts: list[dict[str, Any]], pad_token_id: int) -> dict[str, Any]:
    """Concatenate TRL scored batches along the sample axis, re-padding prompt (left) and completion (right)."""
    import torch
    import torch.nn.functional as F

    unknown = set(parts[0]) - set(_PROMPT_KEYS + _COMPLETION_KEYS + _SCALAR_KEYS + _VECTOR_KEYS)
    if unknown:
        raise NotImplementedError(
            f"dynamic sampling does not support batches with {sorted(unknown)} (multimodal/tool inputs)"
        )
    pad_values = {"prompt_ids": pad_token_id, "completion_ids": pad_token_id, "tool_mask": 1,
                  "importance_sampling_ratio": 1.0}
    merged: dict[str, Any] = {}
    for key in parts[0]:
        if key in _SCALAR_KEYS:
            continue
        tensors = [p[key] for p in parts]
        if key in _VECTOR_KEYS or tensors[0].dim() == 1:
            merged[key] = torch.cat(tensors)
            continue
        width = max(t.size(1) for t in tensors)
        fill = pad_values.get(key, 0)
        left = key in _PROMPT_KEYS
        padded = [
            F.pad(t, (width - t.size(1), 0) if left else (0, width - t.size(1)), value=fill) for t in tensors
        ]
        merged[key] = torch.cat(padded)
    return merged


def select_rows(batch: dict[str, Any], index: Any) -> dict[str, Any]:
    """Rows ``index`` of every per-sample tensor; trailing all-padding completion columns are trimmed."""
    out = {k: v[index] for k, v in batch.items()}
    if "completion_mask" in out and out["completion_mask"].numel():
        width = int(out["completion_mask"].sum(0).nonzero().max().item()) + 1 if out["completion_mask"].any() else 1
        for key in _COMPLETION_KEYS:
            if key in out and out[key].dim() == 2 and out[key].size(1) > 1:
                out[key] = out[key][:, :width]
    return out


def make_trainer_class() -> type:
    """Build the GRPOTrainer subclass (TRL is imported lazily, so this module imports without it)."""
    import torch
    from trl import GRPOTrainer

    class PolyGRPOTrainer(GRPOTrainer):
        """TRL's GRPOTrainer + optional dynamic sampling, zero-advantage micro-batches skipped, shared-prompt
        training forward, compact rollouts, and a completions sample written per logged step."""

        def __init__(
            self,
            *args: Any,
            dynamic_sampling: bool = False,
            dynamic_sampling_max_rounds: int = 4,
            dynamic_sampling_rewards: list[str] | None = None,
            completions_path: str | None = None,
            completions_per_step: int = 4,
            completions_meta: dict[str, Any] | None = None,
            shared_prompt: bool = True,
            skip_zero_advantage: bool = True,
            **kwargs: Any,
        ) -> None:
            self.shared_prompt = shared_prompt
            self.skip_zero_advantage = skip_zero_advantage
            super().__init__(*args, **kwargs)
            # completion lengths the rewards saw, in the order of TRL's self._logs (same bound)
            self._logged_lengths: deque[int] = deque(maxlen=self.args.generation_batch_size)
            self.dynamic_sampling = dynamic_sampling
            self.dynamic_sampling_max_rounds = dynamic_sampling_max_rounds
            self._signal_weights = self.reward_weights.clone()
            if dynamic_sampling_rewards:  # only these rewards' spread counts as signal
                unknown = set(dynamic_sampling_rewards) - set(self.reward_func_names)
                if unknown:
                    raise ValueError(f"dynamic_sampling_rewards {sorted(unknown)} are not among the rewards "
                                     f"{self.reward_func_names}")
                self._signal_weights *= torch.tensor([n in dynamic_sampling_rewards for n in self.reward_func_names])
            self.completions_path = completions_path
            self.completions_per_step = completions_per_step
            self.completions_meta = completions_meta or {}
            self._completions_step = -1  # the last step whose sample was written
            self._last_rewards: Any = None
            self._completions_step = -1  # the last step whose completions were written

        # ------------------------------------------------------------------ dynamic sampling
        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):  # noqa: D401
            from accelerate.utils import gather_object

            rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            self._last_rewards = rewards_per_func
            # TRL logs gather_object(completions) once per call of this method: log the lengths alike
            self._logged_lengths.extend(gather_object([len(ids) for ids in completion_ids_list]))
            return rewards_per_func

        def _signal_mask(self, n_local: int) -> Any:
            weights = self._signal_weights.to(self._last_rewards.device)
            counted = self._last_rewards[:, weights != 0]
            rewards = (self._last_rewards * weights.unsqueeze(0)).nansum(dim=1)
            rewards[torch.isnan(counted).all(dim=1)] = torch.nan
            signal = group_has_signal(rewards, self.num_generations)
            start = self.accelerator.process_index * n_local
            return signal[start : start + n_local]

        def _refill_inputs(self, n_local: int, round_index: int) -> list[dict[str, Any]]:
            """A fresh generation batch laid out like TRL's RepeatSampler (G copies per prompt, process slice)."""
            world = self.accelerator.num_processes
            n_prompts = n_local * world // self.num_generations
            rng = random.Random(f"{self.args.seed}-{self.state.global_step}-{round_index}")
            size = len(self.train_dataset)
            picks = rng.sample(range(size), n_prompts) if n_prompts <= size else rng.choices(range(size), k=n_prompts)
            rows = [self.train_dataset[i] for i in picks for _ in range(self.num_generations)]
            start = self.accelerator.process_index * n_local
            return rows[start : start + n_local]

        def _generate_and_score_completions(self, inputs):
            scored = super()._generate_and_score_completions(inputs)
            if not (self.dynamic_sampling and self.model.training):
                return scored
            n_local = len(inputs)
            parts, masks = [scored], [self._signal_mask(n_local)]
            first_frac = masks[0].float().mean().item()
            rounds = 0
            while rounds < self.dynamic_sampling_max_rounds and self._short(sum(int(m.sum()) for m in masks), n_local):
                rounds += 1
                size = self._refill_size(n_local, masks)
                extra = super()._generate_and_score_completions(self._refill_inputs(size, rounds))
                parts.append(extra)
                masks.append(self._signal_mask(size))
            merged = merge_scored_batches(parts, self._tokenizer.pad_token_id) if len(parts) > 1 else dict(scored)
            merged.pop("num_items_in_batch", None)
            mask = torch.cat(masks)
            order = torch.cat([mask.nonzero().flatten(), (~mask).nonzero().flatten()])[:n_local]
            batch = select_rows(merged, order) if len(parts) > 1 or not mask.all() else merged
            loss_mask = batch["completion_mask"] * batch.get("tool_mask", 1)
            batch["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum()
            metrics = self._metrics["train"]
            metrics["dynamic_sampling/rounds"].append(float(rounds))
            metrics["dynamic_sampling/useful_frac_first"].append(first_frac)
            metrics["dynamic_sampling/useful_frac"].append(mask[order].float().mean().item())
            return batch

        def _refill_size(self, n_local: int, masks: list[Any]) -> int:
            """Completions for the next refill round: enough groups to cover the missing useful completions at
            the useful rate seen so far in this step (at least 1/4), at most a full batch.  With several
            processes every process must generate as many as the others, so the round is a full batch."""
            if self.accelerator.num_processes > 1:
                return n_local
            kept = sum(int(m.sum()) for m in masks)
            rate = max(kept / max(1, sum(m.numel() for m in masks)), 0.25)
            groups = math.ceil((n_local - kept) / self.num_generations / rate)
            return min(n_local, max(1, groups) * self.num_generations)

        def _short(self, kept: int, n_local: int) -> bool:
            """True while any process holds fewer useful completions than a full batch (same answer everywhere)."""
            short = torch.tensor([1.0 if kept < n_local else 0.0], device=self.accelerator.device)
            return bool(self.accelerator.gather(short).max().item() > 0)

        # ------------------------------------------------------------------ shared-prompt training forward
        def _prepare_inputs(self, generation_batch):
            before = self._buffered_inputs
            inputs = super()._prepare_inputs(generation_batch)
            if self.model.training and self._buffered_inputs is not before and self._shared_prompt_ok():
                from polyreason.train.shared_prompt import regroup

                self._buffered_inputs = regroup(self._buffered_inputs, useful_first=self._skip_applies())
                inputs = self._buffered_inputs[self._step % self.args.steps_per_generation]
            return inputs

        def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep,
                                               batch_size=None, compute_entropy=False, compute_aux_loss=False,
                                               **multimodal):
            from polyreason.train.shared_prompt import prompt_groups, shared_prompt_logps

            groups = None
            if (not compute_aux_loss and not any(v is not None for v in multimodal.values())
                    and self._shared_prompt_model(model)):
                split = input_ids.size(1) - logits_to_keep
                groups = prompt_groups(input_ids[:, :split], attention_mask[:, :split])
            if groups is None:
                return super()._get_per_token_logps_and_entropies(
                    model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                    compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss, **multimodal)
            logps, entropies = shared_prompt_logps(model, input_ids, attention_mask, logits_to_keep, groups,
                                                   temperature=self.temperature, compute_entropy=compute_entropy)
            return logps, entropies, None

        # ------------------------------------------------------------------ zero-advantage micro-batches
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            skip = False
            if self.model.training and self._skip_applies():
                skip = not bool(inputs["advantages"].any())
                self._metrics["train"]["zero_advantage/skipped_frac"].append(float(skip))
            if skip:
                # With beta = 0 and no entropy bonus every loss type's per-token loss is a multiple of the
                # advantage: this micro-batch's loss and gradient are exactly zero, so its forward and backward are
                # skipped.  The returned zero touches every trained weight, so each gets a (zero) gradient as the
                # full backward would give it: the optimizer then still applies momentum and weight decay when
                # every micro-batch of a step is skipped (a weight whose gradient is None is not updated at all).
                trained = [p for p in model.parameters() if p.requires_grad]
                return sum(p.reshape(-1)[:1].sum() for p in trained) * 0.0
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

        def _skip_applies(self) -> bool:
            """Skipping is exact with no KL term, entropy bonus or auxiliary loss; one process only (with
            several, a rank that skipped its forward would leave the others waiting in DDP/FSDP/DeepSpeed)."""
            return (self.skip_zero_advantage and self.beta == 0.0 and not self.aux_loss_enabled
                    and not self._entropy_bonus_enabled
                    and not self.args.use_liger_kernel and self.accelerator.num_processes == 1)

        def _shared_prompt_ok(self) -> bool:
            """Regrouping micro-batches cannot change the update: one optimiser step per generation batch."""
            return (self.shared_prompt and self.num_iterations == 1
                    and self.args.steps_per_generation == self.args.gradient_accumulation_steps)

        def _shared_prompt_model(self, model: Any) -> bool:
            from polyreason.train.shared_prompt import supports_shared_prompt

            return (self.shared_prompt and self.accelerator.num_processes == 1 and not self.is_fsdp_enabled
                    and not self.is_deepspeed_enabled and not hasattr(model, "peft_config")
                    and supports_shared_prompt(model))

        # ------------------------------------------------------------------ rollouts
        def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations,
                                  has_tool_images=False):
            if not self._compact_rollouts_apply(images, multimodal_fields):
                return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                     has_tool_images)
            from trl.models import unwrap_model_for_generation

            from polyreason.generation.decode import prefix_shared_generate

            with (
                unwrap_model_for_generation(self.model_wrapped, self.accelerator,
                                            gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                                            gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs)
                as unwrapped,
                torch.no_grad(),
            ):
                completion_ids = prefix_shared_generate(
                    unwrapped, [list(ids) for ids in prompt_ids], pad_id=self._tokenizer.pad_token_id,
                    max_new_tokens=self.max_completion_length, eos_ids=list(self.eos_token_ids),
                    temperature=self.temperature, top_p=self.top_p,
                )
            if completion_ids is None:  # a cache that cannot be compacted (sliding window, hybrid layers)
                return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                     has_tool_images)
            return completion_ids, None

        def _compact_rollouts_apply(self, images: Any, multimodal_fields: Any) -> bool:
            """Text-only transformers rollouts whose sampling the compact decoder reproduces exactly
            (temperature + top-p; no top-k, min-p, repetition penalty or extra generation kwargs)."""
            args = self.args
            return (
                not self.use_vllm
                and not self.use_transformers_continuous_batching
                and not images
                and not multimodal_fields
                and not args.generation_kwargs
                and not (self.top_k or 0)
                and self.min_p is None
                and self.repetition_penalty == 1.0
                and not self.is_fsdp_enabled
            )

        # ------------------------------------------------------------------ completions sample
        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            # Trainer logs twice at the last step (the step's metrics, then the train_runtime summary)
            step = self.state.global_step
            if (self.completions_path and self.model.training and self.accelerator.is_main_process
                    and step != self._completions_step):
                self._completions_step = step
                self._write_completions()
            super().log(logs, start_time)

        def _write_completions(self) -> None:
            prompts = list(self._logs["prompt"])
            if not prompts:
                return
            self._completions_step = self.state.global_step
            completions = list(self._logs["completion"])
            advantages = list(self._logs["advantages"])
            rewards = {name: list(values) for name, values in self._logs["rewards"].items()}
            lengths = list(self._logged_lengths)
            step = self.state.global_step
            picks = sorted(random.Random(step).sample(range(len(prompts)), min(self.completions_per_step, len(prompts))))
            path = Path(self.completions_path)
            with path.open("a", encoding="utf-8") as fh:
                for i in picks:
                    record = {
                        **self.completions_meta,
                        "step": step,
                        "prompt": _text(prompts[i], last_user=True),
                        "completion": _text(completions[i]),
                        "rewards": {k: _num(v[i]) for k, v in rewards.items() if i < len(v)},
                        "n_tokens": lengths[i] if i < len(lengths) else None,
                        "advantage": _num(advantages[i]) if i < len(advantages) else None,
                    }
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                fh.flush()

    return PolyGRPOTrainer


def _text(value: Any, last_user: bool = False) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        messages = [m for m in value if isinstance(m, dict)]
        if last_user:
            users = [m for m in messages if m.get("role") == "user"]
            messages = users[-1:] or messages
        return "\n".join(str(m.get("content", "")) for m in messages)
    return str(value)


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if f != f else f
