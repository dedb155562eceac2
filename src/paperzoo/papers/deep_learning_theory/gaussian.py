"""Activations and Gaussian expectations <f(z)>_K, <f(z_a) g(z_b)>_K (Roberts, Yaida & Hanin 2022, ch. 4-5).

The book's infinite-width statistics are Gaussian integrals of the activation sigma: ``<f(z)>_K`` with
z ~ N(0, K) for one input, and ``<f(z_a) g(z_b)>_K`` over a 2 x 2 covariance block for a pair of inputs.
The card suggests Gauss-Hermite quadrature; ReLU-like activations have a kink at z = 0 where Gauss-Hermite
converges only algebraically, so we use composite Gauss-Legendre panels in standardised variables with a
breakpoint at the kink (z = 0 for one input; for a pair, the inner variable is split where z_b = 0).
This integrates piecewise-smooth activations to float64 accuracy (README deviation 1).
Everything here is float64.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

__all__ = ["ACTIVATIONS", "Activation", "derivative", "gauss_legendre", "gaussian_expect", "gaussian_expect2",
           "get_activation", "scale_invariant", "std_normal_rule", "taylor"]

TAIL = 12.0          # |u| <= 12 standard deviations: the Gaussian mass beyond is ~ 4e-33
_BREAKS = (-TAIL, -6.0, -3.0, -1.5, 0.0, 1.5, 3.0, 6.0, TAIL)
_NODES = 24          # Gauss-Legendre nodes per panel


@dataclass(frozen=True)
class Activation:
    """A named elementwise activation sigma (a torch function); ``a_plus``/``a_minus`` are the slopes of a
    scale-invariant activation (sigma(z) = a_plus z for z >= 0, a_minus z for z < 0), else None."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    a_plus: float | None = None
    a_minus: float | None = None

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.fn(z)

    @property
    def module(self) -> torch.nn.Module:
        """The activation as an ``nn.Module`` (for building networks)."""
        return _Lambda(self.fn)


class _Lambda(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, z):
        return self.fn(z)


def scale_invariant(a_plus: float, a_minus: float, name: str | None = None) -> Activation:
    """sigma(z) = a_plus z (z >= 0), a_minus z (z < 0): the book's scale-invariant universality class."""
    fn = lambda z: torch.where(z >= 0, a_plus * z, a_minus * z)  # noqa: E731
    return Activation(name or f"scale_invariant({a_plus:g},{a_minus:g})", fn, float(a_plus), float(a_minus))


ACTIVATIONS: dict[str, Activation] = {
    "relu": scale_invariant(1.0, 0.0, "relu"),
    "leaky_relu": scale_invariant(1.0, 0.1, "leaky_relu"),     # a_minus = 0.1 (ours: visibly different from ReLU)
    "linear": scale_invariant(1.0, 1.0, "linear"),
    "tanh": Activation("tanh", torch.tanh),
    "sin": Activation("sin", torch.sin),
    "gelu": Activation("gelu", lambda z: 0.5 * z * (1 + torch.erf(z / math.sqrt(2)))),
    "swish": Activation("swish", lambda z: z * torch.sigmoid(z)),
    "sigmoid": Activation("sigmoid", torch.sigmoid),
}


def get_activation(act: str | Activation | Callable) -> Activation:
    """An ``Activation`` from a name in ``ACTIVATIONS``, an ``Activation`` or any elementwise torch function."""
    if isinstance(act, Activation):
        return act
    if isinstance(act, str):
        if act not in ACTIVATIONS:
            from paperzoo.names import did_you_mean

            raise KeyError(f"unknown activation {act!r}{did_you_mean(act, list(ACTIVATIONS))}")
        return ACTIVATIONS[act]
    if callable(act):
        return Activation(getattr(act, "__name__", "custom"), act)
    raise TypeError(f"act must be a name, an Activation or a callable, got {type(act).__name__}")


def derivative(act: str | Activation | Callable, z: torch.Tensor, order: int = 1) -> torch.Tensor:
    """d^order sigma / dz^order at ``z`` (elementwise, by autograd; ReLU's derivative at 0 is 0)."""
    f = get_activation(act)
    with torch.enable_grad():
        x = z.detach().clone().requires_grad_(True)
        y = f(x)
        for k in range(order):
            if not y.requires_grad:                  # a polynomial of degree < order: the rest is 0
                return torch.zeros_like(x).detach()
            (y,) = torch.autograd.grad(y.sum(), x, create_graph=k < order - 1)
    return y.detach()


def taylor(act: str | Activation | Callable) -> tuple[float, float, float, float]:
    """(sigma_0, sigma_1, sigma_2, sigma_3): sigma(z) = sigma_0 + sigma_1 z + sigma_2 z^2/2 + sigma_3 z^3/6 + ...
    (the book's Taylor coefficients at z = 0, ch. 5), by autograd in float64."""
    z = torch.zeros(1, dtype=torch.float64)
    f = get_activation(act)
    return (float(f(z)),) + tuple(float(derivative(f, z, k)) for k in (1, 2, 3))


