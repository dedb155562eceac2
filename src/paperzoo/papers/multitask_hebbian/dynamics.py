"""Glauber (heat-bath) dynamics, order parameters and the SSE link (card, "Dynamics", "Order parameters").

``glauber``: random-sequential heat-bath updates at inverse temperature ``beta``,
``P(s_i = +1) = (1 + tanh(beta h_i)) / 2``; at ``beta = inf`` ``s_i = sign(h_i)`` with ties broken at random (never
toward +1: ties are frequent with ternary patterns). One sweep visits the ``N`` spins in a fresh random order in
blocks of ``block`` spins; the overlaps ``o_p`` are updated incrementally after each block (``O(P * block)``), so a
sweep costs ``O(P N)`` and the ``N x N`` matrix is never formed. ``block = 1`` is the exact sequential dynamics;
the default ``block = N // 200`` (README deviation 2) updates 0.5 % of the spins together, whose fields change by
``O(block / N)`` within a block. Replica axes in front of ``N`` run as one batch.

``magnetizations``: Mattis ``m_mu = (1/N) sum_i xi^mu_i s_i``, bounded by ``1 - d`` (not normalised).
``sse_loss``: ``L_mu = (1/2N) ||s - xi^mu||^2 = (1 + (1 - d)_emp) / 2 - m_mu`` over all sites (the card's identity:
the Hamiltonian's retrieval states minimise the squared-error loss of every pattern at once).
"""
from __future__ import annotations

import math

import torch

from paperzoo.papers.multitask_hebbian.couplings import HebbianCouplings


def magnetizations(s: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
    """``(..., K)`` Mattis magnetisations of states ``(..., N)`` with archetypes ``(..., K, N)``."""
    return torch.einsum("...kn,...n->...k", xi, s) / s.shape[-1]


def sse_loss(s: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
    """``(..., K)``: ``(1/2N) ||s - xi^mu||^2`` for every archetype."""
    return ((s.unsqueeze(-2) - xi) ** 2).sum(-1) / (2 * s.shape[-1])


def start_state(xi: torch.Tensor, mu: int = 0, seed: int | torch.Generator = 0) -> torch.Tensor:
    """``xi^mu`` on its support, random +-1 on its blanks (the card's smoke start)."""
    g = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
    x = xi[..., mu, :]
    rnd = torch.where(torch.rand(x.shape, generator=g) < 0.5, -1.0, 1.0).to(x.device)
    return torch.where(x == 0, rnd, x)


def glauber(coup: HebbianCouplings, s0: torch.Tensor, beta: float = math.inf, sweeps: int = 20, *,
            block: int | None = None, seed: int | torch.Generator = 0, xi: torch.Tensor | None = None,
            energies: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run ``sweeps`` sweeps from ``s0`` (``(..., N)``); returns the final state and, per sweep, the magnetisations
    with ``xi`` (if given) or the energy after every block (``energies=True``, for the monotonicity check)."""
    if sweeps < 0 or beta < 0:
        raise ValueError(f"glauber: need sweeps >= 0 and beta >= 0, got {sweeps}, {beta}")
    if s0.shape[-1] != coup.N:
        raise ValueError(f"glauber: state has {s0.shape[-1]} spins, couplings {coup.N}")
    g = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
    N = coup.N
    B = max(1, N // 200) if block is None else int(block)
    s = s0.clone().to(coup.vectors.dtype)
    v, c = coup.vectors, coup.coef
    o = coup.overlaps(s)
    diag = torch.einsum("...pn,p->...n", v * v, c)             # sum_p c_p (v^p_i)^2: the excluded J_ii N
    trace = []
    for _ in range(sweeps):
        perm = torch.randperm(N, generator=g).to(s.device)
        for start in range(0, N, B):
            idx = perm[start:start + B]
            vb = v[..., idx]
            h = (torch.einsum("...pb,...p->...b", vb, c * o) - diag[..., idx] * s[..., idx]) / N
            u = torch.rand(h.shape, generator=g, dtype=h.dtype).to(s.device)
            if math.isinf(beta):
                new = torch.where(h > 0, 1.0, torch.where(h < 0, -1.0, torch.where(u < 0.5, -1.0, 1.0))).to(s.dtype)
            else:
                new = torch.where(u < (1 + torch.tanh(beta * h)) / 2, 1.0, -1.0).to(s.dtype)
            delta = new - s[..., idx]
            s[..., idx] = new
            o = o + torch.einsum("...pb,...b->...p", vb, delta)
            if energies:
                trace.append(coup.energy(s))
        if xi is not None and not energies:
            trace.append(magnetizations(s, xi))
    return s, trace
