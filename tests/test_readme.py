"""The README is true: its examples run as written, and on a fresh clone every command it shows
runs, in order, and does what it says.

The fresh-clone test clones this checkout (its tracked files as they are now, committed or
not: ``git stash create``) into a temporary folder and runs, with a new virtual environment
on PATH and the current directory at the clone's root:

* every ``bash`` block line by line, verbatim (so the install lines really run ``pip install``
  into that environment), except ``python -m pytest``, which is run as ``--collect-only``
  (the suite cannot run itself from inside one of its tests);
* every ``python`` block, as a program of its own.

The new environment sees the packages of the one running the tests through a ``.pth`` file
(what ``--system-site-packages`` does for a base interpreter), so ``pip install`` finds its
dependencies satisfied without downloading them, and installs qiflow from the clone. MNIST
comes from the user's cache when there is one (linked into a fresh cache folder), else the
main command downloads it as the README says. The commands run with one BLAS thread unless
``OMP_NUM_THREADS`` is set: the environment, not the commands, is the test's choice.
"""
import contextlib
import io
import math
import os
import pathlib
import re
import shutil
import site
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, re.S)
FENCED = re.findall(r"```(bash|python)\n(.*?)```", TEXT, re.S)


def _run(block):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})
    return out.getvalue()


def test_readme_has_the_two_twenty_line_examples():
    assert len(BLOCKS) >= 2
    assert all(len(b.strip().splitlines()) <= 22 for b in BLOCKS[:2])


def test_eager_example_learns_the_blobs():
    printed = _run(BLOCKS[0])
    loss, acc = map(float, re.search(r"loss ([\d.]+), accuracy ([\d.]+)", printed).groups())
    assert loss < 0.2 and acc >= 0.95, printed


def test_symbolic_example_trains_to_a_finite_cost():
    printed = _run(BLOCKS[1])
    cost, acc = map(float, re.search(r"cost ([-\d.e]+) accuracy ([\d.]+)", printed).groups())
    assert math.isfinite(cost) and cost < 0.5 and acc >= 0.9, printed


def test_readme_test_command_is_the_one_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in TEXT


def test_readme_links_stay_inside_the_repository():
    targets = re.findall(r"\]\(([^)\s]+)\)", TEXT) + re.findall(r"`([^`\s]*\.md)`", TEXT)
    for t in targets:
        if "://" in t:
            continue
        path = (ROOT / t.split("#")[0]).resolve()
        assert ROOT in path.parents and path.exists(), f"README points at {t}, outside or missing"
    assert "../" not in TEXT
    assert (ROOT / "docs" / "architecture.md").exists() and "docs/architecture.md" in TEXT


def _commands():
    """The README's shell commands in order."""
    lines = []
    for kind, body in FENCED:
        if kind == "bash":
            lines += [ln for ln in body.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return lines


def test_checkpoints_the_readme_uses_are_made_by_commands_before_them():
    made = set()
    for line in _commands():
        m = re.match(r"(?:.*&& )?qiflow train(.*)", line)
        if m:
            args = m.group(1).split("#")[0].split()
            if "--out" in args:
                made.add(args[args.index("--out") + 1])
            elif "--resume" not in args:
                made.add("runs/" + (args[args.index("--model") + 1] if "--model" in args else "logreg"))
        for used in re.findall(r"(runs/[\w-]+)/\w+\.npz", line.split("#")[0]):
            assert used in made, f"{line!r} uses {used}, which no earlier command writes"


# ------------------------------------------------------------------- the fresh clone
def _git(*args, cwd=ROOT):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    if sys.platform == "win32":
        pytest.skip("POSIX shell commands")
    base = tmp_path_factory.mktemp("fresh")
    # a commit object of the working tree's tracked files (no ref, nothing in the checkout changes)
    state = _git("-c", "user.name=qiflow tests", "-c", "user.email=tests@qiflow.invalid",
                 "stash", "create").strip() or _git("rev-parse", "HEAD").strip()
    clone = base / "qiflow"
    _git("clone", "--quiet", "--shared", "--no-checkout", str(ROOT), str(clone))
    _git("checkout", "--quiet", "--detach", state, cwd=clone)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(purelib, "_outer_environment.pth"), "w") as f:
        f.write("\n".join(site.getsitepackages()) + "\n")
    cache = base / "cache"
    cache.mkdir()
    mine = pathlib.Path(os.environ.get("QIFLOW_CACHE") or pathlib.Path.home() / ".cache" / "qiflow") / "mnist.npz"
    if mine.exists():
        try:
            os.link(mine, cache / "mnist.npz")
        except OSError:
            shutil.copy(mine, cache / "mnist.npz")
    elif os.environ.get("QIFLOW_OFFLINE"):
        pytest.skip("MNIST is not cached and downloading is off")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "QIFLOW_OFFLINE")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               QIFLOW_CACHE=str(cache), MPLBACKEND="Agg", PIP_DISABLE_PIP_VERSION_CHECK="1")
    # One BLAS thread unless the caller chose: on a busy machine OpenBLAS's spinning threads made
    # the main command 6.6x slower (162 s against 24.6 s for `qiflow train`, load average 4).
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(var, "1")
    return clone, env


