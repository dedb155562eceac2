"""Navier-Stokes pairs on the torus, simulated once at high resolution and strided to every test resolution.

The card's offline generator (the Zenodo ``nsforcing_*`` files cannot be downloaded here): ``w_0`` from the
kernel's periodic GRF (``paperzoo.data.pde.ns_initial``), evolved to ``T`` by ``paperzoo.data.pde.ns_vorticity``
(pseudo-spectral, 2/3 dealiasing, Crank-Nicolson diffusion, forcing ``0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))``,
``nu = 1e-3``), input ``w_0`` -> output ``w(T)``. Lower resolutions are strided subsamples of the simulation
(no anti-aliasing), exactly how the paper builds its multi-resolution test sets from one 1024^2 file.
Cached by ``paperzoo.data.pde.generated`` (safetensors + SHA-256, atomic), so the simulation runs once.
"""
from __future__ import annotations

from typing import Callable

import torch

from paperzoo.data.pde import generated, ns_initial, ns_vorticity
from paperzoo.papers.nns_to_nos.resample import subsample


def simulate(n: int, res_sim: int, *, T: float = 1.0, nu: float = 1e-3, dt: float = 2.5e-3, seed: int = 0,
             chunk: int = 32, on_chunk: Callable[[int], None] | None = None) -> dict[str, torch.Tensor]:
    """``{"w0": (n, res, res), "wT": (n, res, res)}`` in float32; samples evolved ``chunk`` at a time."""
    if n < 1 or res_sim < 4:
        raise ValueError(f"simulate: need n >= 1 and res_sim >= 4, got {n}, {res_sim}")
    w0 = ns_initial(n, res_sim, torch.Generator().manual_seed(seed))
    out = []
    for i in range(0, n, chunk):
        out.append(ns_vorticity(w0[i:i + chunk], nu=nu, T=T, n_frames=1, dt=dt)[:, 0])
        if on_chunk is not None:
            on_chunk(len(out[-1]))
    return {"w0": w0.float(), "wT": torch.cat(out).float()}


def ns_torus_pairs(n: int, res_sim: int = 128, *, T: float = 1.0, nu: float = 1e-3, dt: float = 2.5e-3, seed: int = 0,
                   subsample_to: tuple[int, ...] = (16, 32, 64, 128),
                   on_chunk: Callable[[int], None] | None = None) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """``{res: (x (n, 1, res, res), y (n, 1, res, res))}`` for every ``res`` in ``subsample_to`` (cached)."""
    bad = [r for r in subsample_to if res_sim % r]
    if bad:
        raise ValueError(f"ns_torus_pairs: resolutions {bad} do not divide the simulation grid {res_sim}")
    params = {"n": n, "res": res_sim, "T": T, "nu": nu, "dt": dt, "seed": seed}
    t = generated("ns-torus", params, lambda: simulate(n, res_sim, T=T, nu=nu, dt=dt, seed=seed, on_chunk=on_chunk))
    return {r: (subsample(t["w0"], r).unsqueeze(1).contiguous(), subsample(t["wT"], r).unsqueeze(1).contiguous())
            for r in subsample_to}
