"""What a checkpoint written by ``qiflow train`` must hold, checked before anything is built.

``qf.load`` already refuses damaged and foreign files; this checks the *meaning* of what it
read: the kind, the model and its sizes (bounded, so a tampered ``{"hidden": 5000000}`` is
refused before 14.6 GiB are asked for), the run settings (through the same table as the
flags), the weights (names and array types), counters, the history and the saved states.
Every failure is a :class:`CliError` naming the file and the entry.

>>> check_model({"kind": "qiflow-model", "model": "mlp", "config": {"bogus": 1}, "state": {}}, "x.npz")
Traceback (most recent call last):
  ...
qiflow.cli.errors.CliError: x.npz: mlp: unknown config entry 'bogus'; the model takes n_in, hidden, n_out
"""
import json
import math

import numpy as np

from .errors import CliError
from . import settings as S

KINDS = ("qiflow-model", "qiflow-trainer")
MNIST_SIZES = {"n_in": 784, "n_out": 10}
MAX_HISTORY = 64 * 2 ** 20          # characters of JSON: about a million validation records


def _fail(path, msg):
    raise CliError(f"{path}: {msg}")


def _is_int(v, lo=0):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= lo


def _state_dict(state, path, entry):
    from ..tensor import Tensor
    if not isinstance(state, dict) or not state:
        _fail(path, f"{entry} must be a non-empty dict of weights, got {type(state).__name__}")
    for k, v in state.items():
        if not isinstance(k, str):
            _fail(path, f"{entry} has a non-string key {k!r}")
        a = v._data if isinstance(v, Tensor) else v
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            _fail(path, f"{entry}[{k!r}] must be a float array, got {type(v).__name__}"
                        f"{'' if not isinstance(a, np.ndarray) else ' of ' + str(a.dtype)}")


def _config(ckpt, path):
    from .. import models
    name = ckpt.get("model")
    if name not in models.BUILDERS:
        _fail(path, f"holds an unknown model {name!r}; qiflow train writes {', '.join(models.BUILDERS)}")
    try:
        config = models.check_config(name, ckpt.get("config") or {})
    except ValueError as exc:
        _fail(path, str(exc))
    for k, want in MNIST_SIZES.items():
        if k in config and config[k] != want:
            _fail(path, f"the {name} model has {k}={config[k]}, but MNIST needs {k}={want}")
    return config


def check_model(ckpt, path):
    """The checked (model name, config, weights) of a best or resumable checkpoint."""
    if not isinstance(ckpt, dict) or ckpt.get("kind") not in KINDS:
        raise CliError(f"{path} is a qiflow file but not a model checkpoint written by `qiflow train`")
    config = _config(ckpt, path)
    if ckpt["kind"] == "qiflow-model":
        entry = "state"
    else:
        entry = "best_state" if ckpt.get("best_state") is not None else "model_state"
    _state_dict(ckpt.get(entry), path, entry)
    for key in ("metrics", "test"):
        value = ckpt.get(key)
        if value is not None and not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
            _fail(path, f"{key} must be a dict of named values")
    return ckpt["model"], config, ckpt[entry]


def check_trainer(ckpt, path):
    """Everything ``--resume`` builds from, checked; returns the checkpoint's run settings."""
    if not isinstance(ckpt, dict) or ckpt.get("kind") != "qiflow-trainer":
        raise CliError(f"{path} is not a resumable checkpoint (resume from the run's last.npz; "
                       "best.npz holds only the best weights)")
    if "run" not in ckpt:
        raise CliError(f"{path} was written by an older qiflow that did not save the run's settings; "
                       "it cannot be resumed exactly (evaluate and predict still read it)")
    check_model(ckpt, path)
    _state_dict(ckpt.get("model_state"), path, "model_state")
    try:
        run = S.check_all(ckpt["run"], path)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if run["model"] != ckpt["model"]:
        _fail(path, f"its run settings say model={run['model']!r} but it holds a {ckpt['model']!r} model")
    epoch, iteration = ckpt.get("epoch"), ckpt.get("iteration")
    if not _is_int(epoch, 1) or epoch > S.SETTINGS["epochs"].hi:
        _fail(path, f"epoch must be a positive integer, got {epoch!r}")
    if not _is_int(iteration, 1):
        _fail(path, f"iteration must be a positive integer, got {iteration!r}")
    _history(ckpt.get("history"), path)
    _optimizer(ckpt.get("optimizer_state"), path)
    _scheduler(ckpt.get("scheduler"), run, epoch, path)
    _early_stopping(ckpt.get("early_stopping"), path)
    rng = ckpt.get("rng")
    if not isinstance(rng, dict) or not isinstance(rng.get("global"), dict):
        _fail(path, "rng must hold the random generators' states")
    data = ckpt.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("fingerprint"), str):
        _fail(path, "data must describe the data the run trains on (its fingerprint)")
    if not isinstance(ckpt.get("run_id"), str) or not 0 < len(ckpt["run_id"]) <= 64:
        _fail(path, "run_id must be a short string")
    return run


