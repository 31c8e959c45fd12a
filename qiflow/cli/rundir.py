"""Run folders: one run per folder, claimed with a lock file while it trains.

* A folder *holds a run* when it has ``best.npz``, ``last.npz`` or ``history.json``.
* A new run never writes into such a folder: without ``--out`` it takes the first free name of
  ``runs/MODEL``, ``runs/MODEL-2``, ``runs/MODEL-3`` ...; an ``--out`` that holds a run is
  refused (the message says how to resume it instead).
* ``OUT/.lock`` holds the owner's PID, host and start time, and is ``flock``-ed while the run
  lives, so a second live run on the same folder is refused. The kernel drops the lock when
  its owner dies, even by SIGKILL: the next run finds the stale file, says so and takes it over.
* Claiming a folder writes the lock file, which checks up front that the folder is writable.

>>> lock = RunLock(".").acquire(); lock.release()
"""
import contextlib
import errno
import json
import os
import socket
import time

from .errors import CliError

try:
    import fcntl
except ImportError:          # Windows: fall back to exclusive creation and a PID check
    fcntl = None

RUN_FILES = ("best.npz", "last.npz", "history.json")
LOCK = ".lock"


def run_files(folder):
    """The files that make ``folder`` hold a run (empty when it holds none)."""
    return [f for f in RUN_FILES if os.path.exists(os.path.join(folder, f))]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class RunBusy(CliError):
    """The folder is claimed by a run that is still alive."""


class RunLock:
    """The lock of one run folder (``acquire`` / ``release``, or a ``with`` block)."""

    def __init__(self, folder):
        self.folder = folder
        self.path = os.path.join(folder, LOCK)
        self.fd = None
        self.stale = None         # the record of a dead owner whose lock was taken over

    def _owner_text(self, record):
        if not record:
            return "another process"
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.get("started", 0)))
        return f"PID {record.get('pid')} on {record.get('host')}, started {since}"

    def acquire(self):
        try:
            return self._acquire()
        except RunBusy:
            raise
        except OSError as exc:
            raise CliError(f"cannot write in the output folder {self.folder}: {exc.strerror or exc}; "
                           "choose a writable --out") from None

    def _acquire(self):
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        while True:
            if fcntl is None:
                return self._acquire_without_flock(me)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                record = _read(fd)
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                    raise CliError(f"cannot lock {self.path}: {exc.strerror or exc} (a file system "
                                   "without locks?); choose another --out") from None
                raise RunBusy(f"{self.folder} is in use by a live run ({self._owner_text(record)}); "
                              "wait for it to end, or choose another --out") from None
            try:       # the owner we waited for may have removed the file: lock the current one
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            self.stale = _read(fd) or None
            _write(fd, me)
            self.fd = fd
            return self

    def _acquire_without_flock(self, me):
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                with open(self.path) as f:
                    record = _parse(f.read())
                if record and record.get("host") == me["host"] and _alive(int(record.get("pid", 0))):
                    raise RunBusy(f"{self.folder} is in use by a live run ({self._owner_text(record)})")
                self.stale = record
                os.unlink(self.path)
                continue
            _write(fd, me)
            self.fd = fd
            return self
        raise RunBusy(f"{self.folder} is being claimed by another run")

    def release(self):
        """Remove the lock file and drop the lock (safe to call twice)."""
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = None

    def __enter__(self):
        return self.acquire() if self.fd is None else self

    def __exit__(self, *exc):
        self.release()


def _parse(text):
    try:
        record = json.loads(text)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _read(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return _parse(os.read(fd, 4096).decode(errors="replace"))
    except OSError:
        return {}


def _write(fd, record):
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(record).encode())


def _make(folder):
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the output folder {folder}: {exc.strerror or exc}; choose "
                       "another --out") from None
    if not os.path.isdir(folder):
        raise CliError(f"the output folder {folder} is a file, not a folder")


def claim_new(out, default):
    """(folder, lock) for a new run: ``out`` itself, or with ``default`` the first free ``out-N``."""
    n = 1
    while True:
        folder = out if n == 1 else f"{out}-{n}"
        n += 1
        if default and os.path.exists(folder) and run_files(folder):
            continue            # quick skip without touching a finished run's folder
        _make(folder)
        lock = RunLock(folder)
        try:
            lock.acquire()
        except RunBusy:
            if default:
                continue
            raise
        present = run_files(folder)
        if not present:
            return folder, lock
        lock.release()
        if not default:
            raise CliError(f"--out {folder} already holds a run ({', '.join(present)}); continue it "
                           f"with --resume {os.path.join(folder, 'last.npz')}, or choose another --out")


def claim_existing(folder):
    """The lock of the run folder a resumed run continues in."""
    _make(folder)
    return RunLock(folder).acquire()
