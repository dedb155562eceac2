"""Closed forms for the random (structureless) data model: dataset entropy, T = 0 low-load retrieval value,
signal-to-noise scaling and capacity scales. All of them are the card's own derivations (labelled so on
the card: "our derivation"), not transcribed from the paper, whose phase-diagram equations the card
could not read.
"""
from __future__ import annotations

import math

import torch


def _check_rM(r: float, M: int) -> None:
    if not 0.0 < r <= 1.0:
        raise ValueError(f"r must lie in (0, 1], got {r}")
    if not isinstance(M, int) or M < 1:
        raise ValueError(f"M must be a positive int, got {M!r}")


def rho(r: float, M: int) -> float:
    """Dataset entropy rho = (1 - r^2) / (M r^2) (card: data model)."""
    _check_rM(r, M)
    return (1.0 - r * r) / (M * r * r)


def R(r: float, M: int) -> float:
    """R = r^2 (1 + rho) = r^2 + (1 - r^2)/M = E[eta_bar^2] (card: data model)."""
    return r * r * (1.0 + rho(r, M))


def m_T0_low_load(r: float, M: int) -> float:
    """Exact T = 0 retrieval value at negligible load (card, "our derivation"): the fixed point is
    sigma_i = sign(eta_bar_i), so m = E[xi_i sign(eta_bar_i)] = sum_k Binom(k; M, (1+r)/2) sign(2k - M)
    (a tie 2k = M, M even, counts 0). Computed in log space, exact to rounding for any M."""
    _check_rM(r, M)
    p = (1.0 + r) / 2.0
    k = torch.arange(M + 1, dtype=torch.float64)
    logc = torch.lgamma(torch.tensor(M + 1.0, dtype=torch.float64)) - torch.lgamma(k + 1) - torch.lgamma(M - k + 1)
    logp = k * math.log(p) + (M - k) * (math.log1p(-p) if p < 1 else 0.0)
    if p == 1.0:
        logp = torch.where(k == M, 0.0, -math.inf).to(torch.float64)
    pmf = torch.exp(logc + logp)
    return float((pmf * torch.sign(2 * k - M)).sum())


def double_factorial(n: int) -> int:
    """n!! = n (n-2) (n-4) ... (1 for n <= 0)."""
    return math.prod(range(n, 0, -2))


def snr(P: int, N: int, K: int, r: float, M: int) -> float:
    """Signal-to-noise ratio of the T = 0 retrieval state (card, "our derivation"):
    S/N = N^((P-1)/2) / (sqrt(K (2P-3)!!) (1 + rho)^(P/2)). The card states the scaling
    N^((P-1)/2) / (sqrt(K) (1 + rho)^(P/2)); the constant (2P-3)!! is the variance of the P-1 power of a
    Gaussian overlap (E[z^(2P-2)] = (2P-3)!!), which puts P = 2 and P = 4 on one scale."""
    _check_rM(r, M)
    if P < 2 or P % 2:
        raise ValueError(f"P must be even and >= 2, got {P}")
    if N < 1 or K < 1:
        raise ValueError(f"N and K must be positive, got N={N}, K={K}")
    return N ** ((P - 1) / 2) / (math.sqrt(K * double_factorial(2 * P - 3)) * (1.0 + rho(r, M)) ** (P / 2))


def capacity_estimate(P: int, N: int) -> float:
    """Patterns storable without errors at r = 1, M = 1: alpha_c N with alpha_c ~ 0.138 for P = 2
    (Amit-Gutfreund-Sompolinsky, as quoted on the card), and N^(P-1) / (2 (2P-3)!! ln N) for P >= 4
    (Krotov-Hopfield-type estimate the card quotes: ~7000 at N = 100, P = 4)."""
    if P < 2 or P % 2:
        raise ValueError(f"P must be even and >= 2, got {P}")
    if N < 2:
        raise ValueError(f"N must be >= 2, got {N}")
    if P == 2:
        return 0.138 * N
    return N ** (P - 1) / (2 * double_factorial(2 * P - 3) * math.log(N))


def majority_overlap(eta_bar: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
    """Empirical majority-vote overlap mean_i xi_i sign(eta_bar_i) per archetype, shape (K,) (card smoke (c))."""
    if eta_bar.shape != xi.shape:
        raise ValueError(f"eta_bar {tuple(eta_bar.shape)} and xi {tuple(xi.shape)} must have the same shape")
    return (torch.sign(eta_bar) * xi).mean(-1)
