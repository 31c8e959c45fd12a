"""The settings of a training run: one table gives each its type, bounds and resume rule.

The same table checks the command-line flags (before any data is loaded), the ``--override``
values and the settings stored in a checkpoint, so a value that the parser refuses can never
come back in through a tampered file.

Resume rules: ``fixed`` settings define the run and can never change on resume (the model,
the optimizer, the batch size, the data limit, the seed); ``override`` ones may change on
resume, but only when asked for with ``--override NAME=VALUE``; ``epochs`` may also be raised
by ``--epochs``, which extends the run.

>>> parse("lr", "0.05")
0.05
>>> parse("seed", "-1")
Traceback (most recent call last):
  ...
ValueError: expected a non-negative integer, got -1
"""
import collections
import math

from ..models import BUILDERS, RECIPES

Setting = collections.namedtuple("Setting", "kind lo hi choices optional rule flag help")


def _int(lo, hi, rule, help, optional=False, flag=True):
    return Setting("int", lo, hi, None, optional, rule, flag, help)


def _float(lo, hi, rule, help, lo_open=False, flag=True):
    return Setting("float_open" if lo_open else "float", lo, hi, None, False, rule, flag, help)


def _choice(choices, rule, help):
    return Setting("choice", None, None, tuple(choices), False, rule, True, help)


SETTINGS = {
    "model": _choice(BUILDERS, "fixed", "model to train (default: logreg)"),
    "epochs": _int(1, 100_000, "extend", "maximum number of epochs (recipe default)"),
    "batch_size": _int(1, 1_000_000, "fixed", "minibatch size (recipe default)"),
    "lr": _float(0.0, 1e6, "override", "learning rate (recipe default)", lo_open=True),
    "optimizer": _choice(("sgd", "adam"), "fixed", "optimizer (recipe default)"),
    "weight_decay": _float(0.0, 1e6, "override", "L2 weight decay (recipe default)"),
    "momentum": _float(0.0, 0.999, "fixed", "SGD momentum (recipe)", flag=False),
    "shift": _int(0, 14, "override",
                  "random translations of up to this many pixels; 0 turns augmentation off"),
    "patience": _int(1, 10 ** 9, "override",
                     "early-stopping patience in iterations (seed 003's rule; default 5000)"),
    "valid_frequency": _int(1, 10 ** 9, "override",
                            "validate every N iterations (default: once per epoch)", optional=True),
    "seed": _int(0, 2 ** 63 - 1, "fixed", "random seed (default 1234)"),
    "limit": _int(1, 10 ** 9, "fixed", "use at most N images of each split (quick runs)",
                  optional=True),
}
OVERRIDABLE = tuple(k for k, s in SETTINGS.items() if s.rule in ("override", "extend"))
DEFAULT_MODEL, DEFAULT_SEED = "logreg", 1234


def defaults(model):
    """The settings of a new run of ``model`` before any flag: its recipe (see qiflow.models)."""
    recipe = RECIPES[model]
    out = {k: recipe.get(k) for k in SETTINGS}
    out.update(model=model, seed=DEFAULT_SEED, valid_frequency=None, limit=None)
    return out


def flag(name):
    """The command-line spelling of a setting: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def _describe(s):
    if s.kind == "int":
        what = {0: "a non-negative integer", 1: "a positive integer"}.get(s.lo, f"an integer >= {s.lo}")
    elif s.kind == "float_open":
        what = "a positive number" if s.lo == 0 else f"a number > {s.lo}"
    else:
        what = "a non-negative number" if s.lo == 0 else f"a number >= {s.lo}"
    return what


def parse(name, text):
    """The value of setting ``name`` written as ``text``; ValueError saying what was expected."""
    s = SETTINGS[name]
    if s.kind == "choice":
        if text not in s.choices:
            raise ValueError(f"expected one of {', '.join(s.choices)}, got {text!r}")
        return text
    if s.optional and text in ("none", "None"):
        return None
    try:
        value = int(text) if s.kind == "int" else float(text)
    except (TypeError, ValueError):
        raise ValueError(f"expected {_describe(s)}, got {text!r}") from None
    return check(name, value)


def check(name, value):
    """``value`` if it is a valid value of setting ``name`` (as read from a file), else ValueError."""
    s = SETTINGS[name]
    shown = repr(value)
    if value is None and s.optional:
        return None
    if s.kind == "choice":
        if value not in s.choices:
            raise ValueError(f"expected one of {', '.join(s.choices)}, got {shown}")
        return value
    if s.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected {_describe(s)}, got {shown}")
        if value < s.lo:
            raise ValueError(f"expected {_describe(s)}, got {shown}")
        if value > s.hi:
            raise ValueError(f"expected an integer of at most {s.hi}, got {shown}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected {_describe(s)}, got {shown}")
    value = float(value)
    low_ok = value > s.lo if s.kind == "float_open" else value >= s.lo
    if not math.isfinite(value) or not low_ok:
        raise ValueError(f"expected {_describe(s)}, got {shown}")
    if value > s.hi:
        raise ValueError(f"expected a number of at most {s.hi:g}, got {shown}")
    return value


def check_all(values, where):
    """A complete, valid settings dict from a file, or ValueError naming ``where`` and the entry."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: the run settings must be a dict, got {type(values).__name__}")
    unknown = sorted(set(values) - set(SETTINGS), key=str)
    if unknown:
        raise ValueError(f"{where}: unknown run setting {unknown[0]!r}; the settings are "
                         f"{', '.join(SETTINGS)}")
    missing = [k for k in SETTINGS if k not in values]
    if missing:
        raise ValueError(f"{where}: the run settings lack {', '.join(missing)}")
    out = {}
    for k in SETTINGS:
        try:
            out[k] = check(k, values[k])
        except ValueError as exc:
            raise ValueError(f"{where}: run setting {k}: {exc}") from None
    return out


def parse_override(text):
    """``NAME=VALUE`` -> (name, value) for a setting that may change on resume."""
    name, sep, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep:
        raise ValueError(f"expected NAME=VALUE (e.g. lr=0.05), got {text!r}")
    if name not in SETTINGS:
        raise ValueError(f"unknown setting {name!r}; the settings that may change on resume are "
                         f"{', '.join(OVERRIDABLE)}")
    if name not in OVERRIDABLE:
        raise ValueError(f"{name} cannot change on resume: it defines the run (the settings that "
                         f"may change are {', '.join(OVERRIDABLE)}); start a new run instead")
    return name, parse(name, value.strip())
