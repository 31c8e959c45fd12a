"""Seed 003's announcement, RNNs and LSTMs: a character-level LSTM written with
``T.scan``, learning the Reber grammar.

The data is made here: strings of the Reber grammar (the finite automaton of
Reber, 1967, used by Hochreiter and Schmidhuber to test the first LSTMs), e.g.
``BTSSXXTVVE``, concatenated into one stream.  The LSTM reads one symbol per
step and predicts the next; the loop is a ``scan`` whose step computes the
gates from the previous (h, c), and its gradient is the backward scan that
``T.grad`` builds.  Windows of different lengths go through the same compiled
function (the length is known only at run time).  At the end it measures how
often the predicted symbol is one the grammar allows next, and lets the model
write a few strings of its own.

    python examples/seed003_lstm.py [--quick]
"""
import _util

import time

import numpy as np

from qiflow import sym as T

SYMBOLS = "BTPSXVE"
# state -> [(symbol, next state)]: the Reber automaton (state 5 is the end)
GRAMMAR = {0: [("T", 1), ("P", 2)], 1: [("S", 1), ("X", 3)], 2: [("T", 2), ("V", 4)],
           3: [("X", 2), ("S", 5)], 4: [("P", 3), ("V", 5)]}


def reber_string(rng):
    s, state = "B", 0
    while state != 5:
        sym, state = GRAMMAR[state][rng.integers(len(GRAMMAR[state]))]
        s += sym
    return s + "E"


def allowed_next(text):
    """For every position of a stream of Reber strings, the set of symbols the
    grammar allows at the next position."""
    out, state = [], None
    for ch in text:
        if ch == "B":
            state = 0
        elif ch == "E":
            state = None
        else:
            state = dict(GRAMMAR[state])[ch]
        out.append({"B"} if state is None else ({"E"} if state == 5 else {s for s, _ in GRAMMAR[state]}))
    return out


def is_reber(s):
    if len(s) < 2 or s[0] != "B" or s[-1] != "E":
        return False
    state = 0
    for ch in s[1:-1]:
        nxt = dict(GRAMMAR.get(state, []))
        if ch not in nxt:
            return False
        state = nxt[ch]
    return state == 5


def one_hot(idx, n=len(SYMBOLS)):
    return np.eye(n, dtype=np.float32)[idx]


def build(hidden, rng):
    """The model and one compiled training step and one evaluation function."""
    V = len(SYMBOLS)

    def param(shape, scale):
        return T.shared((rng.standard_normal(shape) * scale).astype(np.float32))
    W = param((V, 4 * hidden), 0.3)             # input -> gates (i, f, g, o)
    U = param((hidden, 4 * hidden), 1 / np.sqrt(hidden))
    b = T.shared(np.concatenate([np.zeros(hidden), np.ones(hidden), np.zeros(2 * hidden)]).astype(np.float32))
    Wy, by = param((hidden, V), 0.3), T.shared(np.zeros(V, np.float32))
    params = [W, U, b, Wy, by]

    x = T.ftensor3("x")                         # (steps, batch, V): one-hot symbols
    y = T.ftensor3("y")                         # the next symbols

    def gate(a, k):
        return a[:, k * hidden:(k + 1) * hidden]

    def step(x_t, h, c, W, U, b):
        a = T.dot(x_t, W) + T.dot(h, U) + b
        i, f, o = T.sigmoid(gate(a, 0)), T.sigmoid(gate(a, 1)), T.sigmoid(gate(a, 3))
        c = f * c + i * T.tanh(gate(a, 2))
        return o * T.tanh(c), c

    h0 = T.zeros_like(T.dot(x[0], W)[:, :hidden])
    (hs, _), _ = T.scan(step, sequences=x, outputs_info=[h0, h0], non_sequences=[W, U, b], name="lstm")
    logp = T.log_softmax(T.matmul(hs, Wy) + by, axis=-1)
    loss = -(logp * y).sum(axis=-1).mean()
    lr = T.fscalar("lr")
    grads = T.grad(loss, params)
    vel = [T.shared(np.zeros_like(p.get_value())) for p in params]
    updates = []
    for p, g, v in zip(params, grads, vel):
        g = T.clip(g, -1.0, 1.0)
        updates += [(v, 0.9 * v - lr * g), (p, p + 0.9 * v - lr * g)]
    train = T.function([x, y, lr], loss, updates=updates, name="train step")
    probs = T.function([x], T.exp(logp), name="next-symbol probabilities")
    return train, probs


def windows(stream, length, batch, rng):
    starts = rng.integers(0, len(stream) - length - 1, size=batch)
    idx = np.stack([stream[s:s + length + 1] for s in starts], axis=1)     # (length + 1, batch)
    return one_hot(idx[:-1]), one_hot(idx[1:])


def main():
    args = _util.parser(__doc__.splitlines()[0]).parse_args()
    rng = np.random.default_rng(args.seed)
    epochs, steps_per_epoch = (8, 25) if args.quick else (20, 60)
    text = "".join(reber_string(rng) for _ in range(600))
    stream = np.array([SYMBOLS.index(c) for c in text])
    print(f"Reber grammar: {len(text)} symbols in 600 strings, e.g. {text[:text.index('E') + 1]}")
    floor = np.mean([np.log(len(a)) for a in allowed_next(text)])
    print(f"the grammar's own entropy: {floor:.4f} nats per symbol (the best loss a model can reach)")
    t0 = time.perf_counter()
    train, probs = build(24, rng)
    print(f"built the scan LSTM and its BPTT gradient in {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        length = (12, 30)[epoch % 2]               # one compiled function, two lengths
        losses = [float(train(*windows(stream, length, 32, rng), 0.1)) for _ in range(steps_per_epoch)]
        print(f"epoch {epoch:2d}: loss {np.mean(losses):.4f} (windows of {length} steps)")
    print(f"training took {time.perf_counter() - t0:.1f} s")
    # how often the most likely next symbol is one the grammar allows
    test = "".join(reber_string(rng) for _ in range(100))
    idx = np.array([SYMBOLS.index(c) for c in test])
    pred = probs(one_hot(idx[:-1])[:, None, :])[:, 0].argmax(axis=-1)
    ok = allowed_next(test)[:-1]
    acc = np.mean([SYMBOLS[p] in a for p, a in zip(pred, ok)])
    print(f"predicted next symbols the grammar allows: {100 * acc:.1f} % of {len(pred)}")
    # let the model write: start from B and sample each next symbol from its prediction
    samples = []
    for _ in range(5):
        s = "B"
        while not s.endswith("E") and len(s) < 40:
            p = probs(one_hot(np.array([SYMBOLS.index(c) for c in s]))[:, None, :])[-1, 0].astype(np.float64)
            s += SYMBOLS[rng.choice(len(SYMBOLS), p=p / p.sum())]
        samples.append(s)
    valid = sum(is_reber(s) for s in samples)
    print(f"written by the model: {' '.join(samples)} ({valid} of {len(samples)} are Reber strings)")


if __name__ == "__main__":
    main()
