"""``qiflow train``: a new run, or the exact continuation of a saved one.

A run's settings (see :mod:`qiflow.cli.settings`) are stored in every checkpoint it writes.
``--resume OUT/last.npz`` takes all of them from the checkpoint: a flag that contradicts a
saved value is an error naming the setting, the saved value and the new one, unless
``--override NAME=VALUE`` asks for the change, which is then recorded in ``history.json``.
``--epochs N`` above the saved value extends the run: the cosine schedule is stretched to N
epochs (from the next epoch on, the learning rate is the one an N-epoch run has there), so it
decays once to zero and never cycles. Everything is checked before the data is loaded.

Under ``mpiexec -n N`` (N > 1) every rank runs this command on its shard of the data; see
:mod:`qiflow.cli.cluster`. A run keeps the number of ranks it was started with: its effective
batch is ``--batch-size`` on any N (each rank takes ``--batch-size / N``), but the order of
the data and the random streams depend on N, so ``--resume`` needs the same N to be exact.
"""
import os
import time
import uuid

from .errors import CliError
from . import cluster, data as D, rundir, schema, settings as S


# ---------------------------------------------------------------- the plan of a run
class Plan:
    """What a ``qiflow train`` command will do, decided before any data is loaded."""

    def __init__(self, run, out, run_id, location, ckpt=None, changes=(), default_out=False):
        self.run, self.out, self.run_id, self.location = run, out, run_id, location
        self.ckpt, self.changes, self.default_out = ckpt, list(changes), default_out
        self.world = 1              # processes (ranks of mpiexec -n N)

    @property
    def resume(self):
        return self.ckpt is not None


def plan_new(args):
    run = S.defaults(args.model or S.DEFAULT_MODEL)
    for name in S.SETTINGS:
        if getattr(args, name, None) is not None:
            run[name] = getattr(args, name)
    out = args.out or os.path.join("runs", run["model"])
    location = os.path.abspath(args.data) if args.data is not None else None
    return Plan(run, out, uuid.uuid4().hex, location, default_out=args.out is None)


def _load(path):
    from .. import io
    try:
        return io.load(path)
    except (io.CheckpointError, OSError) as exc:
        raise CliError(str(exc)) from None


def _contradiction(name, given, saved, path, at):
    s = S.SETTINGS[name]
    head = (f"{S.flag(name)} {given} contradicts the run being resumed: {path} was saved with "
            f"{name}={saved!r}")
    if name == "epochs":
        return f"{head}; --epochs can only extend a run; --override epochs={given} shortens it"
    if s.rule == "fixed":
        return f"{head}, which defines the run and cannot change; leave {S.flag(name)} out, or start a new run"
    return (f"{head}; leave {S.flag(name)} out to continue as saved, or pass --override "
            f"{name}={given} to change it from epoch {at + 1} on")


def _how_to_start(n):
    return "qiflow train" if n == 1 else f"mpiexec -n {n} qiflow train"


def plan_resume(args, world=1):
    path = args.resume
    if not os.path.isfile(path):
        raise CliError(f"no such checkpoint to resume from: {path}")
    ckpt = _load(path)
    saved = schema.check_trainer(ckpt, path)
    ranks = ckpt.get("world_size", 1)
    if ranks != world:
        raise CliError(f"{path} was trained by {ranks} process(es) but this command runs {world}; the "
                       "order of the data and the random streams depend on it, so a run continues "
                       f"exactly only as it started: resume it with {_how_to_start(ranks)} --resume {path}")
    folder = os.path.dirname(path) or "."        # as the user wrote it, for messages and outputs
    if args.out is not None and os.path.abspath(args.out) != os.path.abspath(folder):
        raise CliError(f"--out {args.out} contradicts the run being resumed: it lives in {folder} and "
                       "continues there; copy that folder first to branch the run elsewhere")
    done = ckpt["epoch"]
    run, overrides = dict(saved), dict(args.override)
    for name in S.SETTINGS:
        given = getattr(args, name, None)
        if given is None or given == saved[name]:
            continue
        if name in overrides:
            if overrides[name] != given:
                raise CliError(f"{S.flag(name)} {given} and --override {name}={overrides[name]} disagree")
        elif name == "epochs" and given > saved["epochs"]:
            run["epochs"] = given
        else:
            raise CliError(_contradiction(name, given, saved[name], path, done))
    run.update(overrides)
    if run["epochs"] < done:
        raise CliError(f"epochs={run['epochs']} is fewer than the {done} epochs {path} has already trained")
    _check_revival(ckpt, saved, run, path)
    _check_folder(folder, path, ckpt)
    changes = [(k, saved[k], run[k]) for k in S.SETTINGS if run[k] != saved[k]]
    location = ckpt["data"].get("location")
    if args.data is not None:
        location = os.path.abspath(args.data)
    elif location is not None and not os.path.exists(location):
        raise CliError(f"the run's data was at {location}, which no longer exists; give --data")
    return Plan(run, folder, ckpt["run_id"], location, ckpt=ckpt, changes=changes)


