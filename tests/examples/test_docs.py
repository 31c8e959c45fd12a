"""The code in docs/*.md runs (each page in a fresh interpreter: pages may register
rewrites), its printed results match the `# -> ...` comments, and its links resolve."""
import glob
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
# `print(...)  # -> 6.0 4.0`: what the line prints
_EXPECT = re.compile(r"^print\(.*\)\s+#\s*->\s*(.+)$")
_MARK = "@@qiflow-docs-block@@"


def _needs_sym(text):
    return "qiflow import sym" in text or "qf.compile" in text or "qf.jit" in text


@pytest.mark.parametrize("page", [os.path.basename(p) for p in PAGES])
def test_page_code_runs(page, tmp_path):
    text = open(os.path.join(ROOT, "docs", page), encoding="utf-8").read()
    blocks = _BLOCK.findall(text)
    if not blocks:
        pytest.skip("no python blocks")
    if _needs_sym(text):
        pytest.importorskip("qiflow.sym")
    program = "".join(f"{b}\nprint({_MARK!r})\n" for b in blocks)
    env = dict(os.environ, MPLBACKEND="Agg", QIFLOW_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          cwd=str(tmp_path), env=env, timeout=120)
    assert proc.returncode == 0, f"{page}:\n{proc.stderr[-2000:]}"
    outputs = proc.stdout.split(_MARK + "\n")
    for k, block in enumerate(blocks):
        printed = [line.strip() for line in outputs[k].splitlines() if line.strip()]
        expected = [m.group(1).strip() for m in (_EXPECT.match(l.strip()) for l in block.splitlines()) if m]
        it = iter(printed)      # every expectation appears, in order, among the printed lines
        for want in expected:
            assert any(got == want for got in it), f"{page} block {k}: expected {want!r} in {printed}"


@pytest.mark.parametrize("page", [os.path.basename(p) for p in PAGES])
def test_page_links_resolve(page):
    text = open(os.path.join(ROOT, "docs", page), encoding="utf-8").read()
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" in target:
            continue
        assert os.path.exists(os.path.join(ROOT, "docs", target)), f"{page}: broken link {target}"
    for path in re.findall(r"`((?:qiflow|examples|tests)/[\w/.-]+\.py)`", text):
        assert os.path.exists(os.path.join(ROOT, path)), f"{page}: {path} does not exist"
