"""Trainer / fit: seed 003's early stopping, best-weight restore, checkpoints, resume, history."""
import json
import math
import os

import numpy as np
import pytest

import qiflow as qf
from qiflow import nn, optim
from qiflow.data import DataLoader, TensorDataset
from qiflow.train import EarlyStopping, History, Trainer, fit


def _theano_loop(values, n_train_batches, n_epochs, patience=5000, patience_increase=2,
                 improvement_threshold=0.995):
    """The loop of seed 003 (deeplearning.net logistic_sgd.py), with scripted validation losses."""
    validation_frequency = min(n_train_batches, patience // 2)
    best_validation_loss = np.inf
    best_iter = None
    values = iter(values)
    done_looping = False
    epoch = 0
    seen = []
    while (epoch < n_epochs) and (not done_looping):
        epoch = epoch + 1
        for minibatch_index in range(n_train_batches):
            iter_ = (epoch - 1) * n_train_batches + minibatch_index
            if (iter_ + 1) % validation_frequency == 0:
                this_validation_loss = next(values)
                seen.append(iter_)
                if this_validation_loss < best_validation_loss:
                    if this_validation_loss < best_validation_loss * improvement_threshold:
                        patience = max(patience, iter_ * patience_increase)
                    best_validation_loss = this_validation_loss
                    best_iter = iter_
            if patience <= iter_:
                done_looping = True
                break
    return dict(stop_iter=iter_, best=best_validation_loss, best_iter=best_iter, epochs=epoch,
                validations=seen, patience=patience)


def _run_es(values, n_batches, n_epochs, **kw):
    es = EarlyStopping(**kw)
    es.start(n_batches)
    values = iter(values)
    seen = []
    for epoch in range(1, n_epochs + 1):
        for i in range(n_batches):
            it = (epoch - 1) * n_batches + i
            if (it + 1) % es.validation_frequency == 0:
                es.update(next(values), it)
                seen.append(it)
            if es.should_stop(it):
                return dict(stop_iter=it, best=es.best, best_iter=es.best_iteration, epochs=epoch,
                            validations=seen, patience=es.patience)
    return dict(stop_iter=it, best=es.best, best_iter=es.best_iteration, epochs=epoch,
                validations=seen, patience=es.patience)


@pytest.mark.parametrize("n_batches, patience, seed", [(83, 5000, 0), (83, 400, 1), (10, 60, 2),
                                                       (7, 30, 3), (2500, 3000, 4)])
def test_early_stopping_matches_seed_003_loop(n_batches, patience, seed):
    rng = np.random.default_rng(seed)
    # Validation errors that improve a lot, then a little, then stall, with noise.
    steps = 400
    values = list(0.09 * np.exp(-np.arange(steps) / 15) + 0.07 + rng.normal(0, 0.002, steps))
    ref = _theano_loop(values, n_batches, 200, patience=patience)
    got = _run_es(values, n_batches, 200, patience=patience)
    assert got == ref


def test_patience_grows_only_on_significant_improvement():
    es = EarlyStopping(patience=100, patience_increase=2, improvement_threshold=0.9)
    es.start(batches_per_epoch=10)
    assert es.validation_frequency == 10
    assert es.update(1.0, 99) and es.patience == 198
    assert es.update(0.95, 149) and es.patience == 198      # better, but not by 10 %
    assert not es.update(0.96, 179) and es.best == 0.95 and es.best_iteration == 149
    assert not es.should_stop(197) and es.should_stop(198)


def _blobs(n=300, seed=0):
    X, y = qf.datasets.make_classification(n, n_features=5, n_classes=3, separation=1.5, seed=seed)
    return TensorDataset(X, y)


def _net():
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 3))


def _params(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def _scripted(trainer, values):
    """Replace validation by a script, keeping everything else real."""
    values = iter(values)
    trainer.evaluate = lambda loader: (lambda e: {"loss": e, "accuracy": 1 - e, "error": e})(next(values))


def test_best_weights_restored_when_the_epoch_limit_ends_training(tmp_path):
    qf.manual_seed(0)
    model = _net()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), best_path=tmp_path / "best.npz",
                      early_stopping=EarlyStopping(patience=10_000), progress=False)
    snaps = []
    trainer.log = lambda line: snaps.append(_params(model))
    _scripted(trainer, [0.5, 0.3, 0.4, 0.35, 0.31])
    loader = DataLoader(_blobs(), batch_size=30, shuffle=True)
    history = trainer.fit(loader, loader, epochs=5)
    assert not history.stopped_early and history.epochs == 5
    assert history.best["epoch"] == 2 and history["valid_error"] == [0.5, 0.3, 0.4, 0.35, 0.31]
    final = _params(model)
    assert all(np.array_equal(final[k], snaps[1][k]) for k in final)       # weights of epoch 2 ...
    assert not all(np.array_equal(final[k], snaps[4][k]) for k in final)   # not the last ones
    saved = qf.load(tmp_path / "best.npz")
    assert saved["kind"] == "qiflow-model" and saved["metrics"]["epoch"] == 2
    for k in final:                                           # ... which are also on disk
        assert np.array_equal(saved["state"][k].detach().numpy(), final[k])


