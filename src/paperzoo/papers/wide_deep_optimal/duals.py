"""Normalised activations and their dual activations (card "Dual activation", official `dual_act` / `d_dual_act`).

An activation phi with E[phi(z)^2] = 1 for z ~ N(0, 1) has the dual psi(xi) = E[phi(u) phi(v)], where u, v are
unit-variance Gaussians with correlation xi; psi(1) = 1. The derivative dual is psi'(xi) = E[phi'(u) phi'(v)]
(the derivative of psi in xi). For phi = sum_k a_k h_k (normalised probabilists' Hermite polynomials,
sum_k a_k^2 = 1): psi(xi) = sum_k a_k^2 xi^k. Closed forms used here:

- relu: phi = sqrt(2) max(0, x); psi = (xi (pi - arccos xi) + sqrt(1 - xi^2)) / pi (arc-cosine kernel of degree 1),
  psi' = (pi - arccos xi) / pi.
- erf: phi = erf(x) / sqrt((2/pi) arcsin(2/3)); psi = arcsin(2 xi / 3) / arcsin(2/3).
- sine_a: phi = sin(sqrt(a) x) / sqrt(exp(-a) sinh a); psi = sinh(a xi) / sinh a, psi' = a cosh(a xi) / sinh a
  (the official `d_dual_act` ignores a here; card pitfall: we do not copy that).
- hermite_k: phi = h_k, psi = xi^k; opt_Nd: the official "Nd_opt" duals (card list), as Hermite coefficients.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from paperzoo.names import did_you_mean

Fn = Callable[[torch.Tensor], torch.Tensor]


def hermite(x: torch.Tensor, k: int) -> torch.Tensor:
    """Normalised probabilists' Hermite polynomial h_k = He_k / sqrt(k!) (He_{j+1} = x He_j - j He_{j-1})."""
    if k < 0:
        raise ValueError(f"hermite: degree k must be >= 0, got {k}")
    prev, cur = torch.ones_like(x), x
    if k == 0:
        return prev
    for j in range(1, k):
        prev, cur = cur, x * cur - j * prev
    return cur / math.sqrt(math.factorial(k))


@dataclass(frozen=True)
class Activation:
    """A normalised activation: ``phi`` (torch), its dual ``psi`` and derivative dual ``dpsi`` on [-1, 1].

    ``coeffs`` holds the Hermite coefficients a_k when the activation is a finite Hermite sum (else None).
    """

    name: str
    phi: Fn
    psi: Fn
    dpsi: Fn
    coeffs: tuple[float, ...] | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.phi(x)


