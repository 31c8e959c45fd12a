"""The two ways a command ends early: a user-facing error, or a signal.

>>> raise CliError("no such checkpoint: x.npz")
Traceback (most recent call last):
  ...
qiflow.cli.errors.CliError: no such checkpoint: x.npz
"""


class CliError(Exception):
    """A user-facing error: printed as ``qiflow CMD: error: MESSAGE`` without a traceback, exit 1."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``status`` is the exit code (128 + signal number).

    A KeyboardInterrupt, so code that already cleans up on Ctrl-C does so for SIGTERM too.
    ``note`` is set on the way out to say what was saved.
    """

    def __init__(self, name, status):
        super().__init__(name)
        self.name, self.status, self.note = name, status, None
