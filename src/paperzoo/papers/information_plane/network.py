"""The networks of the information-plane experiments (official ``idnns/networks/model.py``, card "Network").

Fully connected, ``widths`` hidden units with tanh (or ReLU, the Saxe et al. control), a softmax output,
weights truncated-normal with std 1/sqrt(fan_in) (cut at 2 std, TF ``truncated_normal``), biases 0.
``InfoMLP`` is one such network (an ordinary ``nn.Module``, so the probe's hooks see its layers);
``BatchedMLP`` holds R independent repeats as stacked weights (R, fan_in, fan_out) so that all repeats of an
experiment train in one vectorised step (the loss is a sum over repeats, Adam is elementwise: each repeat
follows exactly the trajectory it would follow alone).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from paperzoo.registry import register_model

__all__ = ["ACTIVATIONS", "BatchedMLP", "InfoMLP", "ib_mlp", "trunc_normal_fanin_"]

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}
MNIST_PROFILE = (400, 100, 50, 40, 30, 20)   # official jobs/ folder "DataName=MNIST ... layersSizes=[[400, 100, ...]]"


def _check_widths(widths: Sequence[int], activation: str) -> tuple[int, ...]:
    widths = tuple(widths)
    if not widths or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"widths must be a non-empty sequence of positive ints, got {widths!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    return widths


def trunc_normal_fanin_(w: torch.Tensor, fan_in: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill ``w`` from N(0, 1/fan_in) truncated at +-2 std (official ``tf.truncated_normal(stddev=1/sqrt(fan_in))``)."""
    std = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        return nn.init.trunc_normal_(w, 0.0, std, -2.0 * std, 2.0 * std, generator=generator)


class InfoMLP(nn.Module):
    """x -> flatten -> [Linear -> tanh | relu] per hidden width -> Linear (logits; softmax in ``layers``).

    Defaults: the paper's 12-10-7-5-4-3-2 tanh network (official ``-net 1``). Input (B, *) with prod(*) =
    in_dim; output logits (B, num_classes).
    """

    def __init__(self, in_dim: int = 12, num_classes: int = 2, *, widths: Sequence[int] = (10, 7, 5, 4, 3),
                 activation: str = "tanh"):
        super().__init__()
        self.widths = _check_widths(widths, activation)
        if min(in_dim, num_classes) < 1:
            raise ValueError(f"in_dim and num_classes must be >= 1, got {in_dim}, {num_classes}")
        self.in_dim, self.activation = in_dim, activation
        dims = (in_dim, *self.widths, num_classes)
        self.fc = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims[:-1], dims[1:]))
        for m in self.fc:
            trunc_normal_fanin_(m.weight, m.in_features)
            nn.init.zeros_(m.bias)

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The representations T_1 .. T_L (post-activation hidden layers) and the softmax output."""
        if x.ndim < 2 or x[0].numel() != self.in_dim:
            raise ValueError(f"input must be (B, ...) with {self.in_dim} values per sample, got {tuple(x.shape)}")
        h, act, out = x.flatten(1), ACTIVATIONS[self.activation], []
        for m in self.fc[:-1]:
            h = act(m(h))
            out.append(h)
        return out + [self.fc[-1](h).softmax(-1)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, act = x.flatten(1), ACTIVATIONS[self.activation]
        if h.shape[1] != self.in_dim:
            raise ValueError(f"input must have {self.in_dim} values per sample, got {tuple(x.shape)}")
        for m in self.fc[:-1]:
            h = act(m(h))
        return self.fc[-1](h)


@register_model("ib_mlp", task=("mnist", "fashion-mnist"), knob="width")
def ib_mlp(in_dim: int = 784, num_classes: int = 10, *, width: int = 400, depth: int = 6,
           activation: str = "tanh") -> InfoMLP:
    """The paper's funnel-shaped tanh MLP for images: hidden widths 400-100-50-40-30-20 scaled by width/400
    (the official repository's MNIST job; unverified as the paper's setting), ``depth`` <= 6 of them, same init.
    Budget knob: ``width``."""
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= len(MNIST_PROFILE):
        raise ValueError(f"depth must be an int in [1, {len(MNIST_PROFILE)}], got {depth!r}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    widths = tuple(max(1, round(w * width / MNIST_PROFILE[0])) for w in MNIST_PROFILE[:depth])
    return InfoMLP(in_dim, num_classes, widths=widths, activation=activation)


class BatchedMLP(nn.Module):
    """R independent ``InfoMLP``s as stacked weights W_l (R, fan_in, fan_out), b_l (R, 1, fan_out).

    ``forward(x)`` with x (R, B, in_dim) returns the list [T_1, ..., T_L, logits], each (R, B, width).
    ``generators``: one ``torch.Generator`` per repeat for the truncated-normal init (default: global RNG).
    """

    def __init__(self, in_dim: int = 12, num_classes: int = 2, *, widths: Sequence[int] = (10, 7, 5, 4, 3),
                 activation: str = "tanh", repeats: int = 1, generators: Sequence[torch.Generator] | None = None):
        super().__init__()
        self.widths = _check_widths(widths, activation)
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise ValueError(f"repeats must be a positive int, got {repeats!r}")
        if generators is not None and len(generators) != repeats:
            raise ValueError(f"need one generator per repeat ({repeats}), got {len(generators)}")
        self.activation, self.repeats = activation, repeats
        dims = (in_dim, *self.widths, num_classes)
        self.weight = nn.ParameterList(nn.Parameter(torch.empty(repeats, i, o)) for i, o in zip(dims[:-1], dims[1:]))
        self.bias = nn.ParameterList(nn.Parameter(torch.zeros(repeats, 1, o)) for o in dims[1:])
        for w, fan_in in zip(self.weight, dims[:-1]):
            for r in range(repeats):
                trunc_normal_fanin_(w.data[r], fan_in, None if generators is None else generators[r])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 3 or x.shape[0] != self.repeats or x.shape[2] != self.weight[0].shape[1]:
            raise ValueError(f"input must be (R={self.repeats}, B, {self.weight[0].shape[1]}), got {tuple(x.shape)}")
        act, h, out = ACTIVATIONS[self.activation], x, []
        for w, b in zip(self.weight[:-1], self.bias[:-1]):
            h = act(torch.baddbmm(b, h, w))
            out.append(h)
        return out + [torch.baddbmm(self.bias[-1], h, self.weight[-1])]

    def repeat(self, r: int) -> InfoMLP:
        """Repeat ``r`` as a plain ``InfoMLP`` (same weights)."""
        net = InfoMLP(self.weight[0].shape[1], self.weight[-1].shape[2], widths=self.widths, activation=self.activation)
        with torch.no_grad():
            for m, w, b in zip(net.fc, self.weight, self.bias):
                m.weight.copy_(w[r].T)
                m.bias.copy_(b[r, 0])
        return net
