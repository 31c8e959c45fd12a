"""A run that early stopping ended stays ended: its last checkpoint says so, and resuming it
(even with a higher epoch limit) trains nothing more."""
import numpy as np

import qiflow as qf
from qiflow import nn, optim
from qiflow.data import DataLoader, TensorDataset
from qiflow.train import EarlyStopping, Trainer


def _fit(tmp_path, epochs, resume=None):
    qf.manual_seed(0)
    X, y = qf.datasets.make_classification(200, n_features=4, n_classes=3, seed=3)
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=1e-9)         # nothing improves: patience runs out
    loader = DataLoader(TensorDataset(X, y), 20, shuffle=True, generator=qf.Generator(1))
    trainer = Trainer(model, opt, early_stopping=EarlyStopping(patience=15),
                      checkpoint_path=str(tmp_path / "last.npz"), progress=False)
    history = trainer.fit(loader, DataLoader(TensorDataset(X, y), 100), epochs, resume=resume)
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}, history, trainer


def test_resuming_an_early_stopped_run_trains_nothing_more(tmp_path):
    weights, history, trainer = _fit(tmp_path, 10)
    assert history.stopped_early and history.epochs == 2
    assert qf.load(tmp_path / "last.npz")["history"].count('"stopped_early": true') == 1
    last_weights = {k: v.detach().numpy().copy() for k, v in qf.load(tmp_path / "last.npz")["model_state"].items()}
    again, h2, t2 = _fit(tmp_path, 20, resume=tmp_path / "last.npz")
    assert h2.epochs == 2 and t2.iteration == trainer.iteration
    resumed_last = qf.load(tmp_path / "last.npz")["model_state"]
    for k in weights:
        assert np.array_equal(weights[k], again[k]), k
        assert np.array_equal(last_weights[k], resumed_last[k].detach().numpy()), k
