"""Closed-form global optimum of the imbalanced, bias-free MSE unconstrained-feature model with an
M-layer linear head (Dang et al. 2023, imbalanced theorem; official code ``compute_x`` / ``compute_s``).

With N = sum_k n_k and b = M N (N lambda_W^M lambda_H)^(1/M), class k's scalar x_k is the largest
real root x >= 0 of

    b / n_k = M x^(M-1) / (x^M + 1)^2                                          (1)

(x_k = 0 when there is none: *minority collapse*), and s_k^(2M) = N lambda_H x_k^M. Up to one global
scale per matrix the optimum has (W = W_M ... W_1, H_bar the K class means as columns)

    H_bar^T H_bar ∝ diag(x_k^M / (x_k^M + 1)^2),   W W^T ∝ diag(x_k^M),   W H_bar ∝ diag(x_k^M / (x_k^M + 1)).

The official code solves (1) with sympy ``solve`` and takes ``max`` of the real roots; we bracket the
root instead (the right-hand side of (1) rises from 0 at x = 0 to its maximum at
x* = ((M-1)/(M+1))^(1/M) and then decreases to 0, so the largest root lies on [x*, inf)) and bisect
it to machine precision in float64.

Per-layer targets (``ImbalancedOptimum.targets(m)``): at the optimum all W_m share the singular
values s_k (balancedness W_m W_m^T = W_(m+1)^T W_(m+1) for equal lambda_W), with s_k^2 ∝ x_k. So the
partial product W_M ... W_m (j = M - m + 1 factors) has Gram ∝ diag(x_k^j), the features entering
layer m, H_m = W_(m-1) ... W_1 H, have class-mean Gram ∝ diag(x_k^(m-1) x_k^M / (x_k^M + 1)^2), and
(W_M ... W_m) H_bar_m = W H_bar for every m. m = 1 gives the official (end-to-end) targets above. The
per-layer extension is *derived here* (not in the official code) and checked by L-BFGS in the tests.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

__all__ = ["ImbalancedOptimum", "imbalanced_mse_optimum", "solve_x"]


def _rhs(x: float, M: int) -> float:
    """M x^(M-1) / (x^M + 1)^2, the right-hand side of (1)."""
    xm = x ** M
    return M * x ** (M - 1) / (xm + 1.0) ** 2


def solve_x(c: float, M: int, *, iters: int = 200) -> float:
    """Largest real root x >= 0 of ``c = M x^(M-1) / (x^M + 1)^2`` (``c = b / n_k``), or 0 if none.

    Bracketing bisection in float64: the root lies on the decreasing branch [x*, hi] with
    x* = ((M-1)/(M+1))^(1/M) the maximiser and hi = (M / c)^(1/(M+1)) (there the right-hand side is
    below M / x^(M+1) = c).
    """
    if not (isinstance(M, int) and M >= 1):
        raise ValueError(f"depth M must be an int >= 1, got {M!r}")
    if not (math.isfinite(c) and c > 0):
        raise ValueError(f"b / n_k must be a positive finite number, got {c!r}")
    lo = ((M - 1) / (M + 1)) ** (1.0 / M)
    if _rhs(lo, M) < c:  # the maximum of the right-hand side is below c: no real root >= 0
        return 0.0
    hi = max((M / c) ** (1.0 / (M + 1)), lo)
    while _rhs(hi, M) > c:  # safety; the bound above already guarantees rhs(hi) <= c
        hi *= 2.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _rhs(mid, M) >= c:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class ImbalancedOptimum:
    """The closed-form optimum of the imbalanced bias-free MSE UFM (eq. (1) and its consequences).

    ``x``, ``s``: (K,) float64; ``HTH``, ``WWT``, ``WH``: the predicted diagonals of H_bar^T H_bar,
    W W^T and W H_bar, each normalised to unit Euclidean norm (= Frobenius norm of the diagonal
    matrix). ``collapsed``: classes with x_k = 0 (minority collapse).
    """

    n_per_class: tuple[int, ...]
    depth: int
    lambda_w: float
    lambda_h: float
    b: float
    x: torch.Tensor
    s: torch.Tensor
    HTH: torch.Tensor
    WWT: torch.Tensor
    WH: torch.Tensor

    @property
    def collapsed(self) -> torch.Tensor:
        return self.x == 0

    def targets(self, layer: int = 1) -> dict[str, torch.Tensor]:
        """Predicted (normalised) diagonals at linear layer ``layer`` (1 = first layer, i.e. the
        end-to-end product W_M ... W_1 with the free features H; ``depth`` = last layer).

        Keys: ``"WWT"`` (partial product W_M ... W_layer), ``"HTH"`` (class means of the features
        entering that layer), ``"WH"`` (their product, the same at every layer).
        """
        M = self.depth
        if not (isinstance(layer, int) and 1 <= layer <= M):
            raise ValueError(f"layer must be an int in [1, {M}], got {layer!r}")
        xm = self.x ** M
        j = M - layer + 1
        wwt = self.x ** j
        hth = self.x ** (layer - 1) * xm / (xm + 1.0) ** 2
        return {"WWT": _unit(wwt), "HTH": _unit(hth), "WH": self.WH.clone()}


def _unit(v: torch.Tensor) -> torch.Tensor:
    n = torch.linalg.vector_norm(v)
    return v / n if n > 0 else v.clone()


def imbalanced_mse_optimum(n_per_class: Sequence[int], depth: int, lambda_w: float = 5e-4,
                           lambda_h: float = 5e-4) -> ImbalancedOptimum:
    """Closed-form optimum of the bias-free imbalanced MSE UFM with a ``depth``-layer linear head.

    ``n_per_class``: (K,) positive class counts; ``depth`` = M >= 1; ``lambda_w``, ``lambda_h``: the
    weight and feature decays (official defaults 5e-4). Returns an ``ImbalancedOptimum`` with
    x_k from eq. (1), s_k = (N lambda_H x_k^M)^(1/(2M)) (official ``compute_s`` with c = 1) and the
    normalised predicted Gram diagonals.
    """
    raw = n_per_class.tolist() if isinstance(n_per_class, torch.Tensor) else list(n_per_class)
    if len(raw) < 2 or any(int(v) != v or v <= 0 for v in raw):
        raise ValueError(f"n_per_class must hold >= 2 positive integer counts, got {raw}")
    n = [int(v) for v in raw]
    if not (isinstance(depth, int) and depth >= 1):
        raise ValueError(f"depth must be an int >= 1, got {depth!r}")
    for name, lam in (("lambda_w", lambda_w), ("lambda_h", lambda_h)):
        if not (math.isfinite(lam) and lam > 0):
            raise ValueError(f"{name} must be a positive finite number, got {lam!r}")
    M, N = depth, sum(n)
    b = M * N * (N * lambda_w ** M * lambda_h) ** (1.0 / M)
    x = torch.tensor([solve_x(b / nk, M) for nk in n], dtype=torch.float64)
    s = (N * lambda_h * x ** M) ** (1.0 / (2 * M))
    xm = x ** M
    return ImbalancedOptimum(
        n_per_class=tuple(n), depth=M, lambda_w=float(lambda_w), lambda_h=float(lambda_h), b=float(b), x=x, s=s,
        HTH=_unit(xm / (xm + 1.0) ** 2), WWT=_unit(xm), WH=_unit(xm / (xm + 1.0)))