def _poly(c2: Sequence[float], deriv: bool) -> Fn:
    def f(xi: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(xi)
        for k in range(len(c2) - 1, -1, -1):  # Horner on sum_k c2_k xi^k (or its derivative)
            if deriv and k == 0:
                break
            out = out * xi + (k * c2[k] if deriv else c2[k])
        return out
    return f


def hermite_activation(coeffs: Sequence[float], name: str | None = None, *, normalise: bool = True) -> Activation:
    """phi = sum_k a_k h_k with a = ``coeffs`` (index k = degree), rescaled so that sum_k a_k^2 = 1 (card)."""
    a = [float(c) for c in coeffs]
    total = sum(c * c for c in a)
    if not a or total <= 0 or not all(math.isfinite(c) for c in a):
        raise ValueError(f"hermite_activation: coeffs must be finite and not all zero, got {coeffs!r}")
    if normalise:
        a = [c / math.sqrt(total) for c in a]
    c2 = [c * c for c in a]

    def phi(x: torch.Tensor) -> torch.Tensor:
        return sum(c * hermite(x, k) for k, c in enumerate(a) if c != 0.0)

    return Activation(name or f"hermite{tuple(round(c, 4) for c in a)}", phi, _poly(c2, False), _poly(c2, True), tuple(a))


def dual(coeffs: Sequence[float]) -> Fn:
    """psi(xi) = sum_k a_k^2 xi^k for normalised Hermite coefficients a (card)."""
    return hermite_activation(coeffs).psi


def dual_derivative(coeffs: Sequence[float]) -> Fn:
    """psi'(xi) = sum_k k a_k^2 xi^(k-1): the dual of phi' (card)."""
    return hermite_activation(coeffs).dpsi


def _relu() -> Activation:
    def psi(xi):
        xi = xi.clamp(-1.0, 1.0)
        return (xi * (math.pi - torch.arccos(xi)) + torch.sqrt((1.0 - xi * xi).clamp_min(0.0))) / math.pi

    return Activation("relu", lambda x: math.sqrt(2.0) * torch.relu(x), psi,
                      lambda xi: (math.pi - torch.arccos(xi.clamp(-1.0, 1.0))) / math.pi)


def _erf() -> Activation:
    s = math.asin(2.0 / 3.0)
    scale = 1.0 / math.sqrt(2.0 / math.pi * s)
    return Activation("erf", lambda x: scale * torch.erf(x), lambda xi: torch.arcsin(2.0 * xi.clamp(-1.0, 1.0) / 3.0) / s,
                      lambda xi: (2.0 / 3.0) / torch.sqrt(1.0 - 4.0 * xi.clamp(-1.0, 1.0) ** 2 / 9.0) / s)


def sine(a: float) -> Activation:
    """phi = sin(sqrt(a) x) normalised; psi = sinh(a xi) / sinh(a) (official `sine_a`)."""
    if not a > 0:
        raise ValueError(f"sine: a must be > 0, got {a}")
    w, norm = math.sqrt(a), 1.0 / math.sqrt(math.exp(-a) * math.sinh(a))
    return Activation(f"sine_{a:g}", lambda x: norm * torch.sin(w * x), lambda xi: torch.sinh(a * xi) / math.sinh(a),
                      lambda xi: a * torch.cosh(a * xi) / math.sinh(a))


def hermite_k(k: int) -> Activation:
    """phi = h_k, psi = xi^k: for k >= 2 psi'(0) = 0, the 1-NN regime (card taxonomy)."""
    return hermite_activation([0.0] * k + [1.0], name=f"hermite_{k}")


def _opt(name: str, c2: dict[int, float]) -> Activation:
    a = [0.0] * (max(c2) + 1)
    for k, v in c2.items():
        a[k] = math.sqrt(v)
    return hermite_activation(a, name=name)


ACTIVATIONS: dict[str, Callable[[], Activation]] = {
    "relu": _relu,
    "erf": _erf,
    "opt_2d": lambda: _opt("opt_2d", {1: 0.5, 7: 0.5}),             # psi = xi^7/2 + xi/2
    "opt_3d": lambda: _opt("opt_3d", {1: 0.5, 3: 0.5}),             # psi = xi^3/2 + xi/2
    "opt_5d": lambda: _opt("opt_5d", {1: 0.25, 2: 0.5, 3: 0.25}),   # psi = xi^3/4 + xi^2/2 + xi/4
    "opt_9d": lambda: _opt("opt_9d", {1: 1 / 16, 2: 7 / 8, 3: 1 / 16}),  # psi = xi^3/16 + 7 xi^2/8 + xi/16
}


def get_activation(act: str | Activation) -> Activation:
    """An ``Activation`` from a preset name (``relu``, ``erf``, ``opt_3d``, ``hermite_3``, ``sine_2.676`` ...)."""
    if isinstance(act, Activation):
        return act
    if act in ACTIVATIONS:
        return ACTIVATIONS[act]()
    if act.startswith("hermite_") and act[8:].isdigit():
        return hermite_k(int(act[8:]))
    if act.startswith("sine_"):
        try:
            return sine(float(act[5:]))
        except ValueError:
            pass
    names = [*ACTIVATIONS, "hermite_<k>", "sine_<a>"]
    raise ValueError(f"unknown activation {act!r}{did_you_mean(act, list(ACTIVATIONS))} (have {names})")


def infinite_depth_exponent(act: str | Activation, kernel: str = "ntk") -> float | None:
    """The exponent alpha of the infinite-depth singular kernel ||x - z||^(-alpha) (card derivation).

    For psi(0) = 0 and 0 < psi'(0) < 1 < psi'(1): NNGP alpha = 2 ln(1/psi'(0)) / ln psi'(1), NTK alpha = NNGP + 2.
    psi'(0) = 0 gives inf (1-NN); psi'(1) <= 1 or psi(0) != 0 gives None (every angle -> 1: majority vote).
    """
    if kernel not in ("ntk", "nngp"):
        raise ValueError(f"kernel must be 'ntk' or 'nngp', got {kernel!r}")
    a = get_activation(act)
    zero, one = torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64)
    p0, d0, d1 = float(a.psi(zero)), float(a.dpsi(zero)), float(a.dpsi(one))
    if abs(p0) > 1e-12 or d1 <= 1.0 + 1e-12:
        return None
    if d0 <= 0.0:
        return math.inf
    if d0 >= 1.0:
        return None
    base = 2.0 * math.log(1.0 / d0) / math.log(d1)
    return base + 2.0 if kernel == "ntk" else base
