"""The ``qiflow`` command line: train, evaluate and predict on MNIST.

    qiflow train [--model logreg|mlp|lenet] [--epochs N] [--batch-size B] [--lr LR]
                 [--optimizer sgd|adam] [--seed S] [--out DIR] [--data PATH] [--limit N]
                 [--resume OUT/last.npz [--override NAME=VALUE ...]]
    qiflow evaluate CHECKPOINT [--data PATH]
    qiflow predict CHECKPOINT [--index N | --image FILE.png]
    qiflow --version

``qiflow train`` ends with the line ``test error: X.XX %``. The pieces, one concept a
module: ``app`` (dispatch, messages, exit statuses), ``args`` (the parser), ``settings``
(a run's settings and what may change on resume), ``schema`` (checkpoint metadata checks),
``rundir`` (run folders and their lock), ``signals`` (SIGINT/SIGTERM, closed stdout),
``data``, ``train_cmd`` / ``training`` (the train command) and ``use_cmd`` (evaluate,
predict). This file imports nothing, so that ``qiflow.cli.signals`` can be loaded first
thing by ``import qiflow``.
"""


def main(argv=None):
    """Entry point of the ``qiflow`` console script; returns the exit code."""
    from .app import main as run
    return run(argv)
