"""Infinite-width kernel recursions, susceptibilities, criticality and the four-point vertex
(Roberts, Yaida & Hanin 2022, ch. 4-5, 9; formulas as restated by the card, "unverified" against the book text).

Conventions (book): z^(l+1) = b + W sigma(z^(l)), W_ij ~ N(0, C_W / n_l), b ~ N(0, C_b); z^(1) = b + W x with
C_W / n_0. ``K^(1)_ab = C_b + C_W x_a . x_b / n_0``; ``K^(l+1)_ab = C_b + C_W <sigma(z_a) sigma(z_b)>_{K^(l)}``.
chi_par(K) = C_W / (2 K^2) <sigma^2 (z^2 - K)>_K = C_W d<sigma^2>_K / dK, chi_perp(K) = C_W <sigma'^2>_K.
Criticality: chi_par(K*) = chi_perp(K*) = 1 at the fixed point K* = C_b + C_W <sigma^2>_{K*}.
"""
from __future__ import annotations

import math

import torch

from paperzoo.papers.deep_learning_theory.gaussian import (
    Activation,
    derivative,
    gaussian_expect,
    gaussian_expect2,
    get_activation,
    std_normal_rule,
    taylor,
)

__all__ = ["a1_coefficient", "arccos_kernel", "find_criticality", "fixed_point", "four_point_vertex", "kernel_flow",
           "nngp_recursion", "ntk_recursion", "predicted_kurtosis", "susceptibilities", "universality_class"]


