"""Ridge regression on a feature matrix, with the penalty chosen by exact leave-one-out error.

Random-feature models (bandlimited-random, hierarchical-polynomials, random-feature-attention, ...)
are linear in their trainable weights; fitting them is one ridge solve:

    a(lam) = argmin_a (1/n) ||Phi a - y||^2 + lam ||a||^2 = (Phi^T Phi + n lam I)^{-1} Phi^T y.

``ridge_loo`` decomposes the smaller Gram matrix once (``Phi^T Phi`` when n >= m, else ``Phi Phi^T``; float64)
and then every ``lam`` costs O(n m): with ``P = Phi V`` (``Phi^T Phi = V diag(s) V^T``) the hat matrix is
``H = P diag(1 / (s + n lam)) P^T`` and the leave-one-out residual is ``(y_i - yhat_i) / (1 - H_ii)``
(Allen 1974; Hastie, Tibshirani & Friedman, *ESL* eq. 7.52), so the penalty is picked on held-out
error without a split. Several targets (columns of ``y``) are fitted at once, each with its own ``lam``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

DEFAULT_LAMS = tuple(10.0 ** e for e in range(-8, 1))
RELATIVE_LAMS = tuple(10.0 ** e for e in range(-7, 3))  # times tr(Phi^T Phi) / n (``ridge_loo(relative=True)``)


@dataclass
class RidgeFit:
    """``coef`` (m, t), the chosen ``lam`` per target (t,), and ``loo`` (len(lams), t) leave-one-out MSE."""

    coef: torch.Tensor
    lam: torch.Tensor
    loo: torch.Tensor
    lams: tuple[float, ...]


def _check(phi: torch.Tensor, y: torch.Tensor, lams) -> torch.Tensor:
    if phi.ndim != 2:
        raise ValueError(f"ridge: phi must be (n, m), got shape {tuple(phi.shape)}")
    y2 = y.unsqueeze(-1) if y.ndim == 1 else y
    if y2.ndim != 2 or y2.shape[0] != phi.shape[0]:
        raise ValueError(f"ridge: y must be (n,) or (n, t) with n = {phi.shape[0]}, got {tuple(y.shape)}")
    if not lams or min(lams) <= 0:
        raise ValueError(f"ridge: every lam must be > 0, got {tuple(lams)}")
    if phi.shape[0] < 2:
        raise ValueError("ridge: need at least 2 rows")
    return y2


def _spectral(phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool]:
    """``(P, s, E, primal)``: ``P = Phi V`` with ``Phi^T Phi = V diag(s) V^T`` (primal, ``E = V``) or ``P = U sqrt(s)``
    with ``Phi Phi^T = U diag(s) U^T`` (dual, ``E = U``); either way ``P P^T = Phi Phi^T``."""
    p = phi.double()
    n, m = p.shape
    if n >= m:
        s, v = torch.linalg.eigh(p.T @ p)
        return p @ v, s.clamp_min(0.0), v, True
    s, u = torch.linalg.eigh(p @ p.T)
    s = s.clamp_min(0.0)
    return u * s.sqrt(), s, u, False


def ridge_solve(phi: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    """``(Phi^T Phi + n lam I)^{-1} Phi^T y`` in float64 (primal or dual, whichever is smaller); phi's dtype out.
    ``y`` (n,) gives (m,), ``y`` (n, t) gives (m, t)."""
    y2 = _check(phi, y, (lam,))
    p, yd = phi.double(), y2.double()
    n, m = p.shape
    if n >= m:
        g = p.T @ p + n * lam * torch.eye(m, dtype=torch.float64)
        a = torch.cholesky_solve(p.T @ yd, torch.linalg.cholesky(g))
    else:
        g = p @ p.T + n * lam * torch.eye(n, dtype=torch.float64)
        a = p.T @ torch.cholesky_solve(yd, torch.linalg.cholesky(g))
    a = a.to(phi.dtype)
    return a[:, 0] if y.ndim == 1 else a


def ridge_loo(phi: torch.Tensor, y: torch.Tensor, lams: tuple[float, ...] = DEFAULT_LAMS, *,
              relative: bool = False) -> RidgeFit:
    """Fit every column of ``y`` with the ``lam`` of least exact leave-one-out MSE (one eigendecomposition).
    ``relative=True`` reads ``lams`` in units of ``tr(Phi^T Phi) / n`` (the mean squared feature-row norm), so
    one grid serves features of any scale; ``RidgeFit.lam`` is then the absolute penalty."""
    y2 = _check(phi, y, tuple(lams))
    n = phi.shape[0]
    pmat, s, e, primal = _spectral(phi)
    if relative:
        lams = tuple(float(lam * s.sum() / n) for lam in lams)
    yd = y2.double()
    proj = pmat.T @ yd  # (r, t)
    sq = pmat.square()  # (n, r)
    loo = []
    for lam in lams:
        inv = 1.0 / (s + n * lam)
        yhat = pmat @ (inv[:, None] * proj)
        hii = sq @ inv
        loo.append((((yd - yhat) / (1.0 - hii)[:, None]) ** 2).mean(0))
    loo_t = torch.stack(loo)  # (L, t)
    best = loo_t.argmin(0)
    lam_t = torch.tensor(lams, dtype=torch.float64)[best]
    inv = 1.0 / (s[:, None] + n * lam_t[None, :])  # (r, t)
    if primal:  # a = V diag(1 / (s + n lam)) V^T Phi^T y = V diag(1 / (s + n lam)) P^T y
        coef = e @ (inv * proj)
    else:  # dual: a = Phi^T (Phi Phi^T + n lam I)^{-1} y = Phi^T U diag(1 / (s + n lam)) U^T y
        coef = phi.double().T @ (e @ (inv * (e.T @ yd)))
    return RidgeFit(coef.to(phi.dtype), lam_t, loo_t, tuple(float(x) for x in lams))
