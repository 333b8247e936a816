"""A torch optimizer class named in the app (a link's ``torch=torch.optim.Adam``): which modules may be
imported, the class a name resolves to, and its keyword arguments read from typed-in text.

The server's operator decides which modules the app may import classes from: the environment variable
``OPTLAB_TORCH_MODULES`` (comma-separated module names; empty: none), else the key ``torch_modules`` of
Streamlit's secrets (``.streamlit/secrets.toml``: a list of names, or one comma-separated string; the app
hands it over with :func:`set_secret`), else, by default, ``torch.optim`` and ``pytorch_optimizer`` when it
is installed. A name is resolved only if its module is *exactly* one
on that list, checked on the text before anything is imported, so no link can make the app import
another module. Keyword arguments are literals only (``ast.literal_eval`` of each value: numbers,
strings, tuples, lists, dicts, True/False/None), never evaluated code. Nothing here imports Streamlit,
and torch is imported only to resolve a name.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re

ENV = "OPTLAB_TORCH_MODULES"
SECRET = "torch_modules"  # the key in Streamlit's secrets (.streamlit/secrets.toml); the environment variable wins
DEFAULT_MODULES = ("torch.optim", "pytorch_optimizer")
MAX_ARGS_CHARS = 400  # the keyword arguments' text
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


class TorchChoiceError(ValueError):
    """A class name or keyword arguments the app does not accept, with a message to show as it is."""


_secret: tuple[str, ...] | None = None  # the secrets' torch_modules, as the app last passed it (None: not set)


def set_secret(value) -> str | None:
    """The operator's ``torch_modules`` from Streamlit's secrets, which the app reads and passes here on every
    run (this module does not import Streamlit): a list of module names or one comma-separated string; None:
    not set. A value of another type allows no module, and the message saying so is returned (else None)."""
    global _secret
    if value is None:
        _secret = None
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(m, str) for m in value):
        _secret = ()
        return (f"{SECRET} in the server's secrets is {str(value)[:80]!r}: it must be a list of module names, "
                "such as [\"torch.optim\", \"pytorch_optimizer\"]; no torch classes are allowed until it is")
    _secret = _names(value)
    return None


def _names(items) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.strip() for m in items if _NAME.match(m.strip())))


def allowed_modules() -> tuple[str, ...]:
    """The modules the app may import optimizer classes from: OPTLAB_TORCH_MODULES if set, else the secrets'
    torch_modules if set, else torch.optim and pytorch_optimizer when installed (looked up with find_spec,
    which does not import it)."""
    raw = os.environ.get(ENV)
    if raw is not None:
        return _names(raw.split(","))
    if _secret is not None:
        return _secret
    return tuple(m for m in DEFAULT_MODULES if m == "torch.optim" or _installed(m))


def setting() -> str:
    """Where :func:`allowed_modules` comes from, in words."""
    if os.environ.get(ENV) is not None:
        return f"this server's {ENV}"
    return f"this server's secrets' {SECRET}" if _secret is not None else "the default"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def torch_available() -> bool:
    return _installed("torch")


def split(path: str) -> tuple[str, str]:
    """("torch.optim", "Adam") for "torch.optim.Adam"; TorchChoiceError if it is not a dotted name of a class
    in an allowed module. Text only: nothing is imported."""
    path = str(path).strip()
    allowed = allowed_modules()
    if not allowed:
        raise TorchChoiceError("this server allows no torch optimizer classes (its operator's setting "
                               f"{ENV} or {SECRET} is empty)")
    module, _, name = path.rpartition(".")
    if not _NAME.match(path) or not module or name.startswith("_"):
        raise TorchChoiceError(f"{path[:80]!r} is not a class name such as torch.optim.Adam")
    if module not in allowed:
        raise TorchChoiceError(f"{module[:80]!r} is not a module this server allows classes from; allowed: "
                               f"{', '.join(allowed)}")
    return module, name


def resolve(path: str) -> type:
    """The torch.optim.Optimizer subclass "module.Class" names, its module one the server allows."""
    module_name, name = split(path)
    if not torch_available():
        raise TorchChoiceError("torch is not installed on this server: pip install torch")
    import torch

    try:
        module = importlib.import_module(module_name)  # on the allowed list (split checked it)
    except ImportError as e:
        raise TorchChoiceError(f"{module_name} cannot be imported on this server: {e}") from None
    cls = getattr(module, name, None)
    if cls is None:
        raise TorchChoiceError(f"{module_name} has no {name!r}; see the list of its optimizer classes")
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)) or cls is torch.optim.Optimizer:
        raise TorchChoiceError(f"{module_name}.{name} is not an optimizer (a torch.optim.Optimizer subclass)")
    return cls


def class_names() -> list[str]:
    """Every optimizer class of the allowed modules, as "module.Class", for a picker (imports those modules)."""
    if not torch_available():
        return []
    import torch

    out = []
    for module_name in allowed_modules():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in sorted(dir(module)):
            cls = getattr(module, name, None)
            if (not name.startswith("_") and isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)
                    and cls is not torch.optim.Optimizer):
                out.append(f"{module_name}.{name}")
    return list(dict.fromkeys(out))


def parse_kwargs(text: str) -> dict:
    """Keyword arguments typed as in a call, ``lr=0.01, betas=(0.9, 0.99)``, each value a literal."""
    text = (text or "").strip()
    if not text:
        return {}
    if len(text) > MAX_ARGS_CHARS:
        raise TorchChoiceError(f"the keyword arguments are {len(text)} characters long; allowed: at most "
                               f"{MAX_ARGS_CHARS}")
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise TorchChoiceError(f"{text[:60]!r} is not keyword arguments such as lr=0.01, betas=(0.9, 0.99)") from None
    if not isinstance(call, ast.Call) or call.args or any(k.arg is None for k in call.keywords):
        raise TorchChoiceError("only keyword arguments (name=value), such as lr=0.01, betas=(0.9, 0.99)")
    out = {}
    for k in call.keywords:
        if k.arg == "params":
            raise TorchChoiceError("params is θ itself, given by the app: leave it out")
        if k.arg in out:
            raise TorchChoiceError(f"{k.arg} is given twice")
        try:
            out[k.arg] = ast.literal_eval(k.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            raise TorchChoiceError(f"{k.arg}={ast.get_source_segment(f'f({text})', k.value) or '…'}: only literal "
                                   "values (numbers, strings, tuples, lists, True, False, None)") from None
    return out


def problem(path: str | None, args: str) -> str | None:
    """Why a link's ``torch`` and ``torch.args`` cannot be run, or None (resolves the class: imports only an
    allowed module)."""
    if not path:
        return None
    try:
        resolve(path)
        parse_kwargs(args)
    except TorchChoiceError as e:
        return str(e)
    return None
