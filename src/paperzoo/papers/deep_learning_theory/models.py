"""The book's MLP with its initialisation hyper-parameters (C_b, C_W), and the critical initialiser (ch. 2-5).

z^(1) = b^(1) + W^(1) x, z^(l+1) = b^(l+1) + W^(l+1) sigma(z^(l)), W_ij ~ N(0, C_W / n_{l-1}), b_i ~ N(0, C_b),
the same (C_b, C_W) for every layer including the readout (book convention; card "The method, precisely").
"""
from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo.papers.deep_learning_theory.criticality import find_criticality
from paperzoo.papers.deep_learning_theory.gaussian import get_activation
from paperzoo.registry import register_model

__all__ = ["CriticalMLP", "critical_init_", "critical_mlp"]


@torch.no_grad()
def critical_init_(model: nn.Module, C_b: float, C_W: float, *, generator: torch.Generator | None = None) -> nn.Module:
    """Re-draw every ``nn.Linear`` / ``nn.Conv*`` of ``model`` in place: weight ~ N(0, C_W / fan_in), bias ~ N(0, C_b)
    (fan_in = in_features, or in_channels / groups x kernel size). Returns ``model``."""
    if not (math.isfinite(C_W) and C_W > 0) or not (math.isfinite(C_b) and C_b >= 0):
        raise ValueError(f"need C_W > 0 and C_b >= 0, got C_b={C_b}, C_W={C_W}")
    mods = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]
    if not mods:
        raise ValueError(f"{type(model).__name__} has no nn.Linear / nn.Conv layer to initialise")
    for m in mods:
        fan_in = m.weight[0].numel()
        w = torch.randn(m.weight.shape, generator=generator, dtype=m.weight.dtype) * math.sqrt(C_W / fan_in)
        m.weight.copy_(w)
        if m.bias is not None:
            m.bias.copy_(torch.randn(m.bias.shape, generator=generator, dtype=m.bias.dtype) * math.sqrt(C_b))
    return model


class CriticalMLP(nn.Module):
    """x -> flatten -> [Linear -> sigma] x depth -> Linear (readout); every layer drawn with (C_b, C_W).

    ``depth`` = number of hidden layers L (L + 1 linear layers), ``width`` = n. ``C_b`` / ``C_W`` default to the
    activation's critical point (``find_criticality``: ReLU (0, 2), tanh (0, 1)); an activation with no critical
    point needs them explicitly. ``act``: a name of ``gaussian.ACTIVATIONS``. (B, *) -> (B, num_classes).
    """

    def __init__(self, in_dim: int = 784, num_classes: int = 10, *, width: int = 128, depth: int = 30,
                 act: str = "relu", C_b: float | None = None, C_W: float | None = None):
        super().__init__()
        for name, v in (("in_dim", in_dim), ("num_classes", num_classes), ("width", width), ("depth", depth)):
            if isinstance(v, bool) or not (isinstance(v, int) and v >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        if not isinstance(act, str):
            raise TypeError(f"act must be an activation name (saved with the model), got {type(act).__name__}")
        self.sigma = get_activation(act)
        if C_b is None or C_W is None:
            cb, cw, _ = find_criticality(self.sigma)
            C_b, C_W = cb if C_b is None else C_b, cw if C_W is None else C_W
        self.in_dim, self.act, self.depth, self.width = in_dim, act, depth, width
        self.C_b, self.C_W = float(C_b), float(C_W)
        dims = [in_dim] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.readout = nn.Linear(width, num_classes)
        critical_init_(self, self.C_b, self.C_W)

    def preactivations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """z^(1), ..., z^(L+1) (the last one is the output), each (B, n_l)."""
        if x.ndim < 2 or x[0].numel() != self.in_dim:
            raise ValueError(f"input must be (B, ...) with {self.in_dim} values per sample, got {tuple(x.shape)}")
        z, out = self.hidden[0](x.flatten(1)), []
        out.append(z)
        for lin in list(self.hidden[1:]) + [self.readout]:
            z = lin(self.sigma(z))
            out.append(z)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.preactivations(x)[-1]


@register_model("critical_mlp", task=("mnist", "fashion-mnist"), knob="width")
def critical_mlp(in_dim: int = 784, num_classes: int = 10, *, width: int = 128, depth: int = 30, act: str = "relu",
                 C_b: float | None = None, C_W: float | None = None) -> CriticalMLP:
    """Deep MLP at the book's critical initialisation (ReLU: C_b = 0, C_W = 2); depth 30 and width 128 are the card's
    cpu trainability setting. Budget knob: ``width``."""
    return CriticalMLP(in_dim, num_classes, width=width, depth=depth, act=act, C_b=C_b, C_W=C_W)
