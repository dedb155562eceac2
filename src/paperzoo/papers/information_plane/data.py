"""The 12-bit task of Shwartz-Ziv & Tishby (2017), as the project's symmetric substitute generator.

The paper's label vector (``var_u.mat`` in the official ``ravidziv/IDNNs``) may not be redistributed, so the
card specifies a generator of the same character: X = all 4,096 binary vectors of length 12 (index k <->
the bits of k, most significant first), 12 points v_i on the unit sphere (the icosahedron's vertices), score
s(x) = sum_i x_i - lam * ||sum_i x_i v_i||^2 and y = 1[s(x) >= threshold]. Defaults (threshold 5.4,
lam 0.2) and the regression anchors (2,098 positives, SHA-256 prefix ``90c3469b396e40a4`` of the labels as
uint8) are the card's.
"""
from __future__ import annotations

import math

import torch

__all__ = ["N_BITS", "icosahedron", "sphere12", "split"]

N_BITS = 12
PHI = (1 + math.sqrt(5)) / 2


def icosahedron() -> torch.Tensor:
    """The 12 unit vertices (12, 3) in the card's order: for a in (-1, 1), for b in (-1, 1):
    (0, a, b phi), (a, b phi, 0), (b phi, 0, a)."""
    rows = []
    for a in (-1.0, 1.0):
        for b in (-1.0, 1.0):
            rows += [(0.0, a, b * PHI), (a, b * PHI, 0.0), (b * PHI, 0.0, a)]
    v = torch.tensor(rows, dtype=torch.float64)
    return v / v.norm(dim=1, keepdim=True)


def all_patterns(n_bits: int = N_BITS) -> torch.Tensor:
    """All 2^n binary vectors (2^n, n) as float64; row k holds the bits of k, most significant first."""
    k = torch.arange(2 ** n_bits)
    shifts = torch.arange(n_bits - 1, -1, -1)
    return ((k[:, None] >> shifts) & 1).to(torch.float64)


def sphere12(threshold: float = 5.4, lam: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, y)``: X (4096, 12) float32 in {0, 1}, y (4096,) int64 in {0, 1} (card "Project generator").

    s(x) = sum_i x_i - lam ||sum_i x_i v_i||^2 computed in float64, y = 1[s >= threshold]; with the defaults
    P(y = 1) = 2098 / 4096 and H(Y) = 0.99957 bits.
    """
    if not (math.isfinite(threshold) and math.isfinite(lam)):
        raise ValueError(f"threshold and lam must be finite, got {threshold}, {lam}")
    x = all_patterns()
    m = x @ icosahedron()                       # (4096, 3): sum_i x_i v_i
    s = x.sum(1) - lam * (m * m).sum(1)
    return x.float(), (s >= threshold).long()


def split(x: torch.Tensor, y: torch.Tensor, frac: float = 0.8, *, ordered: bool = False,
          seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Train / test index tensors: ``round(frac * N)`` training patterns.

    ``ordered=True`` is the official ``data_shuffle(..., shuffle_data=False, min_test_data=80)``: train = the
    first patterns in index order, test = the rest, except that with frac > 0.8 the test set still starts at
    the 80 % mark and overlaps the training set (official code; card "Pitfalls"). ``ordered=False`` (project default) permutes
    the patterns with ``seed`` first and takes the rest as the test set.
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x has {n} rows but y has {len(y)}")
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"frac must be in (0, 1], got {frac}")
    n_train = max(1, int(round(frac * n)))
    if ordered:
        start = n_train if frac <= 0.8 else int(round(0.8 * n))
        return torch.arange(n_train), torch.arange(start, n)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    return perm[:n_train], perm[n_train:].sort().values
