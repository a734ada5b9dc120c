"""``custom``: a reward function of your own, named by import path in the recipe.

    rewards:
      custom:brevity:                       # "custom" alone, or "custom:NAME" to use several
        function: my_pkg.rewards:brevity    # module:attribute, or path/to/file.py:attribute
        weight: 0.2
        params: {max_words: 200}            # bound as keyword arguments on every call

The function has TRL's signature, ``fn(prompts, completions, **kwargs) -> list[float | None]`` (dataset
columns, ``completion_ids``, ``trainer_state``, ``log_metric`` and ``log_extra`` arrive in ``kwargs``), so it
must accept ``**kwargs``.  It is imported when the recipe is validated, so a typo fails (exit 2, with a "did
you mean") before any model loads.  Importing the code a recipe names runs that code, as with any Python
import; text a model wrote is only ever passed to it as data.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import numbers
import pkgutil
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from polyreason.errors import UserError

PREFIX = "custom"
_NAME = re.compile(r"^custom(?::[A-Za-z0-9_.-]+)?$")
# TRL's own keyword arguments: a bound parameter may not take one of these names
RESERVED = ("prompts", "completions", "completion_ids", "trainer_state", "log_metric", "log_extra")


def is_custom_name(name: str) -> bool:
    """True for ``custom`` and ``custom:NAME`` (NAME: letters, digits, ``_ . -``)."""
    return name == PREFIX or name.startswith(PREFIX + ":")


def check_custom_name(name: str) -> None:
    if not _NAME.match(name):
        raise UserError(f"bad custom reward name {name!r}; fix: use `custom` or `custom:NAME` with NAME made of "
                        "letters, digits, _ . -")


def misnamed_custom(name: str, valid: list[str]) -> UserError | None:
    """For ``costum:x``-like names: an error suggesting ``custom:x``; None for any other unknown name."""
    base, colon, rest = name.partition(":")
    if not colon or not difflib.get_close_matches(base, [PREFIX], n=1):
        return None
    return UserError(f"unknown reward {name!r} (did you mean '{PREFIX}:{rest}'?); valid rewards: "
                     f"{', '.join(valid)}, or custom:NAME")


def resolve_function(path: Any) -> Callable[..., Any]:
    """The callable at ``module:attribute`` (or ``file.py:attribute``); UserError with a did-you-mean else."""
    if not isinstance(path, str) or path.count(":") != 1 or not all(path.split(":")):
        raise UserError(f"custom: function={path!r}; fix: give `module:attribute`, e.g. my_pkg.rewards:brevity "
                        "(or path/to/file.py:brevity)")
    module_name, attr = path.split(":")
    module = _import_file(module_name) if module_name.endswith(".py") else _import_module(module_name)
    if not hasattr(module, attr):
        names = [n for n in dir(module) if not n.startswith("_")]
        match = difflib.get_close_matches(attr, names, n=1)
        hint = f"; did you mean {module_name}:{match[0]}?" if match else ""
        raise UserError(f"custom: {module_name} has no attribute {attr!r}{hint}")
    fn = getattr(module, attr)
    _check_signature(path, fn)
    return fn


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or name
        raise UserError(f"custom: cannot import {name!r} (no module {missing!r}){_module_hint(missing)}; fix: "
                        "install the package or put it on PYTHONPATH, or name a file: path/to/file.py:fn") from None
    except Exception as exc:  # the module itself is broken: say so instead of a traceback
        raise UserError(f"custom: importing {name!r} failed: {type(exc).__name__}: {exc}") from None


def _module_hint(missing: str) -> str:
    parent, _, leaf = missing.rpartition(".")
    try:
        where = importlib.import_module(parent).__path__ if parent else None
    except (ImportError, AttributeError):
        return ""
    names = [m.name for m in pkgutil.iter_modules(where)]
    match = difflib.get_close_matches(leaf, names, n=1)
    return f" (did you mean {'.'.join(filter(None, [parent, match[0]]))!r}?)" if match else ""


def _import_file(path: str) -> Any:
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        siblings = [p.name for p in file.parent.glob("*.py")] if file.parent.is_dir() else []
        match = difflib.get_close_matches(file.name, siblings, n=1)
        hint = f"; did you mean {str(file.parent / match[0])!r}?" if match else ""
        raise UserError(f"custom: file {path!r} does not exist{hint}")
    name = "polyreason_custom_" + hashlib.sha1(str(file).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as exc:
        del sys.modules[name]
        raise UserError(f"custom: importing {path!r} failed: {type(exc).__name__}: {exc}") from None
    return module


def _check_signature(path: str, fn: Any) -> None:
    if not callable(fn):
        raise UserError(f"custom: {path} is a {type(fn).__name__}, not a function")
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__):
        raise UserError(f"custom: {path} is async; fix: give a plain function (wrap it with asyncio.run)")
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return  # builtins without a signature: checked by their result
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        raise UserError(f"custom: {path} must accept **kwargs (TRL passes dataset columns and trainer_state); "
                        "fix: def fn(prompts, completions, **kwargs)")


def custom(*, function: str, **params: Any):
    """A user reward: r = function(prompts, completions, **trl_kwargs, **params).

    ``function``: ``module:attribute`` or ``path/to/file.py:attribute`` (imported now; a typo is a
    UserError).  Other parameters are bound as keyword arguments on every call (they win over a dataset
    column of the same name).  The result must be one float (or None) per completion; anything else raises
    a UserError naming the function.
    Example: function "my_pkg.rewards:brevity" with params {max_words: 3} on ["one two", "one two three four"]
    -> whatever brevity returns, e.g. [1.0, 0.0].
    """
    fn = resolve_function(function)
    clash = sorted(set(params) & set(RESERVED))
    if clash:
        raise UserError(f"custom: parameter(s) {', '.join(clash)} would replace TRL's own arguments; fix: rename")

    def reward(prompts, completions, **kwargs: Any) -> list[float | None]:
        values = fn(prompts, completions, **{**kwargs, **params})
        return _checked(function, values, len(completions))

    return reward


def _checked(path: str, values: Any, n: int) -> list[float | None]:
    if not isinstance(values, list | tuple) or len(values) != n:
        got = f"{len(values)} values" if isinstance(values, list | tuple) else type(values).__name__
        raise UserError(f"custom reward {path} returned {got} for {n} completions; fix: one float or None each")
    out: list[float | None] = []
    for v in values:
        if v is None:
            out.append(None)
        elif isinstance(v, numbers.Real):
            out.append(float(v))
        else:
            raise UserError(f"custom reward {path} returned a {type(v).__name__} ({v!r}); fix: floats or None")
    return out