def test_early_stop_then_restore(tmp_path):
    qf.manual_seed(0)
    model = _net()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), progress=False,
                      early_stopping=EarlyStopping(patience=25, patience_increase=2))
    snaps = []
    trainer.log = lambda line: snaps.append(_params(model))
    values = [0.5, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    _scripted(trainer, values)
    loader = DataLoader(_blobs(), batch_size=30)  # 10 batches per epoch, validation every 10
    history = trainer.fit(loader, loader, epochs=10)
    ref = _theano_loop(values, 10, 10, patience=25)
    assert history.stopped_early and history.epochs == ref["epochs"] == 4
    assert history.best["iteration"] == ref["best_iter"] + 1 == 20
    final = _params(model)
    assert all(np.array_equal(final[k], snaps[1][k]) for k in final)


def test_real_training_learns_and_reports_metrics():
    qf.manual_seed(1)
    train, valid = qf.data.random_split(_blobs(600, seed=3), [500, 100], generator=qf.Generator(0))
    model = _net()
    history = fit(model, optim.Adam(model.parameters(), lr=0.01), DataLoader(train, 50, shuffle=True),
                  DataLoader(valid, 100), epochs=15, progress=False)
    first, best = history.records[0], history.best
    assert best["valid_error"] <= first["valid_error"] and best["valid_error"] < 0.25
    assert set(first) >= {"train_loss", "train_accuracy", "valid_loss", "valid_accuracy", "valid_error", "lr"}
    res = Trainer(model, None).evaluate(DataLoader(valid, 100))
    assert math.isclose(res["error"], best["valid_error"], abs_tol=1e-9)   # best weights are loaded
    assert math.isclose(res["accuracy"] + res["error"], 1.0)


def test_regression_monitors_loss():
    X, y = qf.datasets.make_regression(200, 3, noise=0.05, seed=0)
    ds = TensorDataset(X, y.reshape(-1, 1))
    model = nn.Linear(3, 1)
    history = fit(model, optim.SGD(model.parameters(), lr=0.05), DataLoader(ds, 20), DataLoader(ds, 200),
                  epochs=20, loss_fn=nn.MSELoss(), progress=False)
    assert "valid_error" not in history.records[0]
    assert history.best["valid_loss"] < 0.01 < history.records[0]["valid_loss"]


def _run(tmp_path, epochs, resume=None, ckpt="last.npz"):
    qf.manual_seed(42)
    model = _net()
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    loader = DataLoader(_blobs(), batch_size=32, shuffle=True, generator=qf.Generator(9))
    trainer = Trainer(model, opt, scheduler=sched, checkpoint_path=tmp_path / ckpt, progress=False,
                      early_stopping=EarlyStopping(patience=10_000), meta={"model": "toy"})
    h = trainer.fit(loader, DataLoader(_blobs(100, seed=5), 50), epochs=epochs, resume=resume)
    return _params(model), h, opt


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    straight, h1, opt1 = _run(tmp_path, 4, ckpt="a.npz")
    _run(tmp_path, 2, ckpt="b.npz")
    resumed, h2, opt2 = _run(tmp_path, 4, resume=tmp_path / "b.npz", ckpt="b.npz")
    for k in straight:
        assert np.array_equal(straight[k], resumed[k]), k
    strip = lambda recs: [{k: v for k, v in r.items() if k != "seconds"} for r in recs]
    assert strip(h1.records) == strip(h2.records) and len(h2.records) == 4
    assert opt1.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path):
    _run(tmp_path, 1)
    model = _net()
    opt = optim.Adam(model.parameters())
    trainer = Trainer(model, opt, meta={"model": "other"}, progress=False)
    with pytest.raises(ValueError, match="model='toy'"):
        trainer.fit(DataLoader(_blobs(), 32), epochs=2, resume=tmp_path / "last.npz")
    qf.save({"state": {}}, tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="not a resumable"):
        Trainer(model, opt, progress=False).fit(DataLoader(_blobs(), 32), epochs=2,
                                                resume=tmp_path / "plain.npz")


def test_same_seed_same_run():
    def once(seed):
        model = _net()
        fit(model, optim.SGD(model.parameters(), lr=0.1), DataLoader(_blobs(), 30, shuffle=True),
            epochs=2, seed=seed, progress=False)
        return _params(model)

    qf.manual_seed(0)
    a = once(5)
    qf.manual_seed(0)
    b = once(5)
    qf.manual_seed(0)
    c = once(6)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_history_json_and_plot(tmp_path):
    model = _net()
    loader = DataLoader(_blobs(), 50)
    h = fit(model, optim.SGD(model.parameters(), lr=0.1), loader, loader, epochs=2, progress=False)
    h.test = {"error": 0.1}
    h.save(tmp_path / "h.json")
    again = History.load(tmp_path / "h.json")
    assert json.loads(json.dumps(again.to_dict())) == json.loads(json.dumps(h.to_dict()))
    assert again["valid_loss"] == h["valid_loss"] and again.test == {"error": 0.1}
    pytest.importorskip("matplotlib")
    h.plot(tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_bar_flag(capsys):
    pytest.importorskip("tqdm")
    model = _net()
    loader = DataLoader(_blobs(), 50)
    fit(model, optim.SGD(model.parameters(), lr=0.1), loader, epochs=1, progress=True)
    assert "epoch 1/1" in capsys.readouterr().err
    fit(model, optim.SGD(model.parameters(), lr=0.1), loader, epochs=1, progress=None)  # not a terminal
    fit(model, optim.SGD(model.parameters(), lr=0.1), loader, epochs=1, progress=False)
    assert capsys.readouterr().err == ""


def test_errors():
    model = _net()
    opt = optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(_blobs(), 50)
    with pytest.raises(ValueError, match="needs a valid_loader"):
        Trainer(model, opt, early_stopping=EarlyStopping()).fit(loader, epochs=1)
    with pytest.raises(ValueError, match="no batches"):
        fit(model, opt, DataLoader(_blobs(10), 50, drop_last=True), epochs=1, progress=False)
    with pytest.raises(FloatingPointError, match="inputs hold NaN or inf values: check the data"):
        bad = TensorDataset(np.full((4, 5), np.nan, np.float32), np.zeros(4, np.int64))
        fit(model, opt, DataLoader(bad, 2), epochs=1, progress=False)
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)
