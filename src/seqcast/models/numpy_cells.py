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

Every function works on a whole batch of sequences at once. The input projection of all
time steps is one matrix product before the loop and the weight gradients are one after
it; the local derivatives of every gate are computed for all steps at once before the
backward loop; so the Python loops over time hold only the hidden-to-hidden product and
a few elementwise products. Inside, arrays are time-major (time, batch, ...), so that
each step is one contiguous block. The initial state is zero, as in the forecasters.
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
    """What the backward pass needs from the forward pass of one layer (time-major)."""

    x: np.ndarray  # (time, batch, input)
    h: np.ndarray  # (time + 1, batch, hidden); h[0] is the zero initial state
    gates: np.ndarray  # (time, batch, gates * hidden), after their activations
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def _check_cell(cell: str) -> None:
    if cell not in GATES:
        raise ValueError(f"unknown cell {cell!r}; choose from {', '.join(CELLS)}")


def forward(
    cell: str, w: LayerWeights, x: np.ndarray, nonlinearity: str = "tanh"
) -> tuple[np.ndarray, LayerCache]:
    """Outputs h_1..h_T (batch, time, hidden) of one layer, and the cache for `backward`."""
    # The logistic sigmoid, overflow-free; imported here, since reading params imports
    # this module and scipy.special costs every stage 0.15 s.
    from scipy.special import expit

    _check_cell(cell)
    xs = np.ascontiguousarray(x.transpose(1, 0, 2))  # (time, batch, input)
    steps, batch, _ = xs.shape
    hidden = w.weight_hh.shape[1]
    w_hh_t = w.weight_hh.T  # (hidden, gates * hidden)
    gi = xs @ w.weight_ih.T + w.bias_ih  # (time, batch, gates * hidden)
    h = np.zeros((steps + 1, batch, hidden), dtype=xs.dtype)
    gates = np.empty_like(gi)
    extra: dict[str, np.ndarray] = {}
    if cell == "rnn":
        gi += w.bias_hh  # both biases simply add
        for t in range(steps):
            a = gi[t] + h[t] @ w_hh_t  # (batch, hidden)
            if nonlinearity == "relu":
                np.maximum(a, 0.0, out=h[t + 1])
            else:
                np.tanh(a, out=h[t + 1])
        gates[:] = h[1:]
    elif cell == "lstm":
        gi += w.bias_hh
        c = np.zeros_like(h)  # (time + 1, batch, hidden)
        tanh_c = np.empty_like(h[1:])
        for t in range(steps):
            a = gi[t] + h[t] @ w_hh_t  # (batch, 4 * hidden): i, f, g, o before activation
            g = gates[t]
            expit(a, out=g)  # sigmoid for i, f and o ...
            np.tanh(a[:, 2 * hidden : 3 * hidden], out=g[:, 2 * hidden : 3 * hidden])  # ... tanh g
            i, f, cand, o = (g[:, k * hidden : (k + 1) * hidden] for k in range(4))
            c[t + 1] = f * c[t] + i * cand
            np.tanh(c[t + 1], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t + 1])
        extra = {"c": c, "tanh_c": tanh_c}
    else:  # gru
        gi[..., : 2 * hidden] += w.bias_hh[: 2 * hidden]  # r, z: biases simply add ...
        b_hn = w.bias_hh[2 * hidden :]  # ... but b_hn is scaled by r with W_hn h
        hn = np.empty_like(h[1:])  # W_hn h + b_hn, before r
        for t in range(steps):
            gh = h[t] @ w_hh_t  # (batch, 3 * hidden)
            g = gates[t]
            expit(gi[t, :, : 2 * hidden] + gh[:, : 2 * hidden], out=g[:, : 2 * hidden])  # r, z
            r, z, n = (g[:, k * hidden : (k + 1) * hidden] for k in range(3))
            np.add(gh[:, 2 * hidden :], b_hn, out=hn[t])
            np.tanh(gi[t, :, 2 * hidden :] + r * hn[t], out=n)
            h[t + 1] = n + z * (h[t] - n)  # (1 - z) n + z h
        extra = {"hn": hn}
    return h[1:].transpose(1, 0, 2), LayerCache(x=xs, h=h, gates=gates, extra=extra)