def _sh(line, clone, env):
    import time
    t0 = time.perf_counter()
    p = subprocess.run(["bash", "-c", f"set -eo pipefail\n{line}"], cwd=clone, env=env,
                       capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, f"{line!r} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    print(f"{time.perf_counter() - t0:6.1f} s  {line}", file=sys.stderr)
    return p.stdout


def _table_error(model):
    row = next(line for line in TEXT.splitlines() if line.startswith("| `qiflow train") and
               (f"--model {model}" in line or (model == "logreg" and "(= `--model logreg`)" in line)))
    return re.search(r"\*\*(\d+\.\d+) %\*\*", row).group(1)


def test_every_command_of_the_readme_runs_in_a_fresh_clone(fresh):
    clone, env = fresh
    printed = []
    for kind, body in FENCED:
        if kind == "python":
            program = clone / f"readme_block_{len(printed)}.py"
            program.write_text(body)
            printed.append(("python", _sh(f"python {program.name}", clone, env)))
            continue
        for line in (ln for ln in body.splitlines() if ln.strip()):
            run = line.replace("&& python -m pytest", "&& python -m pytest --collect-only -q -p no:cacheprovider")
            printed.append((line, _sh(run, clone, env)))
    out = dict(printed)
    where = _sh("python -c 'import qiflow; print(qiflow.__file__)'", clone, env).strip()
    assert where == str(clone / "qiflow" / "__init__.py")          # the clone's code ran

    main_job = next(v for k, v in printed if k.endswith("qiflow train"))
    assert "output: runs/logreg" in main_job
    assert main_job.strip().splitlines()[-1] == f"test error: {_table_error('logreg')} %"
    for name in ("best.npz", "last.npz", "history.json", "curves.png"):
        assert (clone / "runs" / "logreg" / name).exists(), name
    tests = next(v for k, v in printed if k.endswith("python -m pytest"))
    assert sum(int(n) for n in re.findall(r"^tests/\S+\.py: (\d+)$", tests, re.M)) > 1000, tests[-500:]

    evaluated = next(v for k, v in printed if k.startswith("qiflow evaluate"))
    assert evaluated.strip().splitlines()[-1] == main_job.strip().splitlines()[-1]
    assert re.search(r"test image 7: predicted \d \(label \d\)",
                     next(v for k, v in printed if k.startswith("qiflow predict")))
    quick = next(v for k, v in printed if k.startswith("qiflow train --model mlp"))
    assert "output: runs/mlp" in quick and "data: 5000 train / 5000 validation / 5000 test" in quick
    resumed = next(v for k, v in printed if k.startswith("qiflow train --resume"))
    assert "resuming runs/mlp after epoch 3" in resumed and "epochs 3 -> 5" in resumed
    assert re.search(r"\(epoch limit after 5 epochs", resumed)
    import qiflow as qf
    assert qf.load(clone / "runs" / "mlp" / "last.npz")["epoch"] == 5
    assert next(v for k, v in printed if k.startswith("qiflow --version")) == f"qiflow {qf.__version__}\n"
    assert "dz/da = 6, dz/db = 4" in printed[-1][1] and (clone / "z.dot").exists()
    assert not (clone / "runs" / "lenet").exists()
