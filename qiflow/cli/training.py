"""The trainer of a ``qiflow train`` run: built from the run's settings, restored from its
checkpoint on resume (then the requested changes applied and recorded), and its results
written at the end: ``best.npz`` holds the best weights together with their own validation
and test metrics, epoch, settings and run id, so weights and numbers can never mix.
"""
import os

from .errors import CliError
from ..train import EarlyStopping, Trainer


def _optimizer(run, params):
    from .. import optim
    if run["optimizer"] == "sgd":
        m = run["momentum"]
        return optim.SGD(params, lr=run["lr"], momentum=m, nesterov=m > 0, weight_decay=run["weight_decay"])
    return optim.Adam(params, lr=run["lr"], weight_decay=run["weight_decay"])


def build(plan, meta, splits, args, console, group=None):
    """(trainer, (train, valid, test) loaders) for ``plan``, restored when it resumes.

    With a ``group`` (``mpiexec -n N``), this rank trains on its ``DistributedSampler``
    shard of every epoch and evaluates every N-th validation and test image; the Trainer
    adds the ranks' figures up.
    """
    import qiflow as qf
    from .. import models
    from ..data import DataLoader, random_shift
    from ..nn import CrossEntropyLoss
    from ..optim import lr_scheduler
    run = plan.run
    qf.manual_seed(run["seed"])
    model = models.build(run["model"], **meta["config"])
    opt = _optimizer(run, model.parameters())
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=run["epochs"])
    shift = run["shift"]
    collate = (lambda b: (random_shift(b[0], shift, image_shape=(28, 28)), b[1])) if shift else None
    if group is None:
        train = DataLoader(splits.train, run["batch_size"], shuffle=True, collate_fn=collate,
                           generator=qf.Generator(run["seed"]))
        loaders = (train, DataLoader(splits.valid, 1000), DataLoader(splits.test, 1000))
    else:
        train, loaders = _sharded(splits, run, collate, group)
    es = EarlyStopping(patience=run["patience"], validation_frequency=run["valid_frequency"])
    trainer = Trainer(model, opt, CrossEntropyLoss(), scheduler=sched, early_stopping=es,
                      best_path=os.path.join(plan.out, "best.npz"),
                      checkpoint_path=os.path.join(plan.out, "last.npz"),
                      meta={"model": run["model"], "config": meta["config"]},
                      progress=False if args.no_progress else None, log=console.out,
                      distributed=group is not None)
    if plan.resume:
        _restore(trainer, plan, train)
    trainer.meta = meta
    return trainer, loaders


def _sharded(splits, run, collate, group):
    """This rank's loaders: a shard of each training epoch in batches of ``batch_size / N``
    (the step's batch is the ranks' batches together), every N-th evaluation image."""
    import numpy as np
    import qiflow as qf
    from ..data import DataLoader, DistributedSampler
    r, n = group.rank, group.size
    if r:        # augmentation and dropout: a stream of each rank's own (rank 0 keeps the seed's)
        qf.manual_seed(int(np.random.SeedSequence([run["seed"], r]).generate_state(1, np.uint64)[0] >> 1))
    sampler = DistributedSampler(splits.train, num_replicas=n, rank=r, shuffle=True, seed=run["seed"])
    train = DataLoader(splits.train, run["batch_size"] // n, sampler=sampler, collate_fn=collate,
                       generator=qf.Generator(run["seed"]))

    def every_nth(split):
        return DataLoader(split, 1000, sampler=np.arange(r, len(split), n))
    return train, (train, every_nth(splits.valid), every_nth(splits.test))


def _restore(trainer, plan, train_loader):
    from .._state import QiflowError
    try:
        trainer.restore(plan.ckpt, train_loader, path=os.path.join(plan.out, "last.npz"))
    except (ValueError, TypeError, KeyError, IndexError, QiflowError) as exc:
        raise CliError(f"cannot resume from {plan.out}: {exc}") from None
    _apply_changes(trainer, plan)


def _apply_changes(trainer, plan):
    from ..optim.lr_scheduler import CosineAnnealingLR
    run, groups = plan.run, trainer.optimizer.param_groups
    changed = {name: new for name, _, new in plan.changes}
    for name, old, new in plan.changes:
        trainer.history.note_change(name, old, new, epoch=trainer.epoch)
    if "lr" in changed:
        for g in groups:
            g["initial_lr"] = changed["lr"]
    if "lr" in changed or "epochs" in changed:
        # The closed form at the current epoch of an epochs-long cosine from the base lr: a
        # stretched (or rescaled) schedule that continues smoothly and never cycles.
        trainer.scheduler = CosineAnnealingLR(trainer.optimizer, T_max=run["epochs"],
                                              last_epoch=trainer.epoch - 1)
    if "weight_decay" in changed:
        for g in groups:
            g["weight_decay"] = changed["weight_decay"]
    es = trainer.early_stopping
    if "patience" in changed:
        es.patience = es.initial_patience = changed["patience"]
        if changed["patience"] > trainer.iteration:
            trainer.history.stopped_early = False
    if "valid_frequency" in changed:
        es.validation_frequency = changed["valid_frequency"]


def finish(plan, trainer, history, test, args, console, t0):
    """Write best.npz (the best weights, their metrics and ``test``, their test figures)
    and history.json."""
    import time
    out = plan.out
    history.test = {k: float(v) for k, v in test.items()}
    best = history.best or {}
    trainer.save_model(os.path.join(out, "best.npz"), metrics=best, test=history.test)
    history.save(os.path.join(out, "history.json"))
    how = "stopped early" if history.stopped_early else "epoch limit"
    lines = [f"best validation error {100 * best.get('valid_error', float('nan')):.2f} % at epoch "
             f"{best.get('epoch')} ({how} after {history.epochs} epochs, {time.perf_counter() - t0:.1f} s)",
             f"wrote {os.path.join(out, 'best.npz')}, {os.path.join(out, 'last.npz')}, "
             f"{os.path.join(out, 'history.json')}"]
    if not args.no_plot:
        try:
            history.plot(os.path.join(out, "curves.png"))
            lines[-1] += f", {os.path.join(out, 'curves.png')}"
        except ImportError:
            lines.append("(install matplotlib for the loss/accuracy plot)")
    console.out("\n".join(lines))
    console.out(f"test error: {100 * test['error']:.2f} %")
    return 0
