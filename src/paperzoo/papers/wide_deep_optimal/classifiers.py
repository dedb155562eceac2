"""Classifiers of the taxonomy and the Dirichlet task (card; official `solve_kr`, `nn_classifier`, `majority_vote`,
`devroye_classifier`, `dirichlet_bayes_classifier`, `get_dirichlet_data`). Labels are +-1 throughout."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from paperzoo.papers.wide_deep_optimal.kernels import gram_input


def _labels(y: torch.Tensor) -> torch.Tensor:
    y = torch.as_tensor(y, dtype=torch.float64).reshape(-1)
    if not bool(((y == 1) | (y == -1)).all()):
        raise ValueError("labels must be +1 / -1")
    return y


def _sign(f: torch.Tensor) -> torch.Tensor:
    """sign with ties sent to +1 (a deterministic rule; ties are measure-zero for continuous data)."""
    return torch.where(f >= 0, 1.0, -1.0).to(torch.float64)


class KernelClassifier:
    """Interpolating kernel "regression" to +-1 labels: alpha = K_train^{-1} y, class = sign(K(x, X) alpha).

    No ridge (official `solve_kr`); float64 throughout (card pitfall). ``kernel(x1, x2)`` returns a Gram matrix.
    """

    def __init__(self, kernel: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ridge: float = 0.0):
        if ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {ridge}")
        self.kernel, self.ridge = kernel, ridge

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> KernelClassifier:
        y = _labels(y)
        if len(y) != len(x):
            raise ValueError(f"x has {len(x)} rows, y has {len(y)}")
        gram = self.kernel(x, x)
        if self.ridge:
            gram = gram + self.ridge * torch.eye(len(x), dtype=gram.dtype)
        self.x, self.alpha = x, torch.linalg.solve(gram, y)
        return self

    def decision(self, x: torch.Tensor) -> torch.Tensor:
        if not hasattr(self, "alpha"):
            raise RuntimeError("KernelClassifier: call fit(x, y) first")
        return self.kernel(x, self.x) @ self.alpha

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return _sign(self.decision(x))


def one_nn(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor) -> torch.Tensor:
    """1-nearest-neighbour labels; on the sphere the nearest point has the largest inner product."""
    return _labels(y_train)[gram_input(x_test, x_train).argmax(dim=1)]


def majority_vote(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor) -> torch.Tensor:
    """The training majority label for every test point (ReLU infinite-depth limit)."""
    return _sign(_labels(y_train).sum()).expand(len(x_test)).clone()


def singular_kernel_classifier(alpha: float):
    """``f(x_train, y_train, x_test)``: sign(sum_i y_i / ||x - x_i||^alpha) (official `devroye_classifier`:
    weights (2 - 2 <x, x_i>)^(-alpha/2)). Summed in the log domain so that alpha = 10 cannot overflow."""
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")

    def classify(x_train, y_train, x_test):
        y = _labels(y_train)
        d2 = (2.0 - 2.0 * gram_input(x_test, x_train)).clamp_min(1e-300)
        logw = -0.5 * alpha * d2.log()
        top = logw.max(dim=1, keepdim=True).values
        return _sign(((logw - top).exp() * y).sum(dim=1))

    return classify


def dirichlet_logpdf(s: torch.Tensor, alpha: Sequence[float]) -> torch.Tensor:
    """log Dir(s; alpha) = lgamma(sum a) - sum lgamma(a_i) + sum (a_i - 1) log s_i, rows of s on the simplex."""
    a = torch.as_tensor(alpha, dtype=torch.float64)
    if s.shape[-1] != len(a):
        raise ValueError(f"simplex points have {s.shape[-1]} components, alpha has {len(a)}")
    const = torch.lgamma(a.sum()) - torch.lgamma(a).sum()
    return const + ((a - 1.0) * s.double().clamp_min(1e-300).log()).sum(dim=-1)


def bayes_dirichlet(alpha1: Sequence[float], alpha2: Sequence[float], p1: float):
    """``f(s) -> +-1``: argmax_c p_c Dir(s; alpha_c) on simplex points s (official `dirichlet_bayes_classifier`)."""
    if not 0.0 < p1 < 1.0:
        raise ValueError(f"p1 must be in (0, 1), got {p1}")
    if len(alpha1) != len(alpha2):
        raise ValueError(f"alpha1 and alpha2 differ in length ({len(alpha1)} vs {len(alpha2)})")

    def classify(s: torch.Tensor) -> torch.Tensor:
        return _sign(math.log(p1) + dirichlet_logpdf(s, alpha1) - math.log(1.0 - p1) - dirichlet_logpdf(s, alpha2))

    return classify


def dirichlet_sphere_data(n: int, alpha1: Sequence[float], alpha2: Sequence[float], p1: float = 0.4, seed: int = 0):
    """(x, y, s): int(n p1) points of Dir(alpha1) with label +1 and the rest of Dir(alpha2) with -1, shuffled;
    x = s / ||s|| (radial projection onto the sphere; card correction, official `get_dirichlet_data`)."""
    if n < 2 or not 0.0 < p1 < 1.0:
        raise ValueError(f"need n >= 2 and 0 < p1 < 1, got n={n}, p1={p1}")
    if len(alpha1) != len(alpha2) or min(*alpha1, *alpha2) <= 0:
        raise ValueError("alpha1 and alpha2 must have the same length and positive entries")
    rng = np.random.default_rng(seed)
    n1 = int(n * p1)
    s = np.concatenate([rng.dirichlet(alpha1, n1), rng.dirichlet(alpha2, n - n1)])
    y = np.concatenate([np.ones(n1), -np.ones(n - n1)])
    perm = rng.permutation(n)
    s, y = torch.from_numpy(s[perm]), torch.from_numpy(y[perm])
    return s / s.norm(dim=1, keepdim=True), y, s


def bayes_accuracy(alpha1: Sequence[float], alpha2: Sequence[float], p1: float, n: int = 400_000, seed: int = 0) -> float:
    """Accuracy of the Bayes rule estimated on ``n`` fresh points (sampling error ~ 0.5 / sqrt(n))."""
    _, y, s = dirichlet_sphere_data(n, alpha1, alpha2, p1, seed)
    return float((bayes_dirichlet(alpha1, alpha2, p1)(s) == y).double().mean())
