"""Mean-field inference in a monotone DBM: damped forward-backward splitting with an implicit backward.

``z_{t+1} = prox^alpha_f((1 - alpha) z_t + alpha (W z_t + b))`` per variable (card, "Inference"; code
``deq_model.py``), observed visible variables (and optionally the label) clamped to their one-hot
data before each application of W. The fixed point is found without autograd (Anderson acceleration
or plain Picard iteration); then one differentiable application ``z = f(z*)`` is made, and
:class:`ImplicitFixedPoint` turns its incoming gradient ``v`` into ``u = (I - J^T)^{-1} v`` by solving
the adjoint fixed point ``u = J^T u + v`` (J = df/dz at z*) with the same solver, so that
``dL/dtheta = u^T df/dtheta`` (implicit function theorem), as the code's backward hook.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from paperzoo.papers.monotone_dbm.monotone import HollowMonotoneLinear
from paperzoo.papers.monotone_dbm.prox import prox_softmax_grouped

SOLVERS = ("anderson", "picard")


def _rel(fx: torch.Tensor, x: torch.Tensor) -> float:
    return float((fx - x).norm() / (1e-5 + fx.norm()))  # the code's relative residual (whole batch)


def anderson(f: Callable, x0: torch.Tensor, *, m: int = 5, lam: float = 1e-4, max_iter: int = 50, tol: float = 1e-2,
             beta: float = 1.0) -> tuple[torch.Tensor, list[float]]:
    """Anderson acceleration for ``x = f(x)``, x (B, d), batched (code ``deq_model.anderson``: memory 5,
    lambda 1e-4); stops when ``||f(x) - x|| / ||f(x)|| < tol`` over the batch. Returns the last iterate
    and the residual history (one entry per accelerated step)."""
    bsz, d = x0.shape
    X = x0.new_zeros(bsz, m, d)
    F = x0.new_zeros(bsz, m, d)
    X[:, 0], F[:, 0] = x0, f(x0)
    X[:, 1], F[:, 1] = F[:, 0], f(F[:, 0])
    H = x0.new_zeros(bsz, m + 1, m + 1)
    H[:, 0, 1:] = H[:, 1:, 0] = 1
    y = x0.new_zeros(bsz, m + 1, 1)
    y[:, 0] = 1
    res, k = [_rel(F[:, 1], X[:, 1])], 1
    for k in range(2, max_iter):
        n = min(k, m)
        G = F[:, :n] - X[:, :n]
        H[:, 1:n + 1, 1:n + 1] = G @ G.transpose(1, 2) + lam * torch.eye(n, dtype=x0.dtype, device=x0.device)
        a = torch.linalg.solve(H[:, :n + 1, :n + 1], y[:, :n + 1])[:, 1:n + 1, 0]
        X[:, k % m] = beta * (a[:, None] @ F[:, :n])[:, 0] + (1 - beta) * (a[:, None] @ X[:, :n])[:, 0]
        F[:, k % m] = f(X[:, k % m])
        res.append(_rel(F[:, k % m], X[:, k % m]))
        if res[-1] < tol:
            break
    return X[:, k % m], res


def picard(f: Callable, x0: torch.Tensor, *, max_iter: int = 50, tol: float = 1e-2) -> tuple[torch.Tensor, list[float]]:
    """Plain fixed-point iteration ``x <- f(x)`` until the relative residual is below ``tol``."""
    x, res = x0, []
    for _ in range(max_iter):
        fx = f(x)
        res.append(_rel(fx, x))
        x = fx
        if res[-1] < tol:
            break
    return x, res


class ImplicitFixedPoint(torch.autograd.Function):
    """Identity in the forward pass; in the backward pass solves ``u = J^T u + v`` for the incoming
    gradient ``v``, with ``J^T u`` from ``vjp(u)``. ``stats`` (a dict) receives the adjoint solve's
    iteration count and residual."""

    @staticmethod
    def forward(ctx, z, vjp, solve, stats):
        ctx.vjp, ctx.solve, ctx.stats = vjp, solve, stats
        return z.view_as(z)

    @staticmethod
    def backward(ctx, v):
        u, res = ctx.solve(lambda u: ctx.vjp(u) + v, v)
        ctx.stats.update(backward_iters=len(res), backward_residual=res[-1] if res else 0.0)
        return u, None, None, None


class MonotoneDBM(nn.Module):
    """Mean-field inference of a monotone DBM (card: ``MonotoneDBM``; defaults from the code's ``main.py``:
    alpha 0.125, tol 1e-2, max_iter 50, Anderson).

    ``forward(visible, mask, label=None, z0=None)``: ``visible`` (B, n_vis, k_vis) one-hot (or flat),
    ``mask`` (B, n_vis) with 1 where a visible variable is observed, ``label`` (B,) class indices to clamp
    the last tier (None: free, as in training), ``z0`` (B, d) an optional start. Returns the fixed point,
    one (B, n, k) tensor per tier; the observed visible variables hold their data. After a call:
    ``.iters``, ``.residual``, ``.converged`` (forward solve), ``.logits`` (B, d) = ``W z* + b`` at the
    fixed point (the pre-prox outputs the losses use), ``.z`` (B, d) the flat fixed point, and
    ``.stats`` (backward iterations/residual after ``backward``).
    """

    def __init__(self, linear: HollowMonotoneLinear, alpha: float = 0.125, tol: float = 1e-2, max_iter: int = 50,
                 solver: str = "anderson", prox_tol: float | None = None):
        super().__init__()
        if not isinstance(linear, HollowMonotoneLinear):
            raise TypeError(f"linear must be a HollowMonotoneLinear, got {type(linear).__name__}")
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
        self.linear, self.alpha, self.tol, self.max_iter = linear, float(alpha), float(tol), int(max_iter)
        self.solver, self.prox_tol = solver, prox_tol
        self.clftau = nn.Parameter(torch.ones(1))  # code: classification temperature clftau, init 1
        self.iters, self.residual, self.converged, self.stats = 0, float("nan"), False, {}

    def _solve(self, f: Callable, x0: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
        if self.solver == "anderson":
            return anderson(f, x0, max_iter=self.max_iter, tol=self.tol)
        return picard(f, x0, max_iter=self.max_iter, tol=self.tol)

    def clamp_spec(self, visible: torch.Tensor, mask: torch.Tensor, label: torch.Tensor | None):
        """(values (B, d), clamp (B, d) in {0, 1}): which entries are fixed to data, and to what."""
        lin = self.linear
        (n_vis, k_vis), (n_lab, k_lab) = lin.tiers[0], lin.tiers[-1]
        B = visible.shape[0]
        visible = visible.reshape(B, -1)
        if visible.shape[1] != n_vis * k_vis or mask.shape != (B, n_vis):
            raise ValueError(f"visible must be (B, {n_vis}, {k_vis}) and mask (B, {n_vis}); got "
                             f"{tuple(visible.shape)} and {tuple(mask.shape)}")
        vals = visible.new_zeros(B, lin.dim)
        clamp = visible.new_zeros(B, lin.dim)
        vals[:, :n_vis * k_vis] = visible
        clamp[:, :n_vis * k_vis] = mask.to(visible.dtype).repeat_interleave(k_vis, 1)
        if label is not None:
            if n_lab != 1:
                raise ValueError("label clamping needs a last tier of one variable")
            vals[:, lin.dim - k_lab:] = torch.nn.functional.one_hot(label, k_lab).to(visible.dtype)
            clamp[:, lin.dim - k_lab:] = 1
        return vals, clamp

    def step(self, z: torch.Tensor, W: torch.Tensor, bias: torch.Tensor, vals: torch.Tensor,
             clamp: torch.Tensor) -> torch.Tensor:
        """One damped forward-backward step ``prox((1 - alpha) z + alpha (W zc + b))``, zc = z clamped."""
        zc = z + clamp * (vals - z)
        y = (1 - self.alpha) * z + self.alpha * (zc @ W + bias)
        return prox_softmax_grouped(y, self.alpha, self.linear.gid, self.linear.n_vars, tol=self.prox_tol)

    def start(self, B: int, dtype: torch.dtype, device) -> torch.Tensor:
        """z_0: uniform over each variable's states (the code's softmax of zeros, per variable)."""
        k = torch.tensor([k for n, k in self.linear.tiers for _ in range(n * k)], dtype=dtype, device=device)
        return (1 / k).expand(B, -1).clone()

    def forward(self, visible: torch.Tensor, mask: torch.Tensor, label: torch.Tensor | None = None,
                z0: torch.Tensor | None = None):
        W, bias = self.linear.operator()
        vals, clamp = self.clamp_spec(visible, mask, label)
        Wd, bd = W.detach(), bias.detach()
        with torch.no_grad():
            z_star, res = self._solve(lambda z: self.step(z, Wd, bd, vals, clamp),
                                      self.start(vals.shape[0], vals.dtype, vals.device) if z0 is None else z0)
        self.iters, self.residual = len(res), res[-1]
        self.converged = bool(res[-1] < self.tol)
        z = self.step(z_star, W, bias, vals, clamp)  # one differentiable application at the fixed point
        if z.requires_grad:
            z0 = z_star.detach().requires_grad_()
            with torch.enable_grad():
                f0 = self.step(z0, Wd, bd, vals, clamp)

            def vjp(u):
                return torch.autograd.grad(f0, z0, u, retain_graph=True)[0]

            self.stats = {}
            z = ImplicitFixedPoint.apply(z, vjp, self._solve, self.stats)
        zc = z + clamp * (vals - z)
        self.z, self.logits = zc, zc @ W + bias
        return tuple(self.linear.split(zc))

    def label_logits(self) -> torch.Tensor:
        """Classification logits of the last forward: label tier of ``W z* + b`` times ``clftau^2`` (code)."""
        k = self.linear.tiers[-1][1]
        return self.logits[:, -k:] * self.clftau ** 2
