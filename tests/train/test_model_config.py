"""The models' size arguments are checked before anything is allocated."""
import tracemalloc

import pytest

from qiflow import models


@pytest.mark.parametrize("name,config,needle", [
    ("mlp", {"hidden": 5_000_000}, r"hidden=5000000 is out of range: expected an integer in \[1, 16384\]"),
    ("mlp", {"bogus": 1}, r"unknown config entry 'bogus'; the model takes n_in, hidden, n_out"),
    ("mlp", {"hidden": 2.5}, r"hidden=2.5 is out of range"),
    ("mlp", {"hidden": True}, r"hidden=True is out of range"),
    ("logreg", {"n_out": 0}, r"n_out=0 is out of range"),
    ("lenet", {"n_in": 784}, r"unknown config entry 'n_in'; the model takes n_out"),
    ("mlp", {"n_in": 65536, "hidden": 16384}, r"1,073,\d{3},\d{3} parameters, more than the limit"),
    ("resnet", {}, r"unknown model 'resnet'"),
])
def test_bad_configs_are_refused_before_allocating(name, config, needle):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=needle):
            models.build(name, **config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000        # nothing the size of a layer was allocated


def test_parameter_count_matches_the_built_models():
    for name, config in [("logreg", {}), ("mlp", {"hidden": 7}), ("lenet", {"n_out": 3}),
                         ("logreg", {"n_in": 5, "n_out": 2})]:
        model = models.build(name, **config)
        assert models.parameter_count(name, config) == sum(p.numel() for p in model.parameters())


def test_check_config_completes_the_defaults():
    assert models.check_config("mlp", {"hidden": 64}) == {"n_in": 784, "hidden": 64, "n_out": 10}
    assert models.build("mlp", hidden=64)[1].weight.shape == (64, 784)
