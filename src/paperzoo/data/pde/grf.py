"""Gaussian random fields: the input functions of operator-learning data sets.

``GRF1D`` follows DeepONet's ``spaces.py`` (card "Data generation", source-checked): a field on an
``n_grid``-point grid of ``[0, T]`` with the squared-exponential kernel ``k(x, x') = exp(-(x - x')^2 / (2 l^2))``
(or Matern-1/2, ``exp(-|x - x'| / l)``), unit variance, evaluated elsewhere by cubic interpolation. The
covariance is factorised once by a symmetric eigendecomposition with negative eigenvalues clipped to 0
(the card's pitfall: the 1000-point RBF matrix is singular to working precision; the official code adds a
1e-13 jitter to a Cholesky factor, which gives the same field up to that jitter).

``grf2d`` samples ``g ~ N(0, (-Laplace + tau^2 I)^{-alpha})`` spectrally (FNO's Darcy recipe, as the MgNO card
writes it): a cosine series for zero-Neumann fields, a Fourier series for periodic ones.
"""
from __future__ import annotations

import functools
import math

import torch

_KERNELS = ("rbf", "matern12")


@functools.lru_cache(maxsize=16)
def _factor(length_scale: float, n_grid: int, T: float, kernel: str) -> torch.Tensor:
    x = torch.linspace(0.0, T, n_grid, dtype=torch.float64)
    d = x[:, None] - x[None, :]
    k = torch.exp(-0.5 * (d / length_scale) ** 2) if kernel == "rbf" else torch.exp(-d.abs() / length_scale)
    s, v = torch.linalg.eigh(k)
    return v * s.clamp_min(0.0).sqrt()  # L with L L^T = K (up to the clipped round-off)


class GRF1D:
    """``GRF1D(length_scale=0.2, n_grid=1000, T=1.0, kernel="rbf")``: ``sample(n, gen)`` -> (n, n_grid) float64
    values on ``self.x``; ``eval(samples, x)`` -> (n, len(x)) by not-a-knot cubic splines (scipy)."""

    def __init__(self, length_scale: float = 0.2, n_grid: int = 1000, T: float = 1.0, kernel: str = "rbf"):
        if length_scale <= 0 or n_grid < 4 or T <= 0:
            raise ValueError(f"GRF1D: need length_scale > 0, n_grid >= 4, T > 0; got {length_scale}, {n_grid}, {T}")
        if kernel not in _KERNELS:
            raise ValueError(f"GRF1D: kernel must be one of {_KERNELS}, got {kernel!r}")
        self.length_scale, self.n_grid, self.T, self.kernel = float(length_scale), int(n_grid), float(T), kernel
        self.x = torch.linspace(0.0, self.T, self.n_grid, dtype=torch.float64)

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        L = _factor(self.length_scale, self.n_grid, self.T, self.kernel)
        return torch.randn(n, self.n_grid, generator=gen, dtype=torch.float64) @ L.T

    def spline(self, samples: torch.Tensor):
        """``scipy.interpolate.CubicSpline`` through every sample (axis 1), as DeepONet's ``interp1d(kind='cubic')``."""
        from scipy.interpolate import CubicSpline

        return CubicSpline(self.x.numpy(), samples.double().numpy(), axis=1)

    def eval(self, samples: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Values at ``x`` (P,) for every sample -> (n, P)."""
        return torch.from_numpy(self.spline(samples)(x.double().numpy()))


def grf2d(n: int, res: int, gen: torch.Generator, *, alpha: float = 2.0, tau: float = 3.0,
          bc: str = "neumann") -> torch.Tensor:
    """``(n, res, res)`` samples of ``N(0, (-Laplace + tau^2)^{-alpha})`` on the unit square, zero mode removed.

    ``bc="neumann"``: ``sum_k xi_k tau^{alpha - 1} (pi^2 |k|^2 + tau^2)^{-alpha / 2} cos(pi k1 x) cos(pi k2 y)`` on the
    cell-centred grid, k1, k2 < res (MgNO card, FNO recipe). ``bc="periodic"``: the same weights on the Fourier
    modes of the torus ``[0, 1)^2`` (wavenumbers 2 pi k), real field.
    """
    if n < 1 or res < 2 or bc not in ("neumann", "periodic"):
        raise ValueError(f"grf2d: need n >= 1, res >= 2 and bc in ('neumann', 'periodic'); got {n}, {res}, {bc!r}")
    if bc == "neumann":
        k = torch.arange(res, dtype=torch.float64)
        lam = math.pi ** 2 * (k[:, None] ** 2 + k[None, :] ** 2)
        coef = tau ** (alpha - 1) * (lam + tau ** 2) ** (-alpha / 2)
        coef[0, 0] = 0.0
        xi = torch.randn(n, res, res, generator=gen, dtype=torch.float64) * coef
        x = (torch.arange(res, dtype=torch.float64) + 0.5) / res
        c = torch.cos(math.pi * k[:, None] * x[None, :])  # (k, x)
        return torch.einsum("ka,nkl,lb->nab", c, xi, c)
    k = torch.fft.fftfreq(res, 1.0 / res).double()
    lam = 4 * math.pi ** 2 * (k[:, None] ** 2 + k[None, :] ** 2)
    coef = tau ** (alpha - 1) * (lam + tau ** 2) ** (-alpha / 2)
    coef[0, 0] = 0.0
    xi = torch.complex(torch.randn(n, res, res, generator=gen, dtype=torch.float64),
                       torch.randn(n, res, res, generator=gen, dtype=torch.float64))
    return torch.fft.ifft2(xi * coef, norm="forward").real
