"""Scaling-law tools: the training-compute count of the official code and the power-law fit.

The paper plots test error against training compute on log-log axes (Fig. 1: CIFAR-100 test error as a
function of PFLOPs) and reads a power law off it. ``fit_power_law`` fits

    E(x) = a x^(-b) + c          (x = compute or parameters; b > 0 means error falls with scale)

by **variable projection**: for a fixed exponent b the model is linear in (a, c), so (a, c) is the
closed-form least-squares solution (with c clipped at 0, where a is then re-solved alone) and the
residual sum of squares is a function of b only; that function is minimised by a grid over
``(0, b_max]`` followed by golden-section refinement around the best grid point. With ``offset=False``
the pure power law E = a x^(-b) is fitted by ordinary least squares of log E on log x (a straight line on
the log-log plot). ``r2`` is the coefficient of determination of the quantity each fit minimises
(E for the offset fit, log E for the pure power law).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class PowerLawFit:
    """``E(x) = a x^(-b) + c``; ``offset`` says whether c was fitted (else c = 0)."""

    a: float
    b: float
    c: float
    r2: float
    offset: bool
    n: int

    def predict(self, x: Sequence[float] | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float64)
        return self.a * x.pow(-self.b) + self.c

    def as_dict(self) -> dict[str, float]:
        return {"a": self.a, "b": self.b, "c": self.c, "r2": self.r2}


def _xy(x, y, need: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(x, dtype=torch.float64).flatten()
    y = torch.as_tensor(y, dtype=torch.float64).flatten()
    if x.shape != y.shape:
        raise ValueError(f"fit_power_law: x has {x.numel()} values, y has {y.numel()}")
    if x.numel() < need:
        raise ValueError(f"fit_power_law: need at least {need} points for this fit, got {x.numel()}")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError("fit_power_law: x and y must be finite")
    if (x <= 0).any() or (y <= 0).any():
        raise ValueError("fit_power_law: x and y must be positive (a power law lives on log-log axes)")
    if torch.unique(x).numel() < 2:
        raise ValueError("fit_power_law: x needs at least two distinct values")
    return x, y


def _r2(target: torch.Tensor, fitted: torch.Tensor) -> float:
    sst = (target - target.mean()).square().sum()
    sse = (target - fitted).square().sum()
    return float(1 - sse / sst) if sst > 0 else (1.0 if sse == 0 else 0.0)


def _project(u: torch.Tensor, y: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For exponents ``b`` (shape (K,)): the least-squares (a, c >= 0) and the residual sum of squares."""
    f = u[None, :].pow(-b[:, None])                       # (K, n) basis u^-b
    n = u.numel()
    sf, sy, sff, sfy = f.sum(1), y.sum(), f.square().sum(1), (f * y).sum(1)
    a = (n * sfy - sf * sy) / (n * sff - sf * sf)          # > 0 denominator: b > 0 and x not all equal
    c = (sy - a * sf) / n
    neg = c < 0
    a = torch.where(neg, sfy / sff, a)
    c = torch.where(neg, torch.zeros_like(c), c)
    sse = (a[:, None] * f + c[:, None] - y[None, :]).square().sum(1)
    return a, c, sse


def fit_power_law(x, y, *, offset: bool = True, b_max: float = 4.0, grid: int = 800, iters: int = 100) -> PowerLawFit:
    """Fit ``y = a x^(-b) + c`` (``offset=True``, >= 3 points) or ``y = a x^(-b)`` (``offset=False``).

    x is rescaled by its geometric mean inside (for conditioning) and ``a`` is returned for the raw x.
    ``b`` is searched in ``(0, b_max]`` for the offset fit; the pure power law puts no bound on b.
    """
    x, y = _xy(x, y, 3 if offset else 2)
    lx = x.log()
    x_ref = lx.mean().exp()
    u = x / x_ref
    if not offset:
        lu, ly = u.log(), y.log()
        du = lu - lu.mean()
        slope = float((du * (ly - ly.mean())).sum() / du.square().sum())
        log_a = float(ly.mean() - slope * lu.mean())
        b = -slope
        fitted = log_a - b * lu
        return PowerLawFit(a=math.exp(log_a) * float(x_ref) ** b, b=b, c=0.0, r2=_r2(ly, fitted), offset=False,
                           n=x.numel())
    if not b_max > 0 or grid < 3:
        raise ValueError(f"fit_power_law: need b_max > 0 and grid >= 3, got {b_max}, {grid}")
    bs = torch.linspace(b_max / grid, b_max, grid, dtype=torch.float64)
    _, _, sse = _project(u, y, bs)
    k = int(sse.argmin())
    lo, hi = float(bs[max(k - 1, 0)]), float(bs[min(k + 1, grid - 1)])
    lo = lo if k > 0 else 0.5 * lo
    for _ in range(iters):  # golden-section search of the 1-D projected objective on [lo, hi]
        m1, m2 = hi - GOLDEN * (hi - lo), lo + GOLDEN * (hi - lo)
        s = _project(u, y, torch.tensor([m1, m2], dtype=torch.float64))[2]
        lo, hi = (lo, m2) if s[0] <= s[1] else (m1, hi)
    b = torch.tensor([(lo + hi) / 2], dtype=torch.float64)
    a, c, _ = _project(u, y, b)
    a_u, b_f, c_f = float(a[0]), float(b[0]), float(c[0])
    fitted = a_u * u.pow(-b_f) + c_f
    return PowerLawFit(a=a_u * float(x_ref) ** b_f, b=b_f, c=c_f, r2=_r2(y, fitted), offset=True, n=x.numel())


def forward_macs(model: nn.Module) -> int:
    """Multiply-adds of one forward pass of an MLP per sample: the sum of in x out over its Linear layers
    (the fvcore convention of the official ``utils/get_compute.py``; norms and GELU are left out, < 1 %)."""
    macs = sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))
    if macs == 0:
        raise ValueError(f"forward_macs: {type(model).__name__} has no nn.Linear layers")
    return macs


def train_flops(model: nn.Module, samples: int) -> float:
    """Training compute as the official code counts it: 3 x forward (forward + backward) x samples seen."""
    if samples < 0:
        raise ValueError(f"train_flops: samples must be >= 0, got {samples}")
    return 3.0 * forward_macs(model) * samples


def is_decreasing(values: Sequence[float]) -> bool:
    """True when every value is strictly below the one before (the error along a size ladder)."""
    v = [float(t) for t in values]
    return len(v) >= 2 and all(b < a for a, b in zip(v, v[1:]))
