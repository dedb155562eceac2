"""Monte Carlo dynamics of the dense Hebbian network with the exact overlap form (no tensor).

Card, "Monte Carlo (cheap exact form)": keep the K overlaps n_mu; a proposed flip of site i moves them
to n_mu - 2 sigma_i eta_bar^mu_i / (N sqrt R) and costs dH = -(N/P) sum_mu (n_mu'^P - n_mu^P), O(K) per
proposal. At finite beta a flip is taken with the heat-bath (Glauber) probability 1 / (1 + exp(beta dH)),
which the card allows ("Metropolis or heat-bath") and which, unlike Metropolis, stays aperiodic under
ordered sweeps (a spin with dH = 0 would flip every sweep under Metropolis); beta = inf is the T = 0
(descent) rule, a flip taken only when dH < 0 (strictly, beyond a rounding tolerance). Sequential (asynchronous) dynamics:
one sweep visits the N sites of each chain once, in a fresh random order per chain; the chains (B of
them) move together, so each of the N steps of a sweep is one vectorised update of B chains. The
overlaps are recomputed exactly at the start of each sweep (no drift). All random draws are made on the
CPU from ``generator`` and moved once per sweep, so a run is the same on any device.

The paper's Plefka-approximated scheme is not transcribed (the card could not read it): only
``scheme="exact_overlap"`` exists.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paperzoo.papers.dense_hebbian.model import DenseHebbian, check_pm1

SCHEMES = ("exact_overlap",)


@dataclass
class MCResult:
    """Final states (B, N), sweeps run, accepted flips per sweep, and (T = 0) whether each chain is a
    fixed point (no flip lowers the energy)."""

    sigma: torch.Tensor
    sweeps: int
    flips: list[int]
    stable: torch.Tensor


def monte_carlo(model: DenseHebbian, sigma0: torch.Tensor, *, beta: float = math.inf, sweeps: int = 50,
                generator: torch.Generator | None = None, scheme: str = "exact_overlap",
                until_stable: bool = True) -> MCResult:
    """Run ``sweeps`` sequential heat-bath sweeps from ``sigma0`` (B, N) in {+-1}.

    At beta = inf with ``until_stable`` the run stops after the first sweep without an accepted flip:
    every site was then proposed at the final state and none lowers H, so all chains are fixed points.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES} (the paper's Plefka scheme is not transcribed), "
                         f"got {scheme!r}")
    if not (beta > 0):
        raise ValueError(f"beta must be > 0 (math.inf for T = 0), got {beta!r}")
    if sweeps < 1:
        raise ValueError(f"sweeps must be >= 1, got {sweeps}")
    sigma = model._states(sigma0).clone()
    check_pm1(sigma, "sigma0")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    B, N = sigma.shape
    dev = sigma.device
    rows = torch.arange(B, device=dev)
    eps = torch.finfo(sigma.dtype).eps
    flips: list[int] = []
    for _ in range(sweeps):
        order = torch.rand(B, N, generator=g).argsort(1).to(dev)  # each chain's own site order
        u = torch.rand(N, B, generator=g, dtype=torch.float64).to(dev) if math.isfinite(beta) else None
        n = model.overlaps(sigma)
        e = model.energy_from_overlaps(n)
        tol = 100 * eps * e.abs()  # rounding of H (even P: |H| = (N/P) sum_a w_a n_a^P)
        accepted = torch.zeros((), dtype=torch.long, device=dev)
        for t in range(N):  # the N steps of an asynchronous sweep, each vectorised over the B chains
            i = order[:, t]
            s_i = sigma[rows, i]
            n_new = model.flip_overlaps(n, s_i, i)
            e_new = model.energy_from_overlaps(n_new)
            dH = e_new - e
            if u is None:
                acc = dH < -tol
            else:
                acc = u[t] < torch.sigmoid(-beta * dH.double())
            sigma[rows, i] = torch.where(acc, -s_i, s_i)
            n = torch.where(acc[:, None], n_new, n)
            e = torch.where(acc, e_new, e)
            accepted += acc.sum()
        flips.append(int(accepted))
        if until_stable and not math.isfinite(beta) and flips[-1] == 0:
            break
    stable = (model.delta_energy_all(sigma) >= -1e3 * eps * (1 + model.energy(sigma).abs()[:, None])).all(1)
    return MCResult(sigma, len(flips), flips, stable)
