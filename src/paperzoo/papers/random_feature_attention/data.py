"""Token sequences on the sphere and the card's key-permutation-invariant targets.

Inputs (card "Input distribution", ASSUMED normalisation): a query ``x_0`` and ``N`` keys ``x_1..x_N``, i.i.d.
uniform on the sphere of radius ``sqrt(d)``. Every target is ``F = (1/N) sum_i h(x_0, x_i)`` with, writing
``z_i = <x_0, x_i> / sqrt(d)`` and ``b_i = <beta, x_i>`` (``beta`` a fixed random unit vector):

    corr_poly_p     h = He_p(z_i)             (probabilists' Hermite polynomial, p = 1..4)
    corr_cos        h = cos(2 z_i)
    corr_relu       h = relu(z_i)
    key_only        h = b_i^2                 (card: (<beta, x_i> / sqrt d)^2; the scale is removed below)
    value_weighted  h = z_i b_i

and is standardised (mean 0, variance 1) with moments of a fixed 20,000-sample reference draw, so test MSE
reads as a fraction of the target's variance (1 = the constant predictor). Label noise N(0, noise^2) is
added to training labels only (card: 0.1).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

TARGETS = ("corr_poly_1", "corr_poly_2", "corr_poly_3", "corr_poly_4", "corr_cos", "corr_relu", "key_only",
           "value_weighted")
_REF_N, _REF_SEED, _BETA_SEED = 20_000, 1234, 4321


def hermite(p: int, z: torch.Tensor) -> torch.Tensor:
    """Probabilists' Hermite He_p: He_0 = 1, He_1 = z, He_{p+1} = z He_p - p He_{p-1}."""
    if p < 0:
        raise ValueError(f"hermite: degree must be >= 0, got {p}")
    prev, cur = torch.ones_like(z), z
    if p == 0:
        return prev
    for k in range(1, p):
        prev, cur = cur, z * cur - k * prev
    return cur


def sphere_tokens(n: int, num_keys: int, d: int, gen: torch.Generator, dtype=torch.float64
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``x0`` (n, d) and ``X`` (n, N, d), i.i.d. uniform on the sphere of radius sqrt(d)."""
    g = torch.randn(n, num_keys + 1, d, generator=gen, dtype=dtype)
    g = g * (d ** 0.5 / g.norm(dim=-1, keepdim=True))
    return g[:, 0], g[:, 1:]


def beta(d: int, dtype=torch.float64) -> torch.Tensor:
    """The fixed unit vector of ``key_only`` / ``value_weighted`` (same for every run with this d)."""
    b = torch.randn(d, generator=torch.Generator().manual_seed(_BETA_SEED + d), dtype=torch.float64)
    return (b / b.norm()).to(dtype)


def raw_target(name: str, x0: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``(1/N) sum_i h(x_0, x_i)`` before standardisation, (n,)."""
    d = x0.shape[-1]
    z = torch.einsum("nd,nkd->nk", x0, X) / d ** 0.5
    if name.startswith("corr_poly_"):
        h = hermite(int(name.rsplit("_", 1)[1]), z)
    elif name == "corr_cos":
        h = torch.cos(2 * z)
    elif name == "corr_relu":
        h = torch.relu(z)
    elif name in ("key_only", "value_weighted"):
        b = X @ beta(d, X.dtype)
        h = b.square() if name == "key_only" else z * b
    else:
        from paperzoo.names import did_you_mean

        raise ValueError(f"unknown target {name!r}{did_you_mean(name, TARGETS)}; targets: {', '.join(TARGETS)}")
    return h.mean(-1)


@functools.lru_cache(maxsize=64)
def _moments(name: str, num_keys: int, d: int) -> tuple[float, float]:
    x0, X = sphere_tokens(_REF_N, num_keys, d, torch.Generator().manual_seed(_REF_SEED))
    f = raw_target(name, x0, X)
    return float(f.mean()), float(f.std())


def target(name: str, x0: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """The standardised target (mean 0, variance 1 on the input distribution)."""
    mu, sd = _moments(name, X.shape[1], x0.shape[-1])
    return (raw_target(name, x0, X) - mu) / sd


@dataclass
class RFAData:
    """Training and test sequences; ``y_train`` / ``y_test`` are (n, t), one column per target."""

    x0_train: torch.Tensor
    X_train: torch.Tensor
    y_train: torch.Tensor
    x0_test: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    targets: tuple[str, ...]


def rfa_data(n: int, num_keys: int, d: int, targets: str | tuple[str, ...] = "corr_poly_1", *, n_test: int = 2000,
             noise: float = 0.1, seed: int = 0, dtype=torch.float64) -> RFAData:
    """Card ``rfa_data``: n training and n_test test sequences, every target in ``targets`` as a column."""
    if n < 2 or n_test < 1 or num_keys < 1 or d < 1 or noise < 0:
        raise ValueError(f"rfa_data: need n >= 2, n_test >= 1, num_keys >= 1, d >= 1, noise >= 0; got n={n}, "
                         f"n_test={n_test}, num_keys={num_keys}, d={d}, noise={noise}")
    names = (targets,) if isinstance(targets, str) else tuple(targets)
    gen = torch.Generator().manual_seed(seed)
    x0, X = sphere_tokens(n + n_test, num_keys, d, gen)
    y = torch.stack([target(t, x0, X) for t in names], -1)
    y_tr = y[:n] + noise * torch.randn(n, len(names), generator=gen, dtype=torch.float64)
    return RFAData(x0[:n].to(dtype), X[:n].to(dtype), y_tr.to(dtype), x0[n:].to(dtype), X[n:].to(dtype),
                   y[n:].to(dtype), names)
