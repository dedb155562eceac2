"""Candidate activation spaces of S-KAN: univariate basis families, each ``(B, n) -> (B, n, K)``.

A KAN edge function in family F is ``phi(x) = sum_b c_b B^F_b(x)`` (card: "Base KAN layer").
Every basis here is evaluated for all inputs and all basis functions at once (tensor ops over
the whole batch; the only Python loops run over the spline order or the polynomial degree).
Defaults follow the authors' companion library ``SeriYann/KANConv2d`` (``convKAN/KANlayers.py``,
``convKAN/utils.py``) unless said otherwise.

The wavelet family (Wav-KAN) is not a fixed basis: each edge has its own scale and translation,
so ``WaveletBasis`` only evaluates the mother wavelet ``psi(u)``; ``KANLayer`` applies it per edge.
"""
from __future__ import annotations

import builtins
import functools
import math

import numpy as np
import torch
from torch import nn

from paperzoo.names import did_you_mean

FAMILIES = ("bspline", "rbf", "chebyshev", "wavelet", "jacobi", "relu", "rswaf")


def _check_input(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() < 1 or not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating tensor (..., n), got "
                        f"{type(x).__name__ if not isinstance(x, torch.Tensor) else (x.dtype, tuple(x.shape))}")


class BSplineBasis(nn.Module):
    """B-splines of order ``order`` on a uniform grid of ``grid`` cells over ``range``, extended by
    ``order`` cells on each side (efficient-KAN / pykan knot layout): ``grid + order`` bases.

    Cox-de Boor recursion, evaluated for every input and knot at once:
    ``B_{i,0}(x) = [t_i <= x < t_{i+1}]``,
    ``B_{i,p}(x) = (x - t_i)/(t_{i+p} - t_i) B_{i,p-1}(x) + (t_{i+p+1} - x)/(t_{i+p+1} - t_{i+1}) B_{i+1,p-1}(x)``.
    Sums to 1 on ``range`` (partition of unity); zero outside the extended grid.
    Defaults grid 5, order 3, range (-1, 1): card / efficient-KAN ``KANLinear``.
    """

    def __init__(self, grid: int = 5, order: int = 3, range: tuple[float, float] = (-1.0, 1.0)):
        super().__init__()
        if grid < 1 or order < 0:
            raise ValueError(f"BSplineBasis: need grid >= 1 and order >= 0, got grid={grid}, order={order}")
        lo, hi = float(range[0]), float(range[1])
        if not hi > lo:
            raise ValueError(f"BSplineBasis: range must satisfy lo < hi, got {range}")
        self.grid, self.order, self.range = int(grid), int(order), (lo, hi)
        h = (hi - lo) / grid
        knots = lo + h * torch.arange(-order, grid + order + 1, dtype=torch.float64)
        self.register_buffer("knots", knots, persistent=False)  # float64; cast to the input dtype
        for p in builtins.range(1, order + 1):  # 1 / (t_{i+p} - t_i), i = 0 .. G + 2k - p
            self.register_buffer(f"inv{p}", 1.0 / (knots[p:] - knots[:-p]), persistent=False)
        self.n_basis = grid + order

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, "BSplineBasis")
        if self.order >= 1 and torch.compiler.is_compiling():  # one fused loop for inductor (see dense_uniform_bspline)
            return self.dense(x)
        return _UniformBSplineFn.apply(x, None, self.range[0], (self.range[1] - self.range[0]) / self.grid, self.grid,
                                       self.order)

    def with_first(self, x: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        """``cat([first[..., None], self(x)], -1)`` built in one buffer (the KAN layer's base branch rides
        along: one matmul per layer instead of two)."""
        _check_input(x, "BSplineBasis")
        if first.shape != x.shape:
            raise ValueError(f"BSplineBasis.with_first: first must have x's shape {tuple(x.shape)}, got {tuple(first.shape)}")
        return _UniformBSplineFn.apply(x, first, self.range[0], (self.range[1] - self.range[0]) / self.grid, self.grid,
                                       self.order)

    def dense(self, x: torch.Tensor, basis_dim: int = -1) -> torch.Tensor:
        """The same values as ``self(x)`` from the closed form ``dense_uniform_bspline`` (``order >= 1``)."""
        _check_input(x, "BSplineBasis")
        return dense_uniform_bspline(x, self.range[0], (self.range[1] - self.range[0]) / self.grid, self.grid,
                                     self.order, basis_dim=basis_dim)


def cox_de_boor(x: torch.Tensor, knots: torch.Tensor, invs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """B-splines of order ``len(invs)`` at every ``x`` (..., n) and knot: ``(B (..., n, K), c)`` where
    ``c_i = B_{i,k-1} / (t_{i+k} - t_i)`` (None for order 0) gives the derivative ``k (c_i - c_{i+1})``.
    Any knot vector; the reference for ``uniform_bspline`` (tests) and for non-uniform grids."""
    d = x.unsqueeze(-1) - knots  # x - t_i for every knot: (..., n, G + 2k + 1)
    b = ((d[..., :-1] >= 0) & (d[..., 1:] < 0)).to(x.dtype)  # order 0: t_i <= x < t_{i+1}
    c = None
    for p, inv in enumerate(invs, start=1):
        # B_{i,p} = (x - t_i) c_i - (x - t_{i+p+1}) c_{i+1},  c_i = B_{i,p-1} / (t_{i+p} - t_i)
        c = b * inv
        b = d[..., :-(p + 1)] * c[..., :-1] - d[..., p + 1:] * c[..., 1:]
    return b, c


@functools.lru_cache(maxsize=None)
def _uniform_poly(order: int) -> torch.Tensor:
    """``P`` (order + 1, order + 1), float64: in a cell, ``B_{c-order+r}(u) = sum_p u^p P[p, r]`` on a uniform grid.

    Built exactly from the de Boor triangle (Piegl & Tiller, *The NURBS Book*, A2.2) with polynomial
    entries: uniform knots make its denominators the constants ``j``, so
    ``N^j_r = (r + 1 - u) N^{j-1}_r / j + (u + j - r) N^{j-1}_{r-1} / j`` with ``N^j_r = B_{c-j+r, j}``.
    """
    n = [np.array([1.0])]  # N^0_0 = 1, polynomials in u as coefficient arrays (ascending powers)
    for j in builtins.range(1, order + 1):
        new = []
        for r in builtins.range(j + 1):
            acc = np.zeros(j + 1)
            if r < j:  # (r + 1 - u) N_r / j
                acc[:j] += (r + 1) * n[r] / j
                acc[1:j + 1] -= n[r] / j
            if r > 0:  # (u + j - r) N_{r-1} / j
                acc[:j] += (j - r) * n[r - 1] / j
                acc[1:j + 1] += n[r - 1] / j
            new.append(acc)
        n = new
    return torch.tensor(np.stack(n, 1), dtype=torch.float64)


def uniform_bspline(x: torch.Tensor, lo: float, h: float, grid: int, order: int, *, deriv: bool = True
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The ``order + 1`` B-splines that can be nonzero at each ``x`` on the uniform extended grid
    ``t_i = lo + (i - order) h`` (cells ``0 .. grid + 2 order - 1``): ``(idx, w, dw)``, each ``(order + 1, *x.shape)``:
    basis indices (outside ``0 .. grid + order - 1`` where the basis does not exist or ``x`` is off the grid),
    the values and their x-derivatives ``dB/dx = (dB/du) / h``.

    In cell ``c`` (``t_c <= x < t_{c+1}``, ``u = (x - t_c) / h``) the values are the polynomials
    ``_uniform_poly`` of ``u`` (Horner's rule): O(order^2) work per input instead of O(order (grid + order))
    for the full Cox-de Boor table (``cox_de_boor`` stays the reference). The ``order + 1`` axis leads so
    that every elementwise op runs over contiguous rows of inputs.
    """
    n_cells = grid + 2 * order
    t = torch.nan_to_num((x - lo) * (1.0 / h) + order, nan=-1.0).clamp_(-1.0, float(n_cells))  # off grid: -1 / n_cells
    c = torch.floor(t)
    u = t - c
    col = (order + 1,) + (1,) * x.dim()
    p = _uniform_poly(order).to(device=x.device, dtype=x.dtype).unsqueeze(-1)  # (power, r, 1)
    w = p[order].view(col).expand(order + 1, *x.shape)
    for q in builtins.range(order - 1, -1, -1):
        w = torch.addcmul(p[q].view(col), w, u)
    dw = None
    if deriv and order > 0:
        dp = p[1:] * torch.arange(1, order + 1, dtype=x.dtype, device=x.device).view(-1, 1, 1) / h
        dw = dp[order - 1].view(col).expand_as(w)
        for q in builtins.range(order - 2, -1, -1):
            dw = torch.addcmul(dp[q].view(col), dw, u)
    idx = (c - order).long() + torch.arange(order + 1, device=x.device).view(col)
    return idx, w, dw


def dense_uniform_bspline(x: torch.Tensor, lo: float, h: float, grid: int, order: int, *, basis_dim: int = -1
                          ) -> torch.Tensor:
    """All ``grid + order`` B-splines at every ``x`` (..., n), as one broadcast expression in ``x`` (differentiable by
    autograd; ``order >= 1``): ``(..., n, grid + order)``, or ``(..., grid + order, n)`` with ``basis_dim=-2``.
    The path taken under ``torch.compile``, where inductor fuses it into a single loop (``basis_dim=-2`` keeps the
    inputs as the contiguous, vectorised axis); eagerly the local form (``uniform_bspline`` + one scatter) is faster
    because it makes fewer passes over memory.

    On the uniform grid ``t_j = lo + (j - order) h`` every basis is the centred cardinal B-spline
    ``B_j(x) = M_k(|(x - lo)/h + (k - 1)/2 - j|)``, ``k = order``, in its symmetric truncated-power form
    ``M_k(a) = (1/k!) sum_{i < (k+1)/2} (-1)^i C(k+1, i) ((k+1)/2 - i - a)_+^k``
    (de Boor, *A Practical Guide to Splines*, ch. IX; from the two-sided form by symmetry). Only the terms whose
    knot lies on the near side of the centre appear, so there is no large cancellation: for the cubic,
    ``M_3(a) = (2 - a)_+^3 / 6 - 2 (1 - a)_+^3 / 3``.
    """
    if order < 1:
        raise ValueError(f"dense_uniform_bspline: order must be >= 1, got {order}")
    if basis_dim not in (-1, -2):
        raise ValueError(f"dense_uniform_bspline: basis_dim must be -1 or -2, got {basis_dim}")
    k = int(order)
    centre = ((x - lo) * (1.0 / h) + (k - 1) / 2.0).unsqueeze(basis_dim)
    j = torch.arange(grid + k, dtype=x.dtype, device=x.device)
    a = (centre - (j if basis_dim == -1 else j.unsqueeze(-1))).abs()
    out = None
    for i in builtins.range(math.ceil((k + 1) / 2)):
        term = ((k + 1) / 2.0 - i - a).clamp_min(0.0) ** k * ((-1) ** i * math.comb(k + 1, i) / math.factorial(k))
        out = term if out is None else out + term
    return out


class _UniformBSplineFn(torch.autograd.Function):
    """Dense basis ``(..., n, [1 +] grid + order)`` from the local values by one scatter into a flat buffer whose
    last slot collects the bases that do not exist; with ``first`` given, column 0 holds it (KAN's base branch,
    so the layer does one matmul). Backward: gather the incoming gradient at the same slots, weight by ``dB/dx``."""

    @staticmethod
    def forward(ctx, x, first, lo, h, grid, order):
        idx, w, dw = uniform_bspline(x, lo, h, grid, order, deriv=x.requires_grad)
        k = grid + order
        lead = 0 if first is None else 1
        cols, rows = k + lead, x.numel()
        buf = torch.zeros(rows * cols + 1, dtype=x.dtype, device=x.device)
        out = buf[:-1].view(*x.shape, cols)
        if first is not None:
            out[..., 0] = first
        base = (torch.arange(0, rows * cols, cols, device=x.device) + lead).view(x.shape)
        slot = torch.where((idx >= 0) & (idx < k), base + idx, rows * cols)
        buf.scatter_(0, slot.reshape(-1), w.reshape(-1))
        if dw is not None:
            ctx.save_for_backward(slot, dw)
        ctx.lead = lead
        return out

    @staticmethod
    def backward(ctx, grad):
        gx = gfirst = None
        if ctx.needs_input_grad[0] and ctx.saved_tensors:
            slot, dw = ctx.saved_tensors
            flat = torch.cat([grad.reshape(-1), grad.new_zeros(1)])
            gx = (torch.take(flat, slot) * dw).sum(0)
        if ctx.lead and ctx.needs_input_grad[1]:
            gfirst = grad[..., 0]
        return gx, gfirst, None, None, None, None


class RBFBasis(nn.Module):
    """Gaussian radial basis (FastKAN): ``B_b(x) = exp(-((x - mu_b) / h)^2)``, ``n`` centres ``mu_b``
    evenly on ``range``, ``h = (hi - lo) / (n - 1)``. Defaults n 8 on (-2, 2): library ``FastKANLayer``."""

    def __init__(self, n: int = 8, range: tuple[float, float] = (-2.0, 2.0), h: float | None = None):
        super().__init__()
        if n < 2:
            raise ValueError(f"RBFBasis: need n >= 2 centres, got {n}")
        lo, hi = float(range[0]), float(range[1])
        self.register_buffer("centres", torch.linspace(lo, hi, n, dtype=torch.float64), persistent=False)
        self.h = float(h) if h is not None else (hi - lo) / (n - 1)
        self.n_basis = int(n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, "RBFBasis")
        return torch.exp(-((x.unsqueeze(-1) - self.centres.to(x.dtype)) / self.h) ** 2)


def _squash(x: torch.Tensor, squash: str) -> torch.Tensor:
    return torch.clamp(x, -1.0, 1.0) if squash == "clamp" else torch.tanh(x)


def _check_squash(squash: str, who: str) -> None:
    if squash not in ("clamp", "tanh"):
        raise ValueError(f"{who}: squash must be 'clamp' or 'tanh', got {squash!r}")


class ChebyshevBasis(nn.Module):
    """Chebyshev polynomials ``T_k(x) = cos(k arccos x)``, k = 0..degree (ChebyKAN), computed by the
    recurrence ``T_{k+1} = 2x T_k - T_{k-1}`` (same values, finite gradients at x = +-1).
    ``squash``: 'clamp' to [-1, 1] (library default) or 'tanh'. Default degree 4: library README."""

    def __init__(self, degree: int = 4, squash: str = "clamp"):
        super().__init__()
        if degree < 0:
            raise ValueError(f"ChebyshevBasis: degree must be >= 0, got {degree}")
        _check_squash(squash, "ChebyshevBasis")
        self.degree, self.squash, self.n_basis = int(degree), squash, int(degree) + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, "ChebyshevBasis")
        x = _squash(x, self.squash)
        ts = [torch.ones_like(x), x]
        for _ in range(2, self.degree + 1):
            ts.append(2 * x * ts[-1] - ts[-2])
        return torch.stack(ts[:self.degree + 1], dim=-1)


class JacobiBasis(nn.Module):
    """Jacobi polynomials ``P_k^{(a, b)}(tanh x)``, k = 0..degree (JacobiKAN), by the library's
    three-term recurrence. Defaults a = b = 1, degree 4 (library README)."""

    def __init__(self, degree: int = 4, a: float = 1.0, b: float = 1.0):
        super().__init__()
        if degree < 0:
            raise ValueError(f"JacobiBasis: degree must be >= 0, got {degree}")
        self.degree, self.a, self.b, self.n_basis = int(degree), float(a), float(b), int(degree) + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, "JacobiBasis")
        a, b = self.a, self.b
        x = torch.tanh(x)
        ps = [torch.ones_like(x), ((a - b) + (a + b + 2) * x) / 2]
        for i in range(2, self.degree + 1):
            s = 2 * i + a + b
            k1 = s * (s - 1) / (2 * i * (i + a + b))
            k2 = (s - 1) * (a * a - b * b) / (2 * i * (i + a + b) * (s - 2))
            k3 = (i + a - 1) * (i + b - 1) * s / (i * (i + a + b) * (s - 2))
            ps.append((k1 * x + k2) * ps[-1] - k3 * ps[-2])
        return torch.stack(ps[:self.degree + 1], dim=-1)


class ReLUKANBasis(nn.Module):
    """ReLU-KAN: ``B_b(x) = (r relu(x - s_b) relu(e_b - x))^2`` with ``s_b = b/g`` for b = -k..g-1,
    ``e_b = s_b + (k + 1)/g`` and ``r = 4 g^2 / (k + 1)^2`` (peak 1). Defaults g 5, k 3 (card)."""

    def __init__(self, g: int = 5, k: int = 3):
        super().__init__()
        if g < 1 or k < 0:
            raise ValueError(f"ReLUKANBasis: need g >= 1 and k >= 0, got g={g}, k={k}")
        start = torch.arange(-k, g, dtype=torch.float64) / g
        self.register_buffer("start", start, persistent=False)
        self.register_buffer("end", start + (k + 1) / g, persistent=False)
        self.r = 4.0 * g * g / ((k + 1) ** 2)
        self.g, self.k, self.n_basis = int(g), int(k), int(g) + int(k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, "ReLUKANBasis")
        xu = x.unsqueeze(-1)
        return (self.r * torch.relu(xu - self.start.to(x.dtype)) * torch.relu(self.end.to(x.dtype) - xu)) ** 2


class RSWAFBasis(nn.Module):
    """Reflectional switch (FasterKAN): ``B_b(x) = 1 - tanh((x - mu_b) d)^2``, ``n`` centres on
    ``range``, ``d`` the inverse denominator. Defaults n 8 on (-1.2, 0.2), d 0.5: library."""

    def __init__(self, n: int = 8, range: tuple[float, float] = (-1.2, 0.2), inv_denominator: float = 0.5):
        super().__init__()
        if n < 1:
            raise ValueError(f"RSWAFBasis: need n >= 1, got {n}")
        centres = torch.linspace(float(range[0]), float(range[1]), n, dtype=torch.float64)
        self.register_buffer("centres", centres, persistent=False)
        self.inv_denominator, self.n_basis = float(inv_denominator), int(n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, "RSWAFBasis")
        return 1 - torch.tanh((x.unsqueeze(-1) - self.centres.to(x.dtype)) * self.inv_denominator) ** 2


WAVELETS = ("mexican_hat", "morlet", "dog")


class WaveletBasis(nn.Module):
    """Mother wavelets of Wav-KAN, applied elementwise to ``u = (x - t)/s`` (per edge, in ``KANLayer``).

    mexican_hat: ``2/(sqrt(3) pi^{1/4}) (u^2 - 1) exp(-u^2/2)`` (library sign; default, card),
    morlet: ``cos(5u) exp(-u^2/2)``, dog: ``-u exp(-u^2/2)``.
    """

    per_edge = True

    def __init__(self, kind: str = "mexican_hat"):
        super().__init__()
        if kind not in WAVELETS:
            raise ValueError(f"WaveletBasis: kind must be one of {WAVELETS}, got {kind!r}")
        self.kind, self.n_basis = kind, 1

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        _check_input(u, "WaveletBasis")
        env = torch.exp(-0.5 * u * u)
        if self.kind == "mexican_hat":
            return (2.0 / (math.sqrt(3.0) * math.pi ** 0.25)) * (u * u - 1) * env
        if self.kind == "morlet":
            return torch.cos(5.0 * u) * env
        return -u * env


_BASES = {"bspline": BSplineBasis, "rbf": RBFBasis, "chebyshev": ChebyshevBasis, "wavelet": WaveletBasis,
          "jacobi": JacobiBasis, "relu": ReLUKANBasis, "rswaf": RSWAFBasis}


def make_basis(family: str | nn.Module, **kwargs) -> nn.Module:
    """A basis module from a family name (``FAMILIES``) and its keyword defaults, or pass one through."""
    if isinstance(family, nn.Module):
        if kwargs:
            raise ValueError("make_basis: keyword arguments only go with a family name, not a basis module")
        return family
    if family not in _BASES:
        raise ValueError(f"unknown basis family {family!r}{did_you_mean(family, FAMILIES)} (have {', '.join(FAMILIES)})")
    return _BASES[family](**kwargs)
