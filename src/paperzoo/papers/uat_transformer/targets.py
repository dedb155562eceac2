"""Target sequence-to-sequence maps on K = [-1, 1]^{n x d} (card "Target generators") and the probes of a model
against them: empirical sup / RMS error, the permutation-equivariance check, and the error floor of every
permutation-equivariant predictor (the limit of the statement without positional information).

    mean_interaction  F(X)_i = sin(pi x_i . mean_j x_j)                    equivariant, d_out = 1
    softmax_mix       F(X)_i = sum_j softmax_j(3 x_i . x_j) x_j^2          equivariant, d_out = d
    shift             F(X)_i = x_{(i+1) mod n}                             NOT equivariant, d_out = d
    prefix_max        F(X)_i = max_{j <= i} x_j  (per feature)             NOT equivariant, d_out = d
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from paperzoo.names import unknown


def mean_interaction(x: torch.Tensor) -> torch.Tensor:
    return torch.sin(math.pi * (x * x.mean(dim=1, keepdim=True)).sum(-1, keepdim=True))


def softmax_mix(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(3.0 * x @ x.transpose(1, 2), dim=-1) @ x.square()


def shift(x: torch.Tensor) -> torch.Tensor:
    return torch.roll(x, shifts=-1, dims=1)


def prefix_max(x: torch.Tensor) -> torch.Tensor:
    return torch.cummax(x, dim=1).values


@dataclass(frozen=True)
class Target:
    """A map F: (B, n, d) -> (B, n, d_out); ``equivariant``: F(pi X) = pi F(X) for every permutation pi."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    equivariant: bool
    scalar_out: bool = False

    def out_dim(self, d: int) -> int:
        return 1 if self.scalar_out else d

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"target {self.name}: expected X of shape (B, n, d), got {tuple(x.shape)}")
        return self.fn(x)

    def sample(self, num: int, n: int, d: int = 1, seed: int | torch.Generator = 0,
               dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """(X, F(X)) with X uniform on [-1, 1]^{num x n x d}; ``seed`` an int or a ``torch.Generator``."""
        if min(num, n, d) < 1:
            raise ValueError(f"num, n, d must be >= 1, got {num}, {n}, {d}")
        g = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
        x = (torch.rand(num, n, d, generator=g, dtype=torch.float64) * 2 - 1).to(dtype)
        return x, self(x)


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("mean_interaction", mean_interaction, equivariant=True, scalar_out=True),
    Target("softmax_mix", softmax_mix, equivariant=True),
    Target("shift", shift, equivariant=False),
    Target("prefix_max", prefix_max, equivariant=False),
)}


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise unknown("target", name, TARGETS, "paperzoo.papers.uat_transformer.TARGETS lists them")
    return TARGETS[name]


def _check_model_input(x: torch.Tensor) -> None:
    if x.dim() != 3:
        raise ValueError(f"expected X of shape (B, n, d), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("X contains NaN or inf")


@torch.no_grad()
def probe_sup_error(model: nn.Module, target: Target | str, n: int, d: int = 1, *, num: int = 10_000,
                    seed: int = 0, batch: int = 4096) -> dict[str, float]:
    """Empirical sup_X max_i ||T(X)_i - F(X)_i||_2 and RMS error (per component) on ``num`` uniform samples of K
    (card "probe_sup_error"). The sup over a finite sample is a lower bound of the true sup."""
    target = get_target(target) if isinstance(target, str) else target
    x, y = target.sample(num, n, d, seed, dtype=next(model.parameters()).dtype)
    sup, sq = 0.0, 0.0
    for lo in range(0, num, batch):
        err = model(x[lo:lo + batch]) - y[lo:lo + batch]
        sup = max(sup, float(err.norm(dim=-1).max()))
        sq += float(err.double().square().sum())
    return {"sup": sup, "rms": math.sqrt(sq / y.numel())}


@torch.no_grad()
def equivariance_gap(model: nn.Module, x: torch.Tensor, perm: torch.Tensor) -> float:
    """max |T(pi X) - pi T(X)| for the token permutation ``perm`` (a (n,) or (B, n) index tensor)."""
    _check_model_input(x)
    perm = perm.expand(x.shape[0], -1) if perm.dim() == 1 else perm
    if perm.shape != x.shape[:2] or not (perm.sort(dim=1).values == torch.arange(x.shape[1])).all():
        raise ValueError(f"perm must be a permutation of range({x.shape[1]}) per sequence, got shape {tuple(perm.shape)}")

    def permute(t: torch.Tensor) -> torch.Tensor:
        return t.gather(1, perm[..., None].expand(-1, -1, t.shape[-1]))

    return float((model(permute(x)) - permute(model(x))).abs().max())


def is_permutation_equivariant(model: nn.Module, x: torch.Tensor, perm: torch.Tensor, tol: float = 1e-5) -> bool:
    """T(pi X) = pi T(X) to ``tol`` (card smoke (b): 1e-5)."""
    return equivariance_gap(model, x, perm) <= tol


@torch.no_grad()
def equivariant_optimum(target: Target | str, x: torch.Tensor, *, perms: int = 256, seed: int = 0) -> torch.Tensor:
    """The best permutation-equivariant predictor's output at each token, f*(x_t, {X}) = E_pi[F(pi X) at t's new
    position], by ``perms`` uniformly random arrangements (Monte Carlo; exact for equivariant F).

    Why: an equivariant T outputs f(x_t, multiset of X) at token t, whatever t's position; for i.i.d. inputs the
    position of t and the arrangement of the others are uniform given (x_t, multiset), so the conditional mean of
    F(X)_t, i.e. the MSE-optimal f, is this average. Shapes: x (B, n, d) -> (B, n, d_out)."""
    target = get_target(target) if isinstance(target, str) else target
    _check_model_input(x)
    b, n, d = x.shape
    g = torch.Generator().manual_seed(seed)
    perm = torch.rand(perms, b, n, generator=g).argsort(dim=-1)                     # new position -> old token
    xp = x[None].expand(perms, -1, -1, -1).gather(2, perm[..., None].expand(-1, -1, -1, d))
    fp = target(xp.reshape(perms * b, n, d)).reshape(perms, b, n, -1)
    inv = perm.argsort(dim=-1)                                                       # old token -> new position
    back = fp.gather(2, inv[..., None].expand(-1, -1, -1, fp.shape[-1]))
    return back.mean(0)


def equivariant_floor(target: Target | str, x: torch.Tensor, *, perms: int = 256, seed: int = 0) -> float:
    """RMS error (per component) of ``equivariant_optimum`` on X: no permutation-equivariant model, e.g. a
    Transformer without positional encoding, can do better in expectation (0 for equivariant targets).
    For ``shift`` it is sigma sqrt((n-2)/(n-1)), sigma = 1/sqrt(3), up to the Monte-Carlo error."""
    target = get_target(target) if isinstance(target, str) else target
    return float((equivariant_optimum(target, x, perms=perms, seed=seed) - target(x)).square().mean().sqrt())
