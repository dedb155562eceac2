"""Hebbian couplings kept in low-rank form (card, "Couplings / cost functions").

Every rule is ``J = (1/N) sum_p c_p v^p (v^p)^T`` with ``J_ii = 0`` (self-couplings excluded, the card's choice for
Monte Carlo): the ``N x N`` matrix is never built, the field is ``h_i = (1/N) sum_p c_p v^p_i (o_p - v^p_i s_i)`` with
the overlaps ``o_p = v^p . s``, and the energy ``H(s) = -(1/2N) sum_p c_p (o_p^2 - sum_i (v^p_i)^2)``.

* ``archetype`` (no learning; Hopfield multitasking): ``v = xi^mu``, ``c = 1``;
* ``supervised`` (a teacher groups the examples): ``v = etabar^mu = (1/M) sum_a eta^{mu, a}``,
  ``c = 1 / ((1 - d) R)``;
* ``unsupervised`` (examples pooled): ``v = eta^{mu, a}`` for every ``(mu, a)``, ``c = 1 / ((1 - d) R M)``.

The normalisations are the card's (marked "check" there: they only rescale the temperature). Vectors may carry a
leading replica axis ``(R, P, N)``; states are ``(R, N)`` or ``(N,)``.
"""
from __future__ import annotations

import torch

from paperzoo.papers.multitask_hebbian.patterns import dataset_R

MODES = ("archetype", "supervised", "unsupervised")


class HebbianCouplings:
    """``J = (1/N) sum_p c_p v^p (v^p)^T``, ``J_ii = 0``, from ``vectors`` ``(..., P, N)`` and ``coef`` ``(P,)``.

    Build one with ``HebbianCouplings.of(mode, xi=..., examples=..., d=..., r=...)`` (the card's signature) or
    ``HebbianCouplings.supervised_from_sums(sums, M, d, r)`` (running sums of a stream of examples)."""

    def __init__(self, vectors: torch.Tensor, coef: torch.Tensor, mode: str = "custom"):
        if coef.shape != vectors.shape[-2:-1]:
            raise ValueError(f"HebbianCouplings: coef {tuple(coef.shape)} does not match {vectors.shape[-2]} vectors")
        v = vectors if vectors.is_floating_point() else vectors.float()
        self.mode, self.vectors, self.coef = mode, v, coef.to(v.device, v.dtype)
        self.self_norm = (self.vectors * self.vectors).sum(-1)   # sum_i (v^p_i)^2, for the J_ii = 0 correction

    @classmethod
    def of(cls, mode: str, *, xi: torch.Tensor | None = None, examples: torch.Tensor | None = None,
           d: float | None = None, r: float | None = None) -> "HebbianCouplings":
        if mode not in MODES:
            raise ValueError(f"HebbianCouplings: mode must be one of {MODES}, got {mode!r}")
        if mode == "archetype":
            if xi is None:
                raise ValueError("HebbianCouplings('archetype') needs xi")
            return cls(xi, torch.ones(xi.shape[-2]), mode)
        if examples is None or d is None or r is None:
            raise ValueError(f"HebbianCouplings({mode!r}) needs examples (..., K, M, N), d and r")
        if examples.ndim < 3:
            raise ValueError(f"examples must be (..., K, M, N), got {tuple(examples.shape)}")
        K, M = examples.shape[-3], examples.shape[-2]
        if mode == "supervised":
            ex = examples if examples.is_floating_point() else examples.float()
            return cls.supervised_from_sums(ex.sum(-2), M, d, r)
        v = examples.reshape(*examples.shape[:-3], K * M, examples.shape[-1])
        return cls(v, torch.full((K * M,), 1.0 / ((1 - d) * dataset_R(r, M) * M)), mode)

    @classmethod
    def supervised_from_sums(cls, sums: torch.Tensor, M: int, d: float, r: float) -> "HebbianCouplings":
        """``v = etabar = sums / M``, ``c = 1 / ((1 - d) R)``."""
        return cls(sums / M, torch.full((sums.shape[-2],), 1.0 / ((1 - d) * dataset_R(r, M))), "supervised")

    @property
    def N(self) -> int:
        return self.vectors.shape[-1]

    def overlaps(self, s: torch.Tensor) -> torch.Tensor:
        """``o_p = v^p . s``: ``(..., P)``."""
        return torch.einsum("...pn,...n->...p", self.vectors, s.to(self.vectors.dtype))

    def field(self, s: torch.Tensor, o: torch.Tensor | None = None) -> torch.Tensor:
        """``h_i = sum_{j != i} J_ij s_j`` for every ``i``."""
        s = s.to(self.vectors.dtype)
        o = self.overlaps(s) if o is None else o
        full = torch.einsum("...pn,...p->...n", self.vectors, self.coef * o)
        diag = torch.einsum("...pn,p->...n", self.vectors * self.vectors, self.coef) * s
        return (full - diag) / self.N

    def energy(self, s: torch.Tensor) -> torch.Tensor:
        """``H(s) = -(1/2) sum_{i != j} J_ij s_i s_j``."""
        o = self.overlaps(s)
        return -(self.coef * (o * o - self.self_norm)).sum(-1) / (2 * self.N)

    def dense(self) -> torch.Tensor:
        """The explicit ``N x N`` matrix (tests and small N only)."""
        J = torch.einsum("...pi,p,...pj->...ij", self.vectors, self.coef, self.vectors) / self.N
        return J - torch.diag_embed(torch.diagonal(J, dim1=-2, dim2=-1))
