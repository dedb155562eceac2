"""The card's smoke checks of the fixed-point claims, in float64 on a random dense hollow monotone W.

(a) ``min eig sym(I - W) >= m``; (b) the prox lands on the simplex, satisfies its optimality equation and
tends to softmax as alpha -> 1; (c) forward-backward splitting from several random starts reaches one
point that satisfies the mean-field equations; (d) plain mean-field with an unconstrained large W does
not (different points or oscillation). Plus the implicit backward against unrolled autograd and
central finite differences.
"""
from __future__ import annotations

import torch

from paperzoo.papers.monotone_dbm.monotone import HollowMonotoneLinear, group_softmax, mean_field_residual, naive_mean_field
from paperzoo.papers.monotone_dbm.prox import lambertw_prox, prox_softmax
from paperzoo.papers.monotone_dbm.solver import MonotoneDBM

SMOKE_TIERS = ((20, 4), (10, 2), (1, 10))  # card smoke test: 20 x 4, 10 x 2, 1 x 10 states; m = 0.05


def random_linear(tiers=SMOKE_TIERS, m: float = 0.05, gain: float = 3.0, seed: int = 0) -> HollowMonotoneLinear:
    """A float64 :class:`HollowMonotoneLinear` with ``A ~ gain U(-1, 1) / sqrt(d)`` (so the scale s < 1 binds)
    and random biases (b ~ N(0, 1), g = ||b||: the bias is b itself)."""
    gen = torch.Generator().manual_seed(seed)
    lin = HollowMonotoneLinear(tiers, m=m).double()
    with torch.no_grad():
        lin.A.copy_(gain * (2 * torch.rand(lin.A.shape, generator=gen, dtype=torch.float64) - 1) / lin.dim ** 0.5)
        for b, g in zip(lin.b, lin.g.split(1)):
            b.copy_(torch.randn(b.shape, generator=gen, dtype=torch.float64))
            g.copy_(b.norm())
    return lin


def min_eig_margin(lin: HollowMonotoneLinear) -> float:
    """``min eig sym(I - W) - m`` (>= 0 by construction; card smoke (a))."""
    W = lin.W_dense().detach().double()
    sym = torch.eye(W.shape[0], dtype=W.dtype, device=W.device) - (W + W.T) / 2
    return float(torch.linalg.eigvalsh(sym)[0]) - lin.m


def prox_errors(alpha: float = 0.3, n: int = 64, k: int = 7, seed: int = 0) -> dict[str, float]:
    """Card smoke (b) on ``n`` random y's (float64): simplex error, optimality-equation error (the
    equation's nu recovered from the output), max gap to the Lambert-W reference, and the gap to
    softmax at alpha = 0.999."""
    g = torch.Generator().manual_seed(seed)
    y = 3 * torch.randn(n, k, generator=g, dtype=torch.float64)
    x = prox_softmax(y, alpha)
    lhs = (1 - alpha) * x + alpha * x.log() - y + alpha  # = nu for every state when optimal
    return {"prox_simplex_err": float(((x.sum(-1) - 1).abs().max()).clamp(min=float((-x).clamp(min=0).max()))),
            "prox_optimality_err": float((lhs - lhs.mean(-1, keepdim=True)).abs().max()),
            "prox_lambertw_gap": float((x - torch.from_numpy(lambertw_prox(y.numpy(), alpha))).abs().max()),
            "prox_softmax_gap": float((prox_softmax(y, 0.999) - torch.softmax(y, -1)).abs().max())}


def fixed_point_checks(lin: HollowMonotoneLinear, *, alpha: float = 0.1, n_starts: int = 5, tol: float = 1e-12,
                       max_iter: int = 2000, seed: int = 0) -> dict[str, float]:
    """Card smoke (c): Picard splitting from ``n_starts`` random points of the product of simplices
    (nothing clamped); their spread, the worst forward residual and the mean-field residual."""
    dbm = MonotoneDBM(lin, alpha=alpha, tol=tol, max_iter=max_iter, solver="picard")
    n_vis, k_vis = lin.tiers[0]
    g = torch.Generator().manual_seed(seed)
    z0 = group_softmax(3 * torch.randn(n_starts, lin.dim, generator=g, dtype=torch.float64), lin.gid, lin.n_vars)
    vis = torch.zeros(n_starts, n_vis, k_vis, dtype=torch.float64)
    with torch.no_grad():
        dbm(vis, torch.zeros(n_starts, n_vis, dtype=torch.float64), z0=z0)
        W, b = lin.operator()
    z = dbm.z
    return {"fixed_point_spread": float((z - z[:1]).abs().max()), "forward_residual": dbm.residual,
            "forward_iters": dbm.iters, "mean_field_residual": float(mean_field_residual(z, W, b, lin.gid).max())}


