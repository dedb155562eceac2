"""Closed forms of the card (our derivation there, exact at T = 0 with perfect archetypes).

* ``hierarchical_T0(K, d)``: the hierarchical fixed point from ``s = xi^1``: ``m_k = (1 - d) d^{k-1}``, ``k = 1..K``
  (each pattern fills the sites left blank by all earlier ones; sum ``1 - d^K``).
* ``symmetric_gap_K2(d)``: for ``K = 2`` the symmetric state ``m_1 = m_2 = (1 - d)(1 + d) / 2`` lies above the
  hierarchical one by ``N (1 - d)^4 / 4`` in the archetype Hamiltonian ``H = -(N/2) sum_mu m_mu^2``; returned per spin.
* ``learning_threshold(M_grid, m1, d)``: the smallest ``M`` with ``m_1 > (1 - d) / 2`` (card cpu (c)).
"""
from __future__ import annotations

import math

import torch


def hierarchical_T0(K: int, d: float) -> torch.Tensor:
    if K < 1 or not 0 <= d < 1:
        raise ValueError(f"hierarchical_T0: need K >= 1 and 0 <= d < 1, got {K}, {d}")
    return (1 - d) * d ** torch.arange(K, dtype=torch.float64)


def symmetric_gap_K2(d: float) -> float:
    return (1 - d) ** 4 / 4


def power_law_slope(m: torch.Tensor, d: float, N: int, floor: float = 5.0) -> tuple[float, int]:
    """Least-squares slope of ``log m_k`` vs ``k`` over the ``k`` whose theory signal ``(1 - d) d^{k-1}`` is at least
    ``floor / sqrt(N)`` (smaller ones are finite-size noise; card cpu (a)); returns ``(slope, points used)``."""
    theory = hierarchical_T0(len(m), d)
    keep = theory >= floor / math.sqrt(N)
    k = torch.arange(1, len(m) + 1, dtype=torch.float64)[keep]
    y = torch.log(m.double().clamp_min(1e-12))[keep]
    if len(k) < 2:
        return math.nan, int(len(k))
    kc = k - k.mean()
    return float((kc * (y - y.mean())).sum() / (kc * kc).sum()), int(len(k))


def learning_threshold(M_grid, m1, d: float) -> float:
    for M, m in zip(M_grid, m1):
        if m > 0.5 * (1 - d):
            return float(M)
    return math.inf
