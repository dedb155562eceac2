"""One-to-many: sparse linear prediction of net B's units from net A's units (Li et al. 2016, Sec. 4).

Paper / official code: a 1x1 convolution (a linear map across channels at every position, with bias)
from A's layer to B's same layer, trained with a Euclidean loss and L1 weight decay lambda, swept over
lambda = 10^-1 ... 10^-2.8 (``sparse_prediction/*/solver.prototxt``). Here the same family of maps is
found exactly: with both layers standardised per unit (card: project default), the bias is absorbed by
centring and the per-target objective depends on the data only through correlations,

    L_j(w) = 1/2 E[(b_j - w . a)^2] + lambda ||w||_1
           = 1/2 (1 - 2 w . R_ab[:, j] + w^T R_aa w) + lambda ||w||_1,

a lasso solved for all targets at once by FISTA on the float64 correlation blocks of ``ActivationStats``
(no activations stored). ``1 - 2 w.c + w^T R w`` is the fraction of B's unit variance left unexplained.
Optimality (KKT): w = 0 exactly when max_i |R_ab[i, j]| <= lambda.
"""
from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["lasso_fista", "sparse_predict"]


def _soft(x: torch.Tensor, t: float) -> torch.Tensor:
    return x.sign() * (x.abs() - t).clamp_min(0)


def lasso_fista(R_aa: torch.Tensor, R_ab: torch.Tensor, lam: float, *, iters: int = 3000, tol: float = 1e-10,
                W0: torch.Tensor | None = None) -> torch.Tensor:
    """``W`` (n_a, n_b) minimising sum_j 1/2 (1 - 2 W_j.R_ab_j + W_j^T R_aa W_j) + lam ||W||_1 (FISTA, float64).

    Step 1/L with L = the largest eigenvalue of R_aa; stops when no weight moves by more than ``tol``.
    """
    R_aa, R_ab = R_aa.double(), R_ab.double()
    if R_aa.dim() != 2 or R_aa.shape[0] != R_aa.shape[1] or R_ab.dim() != 2 or R_ab.shape[0] != R_aa.shape[0]:
        raise ValueError(f"R_aa must be (n_a, n_a) and R_ab (n_a, n_b); got {tuple(R_aa.shape)}, {tuple(R_ab.shape)}")
    if lam < 0:
        raise ValueError(f"lambda must be >= 0, got {lam}")
    L = float(torch.linalg.eigvalsh(R_aa)[-1])
    if L <= 0:
        return torch.zeros_like(R_ab)
    W = torch.zeros_like(R_ab) if W0 is None else W0.double().clone()
    Y, t = W.clone(), 1.0
    for _ in range(iters):
        W_new = _soft(Y - (R_aa @ Y - R_ab) / L, lam / L)
        t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
        Y = W_new + ((t - 1) / t_new) * (W_new - W)
        done = float((W_new - W).abs().max()) <= tol
        W, t = W_new, t_new
        if done:
            break
    return W


def unexplained(R_aa: torch.Tensor, R_ab: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """Per-target fraction of variance left unexplained: 1 - 2 W_j.R_ab_j + W_j^T R_aa W_j, shape (n_b,)."""
    R_aa, R_ab, W = R_aa.double(), R_ab.double(), W.double()
    return 1 - 2 * (W * R_ab).sum(0) + (W * (R_aa @ W)).sum(0)


def sparse_predict(R_aa: torch.Tensor, R_ab: torch.Tensor, lambdas: Sequence[float], *, live: torch.Tensor | None = None,
                   nz_tol: float = 1e-8, iters: int = 3000) -> list[dict[str, float]]:
    """Loss vs sparsity along a lambda path (warm-started from the largest lambda down).

    ``R_aa``: within-A correlation (n_a, n_a); ``R_ab``: A-to-B correlation (n_a, n_b). ``live``: mask of
    B's units with nonzero variance (dead targets have nothing to predict; default: all).
    Per lambda: ``loss`` = mean unexplained variance over live targets, ``nnz`` = mean number of inputs with
    |w| > ``nz_tol``, ``loss_1`` = the same loss of the best single input (1 - max_i R_ab[i, j]^2, the
    one-to-one code) and ``loss_dense`` the least-squares loss (lambda = 0) for reference.
    """
    if len(lambdas) == 0:
        raise ValueError("lambdas must be non-empty")
    R_ab = R_ab.double()
    live = torch.ones(R_ab.shape[1], dtype=torch.bool) if live is None else live.bool()
    if live.shape != (R_ab.shape[1],) or not live.any():
        raise ValueError(f"live must be a non-empty boolean mask of the {R_ab.shape[1]} target units")
    Rl = R_ab[:, live]
    loss_1 = float((1 - Rl.pow(2).max(0).values).mean())
    sol = torch.linalg.lstsq(R_aa.double(), Rl, driver="gelsd").solution
    loss_dense = float(unexplained(R_aa, Rl, sol).mean())
    out, W = [], None
    for lam in sorted(lambdas, reverse=True):
        W = lasso_fista(R_aa, Rl, float(lam), iters=iters, W0=W)
        out.append({"lambda": float(lam), "loss": float(unexplained(R_aa, Rl, W).mean()),
                    "nnz": float((W.abs() > nz_tol).sum(0).double().mean()), "loss_1": loss_1, "loss_dense": loss_dense})
    return out
