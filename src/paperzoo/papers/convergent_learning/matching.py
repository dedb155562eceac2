"""One-to-one unit matching between two nets (Li et al. 2016, Sec. 3) and the mutual-information variant.

Given the between-net correlation matrix C (n_a x n_b, rows = units of net A):

* semi-matching ("greedy" in the official notebook): j*(i) = argmax_j C_ij, partners may repeat;
* max-weight bipartite matching: the one-to-one assignment pi maximising sum_i C_{i pi(i)}
  (Hungarian; ``scipy.optimize.linear_sum_assignment``; the official ``match_unit.py`` used networkx's
  ``max_weight_matching`` / ``munkres``: the same optimum).

Because a semi-matching is free to repeat partners, sum_i C_{i j*(i)} >= sum_i C_{i pi(i)} always.
``mi_matrix`` replaces correlation by mutual information from 2-D histograms with 10 percentile bins per
axis, all near-zero activations in the first bin (official ``estimate_mi.py``), minus the bias
(#cells) / (2N), here in nats like the MI itself (the official code subtracts it in bits; card pitfall).
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["bipartite_match", "match_summary", "matched_curve", "mi_matrix", "percentile_bins", "semi_match"]


def _check_matrix(C: torch.Tensor | np.ndarray) -> torch.Tensor:
    C = torch.as_tensor(C)
    if C.dim() != 2 or C.numel() == 0:
        raise ValueError(f"expected a non-empty (n_a, n_b) matrix, got shape {tuple(C.shape)}")
    if not torch.isfinite(C).all():
        raise ValueError("matrix contains NaN/inf (dead units should have correlation 0)")
    return C


def semi_match(C: torch.Tensor) -> torch.Tensor:
    """Semi-matching: for each row unit i, the column j*(i) = argmax_j C_ij (repeats allowed). Shape (n_a,)."""
    return _check_matrix(C).argmax(1)


def bipartite_match(C: torch.Tensor) -> torch.Tensor:
    """Max-weight one-to-one matching: ``perm[i]`` is the partner of row unit i (Hungarian, exact).

    Needs n_a <= n_b (every row gets a distinct column); for square C, ``perm`` is a permutation.
    """
    from scipy.optimize import linear_sum_assignment

    C = _check_matrix(C)
    if C.shape[0] > C.shape[1]:
        raise ValueError(f"bipartite_match needs n_a <= n_b to match every row unit, got {tuple(C.shape)}")
    rows, cols = linear_sum_assignment(C.detach().cpu().double().numpy(), maximize=True)
    perm = torch.empty(C.shape[0], dtype=torch.long)
    perm[torch.as_tensor(rows)] = torch.as_tensor(cols, dtype=torch.long)
    return perm


def matched_curve(C: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """The matched values C[i, perm[i]] sorted from best to worst (the paper's matching plots)."""
    C = _check_matrix(C)
    return C[torch.arange(C.shape[0]), perm].sort(descending=True).values


def match_summary(C: torch.Tensor, live_a: torch.Tensor | None = None, live_b: torch.Tensor | None = None
                  ) -> dict[str, float]:
    """Mean / min matched value of semi and bipartite matching, and the fraction of units where both pick
    the same partner (the notebook's per-layer printout: "0.703 / 0.663 (0.73)" for conv1).

    Means run over all row units (a dead unit scores 0, as in the card's numbers); the minima only over
    pairs of live units (``live_a`` rows, ``live_b`` columns; default all), so that a dead unit does not
    count as "a unit without a good partner".
    """
    C = _check_matrix(C)
    idx = torch.arange(C.shape[0])
    live_a = torch.ones(C.shape[0], dtype=torch.bool) if live_a is None else live_a.bool()
    live_b = torch.ones(C.shape[1], dtype=torch.bool) if live_b is None else live_b.bool()
    semi, perm = semi_match(C), bipartite_match(C)
    s, b = C[idx, semi], C[idx, perm]
    ls, lb = live_a & live_b[semi], live_a & live_b[perm]
    nan = float("nan")
    return {"semi": float(s.mean()), "bipartite": float(b.mean()), "same_partner": float((semi == perm).double().mean()),
            "semi_min": float(s[ls].min()) if ls.any() else nan, "bipartite_min": float(b[lb].min()) if lb.any() else nan}


def percentile_bins(x: torch.Tensor, bins: int = 10, *, zero: float = 1e-6) -> torch.Tensor:
    """Per-unit bin edges ``(units, bins + 1)`` of ``x`` ``(obs, units)`` (official ``percentile_bins``).

    The first bin holds the fraction z of values < ``zero`` (ReLU zeros): edges at percentiles
    [0] + linspace(100.1 z, 100, bins), the lowest edge lowered by 0.01 so the minimum falls inside.
    """
    if x.dim() != 2 or len(x) < 2:
        raise ValueError(f"x must be (obs >= 2, units), got shape {tuple(x.shape)}")
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    xn = x.detach().double().cpu().numpy()
    z = (xn < zero).mean(0)                                                     # (units,)
    q = np.concatenate([np.zeros((len(z), 1)), np.linspace(np.minimum(z * 100.1, 100.0), 100.0, bins, axis=1)], 1)
    srt = np.sort(xn, 0)
    pos = q / 100.0 * (len(xn) - 1)                                             # numpy 'linear' percentile
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(xn) - 1)
    cols = np.arange(xn.shape[1])[:, None]
    edges = srt[lo, cols] + (pos - lo) * (srt[hi, cols] - srt[lo, cols])
    edges[:, 0] -= 0.01
    return torch.from_numpy(edges)


