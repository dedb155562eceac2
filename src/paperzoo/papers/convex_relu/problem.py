"""The convex program of two-layer ReLU training (Pilanci & Ergen 2020; Bai, Gautam & Sojoudi 2023, Sec. 2):

    min_{v_i, w_i}  l( sum_i D_i X (v_i - w_i), y ) + beta sum_i (||v_i||_2 + ||w_i||_2)
    s.t.            (2 D_i - I) X v_i >= 0,  (2 D_i - I) X w_i >= 0     for all i,

and the map back to a ReLU net: u = v_i / sqrt(||v_i||), alpha = +sqrt(||v_i||) (and -sqrt(||w_i||) for w_i),
whose regularised objective l(f(X), y) + (beta / 2) sum_j (||u_j||^2 + alpha_j^2) equals the convex one
at a feasible point (card: "The method, precisely"). Blocks are held as ``v, w`` of shape (P, d).
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from paperzoo.papers.convex_relu.patterns import _check_matrix

LOSSES = ("mse", "hinge", "bce")


def loss_value(pred: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Summed loss (card): mse = 1/2 ||pred - y||^2 (y in {-1, 1} or real); hinge = sum (1 - y pred)_+
    (y in {-1, 1}); bce = sum softplus(2 pred) - 2 y01 pred with y01 = (y + 1) / 2, i.e. logits 2 pred as in
    ``Bai-YT/Convex-NN-Training`` (card pitfall)."""
    if loss == "mse":
        return 0.5 * (pred - y).square().sum(-1)
    if loss == "hinge":
        return (1 - y * pred).clamp(min=0).sum(-1)
    if loss == "bce":
        return (F.softplus(2 * pred) - (y + 1) * pred).sum(-1)
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


