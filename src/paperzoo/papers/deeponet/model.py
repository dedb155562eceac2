"""DeepONet (Lu, Jin, Pang, Zhang, Karniadakis 2021): branch and trunk networks joined by a dot product.

``G(u)(y) ~ sum_{k=1}^p b_k(u) t_k(y) + b_0`` (card "Network", source-checked against DeepXDE 0.11 ``OpNN``):

* branch: ``[m, width, ..., width, p]`` on the sensor values ``u(x_1..x_m)``, hidden layers activated, the last
  layer linear (with bias);
* trunk: ``[d, width, ..., width, p]`` on the query point ``y``, every layer activated, the last one included;
* ``b_0``: one trainable scalar, initialised to 0 (``output_bias``).

Unstacked (default): one branch net with ``p`` outputs. Stacked: ``p`` independent branch nets with one output
each, evaluated together as one batched matmul per layer. Init Glorot normal, biases zero; ReLU (card defaults:
m = 100, width = p = 40, depth 2 -> 7,401 parameters).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo.registry import register_model

_ACTS = {"relu": torch.relu, "tanh": torch.tanh, "gelu": nn.functional.gelu, "silu": nn.functional.silu}


def _glorot_normal(fan_in: int, fan_out: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape) * math.sqrt(2.0 / (fan_in + fan_out))


class _Dense(nn.Module):
    """``G`` independent dense stacks ``sizes`` evaluated at once: weights (G, in, out); x (G, B, in) or (B, in)."""

    def __init__(self, sizes: list[int], groups: int, act, last_act: bool):
        super().__init__()
        self.weights = nn.ParameterList(nn.Parameter(_glorot_normal(a, b, groups, a, b)) for a, b in zip(sizes, sizes[1:]))
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(groups, 1, b)) for b in sizes[1:])
        self.act, self.last_act = act, last_act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(self.weights)
        if self.weights[0].shape[0] == 1:  # one stack: plain addmm (no batched-matmul overhead)
            h = x
            for i, (w, b) in enumerate(zip(self.weights, self.biases)):
                h = torch.addmm(b[0], h, w[0])
                if i < n - 1 or self.last_act:
                    h = self.act(h)
            return h.unsqueeze(0)
        h = x.unsqueeze(0) if x.ndim == 2 else x
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h.expand(w.shape[0], -1, -1), w)
            if i < n - 1 or self.last_act:
                h = self.act(h)
        return h  # (G, B, out)


class DeepONet(nn.Module):
    """``DeepONet(m_sensors, *, dim=1, width=40, depth=2, p=None, activation="relu", stacked=False, output_bias=True)``.

    ``forward(u (B, m), y (N, d)) -> (B, N)``: every function at every query point (the aligned / Cartesian form);
    ``pointwise(u (B, m), y (B, d)) -> (B,)``: one query point per function (the paper's triplets).
    """

    def __init__(self, m_sensors: int, *, dim: int = 1, width: int = 40, depth: int = 2, p: int | None = None,
                 activation: str = "relu", stacked: bool = False, output_bias: bool = True):
        super().__init__()
        if m_sensors < 1 or dim < 1 or width < 1 or depth < 1:
            raise ValueError(f"DeepONet: need m_sensors, dim, width, depth >= 1; got {m_sensors}, {dim}, {width}, {depth}")
        if activation not in _ACTS:
            raise ValueError(f"DeepONet: activation must be one of {sorted(_ACTS)}, got {activation!r}")
        p = int(p or width)
        self.m, self.dim, self.p, self.stacked = int(m_sensors), int(dim), p, bool(stacked)
        act = _ACTS[activation]
        hidden = [width] * (depth - 1)
        if stacked:
            self.branch = _Dense([m_sensors, *hidden, 1], p, act, last_act=False)
        else:
            self.branch = _Dense([m_sensors, *hidden, p], 1, act, last_act=False)
        self.trunk = _Dense([dim, *hidden, p], 1, act, last_act=True)
        self.b0 = nn.Parameter(torch.zeros(())) if output_bias else None

    def _check(self, u: torch.Tensor, y: torch.Tensor, who: str) -> None:
        if u.ndim != 2 or u.shape[1] != self.m:
            raise ValueError(f"DeepONet.{who}: u must be (B, {self.m}) sensor values, got {tuple(u.shape)}")
        if y.ndim != 2 or y.shape[1] != self.dim:
            raise ValueError(f"DeepONet.{who}: y must be (N, {self.dim}) query points, got {tuple(y.shape)}")

    def branch_out(self, u: torch.Tensor) -> torch.Tensor:
        """``b(u)`` (B, p)."""
        b = self.branch(u)
        return b[..., 0].T if self.stacked else b[0]

    def trunk_out(self, y: torch.Tensor) -> torch.Tensor:
        """``t(y)`` (N, p)."""
        return self.trunk(y)[0]

    def forward(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self._check(u, y, "forward")
        out = self.branch_out(u) @ self.trunk_out(y).T
        return out + self.b0 if self.b0 is not None else out

    def pointwise(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self._check(u, y, "pointwise")
        if len(u) != len(y):
            raise ValueError(f"DeepONet.pointwise: one query point per function, got {len(u)} functions, {len(y)} points")
        out = (self.branch_out(u) * self.trunk_out(y)).sum(-1)
        return out + self.b0 if self.b0 is not None else out


class FNNOperator(nn.Module):
    """The paper's fully connected baseline on ``[u(x_1..x_m), y]``: ``[m + d, 100, 100, 1]``, ReLU, Glorot normal."""

    def __init__(self, m_sensors: int, *, dim: int = 1, width: int = 100, depth: int = 2, activation: str = "relu"):
        super().__init__()
        self.m, self.dim = int(m_sensors), int(dim)
        self.net = _Dense([m_sensors + dim, *([width] * depth), 1], 1, _ACTS[activation], last_act=False)

    def pointwise(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if u.ndim != 2 or u.shape[1] != self.m or y.shape != (len(u), self.dim):
            raise ValueError(f"FNNOperator.pointwise: expected u (B, {self.m}) and y (B, {self.dim}), got "
                             f"{tuple(u.shape)}, {tuple(y.shape)}")
        return self.net(torch.cat([u, y], 1))[0, :, 0]

    def forward(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Every function at every point, ``(B, N)`` (for comparisons on aligned data)."""
        B, N = len(u), len(y)
        return self.pointwise(u.repeat_interleave(N, 0), y.repeat(B, 1)).view(B, N)


def _example(m: int = 100, dim: int = 1):
    return lambda: (torch.randn(4, m), torch.rand(7, dim))


@register_model("deeponet", task="operator-1d", example=_example(), knob="width")
def deeponet(m_sensors: int = 100, *, dim: int = 1, width: int = 40, depth: int = 2, stacked: bool = False,
             activation: str = "relu") -> DeepONet:
    """Unstacked DeepONet [m, 40, 40] x [1, 40, 40] + scalar bias (official ``deeponet_pde.py`` defaults)."""
    return DeepONet(m_sensors, dim=dim, width=width, depth=depth, stacked=stacked, activation=activation)


@register_model("deeponet_fnn", task="operator-1d", example=_example(), knob="width")
def deeponet_fnn(m_sensors: int = 100, *, dim: int = 1, width: int = 100, depth: int = 2) -> FNNOperator:
    """The paper's FNN baseline [m + 1, 100, 100, 1] on the concatenated sensors and query point."""
    return FNNOperator(m_sensors, dim=dim, width=width, depth=depth)
