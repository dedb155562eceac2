"""Mutual-information estimators for the information plane, all in bits.

* ``binned_mi`` (the paper's estimator, official ``idnns/information``): every unit of a layer is put in one of
  the bins of ``linspace(lo, hi, n_bins)`` (a value is replaced by its left edge, ``np.digitize``), the binned
  layer vector is a discrete symbol T, p(x) is uniform over the N inputs, and since T = f(X) is deterministic
  I(X;T) = H(T) and I(T;Y) = H(T) + H(Y) - H(T, Y). Defaults 30 edges on [-1, 1] (official ``-num_of_bins``).
* ``kde_mi``: the pairwise-distance bounds of Kolchinsky & Tracey (2017) used by Saxe et al. (ICLR 2018,
  official ``artemyk/ibsgd``): T = h(X) + N(0, s2 I), I(X;T) <= -mean_i log mean_j exp(-||h_i - h_j||^2 / (2 s2))
  (KL bound, ``bound="upper"``) and >= the same with 8 s2 (Bhattacharyya bound, ``"lower"``); I(T;Y) = that
  quantity minus its class-conditional average, as in ``ComputeMI.ipynb``. Default s2 = 0.1 (ibsgd).
* ``ksg_mi``: Kraskov, Stoegbauer & Grassberger (2004) estimator 1 for two continuous variables;
  ``knn_mi_discrete``: Ross (2014) k-NN estimator of I(T;Y) for continuous T and discrete Y.
"""
from __future__ import annotations

import math

import torch

__all__ = ["bin_codes", "binned_mi", "discrete_mi", "entropy_bits", "knn_mi_discrete", "kde_mi", "ksg_mi"]

LOG2 = math.log(2.0)


def _check(t: torch.Tensor, y: torch.Tensor | None, name: str = "T") -> tuple[torch.Tensor, torch.Tensor | None]:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(t).__name__}")
    t = t.detach()
    t = t.reshape(len(t), -1) if t.ndim != 2 else t
    if len(t) < 2:
        raise ValueError(f"{name} needs at least 2 samples, got shape {tuple(t.shape)}")
    if t.is_floating_point() and not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN/inf")
    if y is not None:
        y = torch.as_tensor(y).reshape(-1)
        if len(y) != len(t):
            raise ValueError(f"labels have {len(y)} entries but {name} has {len(t)} samples")
        if y.is_floating_point() and not torch.equal(y, y.round()):
            raise ValueError("labels must be integers (class indices)")
        y = y.long()
    return t, y


def entropy_bits(counts: torch.Tensor) -> float:
    """Shannon entropy (bits) of the empirical distribution with the given counts."""
    c = counts[counts > 0].double()
    p = c / c.sum()
    return float(-(p * p.log2()).sum())


def _row_ids(codes: torch.Tensor) -> torch.Tensor:
    """Dense ids (N,) of the distinct rows of integer ``codes`` (N, k): one int64 key per row when the
    mixed-radix number fits (fast 1-D unique), else ``unique(dim=0)``."""
    if codes.is_floating_point():
        return torch.unique(codes, dim=0, return_inverse=True)[1]
    c = codes.long() - codes.min()
    base = int(c.max()) + 1
    if base ** c.shape[1] < 2 ** 62:
        key = (c * base ** torch.arange(c.shape[1], dtype=torch.long)).sum(1)
        return torch.unique(key, return_inverse=True)[1]
    return torch.unique(c, dim=0, return_inverse=True)[1]


def discrete_mi(codes: torch.Tensor, y: torch.Tensor | None = None) -> tuple[float, float]:
    """``(H(T), I(T;Y))`` in bits for discrete symbols ``codes`` (N,) or (N, k) (rows are symbols), with p(x)
    uniform over the N samples; I(T;Y) = H(T) + H(Y) - H(T, Y) (NaN without labels)."""
    codes, y = _check(codes, y, "codes")
    inv = _row_ids(codes)
    h_t = entropy_bits(torch.bincount(inv))
    if y is None:
        return h_t, math.nan
    _, y_inv = torch.unique(y, return_inverse=True)
    joint = inv * (int(y_inv.max()) + 1) + y_inv
    h_y, h_ty = entropy_bits(torch.bincount(y_inv)), entropy_bits(torch.bincount(joint))
    return h_t, max(h_t + h_y - h_ty, 0.0)