def _history(ckpt):
    import json
    return json.loads(ckpt["history"])


def _check_revival(ckpt, saved, run, path):
    if not _history(ckpt).get("stopped_early"):
        return
    more = run["epochs"] > saved["epochs"]
    if more and run["patience"] <= ckpt["iteration"]:
        raise CliError(f"{path}: the run stopped early at epoch {ckpt['epoch']} (iteration "
                       f"{ckpt['iteration']}, its patience ran out), so more epochs would not train; "
                       f"raise its patience too, e.g. --override patience={2 * ckpt['iteration']}")


def _check_folder(folder, path, ckpt):
    last = os.path.join(folder, "last.npz")
    if not os.path.exists(last) or os.path.samefile(last, path):
        return
    other = _load(last)
    if not isinstance(other, dict) or other.get("run_id") != ckpt["run_id"]:
        raise CliError(f"{folder} holds another run ({last} is not from the run of {path}); resume "
                       "that run's own last.npz, or copy the checkpoint into a folder of its own")
    if isinstance(other.get("epoch"), int) and other["epoch"] > ckpt["epoch"]:
        raise CliError(f"resuming {path} (epoch {ckpt['epoch']}) would overwrite {last}, which holds "
                       f"epoch {other['epoch']} of the same run; resume {last} instead")


def _finished_report(plan):
    """The saved result of a run that has nothing left to train, or None."""
    ckpt = plan.ckpt
    h = _history(ckpt)
    if plan.changes or not (ckpt["epoch"] >= plan.run["epochs"] or h.get("stopped_early")):
        return None
    best_path = os.path.join(plan.out, "best.npz")
    if not os.path.exists(best_path):
        return None
    best = _load(best_path)
    test = best.get("test") if isinstance(best, dict) and best.get("run_id") == plan.run_id else None
    if not isinstance(test, dict) or not isinstance(test.get("error"), float):
        return None             # not this run's, or its test never ran: finish the run instead
    how = "stopped early" if h.get("stopped_early") else "epoch limit"
    metrics = best.get("metrics") or {}
    return (f"the run in {plan.out} is complete ({ckpt['epoch']} of {plan.run['epochs']} epochs, {how}); "
            f"nothing to train (give --epochs N above {plan.run['epochs']} to extend it)\n"
            f"best validation error {100 * metrics.get('valid_error', float('nan')):.2f} % at epoch "
            f"{metrics.get('epoch')}; {best_path} holds its weights\n"
            f"test error: {100 * test['error']:.2f} %")


# ---------------------------------------------------------------------- the command
def cmd_train(args, console):
    group = cluster.join()
    if group is not None:
        return _cmd_train_group(args, console, group)
    plan = plan_resume(args) if args.resume else plan_new(args)
    if plan.resume:
        report = _finished_report(plan)
        if report is not None:
            console.out(report)
            return 0
        lock = rundir.claim_existing(plan.out)
    else:
        plan.out, lock = rundir.claim_new(plan.out, plan.default_out)
    try:
        return _train(plan, args, console, lock)
    finally:
        lock.release()


