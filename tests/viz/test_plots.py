"""qf.viz.plots: the figures carry the data they were given."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")
from qiflow.viz import plots  # noqa: E402


class _History:
    def __init__(self, d):
        self.d = d

    def to_dict(self):
        return self.d


def test_history_figure_panels_and_data(tmp_path):
    h = {"epoch": [1, 2, 3], "loss": [1.0, 0.5, 0.25], "val_loss": [1.2, 0.7, 0.4],
         "accuracy": [0.5, 0.7, 0.9], "note": ["a", "b", "c"]}
    p = tmp_path / "h.png"
    fig = plots.history_figure(_History(h), path=str(p))
    assert p.read_bytes()[:4] == b"\x89PNG"
    left, right = fig.axes
    assert [l.get_label() for l in left.get_lines()] == ["loss", "val_loss"]
    assert [l.get_label() for l in right.get_lines()] == ["accuracy"]
    np.testing.assert_array_equal(left.get_lines()[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(left.get_lines()[1].get_ydata(), [1.2, 0.7, 0.4])
    one = plots.history_figure({"loss": [3.0, 2.0]})
    assert len(one.axes) == 1
    np.testing.assert_array_equal(one.axes[0].get_lines()[0].get_xdata(), [1, 2])
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.history_figure({"note": ["x"]})
    with pytest.raises(TypeError, match="dict of lists"):
        plots.history_figure([1, 2, 3])


def test_seed000_figure_heat_maps(tmp_path):
    outs = [np.array([0.72, -0.88]), np.array([0.1, 0.2]), np.array([-0.8, 0.7])]
    W1s = [np.full((3, 4), k, float) for k in range(3)]
    W2s = [np.arange(8.0).reshape(4, 2) * k for k in range(3)]
    fig = plots.seed000_figure(outs, W1s, W2s, path=str(tmp_path / "s.png"))
    heat = [ax for ax in fig.axes if ax.get_images()]
    assert [ax.get_title() for ax in heat] == ["Output", "w1", "w2"]
    grids = [ax.get_images()[0].get_array() for ax in heat]
    assert [g.shape for g in grids] == [(2, 3), (12, 3), (8, 3)]     # elements x epochs
    np.testing.assert_allclose(grids[0][:, 0], [0.72, -0.88])
    assert heat[0].get_images()[0].get_clim() == (-1.0, 1.0)
    assert [t.get_text() for t in heat[0].get_yticklabels()] == ["out0", "out1"]
    with pytest.raises(ValueError, match="change size"):
        plots.evolution_figure({"W": [np.zeros(2), np.zeros(3)]})


def test_misclassified_grid():
    rng = np.random.default_rng(0)
    images = rng.random((10, 784))
    labels = np.arange(10) % 10
    preds = labels.copy()
    preds[[2, 5, 7]] = [3, 1, 0]
    fig = plots.misclassified_grid(images, labels, preds, cols=2)
    assert [ax.get_title() for ax in fig.axes] == ["2 \u2192 3", "5 \u2192 1", "7 \u2192 0"]
    np.testing.assert_allclose(fig.axes[1].get_images()[0].get_array(), images[5].reshape(28, 28))
    none = plots.misclassified_grid(images, labels, labels)
    assert none.axes[0].texts[0].get_text() == "no misclassified images"
    with pytest.raises(ValueError, match="must match"):
        plots.misclassified_grid(images, labels[:3], preds)


def test_history_figure_from_train_history():
    train = pytest.importorskip("qiflow.train")
    h = train.History()
    h.records = [{"epoch": 1, "iteration": 50, "batches_per_epoch": 100, "lr": 0.1, "train_loss": 2.0,
                  "valid_loss": 2.2, "valid_error": 0.5},
                 {"epoch": 1, "iteration": 100, "batches_per_epoch": 100, "lr": 0.1, "train_loss": 1.0,
                  "valid_loss": None, "valid_error": 0.3}]
    fig = plots.history_figure(h)
    left, right = fig.axes
    assert [l.get_label() for l in left.get_lines()] == ["train_loss", "valid_loss"]
    assert [l.get_label() for l in right.get_lines()] == ["valid_error"]
    np.testing.assert_allclose(left.get_lines()[0].get_xdata(), [0.5, 1.0])
    assert np.isnan(left.get_lines()[1].get_ydata()[1])


def test_missing_matplotlib_message(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plots.history_figure({"loss": [1.0, 0.5]})
