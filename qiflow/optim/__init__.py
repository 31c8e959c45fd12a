"""Optimizers and learning-rate schedules with PyTorch's names and update rules.

Updates are done in place on the parameter arrays (``out=`` ufuncs into
reused scratch buffers), and match PyTorch's step for step.

>>> net = qf.nn.Linear(3, 1)
>>> opt = qf.optim.Adam(net.parameters(), lr=1e-2)
>>> loss = net(qf.ones((4, 3))).sum(); loss.backward(); opt.step(); opt.zero_grad()
"""
from .optimizer import Optimizer
from .sgd import SGD
from .adam import Adam, AdamW
from .rmsprop import RMSprop
from .adagrad import Adagrad
from .adadelta import Adadelta
from .lbfgs import LBFGS
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "LBFGS", "lr_scheduler"]
