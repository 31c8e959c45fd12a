"""Training figures with matplotlib (an optional extra: ``pip install 'qiflow[viz]'``).

* ``history_figure(history)``: loss and metric curves from a training history
  (a dict of lists, or anything with ``.to_dict()`` such as ``qf.train.History``);
* ``evolution_figure({"W1": [...], ...})``: how arrays change over the epochs,
  one heat map per array (rows: elements, columns: epochs);
* ``seed000_figure(outputs, W1s, W2s)``: seed 000's figure (the output, W1 and
  W2 as heat maps over the epochs);
* ``misclassified_grid(images, labels, predictions)``: the digits a model got
  wrong, titled ``label -> prediction``.

Each returns a ``matplotlib.figure.Figure`` (no pyplot, so no display is
needed) and writes it to ``path`` when one is given.

>>> fig = qf.viz.plots.history_figure({"loss": [1.0, 0.5, 0.3]})   # doctest: +SKIP
"""
import numpy as np


def _figure(**kw):
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("qf.viz.plots needs matplotlib: pip install matplotlib "
                          "(or pip install 'qiflow[viz]')") from exc
    return Figure(**kw)


def _finish(fig, path, dpi=100):
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


_BOOKKEEPING = ("iteration", "batches_per_epoch", "lr")


def _as_dict(history):
    """{name: float array} from a dict of lists, or ``qf.train.History`` (records of dicts)."""
    if hasattr(history, "to_dict"):
        history = history.to_dict()
    if not isinstance(history, dict):
        raise TypeError(f"history_figure: expected a dict of lists or an object with .to_dict(), "
                        f"got {type(history).__name__}")
    if isinstance(history.get("records"), list):
        recs = [r for r in history["records"] if isinstance(r, dict)]
        keys = list(dict.fromkeys(k for r in recs for k in r))
        history = {k: [r.get(k) for r in recs] for k in keys}
    out = {}
    for k, v in history.items():
        if not isinstance(v, (list, tuple, np.ndarray)):
            continue
        try:
            arr = np.asarray([np.nan if x is None else x for x in v], dtype=float)
        except (TypeError, ValueError):
            continue
        if arr.ndim == 1 and arr.size and not np.isnan(arr).all():
            out[str(k)] = arr
    if "iteration" in out and "batches_per_epoch" in out:
        out["epoch"] = out["iteration"] / np.maximum(out["batches_per_epoch"], 1)
    return out


def history_figure(history, keys=None, path=None, title=None, x="epoch"):
    """Loss curves on the left, every other metric on the right.

    ``history``: a dict of lists, or ``qf.train.History`` (its records; the x
    axis is then the fractional epoch ``iteration / batches_per_epoch``).
    ``keys`` picks the series (default: all numeric ones except ``x``);
    ``x`` names the series used as the horizontal axis when present
    (else 1, 2, 3 ...).
    """
    h = _as_dict(history)
    xs = h.pop(x, None)
    keys = [k for k in (keys or [k for k in h if k not in _BOOKKEEPING]) if k in h]
    if not keys:
        raise ValueError(f"history_figure: nothing to plot; numeric series are {sorted(h)}")
    losses = [k for k in keys if "loss" in k.lower() or "cost" in k.lower()]
    others = [k for k in keys if k not in losses]
    panels = [p for p in (losses, others) if p]
    fig = _figure(figsize=(5.5 * len(panels), 3.8))
    for i, group in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for k in group:
            y = h[k]
            xv = xs[:len(y)] if xs is not None and len(xs) >= len(y) else np.arange(1, len(y) + 1)
            ax.plot(xv, y, marker="o" if len(y) <= 30 else None, ms=3, label=k)
        ax.set_xlabel(x)
        ax.set_ylabel("loss" if group is losses else "metric")
        if group is losses and all((h[k][~np.isnan(h[k])] > 0).all() for k in group) and \
                max(np.nanmax(h[k]) / np.nanmin(h[k]) for k in group) > 100:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def evolution_figure(series, path=None, vlims=None, cmap="Reds", title=None, row_labels=None):
    """One heat map per named list of arrays: element (row) against epoch (column).

    ``series``: ``{"W1": [W1 at epoch 0, W1 at epoch 1, ...], ...}``;
    ``vlims``: ``{"Output": (-1, 1)}`` fixes a colour range;
    ``row_labels``: ``{"Output": ["out0", "out1"]}`` names the rows.
    """
    if not series:
        raise ValueError("evolution_figure: no series given")
    vlims, row_labels = vlims or {}, row_labels or {}
    fig = _figure(figsize=(4.7 * len(series), 5))
    for i, (name, snaps) in enumerate(series.items()):
        mats = [np.asarray(getattr(s, "data", s), dtype=float).ravel() for s in snaps]
        sizes = {m.size for m in mats}
        if len(sizes) != 1:
            raise ValueError(f"evolution_figure: the arrays of {name!r} change size over the epochs "
                             f"({sorted(sizes)})")
        grid = np.stack(mats, axis=1)                     # elements x epochs
        ax = fig.add_subplot(1, len(series), i + 1)
        lo, hi = vlims.get(name, (grid.min(), grid.max()))
        im = ax.imshow(grid, interpolation="nearest", aspect="auto", cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(name)
        ax.set_xlabel("epochs")
        if name in row_labels:
            ax.set_yticks(range(len(row_labels[name])))
            ax.set_yticklabels(row_labels[name])
        fig.colorbar(im, ax=ax, ticks=[lo, (lo + hi) / 2, hi] if lo != hi else [lo])
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def seed000_figure(outputs, W1s, W2s, path=None):
    """Seed 000's picture: the network output (colour range -1..1), W1 and W2 over the epochs."""
    return evolution_figure({"Output": outputs, "w1": W1s, "w2": W2s}, path=path,
                            vlims={"Output": (-1.0, 1.0)},
                            row_labels={"Output": ["out0", "out1"]})


def misclassified_grid(images, labels, predictions, n=25, cols=5, path=None, title=None):
    """The first ``n`` images whose prediction differs from the label.

    ``images``: ``(N, 784)`` or ``(N, 28, 28)`` (any square size works);
    ``labels`` and ``predictions``: ``(N,)`` integers.
    """
    images = np.asarray(getattr(images, "data", images), dtype=float)
    labels = np.asarray(getattr(labels, "data", labels)).ravel()
    predictions = np.asarray(getattr(predictions, "data", predictions)).ravel()
    if not (len(images) == len(labels) == len(predictions)):
        raise ValueError(f"misclassified_grid: {len(images)} images, {len(labels)} labels and "
                         f"{len(predictions)} predictions must match")
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"misclassified_grid: rows of {images.shape[1]} values are not square "
                             "images; pass (N, H, W)")
        images = images.reshape(-1, side, side)
    wrong = np.flatnonzero(labels != predictions)[:n]
    k = max(len(wrong), 1)
    cols = min(cols, k)
    rows = -(-k // cols)
    fig = _figure(figsize=(1.6 * cols, 1.8 * rows + (0.4 if title else 0)))
    if len(wrong) == 0:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        ax.axis("off")
    for j, idx in enumerate(wrong):
        ax = fig.add_subplot(rows, cols, j + 1)
        ax.imshow(images[idx], cmap="gray_r", interpolation="nearest")
        ax.set_title(f"{labels[idx]} \u2192 {predictions[idx]}", fontsize=9, color="#c0392b")
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)
