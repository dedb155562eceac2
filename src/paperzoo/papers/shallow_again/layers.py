"""Residual stacks in two layouts: deep (sequential) and shallow (parallel) (Bermeitinger et al., 2023).

A stack of L same-shape residual layers (paper Sec. 2; card "The method, precisely"):

    sequential:  h_i = h_{i-1} + F_i(h_{i-1}),  i = 1..L,   output h_L                       (deep)
    parallel:    h_out = h_0 + sum_{i=1}^L F_i(h_0)                                             (shallow)

Composing the sequential stack gives h_L = h_0 + sum_i F_i(h_0) + (terms in which some F_j acts on
sums of earlier F_i: second and higher order, like the cross terms of prod_i (I + F_i)); the parallel
layer keeps the expansion up to the first-order term. Each F_i is one layer with its nonlinearity
inside: F_i(h) = act(W_i * h + b_i), a k x k "same"-padded convolution C -> C (``ResidualConvStack``,
the paper's convolutional stacks) or a dense map D -> D (``ResidualDenseStack``, our MLP variant).

Both layouts hold the L layers' weights in one tensor of shape (L, C, C, ...), so a model can be run
in either mode and ``twin(module, mode)`` copies it into the other layout with identical weights (same
parameter count by construction). The parallel layout is computed as ONE broad layer of L x C output
channels whose L groups are summed back to C channels (no loop over branches).

Init: each F_i as PyTorch's default ``nn.Conv2d`` / ``nn.Linear`` (U(-1/sqrt(fan_in), 1/sqrt(fan_in))
for weights and biases; the paper's init was not retrieved). No 1/sqrt(L) rescaling of the parallel
sum (card pitfall: the paper's handling was not retrieved; default none).
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

MODES = ("sequential", "parallel")
ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda t: t}


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def get_act(name: str):
    """The element-wise nonlinearity inside F_i by name (``relu`` | ``tanh`` | ``sigmoid`` | ``identity``)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"act must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


class _ResidualStack(nn.Module):
    """Shared machinery: stacked weights (L, C_out=C, C_in=C, *kernel), the two layouts, the branches."""

    def __init__(self, width: int, n_layers: int, kernel: tuple[int, ...], *, act: str, mode: str, bias: bool):
        super().__init__()
        if width <= 0 or n_layers <= 0:
            raise ValueError(f"{type(self).__name__}: width and n_layers must be positive, got {width}, {n_layers}")
        self.width, self.n_layers, self.act_name = width, n_layers, act
        self.act = get_act(act)
        self.mode = check_mode(mode)
        self.weight = nn.Parameter(torch.empty(n_layers, width, width, *kernel))
        self.bias = nn.Parameter(torch.empty(n_layers, width)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default layer init per F_i: U(-b, b), b = 1/sqrt(fan_in), fan_in = C x prod(kernel)."""
        bound = 1.0 / math.sqrt(self.weight[0, 0].numel())
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def _op(self, h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _check(self, h: torch.Tensor) -> None:
        raise NotImplementedError  # pragma: no cover

    def branch(self, h: torch.Tensor, i: int) -> torch.Tensor:
        """F_i(h) = act(W_i * h + b_i) for layer i (0-based), same shape as h."""
        return self.act(self._op(h, self.weight[i], None if self.bias is None else self.bias[i]))

    def branches(self, h: torch.Tensor) -> torch.Tensor:
        """All F_i(h) at once, (B, L, C, ...): one broad layer of L x C outputs, split into its L groups."""
        w = self.weight.flatten(0, 1)
        b = None if self.bias is None else self.bias.flatten()
        out = self.act(self._op(h, w, b))
        return out.unflatten(1, (self.n_layers, self.width))

    def sequential(self, h: torch.Tensor) -> torch.Tensor:
        """Deep layout: h_i = h_{i-1} + F_i(h_{i-1}), i = 1..L."""
        self._check(h)
        for i in range(self.n_layers):
            h = h + self.branch(h, i)
        return h

    def parallel(self, h: torch.Tensor) -> torch.Tensor:
        """Shallow layout (first-order truncation): h_0 + sum_i F_i(h_0)."""
        self._check(h)
        return h + self.branches(h).sum(1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.sequential(h) if self.mode == "sequential" else self.parallel(h)

    def extra_repr(self) -> str:
        return f"width={self.width}, n_layers={self.n_layers}, act={self.act_name}, mode={self.mode}"


class ResidualConvStack(_ResidualStack):
    """L residual conv layers C -> C, kernel k x k, "same" padding; (B, C, H, W) -> (B, C, H, W).

    ``mode="sequential"`` composes them (depth L); ``mode="parallel"`` sums them on the same input (depth 1).
    """

    def __init__(self, channels: int, n_layers: int, kernel_size: int = 3, *, act: str = "relu",
                 mode: str = "sequential", bias: bool = True):
        if kernel_size <= 0:
            raise ValueError(f"ResidualConvStack: kernel_size must be positive, got {kernel_size}")
        self.kernel_size = kernel_size
        super().__init__(channels, n_layers, (kernel_size, kernel_size), act=act, mode=mode, bias=bias)

    def _op(self, h, w, b):
        return F.conv2d(h, w, b, padding="same")

    def _check(self, h):
        if h.dim() != 4 or h.shape[1] != self.width:
            raise ValueError(f"ResidualConvStack: expected (B, {self.width}, H, W), got {tuple(h.shape)}")


class ResidualDenseStack(_ResidualStack):
    """L residual dense layers D -> D; (B, D) -> (B, D). Our MLP counterpart of the conv stack."""

    def __init__(self, width: int, n_layers: int, *, act: str = "relu", mode: str = "sequential", bias: bool = True):
        super().__init__(width, n_layers, (), act=act, mode=mode, bias=bias)

    def _op(self, h, w, b):
        return F.linear(h, w, b)

    def _check(self, h):
        if h.dim() != 2 or h.shape[1] != self.width:
            raise ValueError(f"ResidualDenseStack: expected (B, {self.width}), got {tuple(h.shape)}")


def stack_params(width: int, n_layers: int, kernel_size: int = 1, *, bias: bool = True) -> int:
    """Closed form: L (C^2 k^2 + C) (k = 1 for the dense stack); the same for both layouts."""
    return n_layers * (width * width * kernel_size * kernel_size + (width if bias else 0))


def twin(module: nn.Module, mode: str) -> nn.Module:
    """A deep copy of ``module`` with every residual stack in ``mode`` (identical weights)."""
    return set_mode(copy.deepcopy(module), mode)


def set_mode(module: nn.Module, mode: str) -> nn.Module:
    """Switch every residual stack inside ``module`` to ``mode`` in place; returns ``module``."""
    check_mode(mode)
    for m in module.modules():
        if isinstance(m, _ResidualStack):
            m.mode = mode
    return module
