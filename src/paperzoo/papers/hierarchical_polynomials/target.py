"""The hierarchical target h = g o p on Gaussian inputs (card "The method, precisely", reconstructed).

x ~ N(0, I_d); y = g(p(x)) (+ noise) with
- p(x) = d^{-1/2} sum_i He_k(x_i)/sqrt(k!)   ("sum_hermite", degree k, zero mean, unit variance), or
  p(x) = x^T A x - tr A with A symmetric, ||A||_F = 1/sqrt 2   ("quadratic_form", k = 2, unit variance);
- g(z) = (z + He_3(z)/sqrt 6)/sqrt 2   ("he1+he3", degree q = 3, E[g(Z)^2] = 1 and E[g'(Z)] = 1/sqrt 2 != 0
  for Z ~ N(0, 1); the card's pitfall: a link without a linear Hermite part gives stage 1 no signal), or
  g(z) = He_3(z)/sqrt 6 ("he3", the card's failing control).
He_j are the probabilists' Hermite polynomials He_{j+1}(t) = t He_j(t) - j He_{j-1}(t).
"""
from __future__ import annotations

import math

import torch

LINKS = ("he1+he3", "he3", "identity")
FEATURES = ("sum_hermite", "quadratic_form")


def hermite(t: torch.Tensor, j: int, *, normalised: bool = True) -> torch.Tensor:
    """Probabilists' Hermite polynomial He_j(t) (three-term recurrence), divided by sqrt(j!) when
    ``normalised`` so that E[He_i(Z) He_j(Z)] = delta_ij for Z ~ N(0, 1)."""
    if int(j) != j or j < 0:
        raise ValueError(f"hermite: degree j must be a non-negative integer, got {j!r}")
    prev, cur = torch.ones_like(t), t
    if j == 0:
        cur = prev
    for i in range(1, int(j)):
        prev, cur = cur, t * cur - i * prev
    return cur / math.sqrt(math.factorial(int(j))) if normalised else cur


def link(z: torch.Tensor, name: str = "he1+he3") -> torch.Tensor:
    """The outer polynomial g (card default "he1+he3" = (z + He_3(z)/sqrt 6)/sqrt 2)."""
    if name == "he1+he3":
        return (z + hermite(z, 3)) / math.sqrt(2.0)
    if name == "he3":
        return hermite(z, 3)
    if name == "identity":
        return z
    raise ValueError(f"link: unknown g {name!r} (have {LINKS})")


class HierarchicalPolyTask:
    """Gaussian inputs with labels y = g(p(x)) (card's `HierarchicalPolyTask`).

    Args: d input dimension, k degree of p (2 for "quadratic_form"), g link name, feature name,
    noise label-noise std, seed (fixes A of the quadratic form; sampling takes its own generator).
    """

    def __init__(self, d: int, k: int = 2, *, g: str = "he1+he3", feature: str = "sum_hermite",
                 noise: float = 0.0, seed: int = 0):
        if d < 1 or k < 1:
            raise ValueError(f"HierarchicalPolyTask: need d >= 1 and k >= 1, got d={d}, k={k}")
        if feature not in FEATURES:
            raise ValueError(f"HierarchicalPolyTask: unknown feature {feature!r} (have {FEATURES})")
        if feature == "quadratic_form" and k != 2:
            raise ValueError(f"HierarchicalPolyTask: feature 'quadratic_form' has degree 2, got k={k}")
        if g not in LINKS:
            raise ValueError(f"HierarchicalPolyTask: unknown g {g!r} (have {LINKS})")
        if noise < 0:
            raise ValueError(f"HierarchicalPolyTask: noise must be >= 0, got {noise}")
        self.d, self.k, self.g, self.feature, self.noise = int(d), int(k), g, feature, float(noise)
        self.A = None
        if feature == "quadratic_form":
            gen = torch.Generator().manual_seed(int(seed))
            G = torch.randn(d, d, generator=gen, dtype=torch.float64)
            A = (G + G.T) / 2
            self.A = A / (A.norm() * math.sqrt(2.0))          # ||A||_F = 1/sqrt 2 -> Var(x^T A x) = 1

    def p(self, x: torch.Tensor) -> torch.Tensor:
        """The inner feature p(x), shape (n,)."""
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"HierarchicalPolyTask.p: expected x of shape (n, {self.d}), got {tuple(x.shape)}")
        if self.feature == "sum_hermite":
            return hermite(x, self.k).sum(1) / math.sqrt(self.d)
        A = self.A.to(x.dtype)
        return ((x @ A) * x).sum(1) - A.diagonal().sum()

    def h(self, x: torch.Tensor) -> torch.Tensor:
        """The noiseless target h(x) = g(p(x))."""
        return link(self.p(x), self.g)

    def sample(self, n: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """n i.i.d. samples: (X (n, d), y (n,), p(X) (n,))."""
        if n < 1:
            raise ValueError(f"HierarchicalPolyTask.sample: n must be >= 1, got {n}")
        x = torch.randn(n, self.d, generator=generator, dtype=torch.float64)
        p = self.p(x)
        y = link(p, self.g)
        if self.noise:
            y = y + self.noise * torch.randn(n, generator=generator, dtype=torch.float64)
        return x.to(dtype), y.to(dtype), p.to(dtype)


def hermite_orthonormality_err(max_degree: int = 6, nodes: int = 40) -> float:
    """max_{i,j <= max_degree} |E[He_i(Z) He_j(Z)] - delta_ij| by Gauss-Hermite quadrature (exact for these
    degrees): the normalisation identity the target's unit variances rest on."""
    z, w = gauss_hermite(nodes)
    H = torch.stack([hermite(z, j) for j in range(max_degree + 1)])
    gram = (H * w) @ H.T
    return float((gram - torch.eye(max_degree + 1, dtype=torch.float64)).abs().max())


def gauss_hermite(nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights (float64) of the probabilists' Gauss-Hermite rule for E_{Z ~ N(0,1)} (Golub-Welsch)."""
    i = torch.arange(1, nodes, dtype=torch.float64)
    J = torch.diag(i.sqrt(), 1) + torch.diag(i.sqrt(), -1)
    z, vec = torch.linalg.eigh(J)
    return z, vec[0] ** 2


def link_moments(name: str = "he1+he3", nodes: int = 40) -> tuple[float, float]:
    """(E[g(Z)^2], E[g'(Z)]) for Z ~ N(0, 1) by quadrature; E[g'(Z)] = E[Z g(Z)] (Stein) is the degree-1
    Hermite coefficient that stage 1 needs non-zero (card pitfall)."""
    z, w = gauss_hermite(nodes)
    gz = link(z, name)
    return float((w * gz ** 2).sum()), float((w * z * gz).sum())
