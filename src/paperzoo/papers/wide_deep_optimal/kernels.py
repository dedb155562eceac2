"""Infinite-width NNGP and NTK recursions of a bias-free fully connected net on the sphere (card "Kernel recursions").

With xi_0 = <x, z> (inputs of unit norm, clipped to [-1, 1]):
    NNGP:  xi_l = psi(xi_{l-1})                                          (l = 1..L)
    NTK:   K_0 = xi_0,  K_l = psi(xi_{l-1}) + K_{l-1} psi'(xi_{l-1})    (as in the official `ntk_kernel`)
K_l(1) = 1 + K_{l-1}(1) psi'(1) grows like psi'(1)^L, so the NTK is carried as K_l / K_l(1) (every input has
unit norm, so the diagonal is one number per layer) with log K_L(1) returned on request (card pitfall).
"""
from __future__ import annotations

import math

import torch

from paperzoo.papers.wide_deep_optimal.duals import Activation, get_activation


def _check(x: torch.Tensor, name: str) -> torch.Tensor:
    if not torch.is_tensor(x) or x.dim() != 2:
        raise ValueError(f"{name}: expected a (n, d) tensor, got {getattr(x, 'shape', type(x))}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or inf")
    norms = x.double().norm(dim=1)
    if (norms - 1.0).abs().max() > 1e-6:
        raise ValueError(f"{name}: rows must lie on the unit sphere (max | ||x|| - 1 | = {float((norms - 1).abs().max()):.3g});"
                         " use `sphere(x)`")
    return x.double()


def sphere(x: torch.Tensor) -> torch.Tensor:
    """Rows projected onto the unit sphere (the paper's inputs), in float64."""
    x = torch.as_tensor(x).double()
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-300)


def gram_input(x1: torch.Tensor, x2: torch.Tensor | None = None) -> torch.Tensor:
    """xi_0 = <x, z> clipped to [-1, 1] (float64; rows must have unit norm).

    For one set (``x2`` None or the same tensor) the diagonal is set to exactly 1, as the official `solve_kr`
    does: a diagonal of 1 - 1e-16 would be driven to 0 by a dual with psi'(1) > 1 within ~50 layers.
    """
    same = x2 is None or x2 is x1
    a = _check(x1, "x1")
    b = a if same else _check(x2, "x2")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x1 has {a.shape[1]} features, x2 has {b.shape[1]}")
    xi = (a @ b.T).clamp(-1.0, 1.0)
    return xi.fill_diagonal_(1.0) if same else xi


def nngp_from_corr(xi: torch.Tensor, depth: int, act: str | Activation) -> torch.Tensor:
    """xi_L = psi^L(xi_0) on a tensor of correlations (clipped after every layer, as the official code)."""
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    a = get_activation(act)
    xi = torch.as_tensor(xi, dtype=torch.float64).clamp(-1.0, 1.0)
    for _ in range(depth):
        xi = a.psi(xi).clamp(-1.0, 1.0)
    return xi


def ntk_from_corr(xi: torch.Tensor, depth: int, act: str | Activation, *, log_scale: bool = False):
    """K_L(xi) / K_L(1) for correlations xi (and log K_L(1) if ``log_scale``).

    With k_l = K_l / c_l, c_l = K_l(1) = 1 + c_{l-1} psi'(1), and r = 1 / c_{l-1}:
    k_l = (r psi(xi_{l-1}) + k_{l-1} psi'(xi_{l-1})) / (r + psi'(1)), which never overflows.
    """
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    a = get_activation(act)
    xi = torch.as_tensor(xi, dtype=torch.float64).clamp(-1.0, 1.0)
    one = torch.ones((), dtype=torch.float64)
    d1 = float(a.dpsi(one))
    k, inv, log_c = xi.clone(), 1.0, 0.0          # K_0 = xi_0, c_0 = K_0(1) = 1
    for _ in range(depth):
        den = inv + d1
        k = (inv * a.psi(xi) + k * a.dpsi(xi)) / den
        log_c += math.log(den)
        inv = inv / den
        xi = a.psi(xi).clamp(-1.0, 1.0)
    return (k, log_c) if log_scale else k


def nngp_kernel(x1: torch.Tensor, x2: torch.Tensor | None, depth: int, act: str | Activation) -> torch.Tensor:
    """Depth-L NNGP Gram matrix (n1, n2) of unit-norm rows (official `nngp_kernel`; K(x, x) = 1)."""
    return nngp_from_corr(gram_input(x1, x2), depth, act)


def ntk_kernel(x1: torch.Tensor, x2: torch.Tensor | None, depth: int, act: str | Activation, *,
               log_scale: bool = False):
    """Depth-L NTK Gram matrix (n1, n2) divided by K_L(1) (official `ntk_kernel` up to that scale).

    ``log_scale=True`` also returns log K_L(1), so ``K * exp(log_c)`` is the unscaled kernel.
    """
    return ntk_from_corr(gram_input(x1, x2), depth, act, log_scale=log_scale)


def kernel_fn(kind: str, depth: int, act: str | Activation):
    """``fn(x1, x2) -> Gram`` for kind in {'ntk', 'nngp'} at ``depth`` with activation ``act``."""
    if kind not in ("ntk", "nngp"):
        raise ValueError(f"kernel kind must be 'ntk' or 'nngp', got {kind!r}")
    a = get_activation(act)
    f = ntk_kernel if kind == "ntk" else nngp_kernel
    return lambda x1, x2=None: f(x1, x2, depth, a)


def local_slope(kind: str, depth: int, act: str | Activation, eps: tuple[float, float] = (1e-6, 1e-5)) -> float:
    """d log K / d log(1 - xi) between xi = 1 - eps[0] and 1 - eps[1] (card smoke (b)); -> -alpha / 2."""
    if kind not in ("ntk", "nngp"):
        raise ValueError(f"kernel kind must be 'ntk' or 'nngp', got {kind!r}")
    xi = 1.0 - torch.tensor(eps, dtype=torch.float64)
    k = ntk_from_corr(xi, depth, act) if kind == "ntk" else nngp_from_corr(xi, depth, act)
    return float((k[1].log() - k[0].log()) / (math.log(eps[1]) - math.log(eps[0])))


def ntk_ratio(xi: float | torch.Tensor, depth: int, act: str | Activation = "relu") -> torch.Tensor:
    """K_L(xi) / K_L(1): for ReLU it tends to 1/4 for every xi < 1 (card: majority-vote regime)."""
    return ntk_from_corr(torch.as_tensor(xi, dtype=torch.float64), depth, act)
