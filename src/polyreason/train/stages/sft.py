"""``type: sft`` — supervised fine-tuning on chat rows with TRL's SFTTrainer.

Reads SFT rows (chat ``messages`` ending in the assistant's answer): the stage's ``data`` (a source, or
``{from: NAME}`` of a stage that writes SFT rows, e.g. ``synth``), else the recipe's ``data.sft``, else synthetic
traces in the recipe's language.  Writes a model.  Resume: from the last checkpoint
(:mod:`polyreason.train.stages.training`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from polyreason.config import (
    MAX_TOKENS,
    PACKING_ATTENTION,
    TRL_OWNED_SFT,
    DataSource,
    StageRef,
    _StageCommon,
    packing_safe_attention,
)
from polyreason.train.stages.base import DataInput, StageContext, StageOutcome, StageType, read_rows

if TYPE_CHECKING:
    from polyreason.config import Recipe


class SFTStage(_StageCommon):
    """Supervised fine-tuning on chat rows with TRL's SFTTrainer (loss on every assistant turn)."""

    trl_config: ClassVar[str] = "trl.trainer.sft_config:SFTConfig"
    trl_owned: ClassVar[dict[str, str]] = TRL_OWNED_SFT

    type: Literal["sft"] = "sft"
    learning_rate: float = Field(5e-5, gt=0, le=1, description="Peak learning rate.")
    max_length: int = Field(1024, gt=0, le=MAX_TOKENS, description="Truncate/pack sequences to this many tokens.")
    packing: bool = Field(
        False,
        description="Pack rows into max_length sequences, padding-free (BFD); samples never attend to each other.",
    )
    completion_only_loss: bool = Field(
        True, description="Loss on assistant turns only (every one of them); system/user tokens masked."
    )
    data: DataSource | StageRef | None = Field(
        None, description="SFT rows for this stage: a source, or {from: NAME} of a stage that writes SFT rows "
        "(synth); default: data.sft.")


def default_source(recipe: Recipe) -> str:
    """The SFT source when the stage names none: data.sft, else synthetic traces in the recipe's language."""
    return recipe.data.sft or f"synthetic:256:{recipe.language}"


def build_trainer(ctx: StageContext, model: Any, tokenizer: Any) -> Any:
    """TRL's SFTTrainer for this stage, on its data, with the recipe's settings mapped (train/args.py)."""
    from trl import SFTTrainer

    from polyreason.train import args as targs
    from polyreason.train.datasets import sft_records, to_dataset
    from polyreason.train.stages.training import check_world, peft_config

    recipe, stage = ctx.recipe, ctx.settings
    dataset = to_dataset(sft_records(list(read_rows(ctx)), tokenizer, system_prompt=recipe.data.system_prompt,
                                     language=recipe.language))
    config = targs.build_sft_config(recipe, stage, str(ctx.directory))
    if stage.packing:  # packed samples are kept apart by position ids; the attention must honour them
        model.set_attn_implementation(targs.packing_attention(recipe, model.dtype))
    tokenizer.padding_side = "right"  # training pads on the right; generation (GRPO, eval) on the left
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=peft_config(stage))
    check_world(trainer)
    return trainer


def _check(recipe: Recipe, index: int) -> None:
    stage = recipe.stages[index]
    if stage.packing and not packing_safe_attention(recipe.model.attn_implementation):
        raise ValueError(
            f"stages.{index}.packing: model.attn_implementation {recipe.model.attn_implementation!r} ignores the "
            "position ids that keep packed samples apart; fix: remove it (polyreason picks flash attention "
            f"or sdpa) or use one of {', '.join(PACKING_ATTENTION)}"
        )


def run(ctx: StageContext) -> StageOutcome:
    from polyreason.train.stages.training import run_training

    return run_training(ctx, build_trainer)


def _finished(directory: Any, model_target: Any) -> StageOutcome | None:
    from polyreason.train.stages.training import training_finished

    return training_finished(directory, model_target)


STAGE = StageType(
    settings=SFTStage, run=run, about="supervised fine-tuning on chat rows (TRL SFTTrainer)",
    data=DataInput(kind="sft", accepts=("sft",), default=default_source),
    produces_model=True, trains=True, check=_check, finished=_finished,
)
