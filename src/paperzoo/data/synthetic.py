"""Seeded synthetic data shared by several papers."""
from __future__ import annotations

import torch

from paperzoo.data.sets import TensorSet

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # the torchvision MNIST Normalize() constants used by most papers' code


def blobs(n: int, seed: int, *, dim: int = 10, shift: float = 2.5, num_classes: int = 2) -> TensorSet:
    """Gaussian blobs: y ~ U{0..K-1}, x ~ N(mu_y, I) in ``dim`` dims.

    Two classes: mu_y = +-shift e_1 (Bayes accuracy Phi(shift), ~99.4% at 2.5). K > 2 classes:
    mu_y = shift * e_y (needs dim >= K). Deterministic in ``seed``.
    """
    if num_classes < 2 or (num_classes > 2 and dim < num_classes):
        raise ValueError(f"blobs: need num_classes >= 2 and dim >= num_classes, got {num_classes}, {dim}")
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, num_classes, (n,), generator=g)
    x = torch.randn(n, dim, generator=g)
    if num_classes == 2:
        x[:, 0] += shift * (2 * y - 1).float()
    else:
        x[torch.arange(n), y] += shift
    return TensorSet(x, y, "blobs")


def normalise_mnist(x: torch.Tensor) -> torch.Tensor:
    """``(x - 0.1307) / 0.3081`` for MNIST pixels in [0, 1]."""
    return (x - MNIST_MEAN) / MNIST_STD
