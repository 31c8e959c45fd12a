"""``qiflow evaluate`` and ``qiflow predict``: use a checkpoint written by ``qiflow train``.

The checkpoint's metadata is checked (:mod:`qiflow.cli.schema`) before the model is built.
"""
import os

import numpy as np

from .errors import CliError
from . import data as D, schema


def load_model(path, expect=None):
    """(model, checkpoint dict) from a best or resumable checkpoint, with clear errors."""
    from .. import io, models
    if not os.path.exists(path):
        raise CliError(f"no such checkpoint: {path}")
    try:
        ckpt = io.load(path)
    except (io.CheckpointError, OSError) as exc:
        raise CliError(str(exc)) from None
    name, config, state = schema.check_model(ckpt, path)
    if expect is not None and name != expect:
        raise CliError(f"{path} is a checkpoint of a {name!r} model, not {expect!r}")
    model = models.build(name, **config)
    try:
        model.load_state_dict(state)
    except (ValueError, TypeError, KeyError) as exc:
        raise CliError(f"{path} does not fit a {name!r} model: {exc}") from None
    model.eval()
    return model, ckpt


def cmd_evaluate(args, console):
    from ..data import DataLoader
    from ..nn import CrossEntropyLoss
    from ..train import Trainer
    model, ckpt = load_model(args.checkpoint, args.model)
    data = getattr(D.load(args.data, args.limit), args.split)
    res = Trainer(model, None, CrossEntropyLoss()).evaluate(DataLoader(data, 1000))
    console.out(f"{ckpt['model']} on {len(data)} {args.split} images: loss {res['loss']:.4f}, "
                f"accuracy {100 * res['accuracy']:.2f} %")
    console.out(f"{args.split} error: {100 * res['error']:.2f} %")
    return 0


def _read_with_pillow(path, Image):
    try:
        img = Image.open(path).convert("L")
    except OSError as exc:
        raise CliError(f"cannot read {path} as an image: {exc}") from None
    if img.size != (28, 28):
        img = img.resize((28, 28), Image.BILINEAR)
    return np.asarray(img, np.float32) / 255


def _read_with_matplotlib(path):
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
    return x


def read_png(path):
    """A digit image as one (1, 784) row, light on dark like MNIST."""
    if not os.path.isfile(path):
        raise CliError(f"no such image: {path}")
    try:
        from PIL import Image
    except ImportError:
        x = _read_with_matplotlib(path)
    else:
        x = _read_with_pillow(path, Image)
    if not np.isfinite(x).all():
        raise CliError(f"{path} holds non-finite pixel values")
    if x.mean() > 0.5:   # dark digit on a light background: MNIST is light on dark
        x = 1 - x
    return x.reshape(1, 784)


def cmd_predict(args, console):
    import qiflow as qf
    from ..functional import softmax
    model, ckpt = load_model(args.checkpoint, args.model)
    if args.image is not None:
        x, label, what = read_png(args.image), None, args.image
    else:
        index = args.index or 0
        test = D.load(args.data).test
        if index >= len(test):
            raise CliError(f"--index {index} is out of range: the test set has {len(test)} images")
        xs, ys = test.arrays
        x, label, what = xs[index:index + 1], int(ys[index]), f"test image {index}"
    with qf.no_grad():
        probs = softmax(model(qf.tensor(x)), axis=1).numpy()[0]
    pred = int(probs.argmax())
    top = np.argsort(probs)[::-1][:3]
    console.out(f"{what}: predicted {pred}" + ("" if label is None else f" (label {label})"))
    console.out("probabilities: " + ", ".join(f"{int(k)}: {probs[k]:.3f}" for k in top))
    return 0