def gauss_legendre(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights of the n-point Gauss-Legendre rule on [-1, 1] (Golub-Welsch, float64)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    k = torch.arange(1, n, dtype=torch.float64)
    beta = k / torch.sqrt(4 * k * k - 1)
    nodes, vecs = torch.linalg.eigh(torch.diag(beta, 1) + torch.diag(beta, -1))
    return nodes, 2 * vecs[0] ** 2


def _panels(lo: torch.Tensor, hi: torch.Tensor, n: int, parts: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite rule on [lo, hi] (batched: lo, hi of shape (...,)), ``parts`` equal panels of n nodes.
    Returns nodes, weights of shape (..., parts * n) (weights already include the Lebesgue measure)."""
    x, w = gauss_legendre(n)
    edges = lo[..., None] + (hi - lo)[..., None] * torch.linspace(0, 1, parts + 1, dtype=torch.float64)
    a, b = edges[..., :-1, None], edges[..., 1:, None]          # (..., parts, 1)
    nodes = (a + b) / 2 + (b - a) / 2 * x
    weights = (b - a) / 2 * w * torch.ones_like(nodes)
    return nodes.flatten(-2), weights.flatten(-2)


def std_normal_rule(n: int = _NODES) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes u_i and weights w_i with sum_i w_i g(u_i) = E g(u), u ~ N(0, 1), exact to float64 for functions
    smooth on either side of 0 (panels with breakpoints at 0, +-1.5, +-3, +-6, truncated at +-12)."""
    b = torch.tensor(_BREAKS, dtype=torch.float64)
    u, w = _panels(b[:-1], b[1:], n, 1)
    u, w = u.flatten(), w.flatten()
    return u, w * torch.exp(-u * u / 2) / math.sqrt(2 * math.pi)


def _as_tensor(K) -> torch.Tensor:
    K = torch.as_tensor(K, dtype=torch.float64)
    if torch.isnan(K).any() or (K < 0).any():
        raise ValueError(f"kernel K must be >= 0 (a variance), got {K}")
    return K


def gaussian_expect(f: Callable[[torch.Tensor], torch.Tensor], K, *, n: int = _NODES) -> torch.Tensor:
    """<f(z)>_K = E f(z), z ~ N(0, K); K a float or a tensor of variances (the result has K's shape).
    ``f`` maps a float64 tensor elementwise (an ``Activation``, or e.g. ``lambda z: sigma(z) ** 2``)."""
    K = _as_tensor(K)
    u, w = std_normal_rule(n)
    return (f(K.sqrt()[..., None] * u) * w).sum(-1)


def gaussian_expect2(f: Callable, g: Callable, K_aa, K_ab, K_bb, *, n: int = 20, parts: int = 2) -> torch.Tensor:
    """<f(z_a) g(z_b)>_K over the 2 x 2 block [[K_aa, K_ab], [K_ab, K_bb]] (broadcast tensors of equal shape).

    z_a = sqrt(K_aa) u, z_b = sqrt(K_bb) (rho u + s w) with rho = K_ab / sqrt(K_aa K_bb), s = sqrt(1 - rho^2),
    u, w iid N(0, 1). The outer integral over u uses ``std_normal_rule``; the inner over w is split at
    w* = -rho u / s (where z_b changes sign), each side in ``parts`` Gauss-Legendre panels.
    """
    K_aa, K_ab, K_bb = torch.broadcast_tensors(_as_tensor(K_aa), torch.as_tensor(K_ab, dtype=torch.float64),
                                               _as_tensor(K_bb))
    sa, sb = K_aa.sqrt(), K_bb.sqrt()
    rho = torch.where(sa * sb > 0, K_ab / (sa * sb).clamp_min(1e-300), torch.zeros_like(K_ab))
    if (rho.abs() > 1 + 1e-9).any():
        raise ValueError("gaussian_expect2: the 2 x 2 block is not positive semi-definite (|K_ab| > sqrt(K_aa K_bb))")
    rho = rho.clamp(-1, 1)
    s = (1 - rho * rho).clamp_min(0).sqrt()
    u, wu = std_normal_rule(n)                                       # (U,)
    shape = K_aa.shape + (len(u),)
    ww = torch.where(s[..., None] > 0, -rho[..., None] * u / s[..., None].clamp_min(1e-300),
                     torch.zeros(shape, dtype=torch.float64)).clamp(-TAIL, TAIL)
    lo, hi = torch.full(shape, -TAIL, dtype=torch.float64), torch.full(shape, TAIL, dtype=torch.float64)
    w1, v1 = _panels(lo, ww, n, parts)
    w2, v2 = _panels(ww, hi, n, parts)
    w, v = torch.cat([w1, w2], -1), torch.cat([v1, v2], -1)          # (..., U, 2 * parts * n)
    v = v * torch.exp(-w * w / 2) / math.sqrt(2 * math.pi)
    za = sa[..., None] * u                                            # (..., U)
    zb = sb[..., None, None] * (rho[..., None, None] * u[:, None] + s[..., None, None] * w)
    inner = (g(zb) * v).sum(-1)                                       # (..., U)
    return (f(za) * inner * wu).sum(-1)
