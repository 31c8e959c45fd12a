"""Text and HTML renderings of an ``Explanation`` (see explain.py)."""
import html

import numpy as np

from ._common import fmt_array


def _v(a, e, limit=None):
    s = fmt_array(a, limit or e.max_values)
    if s is None:
        return f"<{'x'.join(map(str, np.shape(a))) or 'scalar'} values>"
    return " ".join(s.split())          # one line, however NumPy wrapped it


def _shape(shape):
    return "scalar" if tuple(shape) == () else str(tuple(shape))


def _local_text(r, e):
    if r.local is None:
        return r.formula
    val = _v(r.local, e, 24)
    if r.local_kind == "jacobian":
        return f"{r.formula}; Jacobian {r.local.shape[0]}x{r.local.shape[1]} = {val}"
    if r.local_kind == "elementwise":
        return f"{r.formula} = {val} (elementwise)"
    return r.formula if r.formula == val else f"{r.formula} = {val}"


def _contrib_text(r, step, e):
    c = _v(r.contribution, e)
    if r.local_kind == "scalar" and step.incoming.size == 1:
        return f"{_v(step.incoming, e)} x {_v(r.local, e)} = {c}"
    return f"vjp = {c}"


def text(e):
    L = e.root
    out = [f"Chain rule for {L}: {len(e.forward)} nodes, {len(e.steps)} backward steps", "",
           "Forward, in topological order:"]
    width = max((len(r["name"]) for r in e.forward), default=1)
    for r in e.forward:
        val = _v(r["value"], e)
        if r["expr"] is None:
            what = "leaf, requires grad" if r["kind"] == "param" else "input, no grad"
            shape = _shape(r["shape"])
            out.append(f"  {r['name']:<{width}} = {val:<16} {what}, {shape} {r['dtype']}")
        else:
            out.append(f"  {r['name']:<{width}} = {r['expr']} = {val}")
    out += ["", f"Backward, in reverse topological order (seed d{L}/d{L} = 1):"]
    for s in e.steps:
        out.append(f"[{s.index}] {s.name} = {s.expr}    incoming d{L}/d{s.name} = {_v(s.incoming, e)}")
        for r in s.inputs:
            head = f"      input {r.position} ({r.name}): "
            if not r.needs_grad:
                out.append(head + r.note)
                continue
            out.append(head + f"local d{s.name}/d{r.name} = {_local_text(r, e)}")
            pad = " " * len(head)
            extra = f"  ({r.note})" if r.note else ""
            out.append(pad + f"contribution {_contrib_text(r, s, e)}{extra}")
            out.append(pad + f"accumulated d{L}/d{r.name} = {_v(r.accumulated, e)}")
    out += ["", "Result: " + (e.summary() or "(no leaf requires grad)")]
    if not e.consistent:
        out.append("WARNING: the accumulated gradients differ from qf.grad's")
    return "\n".join(out) + "\n"


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:980px;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f4f4f4}
code,pre{font-family:SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
.step{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:.8em 0}
.step.current{border-color:#c0392b;box-shadow:0 0 0 2px #f4cccc}
.param{color:#1f5f9f}.input{color:#777}.nograd{color:#999}
.nav button{margin-right:.5em}.result{background:#eef6ee;padding:.6em 1em;border-radius:6px}
.warn{background:#fdecea;padding:.6em 1em}.graph svg{max-width:100%;height:auto}
"""

_JS = """
(function(){
  var steps = document.querySelectorAll('.step'); var i = -1;
  function show(k){
    if (!steps.length) return;
    i = Math.max(0, Math.min(steps.length - 1, k));
    for (var j = 0; j < steps.length; j++) steps[j].classList.toggle('current', j === i);
    steps[i].scrollIntoView({block: 'center'});
    document.getElementById('where').textContent = 'step ' + (i + 1) + ' of ' + steps.length;
  }
  document.getElementById('prev').addEventListener('click', function(){ show(i - 1); });
  document.getElementById('next').addEventListener('click', function(){ show(i + 1); });
})();
"""


def _c(x):
    return f"<code>{html.escape(str(x))}</code>"


def html_page(e, title=None):
    L = html.escape(e.root)
    title = html.escape(title or f"Chain rule for {e.root}")
    h = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         f"<title>{title}</title><style>{_CSS}</style></head><body>",
         f"<h1>{title}</h1>",
         f"<p>{len(e.forward)} nodes. Backward visits the op nodes in reverse topological order; "
         "each sends <i>incoming gradient &times; local derivative</i> to its inputs, where it "
         "is added to what they already have.</p>"]
    if e.graph_svg:
        h.append(f'<h2>The graph</h2><div class="graph">{_strip_xml(e.graph_svg)}</div>')
    elif e.graph_dot:
        h.append("<h2>The graph</h2><details><summary>DOT source (install Graphviz to see a "
                 f"picture)</summary><pre>{html.escape(e.graph_dot)}</pre></details>")
    h.append("<h2>Forward, in topological order</h2><table><tr><th>node</th><th>computed as</th>"
             "<th>value</th><th>type</th></tr>")
    for r in e.forward:
        kind = {"param": "leaf, requires grad", "input": "input, no grad"}.get(r["kind"])
        expr = _c(r["expr"]) if r["expr"] else f'<span class="{r["kind"]}">{kind}</span>'
        h.append(f'<tr><td class="{r["kind"]}">{_c(r["name"])}</td><td>{expr}</td>'
                 f"<td>{_c(_v(r['value'], e))}</td><td>{html.escape(_shape(r['shape']))} "
                 f"{html.escape(r['dtype'])}</td></tr>")
    h.append("</table>")
    h.append(f"<h2>Backward, in reverse topological order</h2><p>Seed: "
             f"&part;{L}/&part;{L} = 1.</p>")
    h.append('<p class="nav"><button id="prev">&#9664; previous step</button>'
             '<button id="next">next step &#9654;</button><span id="where"></span></p>')
    for s in e.steps:
        n = html.escape(s.name)
        h.append(f'<section class="step" id="step-{s.index}"><h3>Step {s.index}: '
                 f"{_c(s.name + ' = ' + s.expr)}</h3>"
                 f"<p>incoming &part;{L}/&part;{n} = {_c(_v(s.incoming, e))}</p>"
                 "<table><tr><th>input</th><th>local derivative</th><th>contribution</th>"
                 f"<th>accumulated &part;{L}/&part;input</th></tr>")
        for r in s.inputs:
            head = f"<td>{r.position}: {_c(r.name)}</td>"
            if not r.needs_grad:
                h.append(f'<tr>{head}<td class="nograd" colspan="3">{html.escape(r.note)}</td></tr>')
                continue
            note = f"<br><small>{html.escape(r.note)}</small>" if r.note else ""
            h.append(f"<tr>{head}<td>&part;{n}/&part;{html.escape(r.name)} = "
                     f"{_c(_local_text(r, e))}</td><td>{_c(_contrib_text(r, s, e))}{note}</td>"
                     f"<td>{_c(_v(r.accumulated, e))}</td></tr>")
        h.append("</table></section>")
    h.append(f'<h2>Result</h2><p class="result">{html.escape(e.summary() or "no leaf requires grad")}'
             "</p>")
    if not e.consistent:
        h.append('<p class="warn">The accumulated gradients differ from qf.grad&#39;s.</p>')
    h.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(h) + "\n"


def _strip_xml(svg):
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg

