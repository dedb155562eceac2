"""Ensemble complexity: how many independently trained nets the rounded ensemble mean needs to be exact.

Two routes, both at infinite width (``NTKGP``):
* ``gp_ensemble_complexity``: the official stopping rule on a stream of exact GP draws (one draw = one trained
  net), on the official test set (1 000 random two-hot inputs), over many trials: milliseconds per k.
* closed forms. The kernels depend on x only through inner products, and x . e_i is 1/sqrt(s) on the s ones of
  x, 0 elsewhere, so an input with s ones has two output margins: mu_on(s) on the coordinates P x = 1 and
  mu_off(s) on the others, both with the same std sigma(s); independent per output coordinate. The mean of N
  draws is N(mu, sigma^2 / N), so a coordinate is rounded wrongly with probability Phi(-a sqrt(N)), a = |mu| / sigma:
  P(exact at x) = Phi(a_on sqrt N)^s Phi(a_off sqrt N)^(k - s)  (expected accuracy on s-hot tests), and
  P(any of the 2^k - 1 inputs wrong) <= sum_s C(k, s) [s Phi(-a_on sqrt N) + (k - s) Phi(-a_off sqrt N)] (union).
The basis vectors (s = 1) are the training set: there mu_off = 0 and sigma = 0 (interpolation), a tie the 0
threshold cannot break; the all-inputs bound therefore runs over s >= 2 (README deviation 3).
"""
from __future__ import annotations

import math

import torch

from paperzoo.papers.exact_permutations.kernels import NTKGP
from paperzoo.papers.exact_permutations.model import OFFICIAL_WIDTH
from paperzoo.papers.exact_permutations.task import exact, first_at_least, make_task, two_hot_tests


def gp_for_permutation(k: int, P: torch.Tensor | None = None, **gp_kw) -> NTKGP:
    """The NTK-GP trained on (e_i, P e_i), i = 1..k (identity P by default)."""
    x = torch.eye(k, dtype=torch.float64)
    y = x if P is None else P.to(torch.float64).T          # row i = P e_i
    return NTKGP(x, y, **gp_kw)


def gp_ensemble_complexity(gp: NTKGP, x_test: torch.Tensor, y_test: torch.Tensor, delta: float, *,
                           max_models: int = 5000, chunk: int = 32, generator: torch.Generator | None = None) -> float:
    """First ensemble size N with exact accuracy >= 1 - delta on (x_test, y_test) for a stream of GP draws
    (official stopping rule; ``max_models`` as the official cap). Draws are made in chunks (``chunk``, doubling)
    on the distinct test inputs, weighted by their multiplicity. Returns N, or nan when the cap is reached first."""
    if not 0.0 <= delta < 1.0:
        raise ValueError(f"gp_ensemble_complexity: delta must be in [0, 1), got {delta}")
    xs, inv = torch.unique(x_test.to(torch.float64), dim=0, return_inverse=True)
    w = torch.bincount(inv, minlength=len(xs)).to(torch.float64)
    ys = torch.zeros(len(xs), y_test.shape[1], dtype=torch.float64).index_copy_(0, inv, y_test.to(torch.float64))
    draw = gp.sampler(xs)
    total, done = torch.zeros(len(xs), ys.shape[1], dtype=torch.float64), 0
    while done < max_models:
        n = min(chunk, max_models - done)
        sums = draw(n, generator).cumsum(0) + total             # running sums of members done+1 .. done+n
        total = sums[-1]
        means = sums / torch.arange(done + 1, done + n + 1, dtype=torch.float64).view(-1, 1, 1)
        acc = exact(means, ys).to(torch.float64) @ w / w.sum()
        hit = first_at_least(acc, 1.0 - delta)
        if hit is not None:
            return float(done + hit)
        done, chunk = done + n, 2 * chunk
    return math.nan


def gp_complexity_trials(k: int, delta: float, trials: int, *, seed: int = 0, n_tests: int = 1000, nnz: int = 2,
                         max_models: int = 5000, width: int = OFFICIAL_WIDTH, **gp_kw) -> list[float]:
    """``trials`` independent repetitions of the official experiment at infinite width: a new P, test set and
    ensemble stream per trial (trial t uses generator seed + t)."""
    out = []
    for t in range(trials):
        g = torch.Generator().manual_seed(seed + t)
        P, _, _ = make_task(k, g, dtype=torch.float64)
        xt, yt = two_hot_tests(k, n_tests, nnz, g, P=P, dtype=torch.float64)
        gp = gp_for_permutation(k, P, width=width, **gp_kw)
        out.append(gp_ensemble_complexity(gp, xt, yt, delta, max_models=max_models, generator=g))
    return out


def margins(k: int, **gp_kw) -> dict[str, torch.Tensor]:
    """Per number of ones s = 1..k (index s - 1): mu_on, mu_off (nan at s = k), sigma, and a = |mu| / sigma."""
    gp = gp_for_permutation(k, **gp_kw)
    xs = torch.tril(torch.ones(k, k, dtype=torch.float64))     # row s-1: ones on the first s coordinates
    xs = xs / xs.norm(dim=1, keepdim=True)
    mu = gp.mean(xs)
    sd = gp.cov(xs).diagonal().clamp_min(0.0).sqrt()
    on = mu[:, 0]
    off = torch.cat([mu[:-1, -1], torch.full((1,), math.nan, dtype=torch.float64)])
    return {"on": on, "off": off, "sigma": sd, "a_on": on / sd, "a_off": -off / sd}


def expected_accuracy(k: int, n_models: torch.Tensor, *, s: int = 2, m: dict | None = None, **gp_kw) -> torch.Tensor:
    """E[exact accuracy] on s-hot inputs of an N-member infinite-width ensemble, for each N in ``n_models``."""
    m = margins(k, **gp_kw) if m is None else m
    n = n_models.to(torch.float64).sqrt()
    log_p = s * torch.special.log_ndtr(m["a_on"][s - 1] * n)
    if s < k:
        log_p = log_p + (k - s) * torch.special.log_ndtr(m["a_off"][s - 1] * n)
    return log_p.exp()


def all_inputs_failure_bound(k: int, n_models: torch.Tensor, *, m: dict | None = None, **gp_kw) -> torch.Tensor:
    """Union bound on P(the N-member ensemble is wrong on some input with s >= 2 ones), for each N."""
    m = m if m is not None else margins(k, **gp_kw)
    n = n_models.to(torch.float64).sqrt()[:, None]
    s = torch.arange(2, k + 1, dtype=torch.float64)
    log_c = torch.lgamma(torch.tensor(k + 1.0, dtype=torch.float64)) - torch.lgamma(s + 1) - torch.lgamma(k - s + 1)
    on = s.log() + torch.special.log_ndtr(-m["a_on"][1:] * n)
    off = torch.where(s < k, (k - s).clamp_min(1).log() + torch.special.log_ndtr(-m["a_off"][1:].nan_to_num(1.0) * n),
                      torch.tensor(-math.inf, dtype=torch.float64))
    return (log_c + torch.logaddexp(on, off)).logsumexp(dim=1).exp()


def smallest_n(ok, lo: int = 1, hi: int = 1 << 24) -> int:
    """Smallest integer N in [lo, hi] with ok(N) true, for a monotone predicate ok (doubling, then bisection)."""
    if not ok(hi):
        raise ValueError(f"smallest_n: condition false even at N = {hi}")
    b = lo
    while not ok(b):
        lo, b = b + 1, min(hi, 2 * b)
    while lo < b:
        mid = (lo + b) // 2
        lo, b = (lo, mid) if ok(mid) else (mid + 1, b)
    return b


def closed_form_complexity(k: int, delta: float, *, scope: str = "two_hot", **gp_kw) -> int:
    """Smallest N with E[accuracy on two-hot inputs] >= 1 - delta (scope "two_hot"), or with the union bound over
    all inputs with >= 2 ones <= delta (scope "all")."""
    m = margins(k, **gp_kw)
    if scope == "two_hot":
        return smallest_n(lambda n: float(expected_accuracy(k, torch.tensor([n]), m=m)) >= 1 - delta)
    if scope == "all":
        return smallest_n(lambda n: float(all_inputs_failure_bound(k, torch.tensor([n]), m=m)) <= delta)
    raise ValueError(f"closed_form_complexity: scope must be 'two_hot' or 'all', got {scope!r}")


def loglog_slope(ks, ns) -> float:
    """Least-squares slope of log N against log k (points with finite N only)."""
    pts = [(math.log(k), math.log(n)) for k, n in zip(ks, ns) if n == n and n > 0]
    if len(pts) < 2:
        return math.nan
    x, y = torch.tensor(pts, dtype=torch.float64).T
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / xc.square().sum())
