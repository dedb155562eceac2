"""The error-floor sweep: test RMSE over bandwidth lam x width d x seeds, and what the card reads off it."""
from __future__ import annotations

import math
import statistics
from typing import Callable, Sequence

import torch

from paperzoo.papers.bandlimited_random.features import RandomFeatureNet, UniformBox, rmse
from paperzoo.papers.bandlimited_random.targets import Target, regression_data


def error_floor_sweep(target: Target, lams: Sequence[float], ds: Sequence[int], seeds: Sequence[int], *,
                      rcond: float = 1e-10, ridge: float = 0.0, n_train: int = 1000, n_test: int = 1000,
                      on_fit: Callable[[], None] | None = None) -> dict[tuple[float, int], list[float]]:
    """``{(lam, d): [test RMSE per seed]}`` for a, b ~ U[-lam, lam] and least-squares output weights.

    For each (lam, seed) one net of width max(ds) is drawn and the first d features are used for each
    d: the d features of a width-d net are i.i.d. draws from Q either way, so this is the same
    distribution at a fraction of the sampling cost.
    """
    if not lams or not ds or not seeds:
        raise ValueError("error_floor_sweep: lams, ds and seeds must be non-empty")
    x_tr, y_tr, x_te, y_te = regression_data(target, n_train=n_train, n_test=n_test)
    out: dict[tuple[float, int], list[float]] = {(lam, d): [] for lam in lams for d in ds}
    for lam in lams:
        for s in seeds:
            big = RandomFeatureNet(max(ds), 1, sampler=UniformBox(lam), seed=_net_seed(s, lam))
            for d in ds:
                net = RandomFeatureNet(d, 1, sampler=UniformBox(lam), seed=0)
                net.a.copy_(big.a[:d])
                net.b.copy_(big.b[:d])
                net.fit(x_tr, y_tr, rcond=rcond, ridge=ridge)
                out[(lam, d)].append(rmse(net.predict(x_te), y_te))
                if on_fit is not None:
                    on_fit()
    return out


def _net_seed(seed: int, lam: float) -> int:
    return int(seed) * 1_000_003 + int(round(lam * 1000))


def medians(cells: dict[tuple[float, int], list[float]]) -> dict[tuple[float, int], float]:
    return {k: statistics.median(v) for k, v in cells.items()}


def suitable_lambda(med: dict[tuple[float, int], float], d: int, tol: float = 1e-3) -> float:
    """The smallest lam whose median RMSE at width d is below ``tol`` (inf when none is)."""
    ok = sorted(lam for (lam, dd), r in med.items() if dd == d and r < tol)
    return ok[0] if ok else math.inf


def floor_per_lambda(med: dict[tuple[float, int], float]) -> dict[float, float]:
    """min over d of the median RMSE at each lam: the best this bandwidth can do on this grid."""
    lams = sorted({lam for lam, _ in med})
    return {lam: min(r for (lm, _), r in med.items() if lm == lam) for lam in lams}


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    if len(x) != len(y) or len(x) < 2:
        raise ValueError("spearman needs two sequences of equal length >= 2")

    def ranks(v):
        t = torch.tensor(v, dtype=torch.float64)
        uniq, inv, cnt = torch.unique(t, return_inverse=True, return_counts=True)
        return (cnt.cumsum(0).double() - (cnt.double() - 1) / 2)[inv]

    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = float(rx.norm() * ry.norm())
    # rounded to 12 digits: the centred-rank sums are exact rationals, the float noise is not a result
    return round(float((rx * ry).sum()) / den, 12) if den > 0 else math.nan