class ConvexReLUProblem:
    """One instance of the convex program: data ``X`` (n, d) (append a bias column yourself, see
    ``add_bias``), targets ``y`` (n,), patterns ``D`` (n, P) bool, weight decay ``beta`` > 0.

    Tensors are kept in ``dtype`` (float64 by default: solver tolerances of 1e-6 and below need it).
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, D: torch.Tensor, beta: float, *, loss: str = "mse",
                 dtype: torch.dtype = torch.float64):
        _check_matrix(X, "X")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if not torch.is_tensor(y) or y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},), got {tuple(getattr(y, 'shape', ()))}")
        if not torch.isfinite(y.double()).all():
            raise ValueError("y contains NaN or inf")
        if loss in ("hinge", "bce") and not bool(((y == 1) | (y == -1)).all()):
            raise ValueError(f"loss {loss!r} needs labels y in {{-1, 1}}")
        if not torch.is_tensor(D) or D.dim() != 2 or D.shape[0] != X.shape[0] or D.shape[1] == 0:
            raise ValueError(f"D must be a ({X.shape[0]}, P) pattern matrix with P >= 1, got "
                             f"{tuple(getattr(D, 'shape', ()))}")
        if not (isinstance(beta, (int, float)) and beta > 0):
            raise ValueError(f"beta must be a positive number, got {beta!r}")
        self.X, self.y = X.to(dtype), y.to(X.device, dtype)
        self.D = D.to(X.device, dtype)
        self.S = 2 * self.D - 1  # diagonals of 2 D_i - I, (n, P)
        self.beta, self.loss = float(beta), loss

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    @property
    def P(self) -> int:
        return self.D.shape[1]

    def zeros(self) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.zeros(self.P, self.d, dtype=self.X.dtype, device=self.X.device)
        return z, z.clone()

    def _check_blocks(self, v: torch.Tensor, w: torch.Tensor) -> None:
        for name, t in (("v", v), ("w", w)):
            if t.shape != (self.P, self.d):
                raise ValueError(f"{name} must have shape (P, d) = ({self.P}, {self.d}), got {tuple(t.shape)}")

    def predict(self, v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """The convex model's fit sum_i D_i X (v_i - w_i), (n,)."""
        self._check_blocks(v, w)
        return (self.D * (self.X @ (v - w).T)).sum(1)

    def group_norm(self, v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return v.norm(dim=1).sum() + w.norm(dim=1).sum()

    def objective(self, v: torch.Tensor, w: torch.Tensor) -> float:
        """l(sum_i D_i X (v_i - w_i), y) + beta sum_i (||v_i|| + ||w_i||)."""
        return float(loss_value(self.predict(v, w), self.y, self.loss) + self.beta * self.group_norm(v, w))

    def violation(self, v: torch.Tensor, w: torch.Tensor) -> float:
        """Largest violation of the cone constraints, max(0, -min_i,k (2 d_ik - 1) x_k . {v_i, w_i})."""
        self._check_blocks(v, w)
        worst = torch.minimum((self.S * (self.X @ v.T)).min(), (self.S * (self.X @ w.T)).min())
        return max(0.0, -float(worst))

    def _solve_and_read(self, prob, V, W, solver: str, **kw) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Solve a CVXPY program in the variables ``V, W`` (d, P) and return them as ``(P, d)`` tensors with our
        objective, the solver's objective, its status and wall seconds."""
        t0 = time.perf_counter()
        prob.solve(solver=solver, **kw)
        secs = time.perf_counter() - t0
        if V.value is None:
            raise RuntimeError(f"cvxpy ({solver}) returned no solution: status {prob.status}")
        to = lambda a: torch.as_tensor(a.T.copy(), dtype=self.X.dtype, device=self.X.device)
        v, w = to(V.value), to(W.value)
        return v, w, {"objective": self.objective(v, w), "solver_objective": float(prob.value), "seconds": secs,
                      "status": prob.status, "solver": solver}

    def solve_cvxpy(self, solver: str = "CLARABEL", **kw) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """The generic-solver reference: the same program through CVXPY (optional extra ``pip install cvxpy``;
        Clarabel/SCS/ECOS are open solvers; the first author's repository uses MOSEK). Returns (v, w, info)
        with info = {"objective", "seconds", "status", "solver"}."""
        try:
            import cvxpy as cp
        except ImportError as e:
            raise ImportError("ConvexReLUProblem.solve_cvxpy needs cvxpy: pip install cvxpy") from e
        X, y, D, S = (t.detach().cpu().double().numpy() for t in (self.X, self.y, self.D, self.S))
        V, W = cp.Variable((self.d, self.P)), cp.Variable((self.d, self.P))
        pred = cp.sum(cp.multiply(D, X @ (V - W)), axis=1)
        if self.loss == "mse":
            data = 0.5 * cp.sum_squares(pred - y)
        elif self.loss == "hinge":
            data = cp.sum(cp.pos(1 - cp.multiply(y, pred)))
        else:
            data = cp.sum(cp.logistic(2 * pred) - cp.multiply(y + 1, pred))
        reg = cp.sum(cp.norm(V, 2, axis=0)) + cp.sum(cp.norm(W, 2, axis=0))
        prob = cp.Problem(cp.Minimize(data + self.beta * reg), [cp.multiply(S, X @ V) >= 0, cp.multiply(S, X @ W) >= 0])
        return self._solve_and_read(prob, V, W, solver, **kw)


def recover_network(v: torch.Tensor, w: torch.Tensor, *, tol: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """ReLU neurons from a convex solution (card "Recovery"): every block with norm > ``tol`` gives
    u = v_i / sqrt(||v_i||), alpha = sqrt(||v_i||) (w_i: alpha = -sqrt(||w_i||)). Returns U (m, d), alpha (m,)."""
    if v.dim() != 2 or v.shape != w.shape:
        raise ValueError(f"v and w must both be (P, d), got {tuple(v.shape)} and {tuple(w.shape)}")
    blocks = torch.cat([v, w])
    norms = blocks.norm(dim=1)
    sign = torch.cat([torch.ones(len(v)), -torch.ones(len(w))]).to(blocks)
    keep = norms > tol
    root = norms[keep].sqrt()
    return blocks[keep] / root[:, None], sign[keep] * root
