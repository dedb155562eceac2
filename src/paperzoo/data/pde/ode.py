"""DeepONet's 1-D operators (card ``deeponet``, "Data generation", source-checked against ``src/system.py``).

Input functions ``u`` are ``GRF1D`` samples; a data set is ``(u at m equispaced sensors, query points y, G(u)(y))``.

* antiderivative ``G(u)(y) = int_0^y u(x) dx``: integrated exactly from the cubic spline that interpolates the
  1000-point sample (the card's recipe: faster and more accurate than per-triplet ``solve_ivp``);
* nonlinear ODE ``ds/dx = -s^2 + u(x)``, ``s(0) = 0``: classic RK4 over all functions at once with step
  ``2 / (n_grid - 1)``, so every stage point lies on the GRF grid (no interpolation inside the integrator), then
  cubic interpolation of ``s`` at ``y``. Functions whose solution blows up before ``x = 1`` (about 1 in 2000 at
  l = 0.2) are redrawn from the same generator.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from paperzoo.data.pde.grf import GRF1D


@dataclass
class OperatorData:
    """``u`` (n, m) sensor values, ``y`` (n, P, d) query points, ``s`` (n, P) operator values; float64."""

    u: torch.Tensor
    y: torch.Tensor
    s: torch.Tensor

    def __len__(self) -> int:
        return len(self.u)


def _check(n: int, m: int, points: int) -> None:
    if n < 1 or m < 2 or points < 1:
        raise ValueError(f"need n >= 1 functions, m >= 2 sensors and points >= 1; got n={n}, m={m}, points={points}")


def ppoly_at(pp, y: torch.Tensor) -> torch.Tensor:
    """Evaluate a scipy ``PPoly`` built along axis 1 of (n, G) data, function ``i`` at its own points ``y[i]`` (n, P):
    O(n P) instead of the O(n^2 P) of ``pp(y)``, which evaluates every function at every point."""
    import numpy as np

    x, c = pp.x, pp.c  # c: (order + 1, G - 1, n)
    yy = y.double().numpy()
    seg = np.clip(np.searchsorted(x, yy, side="right") - 1, 0, len(x) - 2)  # (n, P)
    t = yy - x[seg]
    fn = np.arange(yy.shape[0])[:, None]
    out = np.zeros_like(yy)
    for k in range(c.shape[0]):  # Horner over the local polynomial's coefficients
        out = out * t + c[k, seg, fn]
    return torch.from_numpy(out)


def sensors(m: int, T: float = 1.0) -> torch.Tensor:
    return torch.linspace(0.0, T, m, dtype=torch.float64)


def antiderivative_data(n: int, m: int = 100, *, points: int = 1, length_scale: float = 0.2, n_grid: int = 1000,
                        seed: int = 0) -> OperatorData:
    """n functions, ``points`` uniform query points each (the official code: 1 point per function)."""
    _check(n, m, points)
    gen = torch.Generator().manual_seed(seed)
    space = GRF1D(length_scale, n_grid)
    f = space.sample(n, gen)
    spline = space.spline(f)
    y = torch.rand(n, points, generator=gen, dtype=torch.float64)
    s = ppoly_at(spline.antiderivative(), y)  # the antiderivative is zero at x = 0
    u = torch.from_numpy(spline(sensors(m).numpy()))
    return OperatorData(u, y.unsqueeze(-1), s)


def rk4_ode(u_grid: torch.Tensor, dx: float) -> torch.Tensor:
    """``s`` on every second grid point for ``ds/dx = -s^2 + u``, ``s(0) = 0``: RK4 with step ``h = 2 dx`` whose
    stages read ``u`` at ``x``, ``x + dx`` and ``x + 2 dx``. ``u_grid`` (n, G) -> (n, (G - 1) // 2 + 1)."""
    n, g = u_grid.shape
    s = torch.zeros(n, dtype=u_grid.dtype)
    out = [s]
    h = 2 * dx
    for i in range(0, g - 2, 2):
        u0, u1, u2 = u_grid[:, i], u_grid[:, i + 1], u_grid[:, i + 2]
        k1 = -s * s + u0
        a = s + 0.5 * h * k1
        k2 = -a * a + u1
        b = s + 0.5 * h * k2
        k3 = -b * b + u1
        c = s + h * k3
        k4 = -c * c + u2
        s = s + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(s)
    return torch.stack(out, 1)


def nonlinear_ode_data(n: int, m: int = 100, *, points: int = 1, length_scale: float = 0.2, n_grid: int = 1000,
                       seed: int = 0) -> OperatorData:
    """``ds/dx = -s^2 + u``: RK4 on the GRF grid, then cubic interpolation at uniform query points in [0, x_end]
    (``x_end`` the last even grid point: 998/999 for the default 1000-point grid)."""
    _check(n, m, points)
    from scipy.interpolate import CubicSpline

    gen = torch.Generator().manual_seed(seed)
    space = GRF1D(length_scale, n_grid)
    f = space.sample(n, gen)
    dx = space.T / (n_grid - 1)
    s_grid = rk4_ode(f, dx)
    for _ in range(100):  # -s^2 blows up for the rare strongly negative u (~1 in 2000 at l = 0.2): redraw those
        bad = ~torch.isfinite(s_grid).all(1)
        if not bad.any():
            break
        f[bad] = space.sample(int(bad.sum()), gen)
        s_grid[bad] = rk4_ode(f[bad], dx)
    xs = space.x[::2][: s_grid.shape[1]]
    y = torch.rand(n, points, generator=gen, dtype=torch.float64) * float(xs[-1])
    sp = CubicSpline(xs.numpy(), s_grid.numpy(), axis=1)
    s = ppoly_at(sp, y)
    u = space.eval(f, sensors(m))
    return OperatorData(u, y.unsqueeze(-1), s)
