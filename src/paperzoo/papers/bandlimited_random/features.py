"""Random-feature networks with bandlimited (bounded-support) hidden weights (Li et al., ICML 2023).

g_d(x) = sum_j c_j sigma(a_j . x - b_j): Step I draws (a_j, b_j) ~ Q i.i.d. and freezes them;
Step II fits the output weights c by (ridge) least squares (the paper's two-step training).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


@dataclass(frozen=True)
class UniformBoxAB:
    """a ~ U[-lam_a, lam_a]^m, b ~ U[-lam_b, lam_b]: weight and bias ranges set apart."""

    lam_a: float
    lam_b: float

    def __post_init__(self) -> None:
        for name in ("lam_a", "lam_b"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"{type(self).__name__}: {name} must be a positive finite number, got {v}")

    def sample(self, d: int, in_dim: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        a = (2 * torch.rand(d, in_dim, generator=generator, dtype=torch.float64) - 1) * self.lam_a
        b = (2 * torch.rand(d, generator=generator, dtype=torch.float64) - 1) * self.lam_b
        return a, b


def UniformBox(lam: float) -> UniformBoxAB:  # noqa: N802 (reads like the sampler class it returns)
    """Q = U[-lam, lam]^m x U[-lam, lam]: the bandlimited sampler of the paper (bandwidth ``lam``)."""
    return UniformBoxAB(lam, lam)


@dataclass(frozen=True)
class Gaussian:
    """a ~ N(0, std^2 I), b ~ N(0, std^2): unbounded support (not bandlimited), for contrast."""

    std: float

    def __post_init__(self) -> None:
        if not self.std > 0:
            raise ValueError(f"Gaussian: std must be positive, got {self.std}")

    def sample(self, d: int, in_dim: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.randn(d, in_dim, generator=generator, dtype=torch.float64) * self.std
        b = torch.randn(d, generator=generator, dtype=torch.float64) * self.std
        return a, b


class RandomFeatureNet(nn.Module):
    """Depth-2 random-feature net g_d(x) = sum_j c_j sigma(a_j . x - b_j) + c_0 (optional output bias).

    ``a`` (d, in_dim) and ``b`` (d,) are frozen buffers drawn once from ``sampler`` (default
    ``UniformBox(1.0)``: the U[-1, 1] default of RVFL / extreme-learning-machine code, the paper's
    cautionary case); ``c`` is the only parameter, fitted in closed form by ``fit`` (or by gradient
    descent, if one insists). Shapes: x (N, in_dim) -> (N, out_dim); everything in float64 by default
    because the least-squares problems are ill-conditioned (pitfalls, card).
    """

    def __init__(self, d: int = 1000, in_dim: int = 1, out_dim: int = 1, *, sampler=None, act: str = "sigmoid",
                 bias: bool = False, seed: int = 0, dtype: torch.dtype = torch.float64):
        super().__init__()
        if int(d) < 1 or int(in_dim) < 1 or int(out_dim) < 1:
            raise ValueError(f"RandomFeatureNet: d, in_dim, out_dim must be >= 1, got {d}, {in_dim}, {out_dim}")
        if act not in ACTIVATIONS:
            raise ValueError(f"RandomFeatureNet: act must be one of {sorted(ACTIVATIONS)}, got {act!r}")
        self.d, self.in_dim, self.out_dim, self.act, self.with_bias = int(d), int(in_dim), int(out_dim), act, bias
        self.sampler = sampler if sampler is not None else UniformBox(1.0)
        a, b = self.sampler.sample(self.d, self.in_dim, torch.Generator().manual_seed(seed))
        self.register_buffer("a", a.to(dtype))
        self.register_buffer("b", b.to(dtype))
        self.c = nn.Parameter(torch.zeros(self.d + int(bias), self.out_dim, dtype=dtype))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Phi (N, d [+1]) with Phi_ij = sigma(a_j . x_i - b_j) (and a column of ones with ``bias``)."""
        x = self._check(x)
        phi = ACTIVATIONS[self.act](x.to(self.a.dtype) @ self.a.T - self.b)
        return torch.cat([phi, torch.ones_like(phi[:, :1])], 1) if self.with_bias else phi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x) @ self.c

    @torch.no_grad()
    def fit(self, x: torch.Tensor, y: torch.Tensor, *, ridge: float = 0.0, rcond: float = 1e-10) -> "RandomFeatureNet":
        """Step II: c = argmin ||Phi c - y||^2 + ridge ||c||^2.

        ``ridge = 0``: minimum-norm least squares by SVD with singular values below ``rcond * s_max``
        cut (LAPACK gelsd, as numpy.linalg.lstsq with ``rcond``: the card's check); ``ridge > 0``:
        the normal equations (Phi^T Phi + ridge I) c = Phi^T y by Cholesky.
        """
        if ridge < 0 or rcond < 0:
            raise ValueError(f"fit: ridge and rcond must be >= 0, got {ridge}, {rcond}")
        phi = self.features(x)
        y = y.to(phi.dtype).reshape(len(phi), -1)
        if y.shape[1] != self.out_dim:
            raise ValueError(f"fit: y has {y.shape[1]} outputs, the net has out_dim={self.out_dim}")
        if ridge > 0:
            gram = phi.T @ phi + ridge * torch.eye(phi.shape[1], dtype=phi.dtype)
            c = torch.linalg.solve(gram, phi.T @ y)
        else:
            c = torch.linalg.lstsq(phi, y, rcond=rcond, driver="gelsd").solution
        self.c.copy_(c)
        return self

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(x):
            raise TypeError(f"RandomFeatureNet: x must be a tensor, got {type(x).__name__}")
        if x.dim() == 1 and self.in_dim == 1:
            x = x[:, None]
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"RandomFeatureNet: x must be (N, {self.in_dim}), got {tuple(x.shape)}")
        if x.is_floating_point() and not torch.isfinite(x).all():
            raise ValueError("RandomFeatureNet: x contains NaN/inf")
        return x


def rmse(pred: torch.Tensor, y: torch.Tensor) -> float:
    """Root-mean-square error sqrt(mean((pred - y)^2))."""
    return float((pred.reshape(-1).double() - y.reshape(-1).double()).square().mean().sqrt())
