"""Infinite-width kernels of the official two-layer ReLU net and the NTK-GP of its GD-trained outputs (float64).

Pre-activation u(x) = w . x + b with w ~ N(0, sigma_w^2 I / k), b ~ N(0, sigma_b^2) is g . x~ for g ~ N(0, I) and
x~ = (sigma_w x / sqrt(k), sigma_b). With theta the angle between x~ and x~' (arc-cosine kernels, Cho & Saul):
  J1(x, x') = E[ReLU(u) ReLU(u')] = |x~||x~'| (sin theta + (pi - theta) cos theta) / (2 pi),
  kappa0(x, x') = P(u > 0, u' > 0) = (pi - theta) / (2 pi).
NNGP (the output covariance at init, per output coordinate): K = sigma_w^2 J1 + sigma_b^2.
NTK (standard parameterisation, per output coordinate): Theta = m J1 [W2] + 1 [b2] + sigma_w^2 kappa0 (x . x' + 1)
[W1, b1] (card, "Fast exact alternative"; derived there and checked here against the empirical NTK).
Trained outputs (Lee et al. 2019, linearised GD on the mean-squared error over n examples and c outputs):
  f_t(x) = f_0(x) + T_t(x) (Y - f_0(X)),  T_t(x) = Theta(x, X) Theta^-1 (I - (I - lr 2/(n c) Theta)^t),
so f_t is a GP with mean mu = T_t Y and covariance
  Sigma(x, x') = K(x, x') - T_t(x) K(X, x') - K(x, X) T_t(x')^T + T_t(x) K(X, X) T_t(x')^T   (t -> inf: card's formula).
Output coordinates are independent GPs with this mean column and covariance.
"""
from __future__ import annotations

import math

import torch

from paperzoo.papers.exact_permutations.model import OFFICIAL_WIDTH


def _aug(x: torch.Tensor, sigma_w: float, sigma_b: float) -> torch.Tensor:
    x = x.to(torch.float64)
    b = torch.full((len(x), 1), float(sigma_b), dtype=torch.float64)
    return torch.cat([x * (sigma_w / math.sqrt(x.shape[1])), b], dim=1)


def arccos_terms(x1: torch.Tensor, x2: torch.Tensor, sigma_w: float = 1.0, sigma_b: float = 0.0):
    """(J1, kappa0), each (B1, B2): E[ReLU(u) ReLU(u')] and P(u > 0, u' > 0) for the first layer's pre-activations."""
    if x1.dim() != 2 or x2.dim() != 2 or x1.shape[1] != x2.shape[1]:
        raise ValueError(f"arccos_terms: expected (B1, k), (B2, k), got {tuple(x1.shape)}, {tuple(x2.shape)}")
    a, b = _aug(x1, sigma_w, sigma_b), _aug(x2, sigma_w, sigma_b)
    na, nb = a.norm(dim=1, keepdim=True), b.norm(dim=1, keepdim=True)
    if (na == 0).any() or (nb == 0).any():
        raise ValueError("arccos_terms: zero input with sigma_b = 0 (the kernel needs nonzero inputs)")
    cos = (a @ b.T / (na * nb.T)).clamp(-1.0, 1.0)
    th = torch.arccos(cos)
    j1 = na * nb.T * (torch.sin(th) + (math.pi - th) * cos) / (2 * math.pi)
    return j1, (math.pi - th) / (2 * math.pi)


def nngp_kernel(x1: torch.Tensor, x2: torch.Tensor, sigma_w: float = 1.0, sigma_b: float = 0.0) -> torch.Tensor:
    """K(x, x') = Cov(f_c(x), f_c(x')) at init (infinite width), (B1, B2) float64."""
    return sigma_w**2 * arccos_terms(x1, x2, sigma_w, sigma_b)[0] + sigma_b**2


def ntk_kernel(x1: torch.Tensor, x2: torch.Tensor, width: int = OFFICIAL_WIDTH, sigma_w: float = 1.0,
               sigma_b: float = 0.0, *, parts: bool = False):
    """Theta(x, x') of one output coordinate (B1, B2) float64; ``parts`` returns the per-parameter terms
    {W2, b2, W1, b1} instead of their sum."""
    j1, k0 = arccos_terms(x1, x2, sigma_w, sigma_b)
    dot = x1.to(torch.float64) @ x2.to(torch.float64).T
    terms = {"W2": width * j1, "b2": torch.ones_like(j1), "W1": sigma_w**2 * k0 * dot, "b1": sigma_w**2 * k0}
    return terms if parts else sum(terms.values())