def backward(
    cell: str, w: LayerWeights, cache: LayerCache, dout: np.ndarray, nonlinearity: str = "tanh"
) -> tuple[np.ndarray, LayerWeights]:
    """Backpropagation through time for one layer.

    `dout` (batch, time, hidden) is the loss gradient w.r.t. each output h_t from above
    (only the last step is non-zero for the top layer). Returns the gradient w.r.t. the
    layer's input x (batch, time, input) and w.r.t. each weight, in `LayerWeights` form.
    """
    _check_cell(cell)
    douts = dout.transpose(1, 0, 2)  # (time, batch, hidden)
    steps, batch, hidden = douts.shape
    h, gates = cache.h, cache.gates
    # Loss gradients w.r.t. the pre-activations of the input part (d_gi) and of the
    # hidden part (d_gh), (time, batch, gates * hidden); they differ only in the GRU's n
    # gate, where r scales the hidden part.
    d_gi = np.empty_like(gates)
    d_gh = d_gi
    dh = np.zeros((batch, hidden), dtype=douts.dtype)  # d loss / d h_t from later steps
    gate = [gates[..., k * hidden : (k + 1) * hidden] for k in range(len(GATES[cell]))]
    if cell == "rnn":
        local = 1.0 - gates * gates if nonlinearity == "tanh" else (gates > 0).astype(gates.dtype)
        for t in reversed(range(steps)):
            dh = dh + douts[t]
            np.multiply(dh, local[t], out=d_gi[t])
            dh = d_gi[t] @ w.weight_hh
    elif cell == "lstm":
        i, f, cand, o = gate
        c, tanh_c = cache.extra["c"], cache.extra["tanh_c"]
        dc_per_dh = o * (1.0 - tanh_c * tanh_c)  # d c-gradient / d h-gradient through h = o tanh(c)
        # d loss / d pre-activation of i, f, g = dc * these; of o = dh * o_local
        ifg_local = np.stack(
            [cand * i * (1.0 - i), c[:-1] * f * (1.0 - f), i * (1.0 - cand * cand)], axis=2
        )  # (time, batch, 3, hidden)
        o_local = tanh_c * o * (1.0 - o)
        d_gi4 = d_gi.reshape(steps, batch, 4, hidden)
        dc = np.zeros_like(dh)
        for t in reversed(range(steps)):
            dh = dh + douts[t]
            dc = dc + dh * dc_per_dh[t]
            np.multiply(dc[:, None, :], ifg_local[t], out=d_gi4[t, :, :3])
            np.multiply(dh, o_local[t], out=d_gi4[t, :, 3])
            dc = dc * f[t]
            dh = d_gi[t] @ w.weight_hh
    else:  # gru
        r, z, n = gate
        n_local = (1.0 - z) * (1.0 - n * n)  # d loss / d n pre-activation = dh * n_local
        r_local = cache.extra["hn"] * r * (1.0 - r)  # ... of r = that * r_local
        z_local = (h[:-1] - n) * z * (1.0 - z)  # ... of z = dh * z_local
        d_gh = np.empty_like(gates)
        d_gi3, d_gh3 = (d.reshape(steps, batch, 3, hidden) for d in (d_gi, d_gh))
        for t in reversed(range(steps)):
            dh = dh + douts[t]
            dan = d_gi3[t, :, 2]
            np.multiply(dh, n_local[t], out=dan)
            np.multiply(dan, r_local[t], out=d_gh3[t, :, 0])
            np.multiply(dh, z_local[t], out=d_gh3[t, :, 1])
            np.multiply(dan, r[t], out=d_gh3[t, :, 2])
            dh = dh * z[t] + d_gh[t] @ w.weight_hh
        d_gi3[:, :, :2] = d_gh3[:, :, :2]  # r and z: one pre-activation for both parts

    flat_gi = d_gi.reshape(steps * batch, -1)  # (time * batch, gates * hidden)
    flat_gh = d_gh.reshape(steps * batch, -1)
    grads = LayerWeights(
        weight_ih=flat_gi.T @ cache.x.reshape(steps * batch, -1),
        weight_hh=flat_gh.T @ h[:-1].reshape(steps * batch, hidden),
        bias_ih=flat_gi.sum(axis=0),
        bias_hh=flat_gh.sum(axis=0),
    )
    return (d_gi @ w.weight_ih).transpose(1, 0, 2), grads


def gate_activations(cell: str, cache: LayerCache) -> dict[str, np.ndarray]:
    """Each gate's activations (batch, time, hidden) from a forward pass, by gate letter."""
    names = GATES[cell]
    return {
        name: values.transpose(1, 0, 2)
        for name, values in zip(names, np.split(cache.gates, len(names), axis=2), strict=True)
    }
