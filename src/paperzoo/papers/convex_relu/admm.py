"""ADMM for the convex program with squared loss (the paper's Algorithm 3.1 as the card restates it; structure
confirmed by the unofficial ``zachary-shah/admmNN``), as a kernel ``Learner``: an epoch is ``iters_per_epoch``
ADMM iterations, ``fit`` gives progress, log, checkpoints and bit-identical resume.

Stack u = [v_1..v_P, w_1..w_P], F = [D_1 X .. D_P X, -D_1 X .. -D_P X], G = blockdiag((2 D_i - I) X); copy z of u
(group norm) and slack s >= 0 with G u = s; scaled duals lambda, nu; penalty rho, dual step gamma_a:

1. u <- (I + F^T F / rho + G^T G)^{-1} (F^T y / rho + z - lambda + G^T (s - nu))
2. z_k <- max(0, 1 - beta / (rho ||u_k + lambda_k||)) (u_k + lambda_k)     (group soft-threshold per block)
3. s <- max(0, G u + nu)
4. lambda <- lambda + (gamma_a / rho)(u - z);   nu <- nu + (gamma_a / rho)(G u - s)

G^T G = I_2P (x) X^T X since (2 D_i - I)^2 = I, so G is never formed. The matrix of step 1 is fixed:
``solve="cholesky"`` factors it once (the card's O((2dP)^2) per iteration); ``solve="woodbury"`` writes it as
B + F^T F / rho with B = I_2P (x) (I + X^T X) and K = rho I_n + F B^-1 F^T = rho I + 2 (X A^-1 X^T) o (D D^T)
(A = I + X^T X), so one n x n and one d x d Cholesky give the same exact solve in O(n d P) per iteration.
"""
from __future__ import annotations

from typing import Any

import torch

from paperzoo.papers.convex_relu.problem import ConvexReLUProblem
from paperzoo.train import Learner
from paperzoo.train.log import Progress

SOLVES = ("auto", "cholesky", "woodbury")
STATE = ("u", "z", "s", "lam", "nu")


