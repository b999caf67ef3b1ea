"""One recurrent layer in NumPy, forward and backward through time, in PyTorch's layout.

The weights are exactly those of `nn.RNN` / `nn.LSTM` / `nn.GRU` for one layer, so a
state dict copies across unchanged (`weight_ih` (gates * hidden, input), `weight_hh`
(gates * hidden, hidden), `bias_ih`, `bias_hh` (gates * hidden,)), and the equations are
PyTorch's, gate order included:

    rnn   h' = act(W_ih x + b_ih + W_hh h + b_hh)                    act = tanh or relu
    lstm  i, f, g, o = sigma, sigma, tanh, sigma of (W_ih x + b_ih + W_hh h + b_hh)
          c' = f * c + i * g;  h' = o * tanh(c')
    gru   r, z = sigma of (W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z})
          n = tanh(W_in x + b_in + r * (W_hn h + b_hn));  h' = (1 - z) * n + z * h

Every function works on a whole batch of sequences at once: the input projection of all
time steps is one matrix product before the loop, and the weight gradients are one
matrix product after it, so the Python loop over time holds only the hidden-to-hidden
product and elementwise work. The initial state is zero, as in the forecasters.
"""

from dataclasses import dataclass, field

import numpy as np

GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
GATE_NAMES = {
    "i": "input gate",
    "f": "forget gate",
    "g": "cell candidate",
    "o": "output gate",
    "r": "reset gate",
    "z": "update gate",
    "n": "new state",
}
CELLS = tuple(GATES)


@dataclass
class LayerWeights:
    weight_ih: np.ndarray  # (gates * hidden, input)
    weight_hh: np.ndarray  # (gates * hidden, hidden)
    bias_ih: np.ndarray  # (gates * hidden,)
    bias_hh: np.ndarray  # (gates * hidden,)


@dataclass
class LayerCache:
    """What the backward pass needs from the forward pass of one layer."""

    x: np.ndarray  # (batch, time, input)
    h: np.ndarray  # (batch, time + 1, hidden); h[:, 0] is the zero initial state
    gates: np.ndarray  # (batch, time, gates * hidden), after their activations
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    # Split by sign so that exp never overflows for large |a|.
    out = np.empty_like(a)
    positive = a >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-a[positive]))
    e = np.exp(a[~positive])
    out[~positive] = e / (1.0 + e)
    return out


def forward(
    cell: str, w: LayerWeights, x: np.ndarray, nonlinearity: str = "tanh"
) -> tuple[np.ndarray, LayerCache]:
    """Outputs h_1..h_T (batch, time, hidden) of one layer, and the cache for `backward`."""
    batch, steps, _ = x.shape
    hidden = w.weight_hh.shape[1]
    # (batch, time, gates * hidden): the input part of every step in one product
    gi = x @ w.weight_ih.T + w.bias_ih
    h = np.zeros((batch, steps + 1, hidden), dtype=x.dtype)
    gates = np.empty_like(gi)
    extra: dict[str, np.ndarray] = {}
    if cell == "rnn":
        act = np.tanh if nonlinearity == "tanh" else (lambda a: np.maximum(a, 0.0))
        for t in range(steps):
            h[:, t + 1] = act(gi[:, t] + h[:, t] @ w.weight_hh.T + w.bias_hh)
        gates[:] = h[:, 1:]
    elif cell == "lstm":
        c = np.zeros_like(h)  # (batch, time + 1, hidden)
        tanh_c = np.empty((batch, steps, hidden), dtype=x.dtype)
        for t in range(steps):
            a = gi[:, t] + h[:, t] @ w.weight_hh.T + w.bias_hh  # (batch, 4 * hidden)
            g = gates[:, t]
            g[:, : 2 * hidden] = _sigmoid(a[:, : 2 * hidden])  # i, f
            g[:, 2 * hidden : 3 * hidden] = np.tanh(a[:, 2 * hidden : 3 * hidden])  # g
            g[:, 3 * hidden :] = _sigmoid(a[:, 3 * hidden :])  # o
            i, f, cand, o = np.split(g, 4, axis=1)
            c[:, t + 1] = f * c[:, t] + i * cand
            tanh_c[:, t] = np.tanh(c[:, t + 1])
            h[:, t + 1] = o * tanh_c[:, t]
        extra = {"c": c, "tanh_c": tanh_c}
    elif cell == "gru":
        hn = np.empty((batch, steps, hidden), dtype=x.dtype)  # W_hn h + b_hn, before r
        for t in range(steps):
            gh = h[:, t] @ w.weight_hh.T + w.bias_hh  # (batch, 3 * hidden)
            g = gates[:, t]
            g[:, : 2 * hidden] = _sigmoid(gi[:, t, : 2 * hidden] + gh[:, : 2 * hidden])  # r, z
            r, z = g[:, :hidden], g[:, hidden : 2 * hidden]
            hn[:, t] = gh[:, 2 * hidden :]
            n = np.tanh(gi[:, t, 2 * hidden :] + r * hn[:, t])
            g[:, 2 * hidden :] = n
            h[:, t + 1] = (1.0 - z) * n + z * h[:, t]
        extra = {"hn": hn}
    else:
        raise ValueError(f"unknown cell {cell!r}; choose from {', '.join(CELLS)}")
    return h[:, 1:], LayerCache(x=x, h=h, gates=gates, extra=extra)


