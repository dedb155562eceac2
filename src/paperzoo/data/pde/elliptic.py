"""Elliptic problems on the unit square with zero Dirichlet boundary: Darcy flow and Poisson.

Darcy ``-div(a grad u) = f`` (FNO / MgNO recipe, MT-DeepONet's multi-geometry variant): node grid
``x_i = i / (res - 1)``, unknowns at the interior nodes (and, with a ``mask``, only at interior nodes inside
the geometry: ``u = 0`` on and outside its boundary), five-point finite-volume stencil with harmonic-mean face
coefficients ``a_{i+1/2} = 2 a_i a_{i+1} / (a_i + a_{i+1})``; one sparse direct solve per sample
(``scipy.sparse.linalg.spsolve``); second order in h for smooth ``a``.

Poisson ``-Laplace u = f`` (MgNO card, tests): exact solve of the five-point system by the type-I discrete sine
transform.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def _harmonic(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return 2 * p * q / (p + q)


def darcy_solve(a: torch.Tensor, f: float | torch.Tensor = 1.0, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Solve for every ``a`` (n, res, res) (> 0, on the node grid); returns ``u`` (n, res, res), float64."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    if a.ndim != 3 or a.shape[1] != a.shape[2] or a.shape[1] < 3:
        raise ValueError(f"darcy_solve: a must be (n, res, res) with res >= 3, got {tuple(a.shape)}")
    if not bool((a > 0).all()):
        raise ValueError("darcy_solve: the coefficient a must be positive")
    n, res = a.shape[0], a.shape[1]
    h = 1.0 / (res - 1)
    inside = np.zeros((res, res), dtype=bool)
    inside[1:-1, 1:-1] = True
    if mask is not None:
        if mask.shape != (res, res):
            raise ValueError(f"darcy_solve: mask must be ({res}, {res}), got {tuple(mask.shape)}")
        inside &= mask.numpy().astype(bool)
    idx = -np.ones((res, res), dtype=np.int64)
    idx[inside] = np.arange(int(inside.sum()))
    ii, jj = np.nonzero(inside)
    fa = f.double().numpy() if isinstance(f, torch.Tensor) else None
    out = torch.zeros(n, res, res, dtype=torch.float64)
    for s in range(n):  # one sparse factorisation per coefficient field (a is different for every sample)
        an = a[s].double().numpy()
        rows, cols, vals = [], [], []
        diag = np.zeros(len(ii))
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            c = _harmonic(an[ii, jj], an[ii + di, jj + dj]) / h ** 2
            diag += c
            nb = idx[ii + di, jj + dj]
            ok = nb >= 0
            rows.append(idx[ii, jj][ok])
            cols.append(nb[ok])
            vals.append(-c[ok])
        rows.append(idx[ii, jj])
        cols.append(idx[ii, jj])
        vals.append(diag)
        A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(len(ii), len(ii)))
        rhs = np.full(len(ii), float(f)) if fa is None else (fa[s] if fa.ndim == 3 else fa)[ii, jj]
        out[s, ii, jj] = torch.from_numpy(spsolve(A.tocsc(), rhs))
    return out


def poisson_dst(f: torch.Tensor) -> torch.Tensor:
    """``-Laplace_h u = f`` on the interior nodes of the ``res``-point grid, ``u = 0`` on the boundary:
    ``f`` (n, res, res) -> ``u`` (n, res, res); exact for the five-point system (eigenvalues
    ``(4 / h^2) (sin^2(pi k / 2(res-1)) + sin^2(pi l / 2(res-1)))``)."""
    from scipy.fft import dstn, idstn

    if f.ndim != 3 or f.shape[1] != f.shape[2] or f.shape[1] < 3:
        raise ValueError(f"poisson_dst: f must be (n, res, res) with res >= 3, got {tuple(f.shape)}")
    res = f.shape[1]
    h, m = 1.0 / (res - 1), res - 2
    k = np.arange(1, m + 1)
    lam1 = (4 / h ** 2) * np.sin(math.pi * k / (2 * (res - 1))) ** 2
    lam = lam1[:, None] + lam1[None, :]
    inner = f[:, 1:-1, 1:-1].double().numpy()
    u = idstn(dstn(inner, type=1, axes=(1, 2)) / lam, type=1, axes=(1, 2))
    out = torch.zeros(f.shape, dtype=torch.float64)
    out[:, 1:-1, 1:-1] = torch.from_numpy(u)
    return out


def darcy_piecewise(n: int, res: int, *, alpha: float = 2.0, tau: float = 3.0, hi: float = 12.0, lo: float = 3.0,
                    seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """FNO's Darcy set: ``a = hi`` where a Neumann GRF ``g >= 0`` else ``lo``, ``f = 1``; returns (a, u), (n, res, res)."""
    from paperzoo.data.pde.grf import grf2d

    gen = torch.Generator().manual_seed(seed)
    g = grf2d(n, res, gen, alpha=alpha, tau=tau, bc="neumann")
    a = torch.where(g >= 0, torch.tensor(hi, dtype=torch.float64), torch.tensor(lo, dtype=torch.float64))
    return a, darcy_solve(a)
