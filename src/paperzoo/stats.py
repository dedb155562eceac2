"""Small statistics every reproduction needs: binomial and mean confidence intervals, ROC-AUC."""
from __future__ import annotations

import math
from typing import Sequence

import torch

Z95 = 1.959964  # two-sided 95% normal quantile


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``k / n`` (as fractions in [0, 1]).

    centre = (p + z^2 / 2n) / (1 + z^2 / n),  half = z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n).
    Use it for accuracies on small test sets (e.g. the 1,000-image CIFAR-10 test subset).
    """
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"wilson_interval needs 0 <= k <= n and n > 0, got k={k}, n={n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_ci(values: Sequence[float], z: float = Z95) -> tuple[float, float, float]:
    """(mean, lo, hi) with the normal-approximation interval mean +- z * std / sqrt(n) (n - 1 std)."""
    v = [float(x) for x in values]
    if not v:
        raise ValueError("mean_ci needs at least one value")
    m = sum(v) / len(v)
    if len(v) == 1:
        return m, m, m
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
    return m, m - z * sd / math.sqrt(len(v)), m + z * sd / math.sqrt(len(v))


def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve = P(score_pos > score_neg) + P(tie) / 2 (Mann-Whitney U with
    average ranks for ties); NaN when one class is absent."""
    scores = torch.as_tensor(scores, dtype=torch.float64).flatten()
    labels = torch.as_tensor(labels).flatten()
    if scores.shape != labels.shape:
        raise ValueError(f"roc_auc: scores {tuple(scores.shape)} and labels {tuple(labels.shape)} differ")
    pos, neg = labels == 1, labels == 0
    n_pos, n_neg = int(pos.sum()), int(neg.sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    uniq, inverse, counts = torch.unique(scores, return_inverse=True, return_counts=True)
    upper = counts.cumsum(0).double()  # rank of the last element in each tie group (1-based)
    avg_rank = upper - (counts.double() - 1) / 2
    ranks = avg_rank[inverse]
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
