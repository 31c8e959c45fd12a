"""The MNIST models of the Theano tutorials that seed 003 follows, and their training recipes.

* ``logreg``: multiclass logistic regression, 784 -> 10 (weights start at zero, as in the tutorial);
* ``mlp``: the tutorial's multilayer perceptron, 784 -> 500 tanh -> 10 (Glorot-uniform hidden layer);
* ``lenet``: LeNet-5 as in the tutorial: conv 20@5x5, max-pool 2, tanh; conv 50@5x5, max-pool 2,
  tanh; fully connected 500 tanh; fully connected 10.

Every model accepts images as rows (N, 784), (N, 28, 28) or (N, 1, 28, 28) and returns logits.
A builder's size arguments (its ``config``) are checked by :func:`check_config` before anything
is allocated, so a checkpoint that names absurd sizes is refused instead of built.

>>> net = build("lenet")
>>> net(qf.zeros(2, 784)).shape
(2, 10)
>>> build("mlp", hidden=5_000_000)
Traceback (most recent call last):
  ...
ValueError: mlp: hidden=5000000 is out of range: expected an integer in [1, 16384]
"""
import inspect

from . import nn
from .nn import init

# Defaults of `qiflow train --model NAME`; each reaches the tutorial's published test error.
# Epoch-wise cosine decay of the learning rate; `shift` = random translations of up to that many
# pixels (data augmentation); `patience` etc. are seed 003's early-stopping rules, in iterations.
RECIPES = {
    "logreg": dict(epochs=30, batch_size=100, optimizer="adam", lr=1e-3, weight_decay=0.0,
                   momentum=0.9, shift=0, patience=5000, published=7.49),
    "mlp": dict(epochs=30, batch_size=128, optimizer="sgd", lr=0.1, weight_decay=1e-4,
                momentum=0.9, shift=1, patience=5000, published=1.65),
    "lenet": dict(epochs=15, batch_size=128, optimizer="adam", lr=1e-3, weight_decay=0.0,
                  momentum=0.9, shift=2, patience=5000, published=0.92),
}


class ToImage(nn.Module):
    """Reshape (N, 784) rows or (N, 28, 28) images to (N, 1, 28, 28)."""

    def forward(self, x):
        return x.reshape(x.shape[0], 1, 28, 28)


def _glorot(model):
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            init.xavier_uniform_(m.weight)
            init.zeros_(m.bias)
    return model


def logreg(n_in=784, n_out=10):
    """Logistic regression: Flatten -> Linear(784, 10), zero-initialised like the tutorial."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(n_in, n_out))
    init.zeros_(model[1].weight)
    init.zeros_(model[1].bias)
    return model


def mlp(n_in=784, hidden=500, n_out=10):
    """The tutorial's MLP: Linear(784, 500) -> tanh -> Linear(500, 10)."""
    model = _glorot(nn.Sequential(nn.Flatten(), nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, n_out)))
    init.zeros_(model[3].weight)  # the tutorial's logistic output layer starts at zero
    return model


def lenet(n_out=10):
    """LeNet-5 of the tutorial: two conv/max-pool/tanh stages, a 500-unit tanh layer, 10 outputs."""
    return _glorot(nn.Sequential(
        ToImage(),
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Tanh(),
        nn.Conv2d(20, 50, 5), nn.MaxPool2d(2), nn.Tanh(),
        nn.Flatten(), nn.Linear(50 * 4 * 4, 500), nn.Tanh(),
        nn.Linear(500, n_out)))


BUILDERS = {"logreg": logreg, "mlp": mlp, "lenet": lenet}

# Inclusive bounds of every size argument, and of the parameter count (80 MB of float32).
SIZE_BOUNDS = {"n_in": (1, 65536), "hidden": (1, 16384), "n_out": (1, 4096)}
MAX_PARAMETERS = 20_000_000


def default_config(name):
    """The size arguments a builder takes, with their defaults.

    >>> default_config("mlp")
    {'n_in': 784, 'hidden': 500, 'n_out': 10}
    """
    return {k: p.default for k, p in inspect.signature(BUILDERS[name]).parameters.items()}


def parameter_count(name, config):
    """How many numbers the model of ``name`` with sizes ``config`` holds (computed, not built)."""
    c = {**default_config(name), **config}
    if name == "logreg":
        return (c["n_in"] + 1) * c["n_out"]
    if name == "mlp":
        return (c["n_in"] + 1) * c["hidden"] + (c["hidden"] + 1) * c["n_out"]
    conv = 20 * 25 + 20 + 50 * 20 * 25 + 50
    return conv + (800 + 1) * 500 + (500 + 1) * c["n_out"]


def check_config(name, config):
    """``config`` completed with the builder's defaults, or ValueError naming what is wrong.

    >>> check_config("logreg", {"n_out": 3})
    {'n_in': 784, 'n_out': 3}
    """
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(BUILDERS)}")
    if not isinstance(config, dict):
        raise ValueError(f"{name}: the config must be a dict of sizes, got {type(config).__name__}")
    known = default_config(name)
    for key, value in config.items():
        if key not in known:
            raise ValueError(f"{name}: unknown config entry {key!r}; the model takes "
                             f"{', '.join(known) or 'no arguments'}")
        lo, hi = SIZE_BOUNDS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"{name}: {key}={value!r} is out of range: expected an integer in [{lo}, {hi}]")
    full = {**known, **config}
    n = parameter_count(name, full)
    if n > MAX_PARAMETERS:
        raise ValueError(f"{name}: the config {full} gives {n:,} parameters, more than the limit of "
                         f"{MAX_PARAMETERS:,}")
    return full


def build(name, **config):
    """A fresh model by name (``logreg``, ``mlp``, ``lenet``); ``config`` (sizes) goes to its builder."""
    config = check_config(name, config)
    return BUILDERS[name](**config)
