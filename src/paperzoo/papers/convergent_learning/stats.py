"""Streaming activation statistics of several networks on the same inputs (Li et al. 2016, Sec. 2).

For one layer, every (image, spatial position) is one observation of each channel's activation; the
statistics are per-unit means, and the covariance / correlation between every pair of units of all nets,
accumulated batch by batch in float64 (card "Statistics"; official notebook: per-layer means, outer
products and within / between-net correlation matrices over the ImageNet validation set).

    rho_ij = (E[a_i b_j] - mu_i mu_j) / (sigma_i sigma_j)

A unit with sigma = 0 on the evaluation set (dead) gets correlation 0 with every unit, itself included.
"""
from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["ActivationStats", "correlation", "n_obs", "to_units"]

DEAD_RTOL = 1e-24  # var <= DEAD_RTOL * E[a^2] (sigma < 1e-12 rms) counts as sigma = 0: a constant unit leaves only rounding


def to_units(feat: torch.Tensor, shape: Sequence[int] | None = None, *, channels_last: bool = False,
             index: torch.Tensor | None = None) -> torch.Tensor:
    """Observations x units: ``(N, C, *S) -> (N * prod(S), C)`` (a conv map: positions are observations).

    ``feat``: a layer output, either with its shape or flattened to ``(N, -1)`` with the per-sample
    ``shape`` given. ``channels_last``: the units are the last axis (a ``Linear`` on tokens ``(N, T, D)``).
    ``index``: keep only these rows (observation n * prod(S) + position), without building the others.
    """
    if shape is not None:
        feat = feat.reshape(len(feat), *shape)
    if feat.dim() < 2:
        raise ValueError(f"features must be (N, units, ...) with a batch axis, got shape {tuple(feat.shape)}")
    if feat.dim() == 2 or channels_last:
        out = feat.reshape(-1, feat.shape[-1])
        return out if index is None else out[index]
    f3 = feat.flatten(2)                                            # (N, C, P)
    if index is None:
        return f3.transpose(1, 2).reshape(-1, feat.shape[1])
    return f3[index // f3.shape[2], :, index % f3.shape[2]]


def n_obs(shape: Sequence[int], channels_last: bool = False) -> int:
    """Observations one sample of per-sample ``shape`` contributes (positions of a conv map, tokens, or 1)."""
    shape = tuple(shape)
    if len(shape) <= 1:
        return 1
    return int(torch.tensor(shape[:-1] if channels_last else shape[1:]).prod())


class ActivationStats:
    """Float64 running moments of the units of ``k`` nets observed together (one layer).

    ``update(a_1, ..., a_k)``: each ``a_i`` is ``(obs, n_i)`` (``to_units``), rows = the same observations.
    ``corr(i, j)`` -> ``(n_i, n_j)`` correlation block, ``mean(i)`` / ``std(i)`` per unit, ``dead(i)``.
    ``full=False`` accumulates only the between-net blocks (i < j) and each unit's variance: the probe's
    mode, 1/k of the work of the joint second moment; within-net blocks then raise.
    The sums are shifted by the first batch's means, which keeps E[ab] - mu_a mu_b accurate.
    """

    def __init__(self, *, full: bool = True) -> None:
        self.full, self.n = full, 0
        self.sizes: tuple[int, ...] | None = None
        self._shift: torch.Tensor | None = None
        self._s1: torch.Tensor | None = None
        self._sq: torch.Tensor | None = None
        self._s2: dict[tuple[int, int], torch.Tensor] = {}

    def update(self, *feats: torch.Tensor) -> "ActivationStats":
        if not feats:
            raise ValueError("update needs at least one feature matrix")
        if any(f.dim() != 2 for f in feats):
            raise ValueError(f"each feature matrix must be (obs, units); got shapes {[tuple(f.shape) for f in feats]}")
        if len({len(f) for f in feats}) != 1:
            raise ValueError(f"nets must see the same observations; got {[len(f) for f in feats]} rows")
        sizes = tuple(f.shape[1] for f in feats)
        if self.sizes is not None and sizes != self.sizes:
            raise ValueError(f"unit counts changed between batches: {self.sizes} -> {sizes}")
        z = torch.cat([f.detach().to(torch.float64) for f in feats], 1)
        if not torch.isfinite(z).all():
            raise ValueError("features contain NaN/inf")
        if self._shift is None:
            self.sizes, self._shift = sizes, z.mean(0)
            self._s1, self._sq = torch.zeros_like(self._shift), torch.zeros_like(self._shift)
        z = z - self._shift
        self._s1 += z.sum(0)
        self._sq += z.square().sum(0)
        blocks = [(0, 0)] if self.full else [(i, j) for i in range(len(sizes)) for j in range(i + 1, len(sizes))]
        for i, j in blocks:
            zi, zj = (z, z) if self.full else (z[:, self._slice(i)], z[:, self._slice(j)])
            prod = zi.T @ zj
            self._s2[(i, j)] = self._s2[(i, j)] + prod if (i, j) in self._s2 else prod
        self.n += len(z)
        return self

    def _check(self) -> None:
        if self.n < 2:
            raise ValueError(f"need at least 2 observations, have {self.n}")

    def _slice(self, i: int) -> slice:
        if self.sizes is None or not 0 <= i < len(self.sizes):
            raise IndexError(f"net index {i} out of range for {0 if self.sizes is None else len(self.sizes)} nets")
        start = sum(self.sizes[:i])
        return slice(start, start + self.sizes[i])

    def _m(self) -> torch.Tensor:
        return self._s1 / self.n                     # shifted means

    def variance(self) -> torch.Tensor:
        """Per-unit variance of all units (population, 1/N), float64."""
        self._check()
        return (self._sq / self.n - self._m().square()).clamp_min(0)

    def covariance(self) -> torch.Tensor:
        """Joint covariance of all units (population, 1/N), float64; needs ``full=True``."""
        self._check()
        if not self.full:
            raise ValueError("covariance of all units needs ActivationStats(full=True)")
        m = self._m()
        return self._s2[(0, 0)] / self.n - torch.outer(m, m)

    def _alive(self) -> torch.Tensor:
        var, m = self.variance(), self._m() + self._shift
        return var > DEAD_RTOL * (var + m * m).clamp_min(torch.finfo(torch.float64).tiny)

    def _inv_sd(self) -> torch.Tensor:
        alive, sd = self._alive(), self.variance().sqrt()
        return torch.where(alive, 1.0 / torch.where(alive, sd, torch.ones_like(sd)), torch.zeros_like(sd))

    def correlation(self) -> torch.Tensor:
        """Joint correlation matrix of all units; rows/columns of dead units are 0 (diagonal too)."""
        inv = self._inv_sd()
        return (self.covariance() * inv[:, None] * inv[None, :]).clamp(-1.0, 1.0)

    def corr(self, i: int, j: int) -> torch.Tensor:
        """``(n_i, n_j)`` correlation between the units of net ``i`` and net ``j`` (within-net if i == j)."""
        si, sj = self._slice(i), self._slice(j)
        if self.full:
            return self.correlation()[si, sj]
        if i == j:
            raise ValueError("within-net correlation needs ActivationStats(full=True)")
        self._check()
        m, inv = self._m(), self._inv_sd()
        lo, hi = min(i, j), max(i, j)
        cov = self._s2[(lo, hi)] / self.n - torch.outer(m[self._slice(lo)], m[self._slice(hi)])
        cov = cov if i < j else cov.T
        return (cov * inv[si][:, None] * inv[sj][None, :]).clamp(-1.0, 1.0)

    def mean(self, i: int) -> torch.Tensor:
        self._check()
        return (self._m() + self._shift)[self._slice(i)]

    def std(self, i: int) -> torch.Tensor:
        return self.variance().sqrt()[self._slice(i)]

    def dead(self, i: int) -> torch.Tensor:
        """Boolean mask of net ``i``'s units with sigma = 0 on the observations."""
        self._check()
        return ~self._alive()[self._slice(i)]


def correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(n_a, n_b)`` between-set correlation of two ``(obs, units)`` matrices (one-shot ``ActivationStats``)."""
    return ActivationStats().update(a, b).corr(0, 1)
