"""Finite-width simulation: ensembles of random MLPs at initialisation (book ch. 4-5: the 1/n corrections).

``random_preactivations`` draws ``n_nets`` independent width-n networks with the book's initialisation
(W ~ N(0, C_W / n_{l-1}), b ~ N(0, C_b)) and returns z^(l) for one input at every layer; the statistics are over
the initialisation ensemble (card pitfall: "use many independent networks"). ``excess_kurtosis`` pools the
exchangeable neurons of each layer. ``exact_kurtosis_scale_invariant`` is an exact finite-width result for the
scale-invariant class at C_b = 0 (ours, derived below; the book's leading order is its 1/n term).
"""
from __future__ import annotations

import math

import torch

from paperzoo.papers.deep_learning_theory.gaussian import gaussian_expect, get_activation

__all__ = ["exact_kurtosis_scale_invariant", "excess_kurtosis", "fit_slope_through_origin", "random_preactivations",
           "unit_input"]


def unit_input(n0: int, generator: torch.Generator | None = None, dtype=torch.float64) -> torch.Tensor:
    """One input x in R^{n0} with |x|^2 / n0 = 1 exactly (the card's setting: K^(1) = C_b + C_W)."""
    x = torch.randn(n0, generator=generator, dtype=dtype)
    return x * math.sqrt(n0) / x.norm()


def random_preactivations(act, x: torch.Tensor, depth: int, width: int, n_nets: int, C_b: float, C_W: float, *,
                          generator: torch.Generator | None = None, chunk: int = 1000,
                          dtype=torch.float32) -> torch.Tensor:
    """z^(1..depth) of ``n_nets`` independent random MLPs of ``width`` on one input ``x`` (n0,): (depth, n_nets, width).

    Layer 1: z = b + W x with W (width, n0) ~ N(0, C_W / n0); layer l+1: z = b + W sigma(z) with W ~ N(0, C_W / width);
    b ~ N(0, C_b). Networks are simulated ``chunk`` at a time as batched matrix products (no loop over networks
    beyond the chunks)."""
    f = get_activation(act)
    if x.ndim != 1:
        raise ValueError(f"x must be one input (n0,), got shape {tuple(x.shape)}")
    if min(depth, width, n_nets, chunk) < 1:
        raise ValueError(f"depth, width, n_nets, chunk must be >= 1, got {depth}, {width}, {n_nets}, {chunk}")
    if C_W <= 0 or C_b < 0:
        raise ValueError(f"need C_W > 0 and C_b >= 0, got C_b={C_b}, C_W={C_W}")
    out = torch.empty(depth, n_nets, width, dtype=dtype)
    x = x.to(dtype)
    for s in range(0, n_nets, chunk):
        B = min(chunk, n_nets - s)
        W = torch.randn(B, width, len(x), generator=generator, dtype=dtype) * math.sqrt(C_W / len(x))
        z = W @ x + math.sqrt(C_b) * torch.randn(B, width, generator=generator, dtype=dtype)
        out[0, s:s + B] = z
        for layer in range(1, depth):
            W = torch.randn(B, width, width, generator=generator, dtype=dtype) * math.sqrt(C_W / width)
            z = (W @ f(z)[..., None])[..., 0] + math.sqrt(C_b) * torch.randn(B, width, generator=generator, dtype=dtype)
            out[layer, s:s + B] = z
    return out


def excess_kurtosis(z: torch.Tensor) -> torch.Tensor:
    """E z^4 / (E z^2)^2 - 3 over the last two axes (networks x neurons, pooled), raw moments (E z = 0 by symmetry).
    (depth, n_nets, width) -> (depth,). Equals 3 V / (n K^2) to leading order (card)."""
    z = z.double()
    m2 = (z * z).mean((-2, -1))
    m4 = (z ** 4).mean((-2, -1))
    return m4 / (m2 * m2) - 3


def exact_kurtosis_scale_invariant(act, depth: int, width: int) -> torch.Tensor:
    """Exact excess kurtosis at layers 1..depth for a scale-invariant sigma at criticality (C_b = 0, C_W = 1/A_2),
    one input, all hidden widths n (ours, derived; not a book formula):

    given layer l, z^(l+1) is Gaussian with variance K_{l+1} = (C_W / n) sum_i sigma(z_i^(l))^2, and the n terms are
    iid given K_l, so E[K_{l+1}^2 | K_l] = K_l^2 (1 + c / n) with c = C_W^2 Var[sigma(u)^2], u ~ N(0, 1) (c = 5 for
    ReLU, 2 for linear). Hence E z^4 / (E z^2)^2 = 3 (1 + c/n)^(l-1) exactly; its 1/n term is the book's
    3 V^(l) / (n K^2) = 3 c (l - 1) / n."""
    f = get_activation(act)
    if f.a_plus is None:
        raise ValueError(f"{f.name}: the exact formula holds for scale-invariant activations only")
    A2 = (f.a_plus ** 2 + f.a_minus ** 2) / 2
    m2 = gaussian_expect(lambda z: f(z) ** 2, 1.0)
    m4 = gaussian_expect(lambda z: f(z) ** 4, 1.0)
    c = (m4 - m2 * m2) / A2 ** 2
    l = torch.arange(1, depth + 1, dtype=torch.float64)
    return 3 * ((1 + c / width) ** (l - 1) - 1)


def fit_slope_through_origin(x, y) -> float:
    """Least-squares slope of y = s x (no intercept): sum x y / sum x^2."""
    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    if x.shape != y.shape or len(x) == 0 or float((x * x).sum()) == 0:
        raise ValueError("fit_slope_through_origin needs equal-length x, y with some x != 0")
    return float((x * y).sum() / (x * x).sum())