def _history(text, path):
    if not isinstance(text, str) or len(text) > MAX_HISTORY:
        _fail(path, f"history must be a JSON text of at most {MAX_HISTORY} characters")
    try:
        h = json.loads(text)
    except (ValueError, RecursionError) as exc:
        _fail(path, f"history is not valid JSON ({exc})")
    if not isinstance(h, dict) or not isinstance(h.get("records"), list) \
            or not all(isinstance(r, dict) for r in h["records"]):
        _fail(path, "history must be a dict whose records are a list of dicts")
    unknown = set(h) - {"records", "best", "test", "epochs", "stopped_early", "seconds", "changes"}
    if unknown:
        _fail(path, f"history has unknown entries {sorted(unknown)}")
    if not isinstance(h.get("seconds", 0.0), (int, float)) or not isinstance(h.get("changes", []), list):
        _fail(path, "history's seconds must be a number and its changes a list")


def _optimizer(state, path):
    if not isinstance(state, dict) or not isinstance(state.get("param_groups"), list) \
            or not isinstance(state.get("state"), dict):
        _fail(path, "optimizer_state must hold 'state' and 'param_groups'")
    for i, g in enumerate(state["param_groups"]):
        if not isinstance(g, dict):
            _fail(path, f"optimizer_state param group {i} must be a dict")
        for k, v in g.items():
            if k == "params":
                continue
            values = v if isinstance(v, (list, tuple)) else [v]
            if any(isinstance(x, float) and not math.isfinite(x) for x in values):
                _fail(path, f"optimizer_state param group {i} has {k}={v!r}; it must be finite")


def _scheduler(state, run, epoch, path):
    if not isinstance(state, dict):
        _fail(path, "scheduler must hold the cosine schedule's state")
    want = {"T_max": run["epochs"], "last_epoch": epoch}
    for k, v in want.items():
        if state.get(k) != v:
            _fail(path, f"scheduler {k} is {state.get(k)!r}, but the run's settings give {v}")
    unknown = set(state) - {"T_max", "eta_min", "base_lrs", "last_epoch", "_step_count", "_last_lr"}
    if unknown:
        _fail(path, f"scheduler has unknown entries {sorted(unknown)}")
    lrs = state.get("base_lrs")
    if not isinstance(lrs, list) or not all(isinstance(x, float) and math.isfinite(x) for x in lrs):
        _fail(path, "scheduler base_lrs must be a list of finite numbers")


def _early_stopping(state, path):
    if not isinstance(state, dict):
        _fail(path, "early_stopping must hold the early-stopping state")
    if set(state) != {"patience", "validation_frequency", "best", "best_iteration"}:
        _fail(path, f"early_stopping has the entries {sorted(state)}, expected patience, "
                    "validation_frequency, best, best_iteration")
    if not _is_int(state["patience"], 1) or not _is_int(state["validation_frequency"], 1):
        _fail(path, "early_stopping patience and validation_frequency must be positive integers")
    if not isinstance(state["best"], float) or not (state["best_iteration"] is None
                                                    or _is_int(state["best_iteration"])):
        _fail(path, "early_stopping best must be a number and best_iteration an integer")