class ADMMLearner(Learner):
    """ADMM on a squared-loss ``ConvexReLUProblem``. Defaults: rho = 0.1, gamma_a / rho = 1 (the card's
    check on ``make_moons``: best of rho in {1e-3 .. 10}; the paper's values were not retrieved).

    ``evaluate((X_test, y_test))`` scores the ReLU net recovered from z (its output is
    sum_i (X v_i)_+ - (X w_i)_+, no patterns needed on new data): accuracy of sign(f) in % for +-1 labels
    and the squared error.
    """

    def __init__(self, problem: ConvexReLUProblem, *, rho: float = 0.1, gamma_ratio: float = 1.0,
                 iters_per_epoch: int = 10, solve: str = "auto"):
        if not isinstance(problem, ConvexReLUProblem):
            raise TypeError(f"problem must be a ConvexReLUProblem, got {type(problem).__name__}")
        if problem.loss != "mse":
            raise ValueError(f"ADMM's linear u-step needs the squared loss, got loss={problem.loss!r}")
        if not rho > 0 or not gamma_ratio > 0:
            raise ValueError(f"rho and gamma_ratio must be positive, got {rho}, {gamma_ratio}")
        if not isinstance(iters_per_epoch, int) or iters_per_epoch < 1:
            raise ValueError(f"iters_per_epoch must be a positive int, got {iters_per_epoch!r}")
        if solve not in SOLVES:
            raise ValueError(f"solve must be one of {SOLVES}, got {solve!r}")
        self.pb, self.rho, self.gamma_ratio, self.iters_per_epoch = problem, float(rho), float(gamma_ratio), iters_per_epoch
        X, D = problem.X, problem.D
        n, d, P = problem.n, problem.d, problem.P
        if solve == "auto":
            solve = "woodbury" if n < 2 * d * P else "cholesky"
        self.solve_kind = solve
        eye_d = torch.eye(d, dtype=X.dtype, device=X.device)
        if solve == "woodbury":
            self.chol_A = torch.linalg.cholesky(eye_d + X.T @ X)
            XAX = X @ torch.cholesky_solve(X.T, self.chol_A)
            K = self.rho * torch.eye(n, dtype=X.dtype, device=X.device) + 2 * XAX * (D @ D.T)
            self.chol_K = torch.linalg.cholesky(K)
        else:
            Fm = self.F_matrix()
            M = torch.eye(2 * P * d, dtype=X.dtype, device=X.device) + Fm.T @ Fm / self.rho
            M += torch.block_diag(*([X.T @ X] * (2 * P)))
            self.chol_M = torch.linalg.cholesky(M)
        self.Fty = self.Ft(problem.y) / self.rho
        zero_u = torch.zeros(2, P, d, dtype=X.dtype, device=X.device)
        zero_s = torch.zeros(2, n, P, dtype=X.dtype, device=X.device)
        self.u, self.z, self.lam = zero_u, zero_u.clone(), zero_u.clone()
        self.s, self.nu = zero_s, zero_s.clone()
        self.iteration = 0

    # ---------------------------------------------------------------- the linear maps, never formed densely
    def F(self, u: torch.Tensor) -> torch.Tensor:
        """F u = sum_i D_i X (v_i - w_i): (2, P, d) -> (n,)."""
        return (self.pb.D * (self.pb.X @ (u[0] - u[1]).T)).sum(1)

    def Ft(self, r: torch.Tensor) -> torch.Tensor:
        """F^T r: (n,) -> (2, P, d); block i of the v-half is X^T D_i r, the w-half its negative."""
        a = (self.pb.D * r[:, None]).T @ self.pb.X
        return torch.stack([a, -a])

    def G(self, u: torch.Tensor) -> torch.Tensor:
        """G u = ((2 D_i - I) X u_k)_k: (2, P, d) -> (2, n, P)."""
        return self.pb.S * (self.pb.X @ u.transpose(1, 2))

    def Gt(self, q: torch.Tensor) -> torch.Tensor:
        """G^T q: (2, n, P) -> (2, P, d)."""
        return (self.pb.S * q).transpose(1, 2) @ self.pb.X

    def F_matrix(self) -> torch.Tensor:
        """F as a dense (n, 2 P d) matrix (small problems and tests only), columns in u's (2, P, d) order."""
        blocks = self.pb.D.T[:, :, None] * self.pb.X[None]  # (P, n, d): D_i X
        Fv = blocks.permute(1, 0, 2).reshape(self.pb.n, -1)
        return torch.cat([Fv, -Fv], 1)

    def solve(self, b: torch.Tensor) -> torch.Tensor:
        """(I + F^T F / rho + G^T G)^{-1} b for b of shape (2, P, d)."""
        if self.solve_kind == "cholesky":
            return torch.cholesky_solve(b.reshape(-1, 1), self.chol_M).reshape(b.shape)
        Binv = lambda t: torch.cholesky_solve(t.reshape(-1, t.shape[-1]).T, self.chol_A).T.reshape(t.shape)
        x = Binv(b)
        c = torch.cholesky_solve(self.F(x)[:, None], self.chol_K)[:, 0]
        return x - Binv(self.Ft(c))

    # ---------------------------------------------------------------- the iteration
    def step(self) -> None:
        """One ADMM iteration (steps 1-4 above)."""
        self.u = self.solve(self.Fty + self.z - self.lam + self.Gt(self.s - self.nu))
        a = self.u + self.lam
        norm = a.norm(dim=2, keepdim=True)
        self.z = (1 - self.pb.beta / (self.rho * norm.clamp(min=1e-300))).clamp(min=0) * a
        Gu = self.G(self.u)
        self.s = (Gu + self.nu).clamp(min=0)
        self.lam = self.lam + self.gamma_ratio * (self.u - self.z)
        self.nu = self.nu + self.gamma_ratio * (Gu - self.s)
        self.iteration += 1

    def run(self, iters: int) -> "ADMMLearner":
        for _ in range(iters):
            self.step()
        return self

    @property
    def solution(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(v, w) of the block-sparse iterate z, each (P, d)."""
        return self.z[0], self.z[1]

    def stats(self) -> dict:
        v, w = self.solution
        return {"objective": self.pb.objective(v, w), "violation": self.pb.violation(v, w),
                "primal_res": float((self.u - self.z).norm()), "active": int((self.z.norm(dim=2) > 0).sum()),
                "iteration": self.iteration}

    # ---------------------------------------------------------------- the Learner protocol
    def steps_per_epoch(self, data: Any = None) -> int:
        return self.iters_per_epoch

    def train_epoch(self, data: Any = None, *, epoch: int, generator: torch.Generator, progress: Progress) -> dict:
        for _ in range(self.iters_per_epoch):
            self.step()
            progress.advance()
        st = self.stats()
        return {"loss": st["objective"], **st}

    def evaluate(self, data: Any) -> dict:
        X, y = data
        v, w = self.solution
        X = X.to(self.pb.X)
        f = (X @ v.T).clamp(min=0).sum(1) - (X @ w.T).clamp(min=0).sum(1)
        y = y.to(f)
        return {"test_acc": 100.0 * float((torch.sign(f) == y).double().mean()),
                "test_mse": float((f - y).square().mean())}

    def state_dict(self) -> dict:
        return {**{k: getattr(self, k).clone() for k in STATE},
                "iteration": torch.tensor(self.iteration)}

    def load_state_dict(self, state: dict) -> None:
        for k in STATE:
            t = state[k]
            if t.shape != getattr(self, k).shape:
                raise ValueError(f"ADMM state {k!r} has shape {tuple(t.shape)}, this problem needs "
                                 f"{tuple(getattr(self, k).shape)}")
            setattr(self, k, t.to(self.pb.X))
        self.iteration = int(state["iteration"])
