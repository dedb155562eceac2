"""Time-dependent problems, batched over samples in torch (float64).

* ``ns_vorticity``: 2-D incompressible Navier-Stokes in vorticity form on the unit torus,
  ``w_t + u . grad w = nu Laplace w + f``, ``u = (psi_y, -psi_x)``, ``-Laplace psi = w``; FNO's pseudo-spectral
  scheme (the recipe behind ``NavierStokes_V1e-*.mat``): advection explicit, diffusion Crank-Nicolson, 2/3-rule
  dealiasing, forcing ``f = 0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))``, initial vorticity from a periodic GRF
  with FNO's spectrum (``ns_initial``). First order in dt overall, second order for pure diffusion.
* ``fisher_rd``: ``u_t = D u_xx + R(u)`` on [0, 1] with zero-flux ends (ghost nodes), second-order central
  differences, classic RK4 in time (MT-DeepONet card's Fisher generator).
"""
from __future__ import annotations

import math
from typing import Callable

import torch


def _wavenumbers(res: int) -> tuple[torch.Tensor, torch.Tensor]:
    k = torch.fft.fftfreq(res, 1.0 / res).double()
    kx, ky = k[:, None].expand(res, res), k[None, :].expand(res, res)
    return 2 * math.pi * kx, 2 * math.pi * ky


def ns_forcing(res: int) -> torch.Tensor:
    x = torch.arange(res, dtype=torch.float64) / res
    s = x[:, None] + x[None, :]
    return 0.1 * (torch.sin(2 * math.pi * s) + torch.cos(2 * math.pi * s))


def ns_initial(n: int, res: int, gen: torch.Generator) -> torch.Tensor:
    """Initial vorticity with FNO's spectrum: periodic ``grf2d`` with alpha 2.5, tau 7 (coefficients
    ``7^{1.5} (4 pi^2 |k|^2 + 49)^{-1.25}``; FNO's overall normalisation constant is not reproduced)."""
    from paperzoo.data.pde.grf import grf2d

    return grf2d(n, res, gen, alpha=2.5, tau=7.0, bc="periodic")


def ns_vorticity(w0: torch.Tensor, *, nu: float = 1e-3, T: float = 1.0, n_frames: int = 10, dt: float = 1e-3,
                 forcing: torch.Tensor | None | str = "fno") -> torch.Tensor:
    """Evolve ``w0`` (n, res, res) to ``n_frames`` equispaced times in (0, T]; returns (n, n_frames, res, res)."""
    if w0.ndim != 3 or w0.shape[1] != w0.shape[2]:
        raise ValueError(f"ns_vorticity: w0 must be (n, res, res), got {tuple(w0.shape)}")
    steps_per = T / n_frames / dt
    if n_frames < 1 or dt <= 0 or abs(steps_per - round(steps_per)) > 1e-9 or round(steps_per) < 1:
        raise ValueError(f"ns_vorticity: T / n_frames must be a positive multiple of dt; got T={T}, n_frames={n_frames}, "
                         f"dt={dt}")
    res = w0.shape[1]
    kx, ky = _wavenumbers(res)
    lap = kx ** 2 + ky ** 2
    lap_inv = torch.where(lap > 0, 1.0 / lap.clamp_min(1e-300), torch.zeros_like(lap))
    kmax = res // 2
    k_int = torch.fft.fftfreq(res, 1.0 / res).abs()
    dealias = ((k_int[:, None] <= 2 / 3 * kmax) & (k_int[None, :] <= 2 / 3 * kmax)).to(torch.float64)
    f_h = torch.fft.fft2(ns_forcing(res) if isinstance(forcing, str) else
                         (torch.zeros(res, res, dtype=torch.float64) if forcing is None else forcing.double()))
    w_h = torch.fft.fft2(w0.double())
    frames = []
    cn = (1 - 0.5 * dt * nu * lap) / (1 + 0.5 * dt * nu * lap)
    for _ in range(n_frames):
        for _ in range(round(steps_per)):
            psi_h = w_h * lap_inv
            u = torch.fft.ifft2(1j * ky * psi_h).real  # u = psi_y
            v = torch.fft.ifft2(-1j * kx * psi_h).real  # v = -psi_x
            wx = torch.fft.ifft2(1j * kx * w_h).real
            wy = torch.fft.ifft2(1j * ky * w_h).real
            adv_h = torch.fft.fft2(u * wx + v * wy) * dealias
            w_h = (w_h * cn + dt * (f_h - adv_h) / (1 + 0.5 * dt * nu * lap)) * dealias + w_h * (1 - dealias) * cn
        frames.append(torch.fft.ifft2(w_h).real)
    return torch.stack(frames, 1)


def fisher_rd(u0: torch.Tensor, reaction: Callable[[torch.Tensor], torch.Tensor], *, D: float = 0.01, T: float = 1.0,
              n_frames: int = 20, steps_per_frame: int = 50) -> torch.Tensor:
    """``u0`` (n, nx) on ``x_i = i / (nx - 1)``; returns (n, n_frames, nx) at ``t_j = j T / (n_frames - 1)``
    (frame 0 is ``u0``), RK4 with ``dt = T / ((n_frames - 1) steps_per_frame)``."""
    if u0.ndim != 2 or u0.shape[1] < 3 or n_frames < 2 or steps_per_frame < 1:
        raise ValueError(f"fisher_rd: u0 must be (n, nx >= 3), n_frames >= 2, steps_per_frame >= 1; got "
                         f"{tuple(u0.shape)}, {n_frames}, {steps_per_frame}")
    nx = u0.shape[1]
    dx2 = (1.0 / (nx - 1)) ** 2
    dt = T / ((n_frames - 1) * steps_per_frame)

    def rhs(u):
        g = torch.cat([u[:, 1:2], u, u[:, -2:-1]], 1)  # ghost nodes: u_{-1} = u_1, u_{nx} = u_{nx-2}
        return D * (g[:, 2:] - 2 * u + g[:, :-2]) / dx2 + reaction(u)

    u = u0.double()
    frames = [u]
    for _ in range(n_frames - 1):
        for _ in range(steps_per_frame):
            k1 = rhs(u)
            k2 = rhs(u + 0.5 * dt * k1)
            k3 = rhs(u + 0.5 * dt * k2)
            k4 = rhs(u + dt * k3)
            u = u + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        frames.append(u)
    return torch.stack(frames, 1)
