"""The mean-field proximal operator ("prox-softmax") of the monotone DBM.

For one categorical variable with states k, ``prox^alpha_f(y) = argmin_{x in simplex} 1/2 ||x - y||^2 + alpha f(x)``
with ``f(x) = sum_k x_k log x_k - 1/2 ||x||^2`` (card, "Prox operator"; authors' code ``proxsoftmax.py``).
Stationarity: ``(1 - alpha) x_k + alpha log x_k = y_k + nu - alpha`` with the simplex multiplier ``nu``
(the code's sign convention). Solved as in the code: an outer Newton iteration on ``nu`` so that
``sum_k x_k(nu) = 1`` (start ``nu = 1 - max_k y_k``) and inner Halley iterations for ``l_k = log x_k``
(start ``l = min(y'/alpha - 1, y' - 1)``). Backward by implicit differentiation:
``dx/dy = diag(g) - g g^T / sum(g)`` with ``g_k = x_k / ((1 - alpha) x_k + alpha)``
(= ``x_k / (y_k + nu - alpha log x_k)`` in the code's form). As alpha -> 1 it becomes softmax(y).

Variables are given by a group index per entry, so tiers with different state counts share one call
(vectorised over samples and variables; the Newton/Halley loops run over iterations only).
"""
from __future__ import annotations

import numpy as np
import torch

_TOL32 = 1e-4  # authors' code: tolerance 1e-4 for both the Halley and the Newton iteration
_TOL64 = 1e-12


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1) (alpha = 1 is the singular softmax limit), got {alpha}")
    return alpha


def _segment_sum(x: torch.Tensor, gid: torch.Tensor, n_groups: int) -> torch.Tensor:
    """(B, d) -> (B, n_groups): sums of the entries of each group."""
    return x.new_zeros(x.shape[0], n_groups).index_add_(1, gid, x)


def _halley_log(c: torch.Tensor, alpha: float, l0: torch.Tensor, tol: float, max_iter: int) -> torch.Tensor:
    """l with (1 - alpha) e^l + alpha l = c (elementwise), Halley's method from l0 (``StableLogW`` in the code)."""
    l = l0
    for _ in range(max_iter):
        e = (1 - alpha) * torch.exp(l)
        h = e + alpha * l - c
        if float(h.abs().max()) <= tol:
            break
        dh = e + alpha
        l = l - 2 * h * dh / (2 * dh * dh - h * e)
    return l


def _prox_forward(y: torch.Tensor, alpha: float, gid: torch.Tensor, n_groups: int, tol: float,
                  max_iter: int) -> torch.Tensor:
    nu = 1 - torch.full_like(y[:, :n_groups], -torch.inf).scatter_reduce(1, gid.expand_as(y), y, "amax")
    l = None
    for _ in range(max_iter):
        yn = y + nu[:, gid]
        start = torch.minimum(yn / alpha - 1, yn - 1) if l is None else l  # code's start; then warm-started
        l = _halley_log(yn - alpha, alpha, start, tol, max_iter)
        p = torch.exp(l)
        excess = _segment_sum(p, gid, n_groups) - 1
        if float(excess.abs().max()) < tol:
            break
        dp = p / ((1 - alpha) * p + alpha)  # d x_k / d nu
        nu = nu - excess / _segment_sum(dp, gid, n_groups)
    return torch.exp(l)


class _ProxSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y, alpha, gid, n_groups, tol, max_iter):
        x = _prox_forward(y, alpha, gid, n_groups, tol, max_iter)
        ctx.save_for_backward(x, gid)
        ctx.alpha, ctx.n_groups = alpha, n_groups
        return x

    @staticmethod
    def backward(ctx, grad):
        x, gid = ctx.saved_tensors
        g = x / ((1 - ctx.alpha) * x + ctx.alpha)
        num = _segment_sum(grad * g, gid, ctx.n_groups)
        den = _segment_sum(g, gid, ctx.n_groups)
        return grad * g - g * (num / den)[:, gid], None, None, None, None, None


def prox_softmax_grouped(y: torch.Tensor, alpha: float, gid: torch.Tensor, n_groups: int | None = None, *,
                         tol: float | None = None, max_iter: int = 100) -> torch.Tensor:
    """prox^alpha_f applied per variable: ``y`` (B, d); ``gid`` (d,) the variable index of each entry.

    ``tol`` defaults to the code's 1e-4 (float32) or 1e-12 (float64); ``max_iter`` caps both loops
    (the code: 5000; Newton and Halley converge in a handful of steps, the cap only guards stalls).
    """
    alpha = _check_alpha(alpha)
    if y.ndim != 2 or gid.ndim != 1 or gid.shape[0] != y.shape[1]:
        raise ValueError(f"y must be (B, d) and gid (d,), got {tuple(y.shape)} and {tuple(gid.shape)}")
    if not torch.isfinite(y).all():
        raise ValueError("prox_softmax: y contains NaN or inf")
    n_groups = int(gid.max()) + 1 if n_groups is None else int(n_groups)
    if tol is None:
        tol = _TOL64 if y.dtype == torch.float64 else _TOL32
    return _ProxSoftmax.apply(y, alpha, gid.to(y.device), n_groups, float(tol), int(max_iter))


def prox_softmax(y: torch.Tensor, alpha: float, dim: int = -1, **kw) -> torch.Tensor:
    """prox^alpha_f over ``dim`` (each slice along ``dim`` is one variable); keywords as
    :func:`prox_softmax_grouped`. Differentiable (implicit backward)."""
    moved = y.movedim(dim, -1)
    k = moved.shape[-1]
    flat = moved.reshape(1, -1)
    gid = torch.arange(flat.shape[1] // k, device=y.device).repeat_interleave(k)
    return prox_softmax_grouped(flat, alpha, gid, flat.shape[1] // k, **kw).reshape(moved.shape).movedim(-1, dim)


def lambertw_prox(y, alpha: float, nu_iter: int = 200) -> np.ndarray:
    """Reference prox in float64 numpy via the Lambert-W closed form (card):
    ``x = alpha/(1-alpha) W0((1-alpha)/alpha exp((y + nu)/alpha - 1))`` with nu found by bisection
    so that ``sum x = 1``; over the last axis of ``y``. For tests and the side-by-side check."""
    from scipy.special import lambertw

    alpha = _check_alpha(alpha)
    y = np.asarray(y, dtype=np.float64)

    def x_of(nu):
        # log of the W argument; W0(e^t) = t - log t + ... for large t, so use the asymptote there
        t = np.log((1 - alpha) / alpha) + (y + nu) / alpha - 1
        w = np.where(t < 500, np.real(lambertw(np.exp(np.minimum(t, 500)))), t - np.log(np.maximum(t, 1.0)))
        for _ in range(3):  # Newton polish of w e^w = e^t (matters only on the asymptotic branch)
            w = w - (w + np.log(np.maximum(w, 1e-300)) - t) / (1 + 1 / np.maximum(w, 1e-300)) * (t >= 500)
        return alpha / (1 - alpha) * w

    lo = 1 - y.max(-1, keepdims=True) - 50.0  # sum x(nu) is increasing in nu
    hi = 1 - y.max(-1, keepdims=True) + 50.0
    for _ in range(nu_iter):
        mid = (lo + hi) / 2
        big = x_of(mid).sum(-1, keepdims=True) > 1
        hi, lo = np.where(big, mid, hi), np.where(big, lo, mid)
    return x_of((lo + hi) / 2)
