"""Small synthetic datasets for tests and examples, deterministic under a seed.

>>> X, y = make_classification(100, n_features=4, n_classes=3, seed=0)
>>> X.shape, sorted(set(y.tolist()))
((100, 4), [0, 1, 2])
"""
import numpy as np


def make_classification(n_samples=200, n_features=2, n_classes=2, separation=3.0, noise=1.0,
                        seed=0, dtype="float32"):
    """Gaussian blobs, one per class, around random centres ``separation`` apart on average.

    Returns ``X`` (n_samples, n_features) and integer labels ``y`` (classes balanced up to one).
    """
    if n_classes < 2 or n_samples < n_classes:
        raise ValueError(f"make_classification: need n_classes >= 2 and n_samples >= n_classes, got "
                         f"{n_classes} and {n_samples}")
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, n_features)) * separation
    y = rng.permutation(np.arange(n_samples) % n_classes)
    X = centres[y] + noise * rng.standard_normal((n_samples, n_features))
    return X.astype(dtype), y.astype(np.int64)


def make_regression(n_samples=200, n_features=3, n_targets=1, noise=0.1, bias=0.0, seed=0,
                    dtype="float32", coef=False):
    """A linear target ``X @ w + bias`` plus Gaussian noise.

    Returns ``X``, ``y`` ((n_samples,) for one target), and ``w`` too when ``coef``.

    >>> X, y, w = make_regression(50, 3, noise=0.0, coef=True)
    >>> bool(np.allclose(X @ w, y, atol=1e-5))
    True
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    w = rng.uniform(-2, 2, (n_features, n_targets))
    y = X @ w + bias + noise * rng.standard_normal((n_samples, n_targets))
    if n_targets == 1:
        y, w = y[:, 0], w[:, 0]
    X, y, w = X.astype(dtype), y.astype(dtype), w.astype(dtype)
    return (X, y, w) if coef else (X, y)


def make_images(n_samples=1000, n_classes=10, shape=(28, 28), noise=0.15, seed=0):
    """MNIST-shaped uint8 images: one random blurred prototype per class plus noise and a
    random shift of up to 2 pixels.  Returns ``images`` (n, *shape) uint8 and ``labels`` uint8.

    Learnable but not trivial: a linear model gets well above chance within an epoch.
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    protos = rng.random((n_classes, h + 4, w + 4)) ** 3
    # A cheap blur (sum of shifted copies) gives strokes some spatial extent.
    protos = sum(np.roll(np.roll(protos, dy, 1), dx, 2) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    labels = rng.integers(0, n_classes, n_samples)
    dy, dx = rng.integers(0, 5, n_samples), rng.integers(0, 5, n_samples)
    rows = dy[:, None] + np.arange(h)[None, :]
    cols = dx[:, None] + np.arange(w)[None, :]
    imgs = protos[labels[:, None, None], rows[:, :, None], cols[:, None, :]]
    imgs = imgs + noise * rng.standard_normal(imgs.shape)
    imgs = np.clip(imgs / max(imgs.max(), 1e-6), 0, 1)
    return (imgs * 255).astype(np.uint8), labels.astype(np.uint8)