def empirical_ntk(model, x: torch.Tensor, out: int = 0) -> torch.Tensor:
    """sum_theta d f_out(x_i)/d theta . d f_out(x_j)/d theta of a finite ``TwoLayerReLU`` by autograd (B, B)."""
    params = {n: p.detach() for n, p in model.named_parameters()}

    def f(p):
        return torch.func.functional_call(model, p, (x,))[:, out]
    jac = torch.func.jacrev(f)(params)
    flat = torch.cat([j.reshape(len(x), -1) for j in jac.values()], dim=1).to(torch.float64)
    return flat @ flat.T


class NTKGP:
    """The GP of GD-trained outputs at infinite width (Lee et al. 2019) for training data (X, Y), float64.

    ``steps=None``: trained to convergence; else ``steps`` discrete GD steps at ``lr`` (raises when linearised GD
    diverges, lr 2/(n c) lambda_max(Theta) >= 2). ``mean(x)`` (B, c), ``cov(x1, x2)`` (B1, B2), ``sample(x, n)``
    (n, B, c): n independent trained nets' outputs (an ensemble of n members)."""

    def __init__(self, x_train: torch.Tensor, y_train: torch.Tensor, *, width: int = OFFICIAL_WIDTH,
                 sigma_w: float = 1.0, sigma_b: float = 0.0, lr: float | None = None, steps: int | None = None):
        if x_train.dim() != 2 or y_train.dim() != 2 or len(x_train) != len(y_train):
            raise ValueError(f"NTKGP: x_train (n, k) and y_train (n, c) must pair up, got {tuple(x_train.shape)}, "
                             f"{tuple(y_train.shape)}")
        self.X, self.Y = x_train.to(torch.float64), y_train.to(torch.float64)
        self.kw = dict(sigma_w=sigma_w, sigma_b=sigma_b)
        self.width = width
        theta = ntk_kernel(self.X, self.X, width, **self.kw)
        evals, evecs = torch.linalg.eigh(theta)
        if evals.min() <= 1e-12 * evals.max():
            raise ValueError("NTKGP: the training NTK is singular (repeated or parallel training inputs)")
        # filter on the training eigenbasis: Theta^-1 (I - (I - eta Theta)^t) = V diag(g(lambda)) V^T
        if steps is None:
            g = 1.0 / evals
        else:
            if lr is None or lr <= 0 or steps < 0:
                raise ValueError(f"NTKGP: finite training needs lr > 0 and steps >= 0, got lr={lr}, steps={steps}")
            eta = lr * 2.0 / (len(self.X) * self.Y.shape[1])
            if eta * float(evals.max()) >= 2.0:
                raise ValueError(f"NTKGP: linearised GD diverges: lr 2/(n c) lambda_max = {eta * float(evals.max()):.3g} "
                                 ">= 2 (outside the NTK regime)")
            g = (1.0 - (1.0 - eta * evals) ** steps) / evals
        self.filt = evecs @ torch.diag(g) @ evecs.T            # (n, n)
        self.Kxx = nngp_kernel(self.X, self.X, **self.kw)

    def transfer(self, x: torch.Tensor) -> torch.Tensor:
        """T_t(x) (B, n): the trained net's output at x is f_0(x) + T_t(x) (Y - f_0(X))."""
        return ntk_kernel(x, self.X, self.width, **self.kw) @ self.filt

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.transfer(x) @ self.Y

    def cov(self, x1: torch.Tensor, x2: torch.Tensor | None = None) -> torch.Tensor:
        x2 = x1 if x2 is None else x2
        t1, t2 = self.transfer(x1), self.transfer(x2)
        k1x, k2x = nngp_kernel(x1, self.X, **self.kw), nngp_kernel(x2, self.X, **self.kw)
        return nngp_kernel(x1, x2, **self.kw) - t1 @ k2x.T - k1x @ t2.T + t1 @ self.Kxx @ t2.T

    def sampler(self, x: torch.Tensor):
        """A function n, generator -> (n, B, c) draws of the trained outputs at x, by drawing f_0 jointly on
        (X, x) from the NNGP and applying the linear GD map (no factorisation of Sigma needed)."""
        z = torch.cat([self.X, x.to(torch.float64)])
        evals, evecs = torch.linalg.eigh(nngp_kernel(z, z, **self.kw))
        root = evecs * evals.clamp_min(0.0).sqrt()            # root @ root.T = K(z, z)
        t = self.transfer(x)
        n_tr, c = len(self.X), self.Y.shape[1]
        shift = t @ self.Y                                      # (B, c)
        lift = torch.cat([-t, torch.eye(len(x), dtype=torch.float64)], dim=1) @ root   # f_0 -> f_t - mean

        def draw(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
            eps = torch.randn(len(z), n * c, generator=generator, dtype=torch.float64)
            return (lift @ eps).view(len(x), n, c).transpose(0, 1) + shift
        draw.points, draw.n_train = len(x), n_tr
        return draw
