"""Keep third-party noise off the terminal (the CLI calls :func:`quiet_third_party` unless ``--verbose``).

Each item below was seen in a real ``polyreason train`` / ``eval`` run and is silenced where it comes from,
by the switch its library offers or by a filter on that one message; nothing else is hidden, and
``--verbose`` shows all of it.  polyreason draws its own progress (``polyreason.progress``).
"""

from __future__ import annotations

import os
import warnings

# Switches the libraries read when they are first imported (so they must be set before that).
ENVIRONMENT = {
    # transformers' "Loading weights" / "Writing model shards" bars (transformers.utils.logging.tqdm follows
    # huggingface_hub's switch), and hub download bars
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    # datasets' .map bars ("Tokenizing train dataset", "Truncating train dataset", …) inside TRL's trainers
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    # tqdm used directly: transformers' "Converting and de-quantizing GGUF tensors" (the embedded model's
    # first build) has no switch of its own
    "TQDM_DISABLE": "1",
}

# (category, start of the message, where it comes from)
WARNINGS = [
    (FutureWarning, r"`gradient_checkpointing` is deprecated",
     "transformers.training_args: TRL's configs still define the old field (trl.trainer.base_config)"),
    (FutureWarning, r"`gradient_checkpointing_kwargs` is deprecated", "transformers.training_args, as above"),
    (FutureWarning, r"`is_gradient_checkpointing` is deprecated",
     "transformers.modeling_utils: TRL's GRPOTrainer reads the old property"),
    (UserWarning, r"'pin_memory' argument is set as true but no accelerator is found",
     "torch.utils.data.DataLoader: Trainer pins memory by default, a no-op on CPU"),
]


def quiet_third_party() -> None:
    """Set the libraries' own progress-bar switches (unless the user set them) and filter the known warnings."""
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for category, message, _where in WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
