"""What every backend shares: the sampling settings, one completion, the backend interface (no torch here).

The sampling rule is the same in every backend and every command: temperature, then a top-p nucleus, and
**no top-k cut** (transformers' ``top_k=0``; vLLM's default).  That is how vLLM and lighteval sample, and
TRL's ``GRPOConfig`` defaults to ``top_k=0`` as well, so evaluation, the data commands and RL rollouts sample
by one rule.  (transformers' own ``generate`` would cut to the 50 most likely tokens, which the data
commands did before this package.)  Temperature 0 is greedy decoding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from polyreason.errors import UserError

Conversation = list[dict[str, str]]

# Called while generating: (samples advanced, a fraction per decoding step; tokens generated since the last call).
Progress = Callable[[float, int], None]


@dataclass(frozen=True)
class SamplingParams:
    """How to sample one completion; the one set of defaults every backend and command starts from.

    The defaults are the Open-RS / lighteval evaluation settings (temperature 0.6, top-p 0.95) with a
    CPU-sized ``max_new_tokens``.  Commands override single fields (``polyreason data judge`` samples at
    temperature 0); none changes the sampling rule (no top-k, see the module docstring).
    """

    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 1024

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise UserError(f"--temperature must be >= 0, got {self.temperature}; fix: use 0 for greedy")
        if not 0 < self.top_p <= 1:
            raise UserError(f"--top-p must be in (0, 1], got {self.top_p}; fix: e.g. --top-p 0.95")
        if self.max_new_tokens < 1:
            raise UserError(f"--max-new-tokens must be >= 1, got {self.max_new_tokens}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for summaries and cache fingerprints)."""
        return asdict(self)


@dataclass(frozen=True)
class Generated:
    """One completion: its text, generated token count (EOS included; None when the server does not say)
    and whether it stopped at the length limit."""

    completion: str
    n_tokens: int | None
    truncated: bool


class Backend(Protocol):
    """What callers need from a backend (transformers, vLLM, an OpenAI-compatible endpoint).

    ``name`` says where completions came from (data rows record it); ``variant`` is what a result cache must
    key on besides the model (two decoding paths draw random numbers differently); ``tokenizer`` is None for
    an endpoint, whose server applies the chat template itself; ``batch_size`` is how many rows a caller
    should hand over per call.
    """

    name: str
    variant: str
    tokenizer: Any
    batch_size: int

    def generate(self, prompts: list[str], params: SamplingParams, seed: int,
                 progress: Progress | None = None) -> list[Generated]:
        """Complete each rendered prompt (chat template already applied) once, in one batch, seeded."""
        ...

    def chat(self, conversations: list[Conversation], params: SamplingParams, *, n: int = 1, seed: int = 0,
             progress: Progress | None = None) -> list[list[Generated]]:
        """``n`` completions for each conversation (same order), ``batch_size`` conversations per batch, seeded."""
        ...


def repeat_generate(backend: Backend, prompts: list[str], params: SamplingParams, n: int, seed: int,
                    progress: Progress | None) -> list[list[Generated]]:
    """``n`` completions per prompt through ``backend.generate``, ``backend.batch_size`` prompts per call.

    Rows are laid out prompt by prompt; chunk ``i`` (starting at prompt ``start``) is seeded ``seed + start``.
    Greedy decoding gives ``n`` identical completions, so each prompt is then generated once and repeated.
    """
    if n < 1:
        raise UserError(f"n must be >= 1, got {n}")
    copies = 1 if params.temperature == 0 else n
    scaled = progress
    if progress is not None and copies < n:
        def scaled(samples: float, tokens: int) -> None:
            progress(samples * n, tokens * n)
    out: list[list[Generated]] = []
    for start in range(0, len(prompts), backend.batch_size):
        chunk = prompts[start:start + backend.batch_size]
        flat = backend.generate([p for p in chunk for _ in range(copies)], params, seed + start, scaled)
        out.extend(flat[i * copies:(i + 1) * copies] * (n // copies) for i in range(len(chunk)))
    return out


def texts(outputs: list[list[Generated]]) -> list[list[str]]:
    """The completion texts of :meth:`Backend.chat`'s result (for callers that need only the text)."""
    return [[g.completion for g in row] for row in outputs]
