"""Convex adversarial training (l_inf ball of radius eps, hinge loss, y in {-1, 1}) and its PGD baselines.

Card "Convex adversarial training" (derived from first principles; matches Bai et al., ACC 2022 up to whether the
l1 term is taken per block): patterns must hold on the whole ball,
    (2 d_ik - 1) x_k . v_i >= eps ||v_i||_1   (and the same for w_i),
then f(x_k + delta) is linear in delta with weight W_k = sum_i d_ik (v_i - w_i), and the worst-case hinge is
(1 - y_k x_k . W_k + eps ||W_k||_1)_+. Objective: sum_k of that + beta sum_i (||v_i|| + ||w_i||). The bias
coordinate (last column of X, see ``add_bias``) is excluded from the ball and from the l1 norms.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from paperzoo.papers.convex_relu.model import TwoLayerReLU
from paperzoo.papers.convex_relu.problem import ConvexReLUProblem


class ConvexATProblem(ConvexReLUProblem):
    """The robust convex program; ``X`` (n, d) must end with the bias column (excluded from the ball)."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, D: torch.Tensor, beta: float, *, eps: float,
                 dtype: torch.dtype = torch.float64):
        super().__init__(X, y, D, beta, loss="hinge", dtype=dtype)
        if not (isinstance(eps, (int, float)) and eps >= 0):
            raise ValueError(f"eps must be a number >= 0, got {eps!r}")
        if not bool((self.X[:, -1] == 1).all()):
            raise ValueError("ConvexATProblem: X's last column must be the bias feature (all ones); use add_bias")
        self.eps = float(eps)

    def robust_margins(self, v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """y_k x_k . W_k - eps ||W_k||_1 (bias excluded): the worst-case margin on the ball when feasible."""
        self._check_blocks(v, w)
        W = self.D @ (v - w)  # (n, d): W_k = sum_i d_ik (v_i - w_i)
        return self.y * (self.X * W).sum(1) - self.eps * W[:, :-1].abs().sum(1)

    def _objective_t(self, v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        hinge = (1 - self.robust_margins(v, w)).clamp(min=0).sum()
        return hinge + self.beta * self.group_norm(v, w)

    def objective(self, v: torch.Tensor, w: torch.Tensor) -> float:
        return float(self._objective_t(v, w))

    def _slack(self, v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """eps ||u_i||_1 - (2 d_ik - 1) x_k . u_i for both halves, (2, n, P); <= 0 where feasible."""
        u = torch.stack([v, w])
        l1 = u[:, :, :-1].abs().sum(2)  # (2, P)
        return self.eps * l1[:, None, :] - self.S * (self.X @ u.transpose(1, 2))

    def violation(self, v: torch.Tensor, w: torch.Tensor) -> float:
        self._check_blocks(v, w)
        return max(0.0, float(self._slack(v, w).max()))

    def solve_cvxpy(self, solver: str = "CLARABEL", **kw) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Solve the robust program with CVXPY (optional extra; no first-order AT solver of ours is exact
        enough, see the README's deviations). Returns (v, w, info) as ``ConvexReLUProblem.solve_cvxpy``."""
        try:
            import cvxpy as cp
        except ImportError as e:
            raise ImportError("ConvexATProblem.solve_cvxpy needs cvxpy: pip install cvxpy") from e
        X, y, D, S = (t.detach().cpu().double().numpy() for t in (self.X, self.y, self.D, self.S))
        V, W = cp.Variable((self.d, self.P)), cp.Variable((self.d, self.P))
        Wk = D @ (V - W).T  # (n, d): W_k = sum_i d_ik (v_i - w_i)
        margins = cp.multiply(y, cp.sum(cp.multiply(X, Wk), axis=1)) - self.eps * cp.sum(cp.abs(Wk[:, :-1]), axis=1)
        reg = cp.sum(cp.norm(V, 2, axis=0)) + cp.sum(cp.norm(W, 2, axis=0))
        cons = []
        for U in (V, W):  # auxiliary A >= |U| (bias row excluded), so eps ||u_i||_1 <= eps sum_j A_ji
            A = cp.Variable((self.d - 1, self.P))
            cons += [A >= U[:-1, :], A >= -U[:-1, :],
                     cp.multiply(S, X @ U) >= self.eps * (np.ones((self.n, 1)) @ cp.sum(A, axis=0, keepdims=True))]
        prob = cp.Problem(cp.Minimize(cp.sum(cp.pos(1 - margins)) + self.beta * reg), cons)
        return self._solve_and_read(prob, V, W, solver, **kw)


def pgd_attack(model: TwoLayerReLU, x: torch.Tensor, y: torch.Tensor, eps: float, *, steps: int = 50,
               step_size: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """l_inf PGD (Madry et al.) on the margin loss -y f(x) (the hinge's slope without its clamp, so points beyond
    margin 1 are still pushed): uniform random start in the ball, ``steps`` signed-gradient steps of ``step_size``
    (default 2.5 eps / steps), projection back onto the ball."""
    if eps < 0 or steps < 0:
        raise ValueError(f"pgd_attack: need eps >= 0 and steps >= 0, got {eps}, {steps}")
    step_size = 2.5 * eps / max(steps, 1) if step_size is None else step_size
    noise = torch.rand(x.shape, generator=generator, dtype=torch.float64).to(x)
    delta = (2 * noise - 1) * eps
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = -(y * model(x + delta)).sum()
        (g,) = torch.autograd.grad(loss, delta)
        delta = (delta.detach() + step_size * g.sign()).clamp(-eps, eps)
    return (x + delta).detach()


def robust_accuracy(model: TwoLayerReLU, x: torch.Tensor, y: torch.Tensor, eps: float, *, steps: int = 50,
                    generator: torch.Generator | None = None) -> float:
    """Accuracy in % of sign(f) on PGD-``steps`` adversarial inputs (eps = 0: clean accuracy)."""
    xa = pgd_attack(model, x, y, eps, steps=steps, generator=generator) if eps > 0 else x
    with torch.no_grad():
        return 100.0 * float((torch.sign(model(xa)) == y).double().mean())


def pgd_adversarial_training(x: torch.Tensor, y: torch.Tensor, *, width: int, beta: float, eps: float,
                             steps: int = 1000, lr: float = 1e-2, pgd_steps: int = 10,
                             generator: torch.Generator | None = None) -> TwoLayerReLU:
    """The non-convex baseline of the AT comparison: a ``TwoLayerReLU`` of ``width`` neurons (bias feature),
    full-batch Adam on the hinge loss at PGD-``pgd_steps`` points + (beta / 2)(||U||^2 + ||alpha||^2), the same
    regularised objective as the convex program (Madry-style PGD-AT; our defaults)."""
    if width < 1 or steps < 0:
        raise ValueError(f"pgd_adversarial_training: need width >= 1, steps >= 0; got {width}, {steps}")
    d = x.shape[1] + 1
    net = TwoLayerReLU(x.shape[1], width=width).to(x)
    with torch.no_grad():
        net.U.copy_(torch.randn(width, d, generator=generator, dtype=torch.float64) / math.sqrt(d))
        net.alpha.copy_(torch.randn(width, generator=generator, dtype=torch.float64) / math.sqrt(width))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        xa = pgd_attack(net, x, y, eps, steps=pgd_steps, generator=generator) if eps > 0 else x
        loss = net.objective(xa, y, beta, loss="hinge")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net