def _cmd_train_group(args, console, group):
    """``cmd_train`` on one rank of several: rank 0 claims the folder and speaks."""
    if not group.root:
        console.mute()          # rank 0 speaks for the group, errors included
    def make_plan():
        plan = plan_resume(args, group.size) if args.resume else plan_new(args)
        cluster.per_rank_batch(group, plan.run)
        plan.world = group.size
        return plan
    plan = cluster.agree(group, make_plan, "planning the run")
    if plan.resume:
        report = _finished_report(plan)
        if report is not None:
            console.out(report)
            return 0

    def claim():
        if not group.root:
            return None, None
        if plan.resume:
            return plan.out, rundir.claim_existing(plan.out)
        return rundir.claim_new(plan.out, plan.default_out)
    out, lock = cluster.agree(group, claim, "claiming the run folder")
    try:
        plan.out, plan.run_id = cluster.share(group, (out, plan.run_id))    # rank 0's folder and id
        return _train(plan, args, console, lock, group)
    finally:
        if lock is not None:
            lock.release()


def _banner(plan, lock, group=None):
    r = plan.run
    what = (f"{r['model']}, {r['optimizer']} lr {r['lr']:g}, batch {r['batch_size']}, up to "
            f"{r['epochs']} epochs, shift {r['shift']}, seed {r['seed']}"
            + (f", limit {r['limit']}" if r["limit"] else ""))
    if plan.resume:
        lines = [f"qiflow train: resuming {plan.out} after epoch {plan.ckpt['epoch']}: {what}"]
        for name, old, new in plan.changes:
            extra = (f" (the cosine schedule is stretched to {new} epochs)" if name == "epochs" else "")
            lines.append(f"change from epoch {plan.ckpt['epoch'] + 1} on: {name} {old} -> {new}{extra}")
    else:
        lines = [f"qiflow train: {what}"]
        skipped = os.path.join("runs", r["model"])
        note = f" ({skipped} holds another run)" if plan.default_out and plan.out != skipped else ""
        lines.append(f"output: {plan.out}{note}")
    if group is not None:
        lines.append(cluster.banner_line(group, r))
    if lock is not None and lock.stale:
        lines.append(f"note: took over the lock of a run that is no longer running "
                     f"(PID {lock.stale.get('pid')} on {lock.stale.get('host')})")
    return "\n".join(lines)


def _train(plan, args, console, lock, group=None):
    from .training import build, finish
    console.out(_banner(plan, lock, group))
    t0 = time.perf_counter()

    def load():
        splits = D.load(plan.location, plan.run["limit"])
        fp = D.fingerprint(splits)
        if plan.resume and fp != plan.ckpt["data"]["fingerprint"]:
            raise CliError(f"the data at {plan.location or 'the cache'} is not the data the run was "
                           f"trained on (fingerprint {fp}, saved {plan.ckpt['data']['fingerprint']}); "
                           "resume with the same data (--data)")
        return splits, fp
    splits, fp = load() if group is None else cluster.agree(group, load, "loading the data")
    console.out(f"data: {len(splits.train)} train / {len(splits.valid)} validation / {len(splits.test)} "
                f"test images ({time.perf_counter() - t0:.1f} s)")
    meta = {"model": plan.run["model"], "config": _config(plan.run["model"]), "run": plan.run,
            "run_id": plan.run_id, "data": {"location": plan.location, "fingerprint": fp,
                                            "sizes": [len(s) for s in splits]}}
    if group is not None:
        meta["world_size"] = group.size

    def make():
        return build(plan, meta, splits, args, console, group)
    trainer, loaders = make() if group is None else cluster.agree(group, make, "building the trainer")
    try:
        try:
            history = trainer.fit(loaders[0], loaders[1], plan.run["epochs"])
            test = trainer.evaluate(loaders[2])
        except Exception as exc:
            if group is None:
                raise
            cluster.stop_group(group, exc)       # the other ranks would wait for this one
        if not trainer.writes:
            return 0
        return finish(plan, trainer, history, test, args, console, t0)
    except KeyboardInterrupt as exc:
        exc.note = _resume_note(plan)
        raise


def _config(model):
    from .. import models
    return models.default_config(model)


def _resume_note(plan):
    """What the last checkpoint holds now (read back: the signal may have hit inside a save)."""
    from .. import io
    last = os.path.join(plan.out, "last.npz")
    try:
        epoch = io.load(last)["epoch"]
    except Exception:       # none yet, or not readable: say so rather than guess
        if os.path.exists(last):
            return f"{last} cannot be read back; check it before resuming"
        return "no checkpoint was saved yet (the first is written at the end of epoch 1)"
    return f"{last} holds epoch {epoch}; continue with: {_how_to_start(plan.world)} --resume {last}"