def susceptibilities(act, K, C_W: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(chi_par, chi_perp) at single-input kernel K (float or tensor), book ch. 5.

    chi_par is computed in standardised form C_W <sigma(sqrt(K) u)^2 (u^2 - 1)> / (2K), u ~ N(0, 1), which equals
    C_W <sigma^2 (z^2 - K)>_K / (2K^2) and stays accurate as K -> 0 (the K* = 0 class)."""
    f = get_activation(act)
    K = torch.as_tensor(K, dtype=torch.float64)
    if (K <= 0).any():
        raise ValueError(f"susceptibilities need K > 0, got {K}")
    u, w = std_normal_rule()
    z = K.sqrt()[..., None] * u
    chi_par = C_W * (f(z) ** 2 * (u * u - 1) * w).sum(-1) / (2 * K)
    chi_perp = C_W * (derivative(f, z) ** 2 * w).sum(-1)
    return chi_par, chi_perp


def kernel_flow(act, K1: float, depth: int, C_b: float, C_W: float) -> torch.Tensor:
    """Single-input K^(1..depth): K^(l+1) = C_b + C_W <sigma^2>_{K^(l)} (shape (depth,))."""
    f = get_activation(act)
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    out = [torch.as_tensor(float(K1), dtype=torch.float64)]
    for _ in range(depth - 1):
        out.append(C_b + C_W * gaussian_expect(lambda z: f(z) ** 2, out[-1]))
    return torch.stack(out)


def fixed_point(act, C_b: float, C_W: float, K0: float = 1.0, *, steps: int = 10_000, tol: float = 1e-14) -> float:
    """K* = C_b + C_W <sigma^2>_{K*} by iterating the recursion from K0 (the attracting fixed point reached)."""
    f = get_activation(act)
    K = torch.tensor(float(K0), dtype=torch.float64)
    for _ in range(steps):
        new = C_b + C_W * gaussian_expect(lambda z: f(z) ** 2, K)
        if not torch.isfinite(new):
            raise ValueError(f"kernel recursion diverges for C_b={C_b}, C_W={C_W} (no finite fixed point)")
        if abs(float(new - K)) <= tol * max(1.0, float(K)):
            return float(new)
        K = new
    return float(K)


def a1_coefficient(act) -> float:
    """a_1 = sigma_3 / sigma_1 + (3/4) (sigma_2 / sigma_1)^2 (book ch. 5, K* = 0 class); tanh: -2, sin: -1."""
    _, s1, s2, s3 = taylor(act)
    if s1 == 0:
        raise ValueError("a_1 needs sigma_1 = sigma'(0) != 0")
    return s3 / s1 + 0.75 * (s2 / s1) ** 2


def _is_scale_invariant(f: Activation) -> bool:
    if f.a_plus is not None:
        return True
    z = torch.linspace(-5, 5, 101, dtype=torch.float64)
    return all(torch.allclose(f(lam * z), lam * f(z), rtol=1e-12, atol=1e-12) for lam in (0.5, 3.0))


def universality_class(act) -> tuple[str, float]:
    """("scale-invariant" | "K*=0" | "none", a_1); a_1 is nan for the scale-invariant class (book ch. 5)."""
    f = get_activation(act)
    if _is_scale_invariant(f):
        return "scale-invariant", math.nan
    s0, s1, _, _ = taylor(f)
    a1 = a1_coefficient(f) if s1 != 0 else math.nan
    if abs(s0) < 1e-12 and s1 != 0 and a1 < 0:
        return "K*=0", a1
    return "none", a1


def _slopes(f: Activation) -> tuple[float, float]:
    if f.a_plus is not None:
        return f.a_plus, f.a_minus
    one = torch.ones(1, dtype=torch.float64)
    return float(f(one)), float(-f(-one))


def find_criticality(act, *, K_range: tuple[float, float] = (1e-3, 100.0)) -> tuple[float, float, float]:
    """(C_b, C_W, K*) with chi_par(K*) = chi_perp(K*) = 1 (book ch. 5).

    Scale-invariant class: C_b = 0, C_W = 1 / A_2, A_2 = (a_+^2 + a_-^2) / 2; every K* is marginal (K* = nan).
    K* = 0 class: C_b = 0, C_W = 1 / sigma_1^2, K* = 0. Otherwise (ours, not checked against the book): a root of
    chi_par(K) = 1 with C_W = 1 / <sigma'^2>_K, found by bisection on a log grid over ``K_range``, and
    C_b = K* - C_W <sigma^2>_{K*} >= 0; ``ValueError`` when there is no such point."""
    f = get_activation(act)
    cls, _ = universality_class(f)
    if cls == "scale-invariant":
        ap, am = _slopes(f)
        return 0.0, 2.0 / (ap * ap + am * am), math.nan
    if cls == "K*=0":
        return 0.0, 1.0 / taylor(f)[1] ** 2, 0.0

    def gap(K: torch.Tensor) -> torch.Tensor:
        cw = 1.0 / gaussian_expect(lambda z: derivative(f, z) ** 2, K)
        return susceptibilities(f, K, 1.0)[0] * cw - 1

    grid = torch.logspace(math.log10(K_range[0]), math.log10(K_range[1]), 200, dtype=torch.float64)
    vals = gap(grid)
    for i in torch.nonzero(torch.sign(vals[:-1]) != torch.sign(vals[1:])).flatten().tolist():
        lo, hi = grid[i].clone(), grid[i + 1].clone()
        for _ in range(60):
            mid = (lo + hi) / 2
            if torch.sign(gap(mid)) == torch.sign(gap(lo)):
                lo = mid
            else:
                hi = mid
        K = (lo + hi) / 2
        cw = float(1.0 / gaussian_expect(lambda z: derivative(f, z) ** 2, K))
        cb = float(K) - cw * float(gaussian_expect(lambda z: f(z) ** 2, K))
        if cb >= 0:
            return cb, cw, float(K)
    raise ValueError(f"{f.name}: no critical point (chi_par = chi_perp = 1 with C_b >= 0) for K in {K_range}")


def arccos_kernel(K_aa, K_ab, K_bb, C_b: float = 0.0, C_W: float = 2.0) -> torch.Tensor:
    """ReLU closed form (card smoke (b)): C_b + C_W/(2 pi) sqrt(K_aa K_bb) (sin t + (pi - t) cos t), cos t = rho."""
    K_aa, K_ab, K_bb = (torch.as_tensor(k, dtype=torch.float64) for k in (K_aa, K_ab, K_bb))
    r = (K_aa * K_bb).sqrt()
    t = torch.arccos((K_ab / r).clamp(-1, 1))
    return C_b + C_W / (2 * math.pi) * r * (torch.sin(t) + (math.pi - t) * torch.cos(t))


def _pairwise(f, g, K: torch.Tensor) -> torch.Tensor:
    """<f(z_a) g(z_b)>_K for every pair (a, b) of a symmetric K (m, m); f(z_a) g(z_b) with f = g is symmetric,
    so only the upper triangle is integrated."""
    i, j = torch.triu_indices(len(K), len(K))
    d = torch.diagonal(K)
    v = gaussian_expect2(f, g, d[i], K[i, j], d[j])
    out = torch.empty_like(K)
    out[i, j], out[j, i] = v, v
    return out


def _check_x(X) -> torch.Tensor:
    X = torch.as_tensor(X, dtype=torch.float64)
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"X must be (m inputs, n_0 features), got shape {tuple(X.shape)}")
    return X


def nngp_recursion(X, depth: int, act, C_b: float, C_W: float) -> torch.Tensor:
    """K^(1..depth) for the m inputs in X (m, n_0): shape (depth, m, m) (card "Kernel (NNGP) recursion")."""
    f, X = get_activation(act), _check_x(X)
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    Ks = [C_b + C_W * X @ X.T / X.shape[1]]
    for _ in range(depth - 1):
        Ks.append(C_b + C_W * _pairwise(f, f, Ks[-1]))
    return torch.stack(Ks)


def ntk_recursion(X, depth: int, act, C_b: float, C_W: float, lam_b: float = 1.0, lam_W: float = 1.0) -> torch.Tensor:
    """Frozen NTK Theta^(1..depth), (depth, m, m): Theta^(1) = lam_b + lam_W x.x/n_0,
    Theta^(l+1) = lam_b + lam_W <sigma sigma>_{K^(l)} + C_W <sigma' sigma'>_{K^(l)} Theta^(l) (card, ch. 9)."""
    f, X = get_activation(act), _check_x(X)
    Ks = nngp_recursion(X, depth, f, C_b, C_W)
    df = lambda z: derivative(f, z)  # noqa: E731
    Th = [lam_b + lam_W * X @ X.T / X.shape[1]]
    for K in Ks[:-1]:
        Th.append(lam_b + lam_W * _pairwise(f, f, K) + C_W * _pairwise(df, df, K) * Th[-1])
    return torch.stack(Th)


def four_point_vertex(act, depth: int, C_b: float, C_W: float, K1: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(V^(1..depth), K^(1..depth)) for one input, equal widths (card "Four-point vertex"):
    V^(1) = 0, V^(l+1) = C_W^2 (<sigma^4>_{K^(l)} - <sigma^2>_{K^(l)}^2) + chi_par(K^(l))^2 V^(l)."""
    f = get_activation(act)
    K = kernel_flow(f, K1, depth, C_b, C_W)
    V = [torch.zeros((), dtype=torch.float64)]
    for k in K[:-1]:
        m2 = gaussian_expect(lambda z: f(z) ** 2, k)
        m4 = gaussian_expect(lambda z: f(z) ** 4, k)
        chi = susceptibilities(f, k, C_W)[0] if k > 0 else torch.tensor(0.0, dtype=torch.float64)
        V.append(C_W ** 2 * (m4 - m2 * m2) + chi * chi * V[-1])
    return torch.stack(V), K


def predicted_kurtosis(act, depth: int, n: int, C_b: float, C_W: float, K1: float = 1.0) -> torch.Tensor:
    """Leading-order excess kurtosis 3 V^(l) / (n K^(l)^2) of one preactivation at layers 1..depth (width n);
    ReLU at (0, 2): 15 (l - 1) / n, linear at (0, 1): 6 (l - 1) / n (card)."""
    if n < 1:
        raise ValueError(f"width n must be >= 1, got {n}")
    V, K = four_point_vertex(act, depth, C_b, C_W, K1)
    return 3 * V / (n * K * K)
