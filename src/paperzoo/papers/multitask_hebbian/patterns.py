"""Diluted archetypes and their noisy examples (card, "Archetypes" and "Dataset").

* archetypes ``xi^mu in {-1, 0, +1}^N``, i.i.d. entries, ``P(xi = 0) = d`` (dilution), ``P(xi = +-1) = (1 - d) / 2``;
* examples ``eta^{mu, a} = chi^{mu, a} * xi^mu`` with ``chi in {+-1}``, ``P(chi = +1) = (1 + r) / 2`` (quality ``r``):
  blanks stay blank;
* ``R = r^2 + (1 - r^2) / M`` and the dataset entropy ``rho = (1 - r^2) / (M r^2)`` (so ``R = r^2 (1 + rho)``), the
  normalisations of this author group's example-based Hebbian storage.

All tensors are float32 (entries are exact small integers) and may carry leading replica axes.
"""
from __future__ import annotations

import torch


def _gen(seed: int | torch.Generator) -> torch.Generator:
    return seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))


def make_archetypes(K: int, N: int, d: float, seed: int | torch.Generator = 0, *, replicas: int | None = None,
                    device=None) -> torch.Tensor:
    """``(K, N)`` (or ``(replicas, K, N)``) ternary archetypes with dilution ``d``."""
    if K < 1 or N < 1 or not 0.0 <= d < 1.0:
        raise ValueError(f"make_archetypes: need K >= 1, N >= 1 and 0 <= d < 1, got K={K}, N={N}, d={d}")
    shape = (K, N) if replicas is None else (replicas, K, N)
    g = _gen(seed)
    u = torch.rand(shape, generator=g)
    sign = torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0)
    return torch.where(u < d, 0.0, sign).to(device)


def make_examples(xi: torch.Tensor, M: int, r: float, seed: int | torch.Generator = 0) -> torch.Tensor:
    """``(..., K, M, N)`` examples ``chi * xi`` with quality ``r`` (blanks stay blank)."""
    if M < 1 or not 0.0 <= r <= 1.0:
        raise ValueError(f"make_examples: need M >= 1 and 0 <= r <= 1, got M={M}, r={r}")
    shape = (*xi.shape[:-1], M, xi.shape[-1])
    chi = torch.where(torch.rand(shape, generator=_gen(seed)) < (1 + r) / 2, 1.0, -1.0).to(xi.device)
    return chi * xi.unsqueeze(-2)


def dataset_R(r: float, M: int) -> float:
    """``R = r^2 + (1 - r^2) / M``."""
    return r * r + (1 - r * r) / M


def dataset_entropy(r: float, M: int) -> float:
    """``rho = (1 - r^2) / (M r^2)``."""
    return (1 - r * r) / (M * r * r) if r > 0 else float("inf")
