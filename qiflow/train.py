"""Training utilities: ``Trainer`` / ``fit``, ``EarlyStopping`` (seed 003's rules) and ``History``.

Users can always write their own loop; this one does the common job well:
minibatch steps, loss / accuracy / error-rate metrics, validation at a fixed
frequency (once per epoch by default), early stopping that always ends with
the best weights loaded back, best-checkpoint saving, resumable checkpoints
(model, optimizer, scheduler, random state, epoch) and a tqdm progress bar.

>>> model = qf.nn.Linear(4, 3)
>>> opt = qf.optim.SGD(model.parameters(), lr=0.1)
>>> X, y = qf.datasets.make_classification(120, n_features=4, n_classes=3)
>>> loader = qf.data.DataLoader(qf.data.TensorDataset(X, y), batch_size=16, shuffle=True)
>>> history = fit(model, opt, loader, valid_loader=loader, epochs=3, progress=False)
>>> len(history["valid_error"])
3
"""
import json
import math
import sys
import time

import numpy as np

from . import random as _random
from .autodiff import no_grad
from .io import atomic_write, save as _save, load as _load
from .optim.lr_scheduler import ReduceLROnPlateau
from .tensor import Tensor


# ------------------------------------------------------------------ early stopping
class EarlyStopping:
    """Patience-based early stopping as in the Theano tutorials (seed 003).

    Counted in minibatch iterations: training looks at least ``patience``
    iterations; a validation score below ``best * improvement_threshold`` (a
    significant improvement) extends patience to ``iteration *
    patience_increase``; validation runs every ``validation_frequency``
    iterations (default ``min(batches per epoch, patience // 2)``, i.e. once
    per epoch for the usual sizes); training stops when ``patience <=
    iteration``.  Any improvement, significant or not, becomes the new best
    whose weights are restored at the end.

    >>> es = EarlyStopping(patience=10, patience_increase=2)
    >>> es.start(batches_per_epoch=4)
    >>> es.update(0.5, iteration=3), es.patience
    (True, 10)
    >>> es.update(0.2, iteration=7), es.patience, es.should_stop(13)
    (True, 14, False)
    """

    def __init__(self, patience=5000, patience_increase=2, improvement_threshold=0.995,
                 validation_frequency=None, monitor=None):
        if patience is not None and patience < 1:
            raise ValueError(f"EarlyStopping: patience must be >= 1 (iterations), got {patience}")
        if not 0 < improvement_threshold <= 1:
            raise ValueError("EarlyStopping: improvement_threshold must lie in (0, 1], got "
                             f"{improvement_threshold}")
        if validation_frequency is not None and validation_frequency < 1:
            raise ValueError(f"EarlyStopping: validation_frequency must be >= 1, got {validation_frequency}")
        self.initial_patience = patience
        self.patience = patience
        self.patience_increase = patience_increase
        self.improvement_threshold = improvement_threshold
        self.validation_frequency = validation_frequency
        self.monitor = monitor
        self.best = math.inf
        self.best_iteration = None

    def start(self, batches_per_epoch):
        if self.validation_frequency is None:
            half = self.patience // 2 if self.patience is not None else batches_per_epoch
            self.validation_frequency = max(1, min(batches_per_epoch, half))

    def update(self, value, iteration):
        """Record a validation score (lower is better) at a 0-based iteration; True if it is a new best."""
        if not value < self.best:
            return False
        if self.patience is not None and value < self.best * self.improvement_threshold:
            self.patience = max(self.patience, int(iteration * self.patience_increase))
        self.best, self.best_iteration = float(value), int(iteration)
        return True

    def should_stop(self, iteration):
        return self.patience is not None and self.patience <= iteration

    def state_dict(self):
        return {k: getattr(self, k) for k in ("patience", "validation_frequency", "best", "best_iteration")}

    def load_state_dict(self, state):
        for k, v in state.items():
            setattr(self, k, v)


