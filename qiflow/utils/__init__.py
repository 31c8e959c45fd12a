"""``qiflow.utils``: PyTorch's ``torch.utils`` path (``qiflow.utils.data``, loaded on first use,
so that ``qf.utils.data.DataLoader`` works right after ``import qiflow`` as in PyTorch)."""


def __getattr__(name):
    if name == "data":
        import importlib        # (not "from . import data": that asks this __getattr__ again)
        return importlib.import_module(__name__ + ".data")
    raise AttributeError(f"module 'qiflow.utils' has no attribute {name!r}")