def backward(
    cell: str, w: LayerWeights, cache: LayerCache, dout: np.ndarray, nonlinearity: str = "tanh"
) -> tuple[np.ndarray, LayerWeights]:
    """Backpropagation through time for one layer.

    `dout` (batch, time, hidden) is the loss gradient w.r.t. each output h_t from above
    (only the last step is non-zero for the top layer). Returns the gradient w.r.t. the
    layer's input x (batch, time, input) and w.r.t. each weight, in `LayerWeights` form.
    """
    batch, steps, hidden = dout.shape
    h, gates = cache.h, cache.gates
    # Loss gradients w.r.t. the pre-activations of the input part (d_gi) and of the
    # hidden part (d_gh); they differ only in the GRU's n gate, where r scales the latter.
    d_gi = np.empty_like(gates)
    d_gh = d_gi
    dh = np.zeros((batch, hidden), dtype=dout.dtype)
    if cell == "rnn":
        for t in reversed(range(steps)):
            dh = dh + dout[:, t]
            out = gates[:, t]
            d_gi[:, t] = dh * (1.0 - out * out) if nonlinearity == "tanh" else dh * (out > 0)
            dh = d_gi[:, t] @ w.weight_hh
    elif cell == "lstm":
        c, tanh_c = cache.extra["c"], cache.extra["tanh_c"]
        dc = np.zeros_like(dh)
        for t in reversed(range(steps)):
            dh = dh + dout[:, t]
            i, f, cand, o = np.split(gates[:, t], 4, axis=1)
            dc = dc + dh * o * (1.0 - tanh_c[:, t] ** 2)
            da = d_gi[:, t]
            da[:, :hidden] = dc * cand * i * (1.0 - i)
            da[:, hidden : 2 * hidden] = dc * c[:, t] * f * (1.0 - f)
            da[:, 2 * hidden : 3 * hidden] = dc * i * (1.0 - cand * cand)
            da[:, 3 * hidden :] = dh * tanh_c[:, t] * o * (1.0 - o)
            dc = dc * f
            dh = da @ w.weight_hh
    elif cell == "gru":
        hn = cache.extra["hn"]
        d_gh = np.empty_like(gates)
        for t in reversed(range(steps)):
            dh = dh + dout[:, t]
            r, z, n = np.split(gates[:, t], 3, axis=1)
            dan = dh * (1.0 - z) * (1.0 - n * n)
            dai, dah = d_gi[:, t], d_gh[:, t]
            dai[:, :hidden] = dan * hn[:, t] * r * (1.0 - r)
            dai[:, hidden : 2 * hidden] = dh * (h[:, t] - n) * z * (1.0 - z)
            dai[:, 2 * hidden :] = dan
            dah[:, : 2 * hidden] = dai[:, : 2 * hidden]
            dah[:, 2 * hidden :] = dan * r
            dh = dh * z + dah @ w.weight_hh
    else:
        raise ValueError(f"unknown cell {cell!r}; choose from {', '.join(CELLS)}")

    x = cache.x
    flat_gi = d_gi.reshape(batch * steps, -1)  # (batch * time, gates * hidden)
    flat_gh = d_gh.reshape(batch * steps, -1)
    grads = LayerWeights(
        weight_ih=flat_gi.T @ x.reshape(batch * steps, -1),
        weight_hh=flat_gh.T @ h[:, :-1].reshape(batch * steps, hidden),
        bias_ih=flat_gi.sum(axis=0),
        bias_hh=flat_gh.sum(axis=0),
    )
    return d_gi @ w.weight_ih, grads


def gate_activations(cell: str, cache: LayerCache) -> dict[str, np.ndarray]:
    """Each gate's activations (batch, time, hidden) from a forward pass, by gate letter."""
    return dict(zip(GATES[cell], np.split(cache.gates, len(GATES[cell]), axis=2), strict=True))