# ------------------------------------------------------------------------ history
class History:
    """What happened during training: one record per validation (per epoch by default).

    ``history["valid_error"]`` lists one metric over the records; ``best``
    holds the best record, ``test`` the final test metrics if any; ``changes``
    lists the settings changed when the run was resumed (``note_change``).
    The whole object is JSON-serialisable (``to_dict``, ``save``, ``History.load``).

    >>> h = History(); h.note_change("lr", 0.1, 0.05, epoch=3); h.changes
    [{'setting': 'lr', 'saved': 0.1, 'new': 0.05, 'epoch': 3}]
    """

    def __init__(self):
        self.records = []
        self.best = None
        self.test = None
        self.epochs = 0
        self.stopped_early = False
        self.seconds = 0.0
        self.changes = []

    def __getitem__(self, key):
        return [r.get(key) for r in self.records]

    def __len__(self):
        return len(self.records)

    def note_change(self, setting, saved, new, epoch):
        """Record that ``setting`` went from ``saved`` to ``new`` when training went on after ``epoch``."""
        self.changes.append({"setting": setting, "saved": saved, "new": new, "epoch": epoch})

    def to_dict(self):
        return {"records": self.records, "best": self.best, "test": self.test, "epochs": self.epochs,
                "stopped_early": self.stopped_early, "seconds": self.seconds, "changes": self.changes}

    @classmethod
    def from_dict(cls, d):
        h = cls()
        for k, v in d.items():
            setattr(h, k, v)
        h.records = [dict(r) for r in h.records]
        h.changes = [dict(c) for c in h.changes]
        return h

    def save(self, path):
        """Write the history as JSON (atomically)."""
        with atomic_write(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)

    @classmethod
    def load(cls, path):
        with open(path) as f:
            return cls.from_dict(json.load(f))

    def plot(self, path):
        """Save loss and accuracy curves to an image file (drawn by ``qf.viz.plots``;
        needs matplotlib)."""
        from .viz.plots import history_figure
        history_figure(self, keys=["train_loss", "valid_loss", "train_accuracy", "valid_accuracy"],
                       path=path, title="training history")


# ------------------------------------------------------------------------ helpers
def _unpack(batch):
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise ValueError("Trainer: each batch must be a pair (inputs, targets), got "
                     f"{type(batch).__name__} of length {len(batch) if hasattr(batch, '__len__') else '?'}")


def _array(t):
    return t._data if isinstance(t, Tensor) else np.asarray(t)


def _is_classification(out, y):
    return y.dtype.kind in "iu" and out.ndim == 2 and out.shape[1] > 1 and y.ndim == 1


def _progress_enabled(progress):
    if progress is False:
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        if progress:
            print("qiflow: progress bars need tqdm (pip install tqdm); continuing without", file=sys.stderr)
        return False
    return bool(progress) or (progress is None and sys.stdout.isatty())


def _snapshot(model):
    return {k: v._data.copy() for k, v in model.state_dict().items()}


def _lr(optimizer):
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        return float(groups[0].get("lr", float("nan")))
    return None


def _bad_numbers(value):
    values = value if isinstance(value, (tuple, list)) else [value]
    return any(isinstance(v, float) and not math.isfinite(v) for v in values)


def _why_not_finite(optimizer, model, x):
    """The likeliest cause of a non-finite loss, so the advice fits the fault."""
    for i, group in enumerate(getattr(optimizer, "param_groups", ())):
        for key, value in group.items():
            if key != "params" and _bad_numbers(value):
                return (f"the optimizer's {key} is {value!r} (parameter group {i}): give it a finite "
                        "value")
    xs = _array(x)
    if xs.dtype.kind == "f" and not np.isfinite(xs).all():
        return "this batch's inputs hold NaN or inf values: check the data"
    if any(not np.isfinite(p._data).all() for p in model.parameters()):
        return (f"the parameters became non-finite (training diverged): lower the learning rate "
                f"(now {_lr(optimizer)})")
    return f"the model's output overflowed: lower the learning rate (now {_lr(optimizer)})"


def _needs_metric(scheduler):
    return isinstance(scheduler, ReduceLROnPlateau)


class _Meter:
    """Running sums of loss and correct predictions (weighted by batch size)."""

    def __init__(self):
        self.loss = self.correct = 0.0
        self.n = self.n_cls = 0

    def add(self, loss, out, y):
        b = y.shape[0]
        self.loss += loss * b
        self.n += b
        if _is_classification(out, y):
            self.correct += int((out.argmax(axis=1) == y).sum())
            self.n_cls += b

    def summed(self, group):
        """The meter with its sums added over the ranks of ``group`` (exact global means,
        also when the ranks saw different numbers of examples)."""
        if group is None:
            return self
        from .distributed import all_reduce
        sums = np.array([self.loss, self.n, self.correct, self.n_cls], np.float64)
        all_reduce(sums, op="sum", group=group)
        total = _Meter()
        total.loss, total.correct = float(sums[0]), float(sums[2])
        total.n, total.n_cls = int(sums[1]), int(sums[3])
        return total

    def result(self, prefix):
        r = {f"{prefix}_loss": self.loss / self.n if self.n else None}
        if self.n_cls:
            acc = self.correct / self.n_cls
            r[f"{prefix}_accuracy"], r[f"{prefix}_error"] = acc, 1 - acc
        return r


