"""The code in docs/*.md runs, its printed results match the comments, and its links resolve."""
import contextlib
import glob
import io
import os
import re

import pytest

import qiflow as qf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
# `print(...)  # -> 6.0 4.0`: what the line prints
_EXPECT = re.compile(r"^print\(.*\)\s+#\s*->\s*(.+)$")


def _needs_sym(text):
    return "qiflow import sym" in text or "qf.compile" in text or "qf.jit" in text


@pytest.mark.parametrize("page", [os.path.basename(p) for p in PAGES])
def test_page_code_runs(page, tmp_path, monkeypatch):
    text = open(os.path.join(ROOT, "docs", page), encoding="utf-8").read()
    blocks = _BLOCK.findall(text)
    if not blocks:
        pytest.skip("no python blocks")
    if _needs_sym(text):
        pytest.importorskip("qiflow.sym")
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "__docs__"}
    for block in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, page, "exec"), ns)
        printed = [l for l in out.getvalue().splitlines() if l.strip()]
        expected = [m.group(1).strip() for m in map(_EXPECT.match, (l.strip() for l in block.splitlines()))
                    if m]
        # every commented expectation appears, in order, among the printed lines
        it = iter(printed)
        for want in expected:
            assert any(got.strip() == want for got in it), f"{page}: expected {want!r} in {printed}"
    qf.set_default_dtype("float32")


@pytest.mark.parametrize("page", [os.path.basename(p) for p in PAGES])
def test_page_links_resolve(page):
    text = open(os.path.join(ROOT, "docs", page), encoding="utf-8").read()
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" in target:
            continue
        assert os.path.exists(os.path.join(ROOT, "docs", target)), f"{page}: broken link {target}"
    for path in re.findall(r"`((?:qiflow|examples|tests)/[\w/.-]+\.py)`", text):
        assert os.path.exists(os.path.join(ROOT, path)), f"{page}: {path} does not exist"
