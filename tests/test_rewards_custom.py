"""Custom reward functions named by import path: resolved when the recipe is validated (typos exit 2 with a
did-you-mean before any model loads), called with TRL's signature and bound params, results checked."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from polyreason.config import recipe_from_dict
from polyreason.errors import UserError
from polyreason.rewards import build_reward

MODULE = textwrap.dedent('''
    CALLS = []

    def brevity(prompts, completions, max_words=100, **kwargs):
        CALLS.append(sorted(kwargs))
        return [1.0 if len(str(c).split()) <= max_words else 0.0 for c in completions]

    def wrong_length(prompts, completions, **kwargs):
        return [1.0]

    def wrong_type(prompts, completions, **kwargs):
        return ["high" for _ in completions]

    def no_kwargs(prompts, completions):
        return [0.0 for _ in completions]

    async def later(prompts, completions, **kwargs):
        return [0.0 for _ in completions]

    NOT_A_FUNCTION = 3
''')
BROKEN = "def fn(prompts, completions, **kwargs)\n    return []\n"


@pytest.fixture
def user_pkg(tmp_path, monkeypatch):
    pkg = tmp_path / "my_rewards_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "scoring.py").write_text(MODULE, encoding="utf-8")
    (pkg / "broken.py").write_text(BROKEN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield pkg
    for name in [m for m in sys.modules if m.startswith("my_rewards_pkg")]:
        del sys.modules[name]


def test_module_function_with_bound_params(user_pkg):
    fn = build_reward("custom:brief", function="my_rewards_pkg.scoring:brevity", max_words=2)
    assert fn.__name__ == "custom:brief"  # TRL logs rewards/custom:brief/mean
    assert fn(None, ["one two", "one two three"], answer=["1", "2"], trainer_state=None) == [1.0, 0.0]
    from my_rewards_pkg.scoring import CALLS

    assert CALLS[-1] == ["answer", "trainer_state"]  # TRL's kwargs pass through, params bound by name


def test_file_path_function(tmp_path):
    path = tmp_path / "local_rewards.py"
    path.write_text(MODULE, encoding="utf-8")
    fn = build_reward("custom", function=f"{path}:brevity")
    assert fn(None, ["a b c"]) == [1.0]
    with pytest.raises(UserError, match=r"did you mean .*local_rewards\.py"):
        build_reward("custom", function=f"{tmp_path / 'local_reward.py'}:brevity")


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("my_rewards_pkg.scoring:brevty", r"did you mean my_rewards_pkg\.scoring:brevity"),
        ("my_rewards_pkg.scorin:brevity", r"did you mean 'my_rewards_pkg\.scoring'"),
        ("no_such_package_xyz.mod:fn", "cannot import"),
        ("my_rewards_pkg.scoring", "module:attribute"),
        ("my_rewards_pkg.scoring:NOT_A_FUNCTION", "not a function"),
        ("my_rewards_pkg.scoring:no_kwargs", r"\*\*kwargs"),
        ("my_rewards_pkg.scoring:later", "async"),
        ("my_rewards_pkg.broken:fn", "importing 'my_rewards_pkg.broken' failed: SyntaxError"),
    ],
)
def test_bad_function_paths_are_user_errors(user_pkg, function, message):
    with pytest.raises(UserError, match=message):
        build_reward("custom", function=function)


def test_results_are_checked(user_pkg):
    with pytest.raises(UserError, match="returned 1 values for 2 completions"):
        build_reward("custom", function="my_rewards_pkg.scoring:wrong_length")(None, ["a", "b"])
    with pytest.raises(UserError, match="returned a str"):
        build_reward("custom", function="my_rewards_pkg.scoring:wrong_type")(None, ["a"])
    with pytest.raises(UserError, match="replace TRL's own"):
        build_reward("custom", function="my_rewards_pkg.scoring:brevity", completions=1)
    with pytest.raises(UserError, match="bad custom reward name"):
        build_reward("custom:has space", function="my_rewards_pkg.scoring:brevity")


def recipe(rewards):
    return {"model": "tiny-random", "stages": [{"type": "grpo", "num_generations": 2, "per_device_batch_size": 2}],
            "rewards": rewards}


def test_recipe_names_several_custom_rewards(user_pkg):
    r = recipe({"accuracy": 1.0,
                "custom:short": {"function": "my_rewards_pkg.scoring:brevity", "weight": 0.2,
                                 "params": {"max_words": 50}},
                "custom:shorter": {"weight": 0.1, "params": {"function": "my_rewards_pkg.scoring:brevity",
                                                              "max_words": 5}}})
    parsed = recipe_from_dict(r)
    assert parsed.rewards["custom:short"].params == {"function": "my_rewards_pkg.scoring:brevity", "max_words": 50}
    assert parsed.rewards["custom:shorter"].weight == 0.1


@pytest.mark.parametrize(
    ("rewards", "message"),
    [
        ({"custom": {"function": "my_rewards_pkg.scoring:brevty"}}, r"rewards\.custom: .*did you mean"),
        ({"costum:x": {"function": "my_rewards_pkg.scoring:brevity"}}, r"did you mean 'custom:x'"),
        ({"judge": {"params": {"endpiont": "http://x/v1"}}}, r"rewards\.judge: .*no parameter.*endpiont"),
        ({"reward_model": 1.0}, r"rewards\.reward_model: .*needs the parameter.*model"),
        ({"cosine": {"params": {"max_length": 5}}}, "no parameter"),
    ],
)
def test_recipe_validation_rejects_bad_rewards(user_pkg, rewards, message):
    with pytest.raises(UserError, match=message):
        recipe_from_dict(recipe(rewards))


def test_cli_exits_2_on_a_typo(tmp_path):
    (tmp_path / "r.yaml").write_text(json.dumps(recipe({"custom": {"function": "json:dumsp"}})), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "polyreason.cli", "recipe", "show", str(tmp_path / "r.yaml")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "did you mean json:dump" in out.stderr + out.stdout