# ------------------------------------------------------------------------ trainer
class Trainer:
    """Train a model with an optimizer on minibatches of (inputs, targets).

    ``loss_fn`` defaults to cross-entropy.  ``early_stopping`` (an
    ``EarlyStopping``) and ``valid_loader`` in ``fit`` turn on validation and
    the best-weight restore; ``best_path`` receives a checkpoint at every new
    best (``{"state": state_dict, **meta, ...}``); ``checkpoint_path``
    receives a resumable checkpoint at the end of every epoch, read back by
    ``fit(..., resume=path)``.  ``progress`` shows a tqdm bar (None: only on
    a terminal); ``log`` (e.g. ``print``) receives one line per validation.

    ``distributed=True`` trains data-parallel on the default ``qiflow.distributed``
    process group (every rank of ``mpiexec -n N`` runs the same Trainer): the model
    is wrapped in ``DistributedDataParallel`` for the training steps, so the batch of
    each step is every rank's batch together; a ``DistributedSampler`` of the training
    loader gets ``set_epoch`` at every epoch; validation and test figures are sums
    over the ranks (each rank evaluates its own share), so they are exact; only rank 0
    logs, shows progress and writes ``best_path`` and ``checkpoint_path``, whose
    checkpoint holds every rank's random state (``fit(resume=...)`` restores each).
    In a group of one it changes nothing.
    """

    def __init__(self, model, optimizer, loss_fn=None, *, scheduler=None, scheduler_interval="epoch",
                 early_stopping=None, best_path=None, checkpoint_path=None, meta=None,
                 progress=None, log=None, distributed=False):
        if loss_fn is None:
            from .nn import CrossEntropyLoss
            loss_fn = CrossEntropyLoss()
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.early_stopping = early_stopping
        self.best_path, self.checkpoint_path = best_path, checkpoint_path
        self.meta = dict(meta or {})
        self.progress, self.log = progress, log
        self.history = History()
        self.best_state = None
        self.epoch = 0
        self.iteration = 0
        self.group, self.rank, self.world_size = None, 0, 1
        self.train_model = model
        if distributed:
            self._join_group()

    def _join_group(self):
        from .distributed.group import default_group
        g = default_group()
        self.rank, self.world_size = g.rank, g.size
        if g.size == 1:
            return
        from .nn.parallel import DistributedDataParallel
        self.group = g
        self.train_model = DistributedDataParallel(self.model)
        if self.rank != 0:
            self.progress, self.log = False, None

    @property
    def writes(self):
        """Whether this process writes files (rank 0, or the only process)."""
        return self.rank == 0

    # ------------------------------------------------------------- one step
    def train_step(self, x, y):
        """One optimisation step on a batch; returns (loss value, output array)."""
        self.optimizer.zero_grad()
        out = self.train_model(x)
        loss = self.loss_fn(out, y)
        loss.backward()
        self.optimizer.step()
        value = float(loss.item())
        if not math.isfinite(value):
            raise FloatingPointError(f"Trainer: the loss became {value} at iteration {self.iteration}; "
                                     + _why_not_finite(self.optimizer, self.model, x))
        return value, _array(out)

    def evaluate(self, loader):
        """Mean loss (and accuracy / error for classification) over a loader, in eval mode.

        >>> model = qf.nn.Linear(4, 3); opt = qf.optim.SGD(model.parameters(), lr=0.1)
        >>> X, y = qf.datasets.make_classification(32, n_features=4, n_classes=3)
        >>> loader = qf.data.DataLoader(qf.data.TensorDataset(X, y), batch_size=8)
        >>> Trainer(model, opt).evaluate(loader)["loss"] > 0
        True
        """
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        meter = _Meter()
        try:
            with no_grad():
                for batch in loader:
                    x, y = _unpack(batch)
                    out = self.model(x)
                    meter.add(float(self.loss_fn(out, y).item()), _array(out), _array(y))
        finally:
            self.model.train(was_training)
        meter = meter.summed(self.group)
        return {k.split("_", 1)[1]: v for k, v in meter.result("x").items()}

    def predict(self, x, batch_size=1000):
        """Model outputs for an array or tensor of inputs, in eval mode and batches."""
        x = _array(x)
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        try:
            with no_grad():
                outs = [_array(self.model(Tensor._wrap(x[i:i + batch_size])))
                        for i in range(0, x.shape[0], batch_size)]
        finally:
            self.model.train(was_training)
        return np.concatenate(outs)

    # -------------------------------------------------------------- fitting
    def fit(self, train_loader, valid_loader=None, epochs=10, *, resume=None, seed=None):
        """Train for up to ``epochs`` epochs; returns the ``History``.

        With a ``valid_loader`` the model is validated every epoch (or every
        ``early_stopping.validation_frequency`` iterations) and, whatever ends
        training — early stopping or the epoch limit — the best weights are
        loaded back at the end.
        """
        n_batches = len(train_loader)
        if n_batches == 0:
            raise ValueError("Trainer.fit: the training loader yields no batches "
                             "(dataset smaller than batch_size with drop_last?)")
        if self.early_stopping is not None and valid_loader is None:
            raise ValueError("Trainer.fit: early stopping needs a valid_loader")
        if valid_loader is not None and hasattr(valid_loader, "__len__") and len(valid_loader) == 0:
            raise ValueError("Trainer.fit: the validation loader yields no batches (empty validation set?)")
        if self.early_stopping is None and valid_loader is not None:
            self.early_stopping = EarlyStopping(patience=None)  # best-weight tracking only
        es = self.early_stopping
        if seed is not None:
            _random.manual_seed(seed)
        if resume is not None:
            self.load_checkpoint(resume, train_loader)
        if es is not None:
            es.start(n_batches)
        freq = es.validation_frequency if es is not None else n_batches
        start = time.perf_counter() - self.history.seconds
        stop = self.history.stopped_early
        show = _progress_enabled(self.progress)
        self.model.train()
        sampler = getattr(train_loader, "sampler", None)
        for epoch in range(self.epoch + 1, epochs + 1):
            if stop:
                break
            self.epoch = epoch
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)      # a DistributedSampler: the epoch's order, on every rank
            meter = _Meter()
            bar = None
            if show:
                from tqdm.auto import tqdm
                bar = tqdm(total=n_batches, desc=f"epoch {epoch}/{epochs}", leave=False,
                           dynamic_ncols=True)
            for index, batch in enumerate(train_loader):
                x, y = _unpack(batch)
                it = (epoch - 1) * n_batches + index          # seed 003's `iter`
                self.iteration = it + 1
                loss, out = self.train_step(x, y)
                meter.add(loss, out, _array(y))
                if self.scheduler is not None and self.scheduler_interval == "step":
                    self.scheduler.step()
                if bar is not None:
                    bar.update(1)
                    if index % 20 == 0:
                        bar.set_postfix(loss=f"{loss:.4f}")
                if (it + 1) % freq == 0 or (valid_loader is None and index == n_batches - 1):
                    record = self._record(meter, valid_loader, es, epoch, index, n_batches, it, start, bar)
                    meter = _Meter()
                    if bar is not None:
                        bar.set_postfix({k: f"{v:.4f}" for k, v in record.items()
                                         if k.startswith("valid") and v is not None})
                if es is not None and es.should_stop(it):
                    stop = True
                    break
            if bar is not None:
                bar.close()
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                if _needs_metric(self.scheduler):
                    last = self.history.records[-1] if self.history.records else {}
                    self.scheduler.step(last.get("valid_loss", last.get("train_loss")))
                else:
                    self.scheduler.step()
            self.history.epochs = epoch
            self.history.seconds = time.perf_counter() - start
            if stop:        # before the checkpoint: a resumed run must not train on
                self.history.stopped_early = True
            if self.checkpoint_path is not None:
                self.save_checkpoint(self.checkpoint_path, train_loader)
            if stop:
                break
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        self.history.seconds = time.perf_counter() - start
        return self.history

    def _record(self, meter, valid_loader, es, epoch, index, n_batches, it, start, bar=None):
        record = {"epoch": epoch, "iteration": it + 1, "batches_per_epoch": n_batches, "lr": _lr(self.optimizer)}
        record.update(meter.summed(self.group).result("train"))
        if valid_loader is not None:
            v = self.evaluate(valid_loader)
            record.update({f"valid_{k}": val for k, val in v.items()})
            monitor = es.monitor or ("error" if "error" in v else "loss")
            if monitor not in v:
                raise KeyError(f"Trainer: cannot monitor {monitor!r}; validation gives {sorted(v)}")
            if es.update(v[monitor], it):
                self.best_state = _snapshot(self.model)
                record["best"] = True
                self.history.best = dict(record)
                if self.best_path is not None:
                    self._save_best(record)
        record["seconds"] = round(time.perf_counter() - start, 3)
        self.history.records.append(record)
        if self.log is not None:
            if bar is not None:       # print above the bar instead of through it
                with bar.external_write_mode():
                    self.log(_format(record, index, n_batches))
            else:
                self.log(_format(record, index, n_batches))
        return record

    # ---------------------------------------------------------- checkpoints
    def _save_best(self, record):
        if self.writes:
            self.save_model(self.best_path, metrics=record)

    def save_model(self, path, metrics=None, **extra):
        """Write the model's current weights with ``meta``, ``metrics`` (default: the best
        record) and ``extra`` annotations, in one file, so weights and numbers cannot mix."""
        metrics = self.history.best if metrics is None else metrics
        _save({**self.meta, "kind": "qiflow-model", "state": self.model.state_dict(),
               "metrics": {k: v for k, v in (metrics or {}).items() if v is not None}, **extra}, path)

    def save_checkpoint(self, path, train_loader=None):
        """Everything needed to resume: model, optimizer, scheduler, early stopping,
        best weights, history, epoch and random-generator states."""
        gen = getattr(train_loader, "generator", None)
        ranks = None
        if self.group is not None:        # every rank's generator, so that resume is exact
            from .distributed import all_gather_object
            ranks = [None] * self.world_size
            all_gather_object(ranks, _random.get_rng_state(), group=self.group)
            if not self.writes:
                return
        state = {
            **self.meta, "kind": "qiflow-trainer",
            "epoch": self.epoch, "iteration": self.iteration,
            "model_state": self.model.state_dict(), "optimizer_state": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "early_stopping": self.early_stopping.state_dict() if self.early_stopping is not None else None,
            "best_state": self.best_state,
            "history": json.dumps(self.history.to_dict()),
            "rng": {"global": _random.get_rng_state(),
                    "loader": gen.bit_generator.state if gen is not None else None},
        }
        if ranks is not None:
            state["rng"]["ranks"] = ranks
        _save(state, path)

    def load_checkpoint(self, path, train_loader=None):
        """Restore a checkpoint written by :meth:`save_checkpoint` (for ``fit(resume=...)``)."""
        return self.restore(_load(path), train_loader, path)

    def restore(self, state, train_loader=None, path="the checkpoint"):
        """Restore what :meth:`save_checkpoint` wrote, already loaded as a dict (``path`` names it)."""
        if not isinstance(state, dict) or state.get("kind") != "qiflow-trainer":
            raise ValueError(f"Trainer: {path} is not a resumable training checkpoint "
                             "(it lacks the optimizer and training state)")
        for key, value in self.meta.items():
            if key in state and state[key] != value:
                raise ValueError(f"Trainer: {path} was written for {key}={state[key]!r}, "
                                 f"but this run has {key}={value!r}")
        self.model.load_state_dict(state["model_state"])
        self.optimizer.load_state_dict(state["optimizer_state"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.early_stopping is not None and state.get("early_stopping") is not None:
            self.early_stopping.load_state_dict(state["early_stopping"])
        self.best_state = state.get("best_state")
        self.history = History.from_dict(json.loads(state["history"]))
        self.epoch, self.iteration = int(state["epoch"]), int(state["iteration"])
        ranks = state["rng"].get("ranks")
        if self.world_size > 1 or ranks is not None:
            if not isinstance(ranks, list) or len(ranks) != self.world_size:
                saved = len(ranks) if isinstance(ranks, list) else 1
                raise ValueError(f"Trainer: {path} was written by {saved} process(es) and holds that many "
                                 f"random states, but this run has {self.world_size}; resume it with "
                                 f"the same number of processes")
            _random.set_rng_state(ranks[self.rank])
        else:
            _random.set_rng_state(state["rng"]["global"])
        gen = getattr(train_loader, "generator", None)
        if gen is not None and state["rng"].get("loader") is not None:
            gen.bit_generator.state = state["rng"]["loader"]
        return state


def _format(record, index, n_batches):
    parts = [f"epoch {record['epoch']}, minibatch {index + 1}/{n_batches}"]
    if record.get("train_loss") is not None:
        parts.append(f"train loss {record['train_loss']:.4f}")
    if record.get("valid_error") is not None:
        parts.append(f"validation error {100 * record['valid_error']:.2f} %")
    elif record.get("valid_loss") is not None:
        parts.append(f"validation loss {record['valid_loss']:.4f}")
    return ", ".join(parts) + (" (best)" if record.get("best") else "")


def fit(model, optimizer, train_loader, valid_loader=None, epochs=10, loss_fn=None, **kwargs):
    """Shortcut: ``Trainer(model, optimizer, loss_fn, **kwargs).fit(train_loader, valid_loader, epochs)``.

    ``seed`` and ``resume`` go to ``fit``; the other keyword arguments to ``Trainer``.
    """
    fit_kw = {k: kwargs.pop(k) for k in ("seed", "resume") if k in kwargs}
    return Trainer(model, optimizer, loss_fn, **kwargs).fit(train_loader, valid_loader, epochs, **fit_kw)
