"""The argument parser: every argument is checked here, before any data is loaded.

Training flags default to None, so that a resumed run can tell a flag the user gave (which
must agree with the checkpoint) from one left out (which the checkpoint fills in).

>>> args = parser().parse_args(["train", "--model", "mlp", "--lr", "0.05"])
>>> args.model, args.lr, args.epochs
('mlp', 0.05, None)
"""
import argparse

from . import settings as S


def _type(name):
    def convert(text):
        try:
            return S.parse(name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = name        # argparse names the type in some messages
    return convert


def _override(text):
    try:
        return S.parse_override(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _non_negative_int(text):
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return v


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _add_train(sub):
    t = sub.add_parser(
        "train", help="train a model on MNIST and print its test error",
        description="Train on MNIST (50k train / 10k validation / 10k test) with early stopping; ends "
                    "with 'test error: X.XX %'. A new run never writes into a folder that holds "
                    "another run: without --out it takes the first free runs/MODEL, runs/MODEL-2, ...; "
                    "an --out that holds a run is refused. --resume continues a run exactly as saved.")
    for name, s in S.SETTINGS.items():
        if not s.flag:
            continue
        kw = {"choices": list(s.choices)} if s.kind == "choice" else {"type": _type(name)}
        t.add_argument(S.flag(name), dest=name, default=None, help=s.help, **kw)
    t.add_argument("--out", default=None,
                   help="output folder (default: the first free one of runs/MODEL, runs/MODEL-2, ...)")
    t.add_argument("--data", default=None,
                   help="folder with the MNIST IDX files or mnist.pkl.gz (default: cache, else download)")
    t.add_argument("--resume", default=None, metavar="CHECKPOINT",
                   help="continue the run that wrote this checkpoint (OUT/last.npz), with its settings")
    t.add_argument("--override", action="append", default=[], type=_override, metavar="NAME=VALUE",
                   help="with --resume: change a setting of the run from now on (repeatable; "
                        f"one of {', '.join(S.OVERRIDABLE)}); recorded in history.json")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.add_argument("--no-plot", action="store_true", help="do not draw the loss/accuracy PNG")


def parser():
    """The ``qiflow`` argument parser."""
    from .. import __version__
    p = argparse.ArgumentParser(prog="qiflow", description="qiflow: train and use MNIST models.")
    p.add_argument("--version", action="version", version=f"qiflow {__version__}")
    sub = p.add_subparsers(dest="command", metavar="{train,evaluate,predict}")
    sub.required = True
    _add_train(sub)
    models = list(S.SETTINGS["model"].choices)

    e = sub.add_parser("evaluate", help="evaluate a checkpoint on the MNIST test set")
    e.add_argument("checkpoint")
    e.add_argument("--data", default=None, help="MNIST location (as for train)")
    e.add_argument("--split", choices=["test", "valid", "train"], default="test")
    e.add_argument("--limit", type=_positive_int, help="use at most N images")
    e.add_argument("--model", choices=models, help="fail unless the checkpoint holds this model")

    r = sub.add_parser("predict", help="classify one image with a checkpoint")
    r.add_argument("checkpoint")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--index", type=_non_negative_int, help="index of an MNIST test image (default 0)")
    g.add_argument("--image", help="a PNG of a digit (28x28 or resizable, any background)")
    r.add_argument("--data", default=None, help="MNIST location (as for train)")
    r.add_argument("--model", choices=models, help="fail unless the checkpoint holds this model")
    return p


def parse(argv):
    """Parsed and cross-checked arguments; a bad combination exits with status 2 like a bad value."""
    p = parser()
    args = p.parse_args(argv)
    if args.command == "train":
        if args.override and args.resume is None:
            p.error("--override only applies with --resume; a new run takes each setting's own flag "
                    f"(e.g. {S.flag(args.override[0][0])} {args.override[0][1]})")
        seen = {}
        for name, value in args.override:
            if name in seen and seen[name] != value:
                p.error(f"--override gives {name} twice: {seen[name]!r} and {value!r}")
            seen[name] = value
    return args