def _bin_index(x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """numpy.histogram2d bin of each value: [e_k, e_k+1) and the last bin closed; (obs, units) -> indices."""
    bins = edges.shape[1] - 1
    idx = torch.searchsorted(edges.contiguous(), x.double().T.contiguous(), right=True) - 1   # (units, obs)
    idx = torch.where(x.double().T == edges[:, -1:], torch.full_like(idx, bins - 1), idx)
    if ((idx < 0) | (idx >= bins)).any():
        raise ValueError("some values fall outside the bin edges (edges not computed from this data?)")
    return idx.T


def mi_matrix(a: torch.Tensor, b: torch.Tensor, *, bins: int = 10, bias_correct: bool = True) -> torch.Tensor:
    """``(n_a, n_b)`` mutual information (nats) between every unit of ``a`` and of ``b`` (``(obs, units)``).

    All 2-D histograms at once: with one-hot bin indicators O_a (obs, n_a bins), the joint counts are
    O_a^T O_b. MI = sum_pq p_pq log(p_pq / (p_p p_q)); ``bias_correct`` subtracts bins^2 / (2 N).
    """
    if a.dim() != 2 or b.dim() != 2 or len(a) != len(b):
        raise ValueError(f"a and b must be (obs, units) with the same obs, got {tuple(a.shape)}, {tuple(b.shape)}")
    N = len(a)
    ia, ib = _bin_index(a, percentile_bins(a, bins)), _bin_index(b, percentile_bins(b, bins))
    oa = torch.nn.functional.one_hot(ia, bins).reshape(N, -1).double()          # (N, n_a * bins)
    ob = torch.nn.functional.one_hot(ib, bins).reshape(N, -1).double()
    p = (oa.T @ ob / N).reshape(a.shape[1], bins, b.shape[1], bins).permute(0, 2, 1, 3)   # (n_a, n_b, bins, bins)
    pa, pb = p.sum(3, keepdim=True), p.sum(2, keepdim=True)
    ratio = torch.where(p > 0, p / (pa * pb).clamp_min(1e-300), torch.ones_like(p))
    mi = (p * ratio.log()).sum((2, 3))
    return mi - bins * bins / (2.0 * N) if bias_correct else mi


# The paper's per-layer numbers, Net1 vs Net2 (CaffeNet, ImageNet val): mean semi / bipartite matched correlation
# and the fraction of units where both matchings agree (source-checked: the official notebook's stored outputs).
NOTEBOOK_NET1_NET2 = {
    "conv1": (0.703, 0.663, 0.73), "conv2": (0.556, 0.507, 0.58), "conv3": (0.478, 0.446, 0.62),
    "conv4": (0.369, 0.342, 0.58), "conv5": (0.416, 0.385, 0.64),
}
