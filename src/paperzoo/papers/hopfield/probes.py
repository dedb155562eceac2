"""Probe: which kind of fixed point does a query converge to (paper Sec. 2, the three regimes of beta)?

Small beta -> the global average of all patterns; medium beta -> a metastable state that averages a
subset of k patterns; large beta -> a single pattern. We iterate the CCCP update to (numerical)
convergence and count the stored patterns whose softmax weight exceeds half the uniform share 1/(2N)
(card: "counting softmax weights above a threshold, e.g. > 1/(2N)").
"""
from __future__ import annotations

import torch

from paperzoo.papers.hopfield.retrieval import Beta, check_patterns
from paperzoo.registry import register_probe


def fixed_point_type_name(k: int, n: int) -> str:
    """"single" (k = 1), "global" (k = N: every pattern above the threshold), else "metastable(k)"."""
    if k <= 1:
        return "single"
    if k >= n:
        return "global"
    return f"metastable({k})"


@register_probe("fixed_point_type", paper="hopfield")
@torch.no_grad()
def fixed_point_type(X: torch.Tensor, beta: Beta, xi: torch.Tensor, *, threshold: float | None = None,
                     max_steps: int = 100, tol: float = 1e-6) -> dict:
    """Classify the fixed point reached from ``xi`` under xi <- X softmax(beta X^T xi).

    X: (N, d) stored patterns (rows); xi: (d,) or (S, d) queries. ``threshold`` on the softmax weights
    defaults to 1/(2N). Returns {"type": str or list[str], "k": LongTensor (number of patterns above the
    threshold), "weights": (..., N) softmax weights at the fixed point, "fixed_point": (..., d),
    "steps": iterations used, "converged": bool tensor}.
    """
    beta = check_patterns(xi, X, beta)
    if xi.dim() > 2:
        raise ValueError(f"xi must be (d,) or (S, d), got shape {tuple(xi.shape)}")
    n = X.shape[0]
    thr = 1.0 / (2 * n) if threshold is None else float(threshold)
    if not 0.0 < thr < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {thr}")
    state = xi
    converged = torch.zeros(xi.shape[:-1], dtype=torch.bool)
    steps = 0
    for steps in range(1, max_steps + 1):
        new = torch.softmax(beta * (state @ X.T), dim=-1) @ X
        converged = (new - state).norm(dim=-1) <= tol * (1.0 + state.norm(dim=-1))
        state = new
        if bool(converged.all()):
            break
    weights = torch.softmax(beta * (state @ X.T), dim=-1)
    k = (weights > thr).sum(-1)
    types = fixed_point_type_name(int(k), n) if k.dim() == 0 else [fixed_point_type_name(int(j), n) for j in k]
    return {"type": types, "k": k, "weights": weights, "fixed_point": state, "steps": steps,
            "converged": converged}
