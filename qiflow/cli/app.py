"""Dispatch a command and turn every way it can end into a message and an exit status.

0 done; 1 an error (printed as ``qiflow CMD: error: ...``, never a traceback; set
``QIFLOW_DEBUG=1`` to see one); 2 a bad argument (argparse); 130 SIGINT; 143 SIGTERM.

>>> main(["--version"])
Traceback (most recent call last):
  ...
SystemExit: 0
"""
import os

from .errors import CliError
from . import signals

EXIT_ERROR = 1


def _commands():
    from .train_cmd import cmd_train
    from .use_cmd import cmd_evaluate, cmd_predict
    return {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict}


def _message(exc):
    """The line shown for an error that is not a CliError."""
    from .._state import QiflowError
    from ..datasets import DataFormatError, DataNotFoundError, UnsafePickleError
    if isinstance(exc, (DataNotFoundError, UnsafePickleError, DataFormatError)):
        return str(exc)
    if isinstance(exc, MemoryError):
        return f"out of memory ({exc or 'MemoryError'}); use a smaller --batch-size or --limit"
    if isinstance(exc, (ValueError, OSError, FloatingPointError, QiflowError)):
        return f"{type(exc).__name__}: {exc}"
    return (f"internal error: {type(exc).__name__}: {exc} (run with QIFLOW_DEBUG=1 to see the "
            "traceback, and please report it)")


def _first_rank():
    """False on the ranks after the first when an MPI launcher started several copies of this
    command. ``evaluate`` and ``predict`` read a checkpoint and print a result: one process
    does that, and ``mpiexec -n 4 qiflow evaluate ...`` prints it once, not four times."""
    from ..distributed._mpi import launcher_rank
    rank = launcher_rank()
    return rank is None or rank == 0


def main(argv=None):
    """Entry point of the ``qiflow`` console script; returns the exit code."""
    console = signals.Console()
    name = "qiflow"
    with signals.handled():
        try:
            from .args import parse
            args = parse(argv)
            name = f"qiflow {args.command}"
            if args.command != "train" and not _first_rank():
                return 0        # evaluate/predict under mpiexec: rank 0 alone runs and prints
            return _commands()[args.command](args, console)
        except CliError as exc:
            console.err(f"{name}: error: {exc}")
        except KeyboardInterrupt as exc:
            why = getattr(exc, "name", "SIGINT")
            note = getattr(exc, "note", None)
            console.err(f"{name}: interrupted by {why}" + (f"; {note}" if note else ""))
            return getattr(exc, "status", 130)
        except Exception as exc:
            if os.environ.get("QIFLOW_DEBUG"):
                raise
            console.err(f"{name}: error: {_message(exc)}")
    return EXIT_ERROR
