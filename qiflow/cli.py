"""The ``qiflow`` command line: train, evaluate and predict on MNIST.

    qiflow train [--model logreg|mlp|lenet] [--epochs N] [--batch-size B] [--lr LR]
                 [--optimizer sgd|adam] [--seed S] [--out DIR] [--data PATH] [--limit N]
    qiflow evaluate CHECKPOINT [--data PATH]
    qiflow predict CHECKPOINT [--index N | --image FILE.png]

``qiflow train`` ends with the line ``test error: X.XX %``.
"""
import argparse
import os
import sys
import time

import numpy as np

EXIT_ERROR = 1


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code 1."""


# ------------------------------------------------------------------ arguments
def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _non_negative_int(text):
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return v


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return v


def _parser():
    from .models import BUILDERS
    p = argparse.ArgumentParser(prog="qiflow", description="qiflow: train and use MNIST models.")
    sub = p.add_subparsers(dest="command", metavar="{train,evaluate,predict}")
    sub.required = True

    t = sub.add_parser("train", help="train a model on MNIST and print its test error",
                       description="Train on MNIST (50k train / 10k validation / 10k test) with "
                                   "early stopping; ends with 'test error: X.XX %'.")
    t.add_argument("--model", choices=list(BUILDERS), default="logreg",
                   help="model to train (default: logreg)")
    t.add_argument("--epochs", type=_positive_int, help="maximum number of epochs (recipe default)")
    t.add_argument("--batch-size", type=_positive_int, help="minibatch size (recipe default)")
    t.add_argument("--lr", type=_positive_float, help="learning rate (recipe default)")
    t.add_argument("--optimizer", choices=["sgd", "adam"], help="optimizer (recipe default)")
    t.add_argument("--weight-decay", type=float, help="L2 weight decay (recipe default)")
    t.add_argument("--shift", type=_non_negative_int,
                   help="random translations of up to this many pixels; 0 turns augmentation off")
    t.add_argument("--patience", type=_positive_int,
                   help="early-stopping patience in iterations (seed 003's rule; default 5000)")
    t.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    t.add_argument("--out", default=None, help="output folder (default: runs/MODEL)")
    t.add_argument("--data", default=None,
                   help="folder with the MNIST IDX files or mnist.pkl.gz (default: cache, else download)")
    t.add_argument("--limit", type=_positive_int,
                   help="use at most N images of each split (quick runs)")
    t.add_argument("--resume", default=None, metavar="CHECKPOINT",
                   help="continue from a checkpoint written by an earlier run (OUT/last.npz)")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.add_argument("--no-plot", action="store_true", help="do not draw the loss/accuracy PNG")

    e = sub.add_parser("evaluate", help="evaluate a checkpoint on the MNIST test set")
    e.add_argument("checkpoint")
    e.add_argument("--data", default=None, help="MNIST location (as for train)")
    e.add_argument("--split", choices=["test", "valid", "train"], default="test")
    e.add_argument("--limit", type=_positive_int, help="use at most N images")
    e.add_argument("--model", choices=list(BUILDERS), help="fail unless the checkpoint holds this model")

    r = sub.add_parser("predict", help="classify one image with a checkpoint")
    r.add_argument("checkpoint")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--index", type=_non_negative_int, help="index of an MNIST test image (default 0)")
    g.add_argument("--image", help="a PNG of a digit (28x28 or resizable, any background)")
    r.add_argument("--data", default=None, help="MNIST location (as for train)")
    r.add_argument("--model", choices=list(BUILDERS), help="fail unless the checkpoint holds this model")
    return p


# ---------------------------------------------------------------- helpers
def _data(path, limit=None):
    from .datasets import mnist
    from .data import TensorDataset
    splits = mnist(path)
    if limit is None:
        return splits
    return type(splits)(*(TensorDataset(*(a[:limit] for a in s.arrays)) for s in splits))


def _optimizer(name, params, lr, weight_decay, momentum):
    from . import optim
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=weight_decay)
    return optim.Adam(params, lr=lr, weight_decay=weight_decay)


def _load_model(path, expect=None):
    """(model, checkpoint dict) from a best or resumable checkpoint, with clear errors."""
    from . import io, models
    if not os.path.exists(path):
        raise CliError(f"no such checkpoint: {path}")
    try:
        ckpt = io.load(path)
    except io.CheckpointError as exc:
        raise CliError(str(exc)) from None
    if not isinstance(ckpt, dict) or ckpt.get("kind") not in ("qiflow-model", "qiflow-trainer"):
        raise CliError(f"{path} is a qiflow file but not a model checkpoint written by `qiflow train`")
    name = ckpt.get("model")
    if name not in models.BUILDERS:
        raise CliError(f"{path} holds an unknown model {name!r}")
    if expect is not None and name != expect:
        raise CliError(f"{path} is a checkpoint of a {name!r} model, not {expect!r}")
    model = models.build(name, **(ckpt.get("config") or {}))
    state = ckpt.get("state") if ckpt["kind"] == "qiflow-model" else (ckpt.get("best_state") or ckpt.get("model_state"))
    try:
        model.load_state_dict(state)
    except (ValueError, TypeError, KeyError) as exc:
        raise CliError(f"{path} does not fit a {name!r} model: {exc}") from None
    model.eval()
    return model, ckpt


def _print_error(err):
    print(f"test error: {100 * err:.2f} %")


# ---------------------------------------------------------------- commands
def cmd_train(args):
    import qiflow as qf
    from . import models
    from .data import DataLoader, random_shift
    from .nn import CrossEntropyLoss
    from .optim import lr_scheduler
    from .train import EarlyStopping, Trainer

    recipe = dict(models.RECIPES[args.model])
    for key in ("epochs", "batch_size", "lr", "optimizer", "weight_decay", "shift", "patience"):
        value = getattr(args, key)
        if value is not None:
            recipe[key] = value
    if recipe["weight_decay"] < 0:
        raise CliError(f"--weight-decay must be >= 0, got {recipe['weight_decay']}")
    out = args.out or os.path.join("runs", args.model)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the output folder {out}: {exc}") from None
    if args.resume is not None and not os.path.isfile(args.resume):
        raise CliError(f"no such checkpoint to resume from: {args.resume}")

    print(f"qiflow train: {args.model}, {recipe['optimizer']} lr {recipe['lr']:g}, batch "
          f"{recipe['batch_size']}, up to {recipe['epochs']} epochs, shift {recipe['shift']}, seed {args.seed}")
    t0 = time.perf_counter()
    train_set, valid_set, test_set = _data(args.data, args.limit)
    print(f"data: {len(train_set)} train / {len(valid_set)} validation / {len(test_set)} test images "
          f"({time.perf_counter() - t0:.1f} s)")

    qf.manual_seed(args.seed)
    model = models.build(args.model)
    opt = _optimizer(recipe["optimizer"], model.parameters(), recipe["lr"], recipe["weight_decay"],
                     recipe["momentum"])
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=recipe["epochs"])
    shift = recipe["shift"]
    collate = (lambda b: (random_shift(b[0], shift, image_shape=(28, 28)), b[1])) if shift else None
    train_loader = DataLoader(train_set, recipe["batch_size"], shuffle=True, collate_fn=collate,
                              generator=qf.Generator(args.seed))
    valid_loader = DataLoader(valid_set, 1000)
    test_loader = DataLoader(test_set, 1000)

    trainer = Trainer(model, opt, CrossEntropyLoss(), scheduler=sched,
                      early_stopping=EarlyStopping(patience=recipe["patience"]),
                      best_path=os.path.join(out, "best.npz"), checkpoint_path=os.path.join(out, "last.npz"),
                      meta={"model": args.model, "config": {}},
                      progress=False if args.no_progress else None, log=print)
    try:
        history = trainer.fit(train_loader, valid_loader, recipe["epochs"], resume=args.resume)
    except ValueError as exc:
        if args.resume is not None:
            raise CliError(f"cannot resume from {args.resume}: {exc}") from None
        raise
    test = trainer.evaluate(test_loader)
    history.test = test
    best = history.best or {}
    history.save(os.path.join(out, "history.json"))
    _annotate_best(os.path.join(out, "best.npz"), test)
    lines = [f"best validation error {100 * best.get('valid_error', float('nan')):.2f} % at epoch "
             f"{best.get('epoch')} ({'stopped early' if history.stopped_early else 'epoch limit'} after "
             f"{history.epochs} epochs, {time.perf_counter() - t0:.1f} s)",
             f"wrote {os.path.join(out, 'best.npz')}, {os.path.join(out, 'last.npz')}, "
             f"{os.path.join(out, 'history.json')}"]
    if not args.no_plot:
        try:
            history.plot(os.path.join(out, "curves.png"))
            lines[-1] += f", {os.path.join(out, 'curves.png')}"
        except ImportError:
            lines.append("(install matplotlib for the loss/accuracy plot)")
    print("\n".join(lines))
    _print_error(test["error"])
    return 0


def _annotate_best(path, test):
    from . import io
    if os.path.exists(path):
        ckpt = io.load(path)
        ckpt["test"] = {k: float(v) for k, v in test.items()}
        io.save(ckpt, path)


def cmd_evaluate(args):
    from .data import DataLoader
    from .nn import CrossEntropyLoss
    from .train import Trainer
    model, ckpt = _load_model(args.checkpoint, args.model)
    splits = _data(args.data, args.limit)
    data = getattr(splits, args.split)
    res = Trainer(model, None, CrossEntropyLoss()).evaluate(DataLoader(data, 1000))
    print(f"{ckpt['model']} on {len(data)} {args.split} images: loss {res['loss']:.4f}, "
          f"accuracy {100 * res['accuracy']:.2f} %")
    print(f"{args.split} error: {100 * res['error']:.2f} %")
    return 0


def _read_png(path):
    if not os.path.isfile(path):
        raise CliError(f"no such image: {path}")
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        try:
            img = Image.open(path).convert("L")
        except OSError as exc:
            raise CliError(f"cannot read {path} as an image: {exc}") from None
        if img.size != (28, 28):
            img = img.resize((28, 28), Image.BILINEAR)
        x = np.asarray(img, np.float32) / 255
    else:
        try:
            import matplotlib.image as mpimg
        except ImportError:
            raise CliError("reading images needs Pillow or matplotlib: pip install pillow") from None
        try:
            x = np.asarray(mpimg.imread(path), np.float32)
        except Exception as exc:  # matplotlib raises several types for bad files
            raise CliError(f"cannot read {path} as a PNG: {exc}") from None
        if x.ndim == 3:
            x = x[..., :3].mean(-1)
        if x.max() > 1:
            x = x / 255
        if x.shape != (28, 28):
            raise CliError(f"{path} is {x.shape[1]}x{x.shape[0]} pixels; without Pillow only 28x28 "
                           "images can be read (pip install pillow to resize)")
    if x.mean() > 0.5:   # dark digit on a light background: MNIST is light on dark
        x = 1 - x
    return x.reshape(1, 784)


def cmd_predict(args):
    import qiflow as qf
    from .functional import softmax
    model, ckpt = _load_model(args.checkpoint, args.model)
    if args.image is not None:
        x, label, what = _read_png(args.image), None, args.image
    else:
        index = args.index or 0
        test = _data(args.data).test
        if index >= len(test):
            raise CliError(f"--index {index} is out of range: the test set has {len(test)} images")
        xs, ys = test.arrays
        x, label, what = xs[index:index + 1], int(ys[index]), f"test image {index}"
    with qf.no_grad():
        probs = softmax(model(qf.tensor(x)), axis=1).numpy()[0]
    pred = int(probs.argmax())
    top = np.argsort(probs)[::-1][:3]
    print(f"{what}: predicted {pred}" + ("" if label is None else f" (label {label})"))
    print("probabilities: " + ", ".join(f"{int(k)}: {probs[k]:.3f}" for k in top))
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict}


def main(argv=None):
    """Entry point of the ``qiflow`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    from .datasets import DataNotFoundError, UnsafePickleError
    try:
        return COMMANDS[args.command](args)
    except CliError as exc:
        print(f"qiflow {args.command}: error: {exc}", file=sys.stderr)
    except (DataNotFoundError, UnsafePickleError) as exc:
        print(f"qiflow {args.command}: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"qiflow {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, FloatingPointError) as exc:
        print(f"qiflow {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
