"""The README's examples run as written and do what they claim."""
import contextlib
import io
import math
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


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
    assert ci in README.read_text()
