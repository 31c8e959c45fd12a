"""Signals and a closed stdout, as the command line meets them.

* ``guard_startup()`` runs first thing in ``import qiflow``, and only when this process is
  the ``qiflow`` command: Ctrl-C or SIGTERM during the (slow) import then exits quietly with
  130 / 143 instead of a traceback from inside NumPy.
* ``handled()`` turns SIGINT and SIGTERM into :class:`Interrupted` while a command runs, so
  ``finally`` blocks release the run's lock and remove temporary files on every exit path.
  When the block is the ``qiflow`` command itself, the signals are ignored after it instead:
  the work is saved by then, and a late SIGTERM during the interpreter's shut-down (where
  Python handlers no longer run) would otherwise kill a finished run with status -15.
* ``Console`` prints; once stdout is closed (``qiflow train | head``) it goes quiet instead of
  raising ``BrokenPipeError`` into the training loop.

This module imports only the standard library: it runs before NumPy is loaded.

>>> with handled():
...     pass
>>> Console().out("hello")
hello
"""
import contextlib
import os
import signal
import sys

from .errors import Interrupted

STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}
NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


def _is_the_command():
    argv0 = os.path.basename(sys.argv[0]) if sys.argv else ""
    if argv0 in ("qiflow", "qiflow.exe", "qiflow-script.py"):
        return True
    orig = getattr(sys, "orig_argv", [])           # `python -m qiflow ...`
    return any(a == "-m" and b.split(".")[0] == "qiflow" for a, b in zip(orig, orig[1:]))


def guard_startup():
    """Make a signal during start-up exit quietly, for the ``qiflow`` command only."""
    if not _is_the_command():
        return

    def quiet_exit(signum, frame):
        # Nothing is open or saved yet, so leave at once: an exception raised here could land
        # inside a C extension's initialisation (NumPy's), which turns it into an ImportError.
        with contextlib.suppress(Exception):
            sys.stderr.write("qiflow: interrupted while starting\n")
            sys.stderr.flush()
        os._exit(STATUS[signum])

    with contextlib.suppress(ValueError, OSError):      # not the main thread: leave it
        for sig in STATUS:
            signal.signal(sig, quiet_exit)


def _raise(signum, frame):
    # Once the first signal is being handled, a second must not interrupt the clean-up.
    for sig in STATUS:
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(NAMES[signum], STATUS[signum])


@contextlib.contextmanager
def handled():
    """SIGINT and SIGTERM raise :class:`Interrupted` inside the block; restored (or, for the
    command, ignored) after."""
    previous = {}
    try:
        for sig in STATUS:
            previous[sig] = signal.signal(sig, _raise)
    except ValueError:        # not in the main thread (a test harness): signals stay as they are
        pass
    try:
        yield
    finally:
        settled = signal.SIG_IGN if _is_the_command() else None
        for sig, handler in previous.items():
            signal.signal(sig, settled or handler)


class Console:
    """stdout and stderr lines that never raise: a closed stream is replaced by /dev/null."""

    def __init__(self):
        self.closed = {"stdout": False, "stderr": False}

    def mute(self):
        """Print nothing from now on (the ranks other than 0 of ``mpiexec -n N``)."""
        self.closed = dict.fromkeys(self.closed, True)

    def out(self, text=""):
        self._write("stdout", text)

    def err(self, text):
        self._write("stderr", text)

    def _write(self, name, text):
        if self.closed[name]:
            return
        stream = getattr(sys, name)
        try:
            print(text, file=stream, flush=True)
        except (BrokenPipeError, ValueError, OSError):
            self.closed[name] = True
            self._silence(stream)

    @staticmethod
    def _silence(stream):
        # Point the descriptor at /dev/null so the interpreter's final flush cannot fail either.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, stream.fileno())
            os.close(null)