def naive_mf_check(tiers=SMOKE_TIERS, scale: float = 4.0, steps: int = 300, seed: int = 0) -> dict[str, float]:
    """Card smoke (d): a symmetric hollow W with no monotonicity constraint, entries N(0, scale^2 / d)
    (``||W||_2`` ~ 2 scale), plain mean-field from two random starts. Reports the final distance between
    the two runs and the larger last-step change (oscillation); either large means no unique fixed point."""
    lin = random_linear(tiers, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    d = lin.dim
    R = scale * torch.randn(d, d, generator=g, dtype=torch.float64) / d ** 0.5
    W = (R + R.T) / 2 * (1 - lin.self_block)
    b = torch.randn(d, generator=g, dtype=torch.float64)
    q0 = group_softmax(3 * torch.randn(2, d, generator=g, dtype=torch.float64), lin.gid, lin.n_vars)
    q, step = naive_mean_field(W, b, lin.gid, q0, steps=steps)
    return {"naive_mf_spread": float((q[0] - q[1]).abs().max()), "naive_mf_last_step": float(step.max()),
            "naive_mf_W_norm": float(torch.linalg.matrix_norm(W, 2))}


def _loss(dbm: MonotoneDBM, vis, mask, weights) -> torch.Tensor:
    dbm(vis, mask)
    return (dbm.logits * weights).sum()


def implicit_grad_checks(lin: HollowMonotoneLinear, *, alpha: float = 0.3, unroll: int = 600, eps: float = 1e-6,
                         seed: int = 0) -> dict[str, float]:
    """Gradient of ``L = <c, W z* + b>`` with respect to ``A`` (half the visible variables observed) by the
    implicit backward, against (i) autograd through ``unroll`` plain splitting steps and (ii) central
    finite differences along a random direction, all float64. Returns relative errors."""
    g = torch.Generator().manual_seed(seed)
    n_vis, k_vis = lin.tiers[0]
    B = 3
    vis = torch.nn.functional.one_hot(torch.randint(k_vis, (B, n_vis), generator=g), k_vis).double()
    mask = (torch.rand(B, n_vis, generator=g) < 0.5).double()
    weights = torch.randn(B, lin.dim, generator=g, dtype=torch.float64)
    dbm = MonotoneDBM(lin, alpha=alpha, tol=1e-13, max_iter=3000, solver="picard")
    lin.zero_grad()
    _loss(dbm, vis, mask, weights).backward()
    implicit = lin.A.grad.clone()
    bwd_res = dbm.stats.get("backward_residual", float("nan"))
    # (i) unrolled autograd: the same splitting map, every step on the tape
    W, bias = lin.operator()
    vals, clamp = dbm.clamp_spec(vis, mask, None)
    z = dbm.start(B, torch.float64, "cpu")
    for _ in range(unroll):
        z = dbm.step(z, W, bias, vals, clamp)
    zc = z + clamp * (vals - z)
    unrolled = torch.autograd.grad(((zc @ W + bias) * weights).sum(), lin.A)[0]
    # (ii) central finite differences along a random direction V
    V = torch.randn(lin.A.shape, generator=g, dtype=torch.float64)
    with torch.no_grad():
        A0 = lin.A.clone()
        lin.A.copy_(A0 + eps * V)
        lp = _loss(dbm, vis, mask, weights)
        lin.A.copy_(A0 - eps * V)
        lm = _loss(dbm, vis, mask, weights)
        lin.A.copy_(A0)
    fd = float((lp - lm) / (2 * eps))
    ana = float((implicit * V).sum())
    return {"grad_vs_unrolled_rel": float((implicit - unrolled).norm() / unrolled.norm()),
            "grad_vs_fd_rel": abs(ana - fd) / abs(fd), "backward_residual": bwd_res}