def bin_codes(t: torch.Tensor, n_bins: int = 30, lo: float | None = -1.0, hi: float | None = 1.0) -> torch.Tensor:
    """Bin index of every entry: ``i`` with edges[i] <= t < edges[i+1], edges = linspace(lo, hi, n_bins)
    (``np.digitize(t, edges) - 1``; -1 below ``lo``, n_bins - 1 at or above ``hi``). ``lo`` / ``hi`` None:
    the minimum / maximum of ``t`` (the layer's own range, needed for unbounded units such as ReLU)."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 2:
        raise ValueError(f"n_bins must be an int >= 2, got {n_bins!r}")
    td = t.double()
    lo = float(td.min()) if lo is None else float(lo)
    hi = float(td.max()) if hi is None else float(hi)
    if not hi >= lo:
        raise ValueError(f"bin range needs lo <= hi, got lo={lo}, hi={hi}")
    edges = torch.linspace(lo, hi, n_bins, dtype=torch.float64)
    return torch.searchsorted(edges, td.contiguous(), right=True) - 1


def binned_mi(t: torch.Tensor, y: torch.Tensor | None = None, *, n_bins: int = 30, lo: float | None = -1.0,
              hi: float | None = 1.0) -> tuple[float, float]:
    """``(I(X;T), I(T;Y))`` in bits of a deterministic layer ``t`` (N, d) of N distinct inputs (paper's estimator).

    ``lo=-1, hi=1``: the official tanh setting; ``lo=None`` / ``hi=None``: the layer's own min / max.
    """
    t, y = _check(t, y)
    return discrete_mi(bin_codes(t, n_bins, lo, hi), y)


def _sqdist(a: torch.Tensor) -> torch.Tensor:
    a = a.double()
    sq = (a * a).sum(1)
    return (sq[:, None] + sq[None, :] - 2.0 * a @ a.T).clamp_min(0.0)


def kde_mi(t: torch.Tensor, y: torch.Tensor | None = None, *, noise_var: float = 0.1,
           bound: str = "upper") -> tuple[float, float]:
    """``(I(X;T), I(T;Y))`` in bits of T = t + N(0, noise_var I) by the pairwise-distance bounds (module doc).

    I(X;T) is an upper (``"upper"``, KL) or lower (``"lower"``, Bhattacharyya) bound; I(T;Y) is the same
    quantity minus its average within each class, weighted by p(y) (Saxe et al.'s estimate; NaN without labels).
    """
    t, y = _check(t, y)
    if not (isinstance(noise_var, (int, float)) and noise_var > 0 and math.isfinite(noise_var)):
        raise ValueError(f"noise_var must be a positive number, got {noise_var!r}")
    if bound not in ("upper", "lower"):
        raise ValueError(f"bound must be 'upper' or 'lower', got {bound!r}")
    scale = 2.0 * noise_var * (1.0 if bound == "upper" else 4.0)
    k = _sqdist(t).div_(-scale).exp_()              # kernel, diagonal 1: every row sum >= 1, no underflow to 0
    n = len(t)
    i_xt = float(-(k.sum(1) / n).log().mean()) / LOG2
    if y is None:
        return i_xt, math.nan
    _, inv, cnt = torch.unique(y, return_inverse=True, return_counts=True)
    within = (k @ torch.nn.functional.one_hot(inv).double()).gather(1, inv[:, None])[:, 0] / cnt[inv].double()
    return i_xt, i_xt - float(-within.log().mean()) / LOG2


def _chebyshev(a: torch.Tensor) -> torch.Tensor:
    a = a.double()
    return (a[:, None, :] - a[None, :, :]).abs().amax(-1)


def ksg_mi(a: torch.Tensor, b: torch.Tensor, *, k: int = 3) -> float:
    """KSG estimator 1 of I(A;B) in bits for continuous a (N, da), b (N, db), max-norm:
    psi(k) + psi(N) - < psi(n_a + 1) + psi(n_b + 1) >, n_a(i) = #{j != i : ||a_i - a_j|| < eps_i}."""
    a, _ = _check(a, None, "a")
    b, _ = _check(b, None, "b")
    if len(a) != len(b):
        raise ValueError(f"a has {len(a)} samples but b has {len(b)}")
    if not 1 <= k < len(a):
        raise ValueError(f"k must be in [1, N), got {k}")
    da, db = _chebyshev(a), _chebyshev(b)
    dz = torch.maximum(da, db)
    dz.fill_diagonal_(math.inf)
    eps = dz.kthvalue(k, dim=1).values[:, None]
    n_a = ((da < eps).sum(1) - 1).double()            # the diagonal (distance 0) is not a neighbour
    n_b = ((db < eps).sum(1) - 1).double()
    dg = torch.special.digamma
    n = torch.tensor(float(len(a)), dtype=torch.float64)
    est = dg(torch.tensor(float(k), dtype=torch.float64)) + dg(n) - (dg(n_a + 1.0) + dg(n_b + 1.0)).mean()
    return float(est) / LOG2


def knn_mi_discrete(t: torch.Tensor, y: torch.Tensor, *, k: int = 3) -> float:
    """Ross (2014) estimator of I(T;Y) in bits for continuous t (N, d) and discrete y (N,), max-norm:
    psi(N) - <psi(N_{y_i})> + psi(k) - <psi(m_i)>, with d_i the distance to the k-th neighbour of the same
    class and m_i the number of samples (any class, i excluded) within d_i. Every class needs > k samples."""
    t, y = _check(t, y)
    if y is None:
        raise ValueError("knn_mi_discrete needs labels y")
    _, inv, cnt = torch.unique(y, return_inverse=True, return_counts=True)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1 or int(cnt.min()) <= k:
        raise ValueError(f"k must be an int >= 1 below every class count (smallest class: {int(cnt.min())}), got {k!r}")
    d = _chebyshev(t)
    d.fill_diagonal_(math.inf)
    same = inv[:, None] == inv[None, :]
    r = d.masked_fill(~same, math.inf).kthvalue(k, dim=1).values[:, None]
    m = (d <= r).sum(1).double()
    dg = torch.special.digamma
    n = torch.tensor(float(len(t)), dtype=torch.float64)
    est = dg(n) - dg(cnt[inv].double()).mean() + dg(torch.tensor(float(k), dtype=torch.float64)) - dg(m).mean()
    return float(est) / LOG2
