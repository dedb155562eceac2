"""Activation patterns D_i = diag(1[X h_i >= 0]) of the convex reformulation (Pilanci & Ergen 2020, Sec. 2 of
Bai, Gautam & Sojoudi 2023): sampled (the "approximate" / sampled formulation) or enumerated exactly for d = 2.

Patterns are held as one boolean matrix ``D`` (n, P) whose column i is the diagonal of D_i; the directions
that generated them as ``H`` (d, P). Duplicates and the all-zero pattern are dropped (card pitfalls: identical
D_i make the program degenerate, the zero pattern contributes nothing).
"""
from __future__ import annotations

import math

import torch


def add_bias(X: torch.Tensor) -> torch.Tensor:
    """Append a constant-1 feature (the formulation has no bias; card pitfall): (n, d) -> (n, d + 1)."""
    _check_matrix(X, "X")
    return torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)], 1)


def _check_matrix(X: torch.Tensor, name: str) -> None:
    if not torch.is_tensor(X) or X.dim() != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D tensor (n, d), got "
                         f"{tuple(X.shape) if torch.is_tensor(X) else type(X).__name__}")
    if not X.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {X.dtype}")
    if not torch.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or inf")


def unique_patterns(D: torch.Tensor, H: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Distinct non-zero columns of ``D`` (n, P), in order of first occurrence, with their directions."""
    if D.dim() != 2:
        raise ValueError(f"D must be (n, P), got {tuple(D.shape)}")
    D = D.bool()
    _, inv = torch.unique(D.T, dim=0, return_inverse=True)
    pos = torch.arange(D.shape[1], device=D.device)
    first = torch.full((int(inv.max()) + 1,), D.shape[1], device=D.device, dtype=pos.dtype)
    first = first.scatter_reduce(0, inv, pos, reduce="amin")
    keep = first.sort().values
    keep = keep[D[:, keep].any(0)]
    return D[:, keep], (H[:, keep] if H is not None else None)


def sample_patterns(X: torch.Tensor, P: int, *, generator: torch.Generator | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sampled formulation: h_i ~ N(0, I_d), i = 1..P, D_i = 1[X h_i >= 0]; distinct non-zero ones kept.

    Returns ``D`` (n, P') bool and ``H`` (d, P') with P' <= P. The directions are drawn on the CPU from
    ``generator`` (so a seed gives the same patterns on every device) and moved to X's device.
    """
    _check_matrix(X, "X")
    if not isinstance(P, int) or P < 1:
        raise ValueError(f"P must be a positive int, got {P!r}")
    H = torch.randn(X.shape[1], P, generator=generator, dtype=torch.float64).to(X.device, X.dtype)
    return unique_patterns(X @ H >= 0, H)


def enumerate_patterns_2d(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every activation pattern of data in R^2 (e.g. 1-D inputs + bias): complete, hence a certified optimum.

    A pattern is constant on each arc of the circle between consecutive critical angles where
    h . x_k = 0 (angle(x_k) +- pi/2); the midpoints of the (at most 2n) arcs give every pattern
    (card smoke test (b)). Zero rows of X are active for every h and add no critical angle.
    """
    _check_matrix(X, "X")
    if X.shape[1] != 2:
        raise ValueError(f"enumerate_patterns_2d needs d = 2 (e.g. 1-D inputs plus bias), got d = {X.shape[1]}")
    Xd = X.double()
    nz = Xd.norm(dim=1) > 0
    phi = torch.atan2(Xd[nz, 1], Xd[nz, 0])
    crit = torch.remainder(torch.cat([phi + math.pi / 2, phi - math.pi / 2]), 2 * math.pi).sort().values
    nxt = torch.cat([crit[1:], crit[:1] + 2 * math.pi])
    mid = (crit + nxt) / 2
    mid = mid[nxt - crit > 1e-12]  # coincident critical angles bound no arc
    H = torch.stack([torch.cos(mid), torch.sin(mid)]).to(X.dtype)
    return unique_patterns(Xd @ H.double() >= 0, H)


def max_patterns(n: int, r: int) -> int:
    """Upper bound on the number of hyperplane-arrangement patterns in general position,
    2 sum_{k<r} C(n-1, k) (card; Cover 1965), for n points of rank r."""
    return 2 * sum(math.comb(n - 1, k) for k in range(r))
