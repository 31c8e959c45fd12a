"""Atomic saves leave no temporary file behind: not when interrupted, and not after a kill.

A writer killed by SIGKILL cannot clean up, so its ``.NAME.PID-HOST.*.tmp`` is removed by the
next save of the same file; a live writer's temporary file is never touched.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import qiflow as qf
from qiflow import io

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _temps(folder):
    return sorted(f for f in os.listdir(folder) if f.endswith(".tmp"))


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, MemoryError])
def test_interrupted_write_removes_its_temporary(tmp_path, exc):
    path = tmp_path / "last.npz"
    qf.save({"w": np.arange(3)}, path)
    with pytest.raises(exc):
        with io.atomic_write(path) as f:
            f.write(b"partial")
            assert len(_temps(tmp_path)) == 1
            raise exc()
    assert _temps(tmp_path) == [] and qf.load(path)["w"].tolist() == [0, 1, 2]


def test_temporary_names_carry_the_writer(tmp_path):
    path = tmp_path / "best.npz"
    with io.atomic_write(path) as f:
        (name,) = _temps(tmp_path)
        f.write(b"x")
    assert name.startswith(f".best.npz.{os.getpid()}-{io._HOST}.")


def test_next_save_removes_what_a_dead_writer_left_and_keeps_a_live_ones(tmp_path):
    path = tmp_path / "last.npz"
    dead = tmp_path / f".last.npz.{_dead_pid()}-{io._HOST}.abc123.tmp"
    live = tmp_path / f".last.npz.{os.getppid()}-{io._HOST}.def456.tmp"       # our parent is alive
    other_host = tmp_path / f".last.npz.{_dead_pid()}-00000000.ghi789.tmp"   # cannot tell: keep
    old_legacy = tmp_path / ".last.npz.k2j4h5g6.tmp"                       # untagged, 2 hours old
    new_legacy = tmp_path / ".last.npz.z9y8x7w6.tmp"                       # untagged, fresh
    other_file = tmp_path / f".best.npz.{_dead_pid()}-{io._HOST}.jkl012.tmp"
    for p in (dead, live, other_host, old_legacy, new_legacy, other_file):
        p.write_bytes(b"leftover")
    two_hours_ago = time.time() - 7200
    os.utime(old_legacy, (two_hours_ago, two_hours_ago))
    qf.save({"w": np.ones(2)}, path)
    left = set(_temps(tmp_path))
    assert dead.name not in left and old_legacy.name not in left
    assert {live.name, other_host.name, new_legacy.name, other_file.name} <= left
    assert qf.load(path)["w"].tolist() == [1.0, 1.0]


WRITER = """
    import sys, numpy as np, qiflow as qf
    big = np.ones(4_000_000, np.float32)
    i = 0
    while True:
        qf.save({"w": big * i}, sys.argv[1]); i += 1
"""


def test_sigkill_mid_save_leftover_is_removed_by_the_next_save(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    path = tmp_path / "run" / "last.npz"
    path.parent.mkdir()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for attempt in range(20):
        w = subprocess.Popen([sys.executable, str(script), str(path)], env=env)
        try:
            deadline = time.time() + 60
            while not (path.exists() and _temps(path.parent)) and time.time() < deadline:
                time.sleep(0.001)
        finally:
            w.send_signal(signal.SIGKILL)
            w.wait(10)
        if _temps(path.parent):
            break
    leftovers = _temps(path.parent)
    assert leftovers, "the writer was never caught inside a save"
    qf.load(path)                                  # the previous complete file is intact
    qf.save({"w": np.zeros(1)}, path)
    assert _temps(path.parent) == []


@pytest.mark.parametrize("where", ["open_entry", "write_array", "close_entry"])
def test_an_interrupt_anywhere_inside_save_raises_itself_and_leaves_the_old_file(tmp_path, monkeypatch, where):
    import zipfile
    path = tmp_path / "last.npz"
    qf.save({"w": np.arange(3)}, path)
    calls = []

    def interrupt_on_second(real):
        def wrapper(*a, **k):
            calls.append(1)
            if len(calls) == 2:
                if where == "open_entry":       # after the archive marked an entry as open
                    real(*a, **k)
                raise KeyboardInterrupt
            return real(*a, **k)
        return wrapper

    target = {"open_entry": (zipfile.ZipFile, "_open_to_write"),
              "write_array": (np.lib.format, "write_array"),
              "close_entry": (zipfile._ZipWriteFile, "close")}[where]
    monkeypatch.setattr(*target, interrupt_on_second(getattr(*target)))
    with pytest.raises(KeyboardInterrupt):
        qf.save({"w": np.ones(10), "v": np.zeros(10)}, path)
    monkeypatch.undo()
    assert _temps(tmp_path) == [] and qf.load(path)["w"].tolist() == [0, 1, 2]


def test_an_interrupt_inside_the_zip_writers_constructor_prints_nothing(monkeypatch):
    # SIGTERM landing inside ZipFile.__init__ leaves a half-made object; CPython's __del__
    # then reports "AttributeError: ... '_writing'" on stderr, which a CLI user would see.
    import gc
    import sys
    import zipfile
    from qiflow import io as qio
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    for cls, expected in ((zipfile.ZipFile, 1), (qio._ZipWriter, 0)):
        half = cls.__new__(cls)
        half.fp = object()             # __init__ stopped just after setting fp
        del half
        gc.collect()
        assert len(seen) == expected, (cls, seen)
        seen.clear()
