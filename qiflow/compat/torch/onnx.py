"""``torch.onnx`` under qiflow: importable, so programs that import it run; exporting is
an error (qiflow writes no ONNX files).

>>> from qiflow.compat.torch import onnx
>>> onnx.export(None, (), "m.onnx")
Traceback (most recent call last):
...
NotImplementedError: torch.onnx.export: qiflow cannot export ONNX models (save the state_dict with qf.save instead)
"""


def export(model, args=(), f=None, *more, **kwargs):
    raise NotImplementedError("torch.onnx.export: qiflow cannot export ONNX models "
                              "(save the state_dict with qf.save instead)")


def __getattr__(name):
    raise AttributeError(f"torch.onnx.{name}: qiflow has no ONNX support")
