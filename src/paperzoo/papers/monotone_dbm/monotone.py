"""The monotone ("hollow") parameterisation of a pairwise DBM's couplings, and mean-field baselines.

Variables are grouped into tiers ``(n_vars, n_states)``; one variable is a one-hot block of ``n_states``
entries. ``W = s (D - A^T A)`` with ``A`` an arbitrary linear map (block structure given by
``connections``, row = to, col = from, as the code's kernel table), ``D = blockdiag(A^T A)`` over each
variable's own k x k block and ``s = min(1, (1 - m) / ||D||_2)`` (card, "Weight parameterisation";
authors' code ``multitier_conv.py``). Then ``W`` is symmetric, zero on every variable's own block
("hollow": no self-interaction) and ``I - W = I - sD + s A^T A >= m I`` (strongly monotone), so the
mean-field fixed point ``q_i = softmax((W q + b)_i)`` exists and is unique (card, method section).
Bias per tier ``g_t b_t / ||b_t||`` with ``b_t ~ U(0, 1)`` and learnable ``g_t`` (init 1), as the code.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def _tiers(tiers: Sequence[Sequence[int]]) -> tuple[tuple[int, int], ...]:
    out = tuple((int(t[0]), int(t[1])) for t in tiers)
    if not out or any(n < 1 or k < 2 for n, k in out) or any(len(t) != 2 for t in tiers):
        raise ValueError(f"tiers must be (n_vars >= 1, n_states >= 2) pairs, got {tiers!r}")
    return out


class HollowMonotoneLinear(nn.Module):
    """Dense hollow monotone coupling ``z -> W z + bias`` over tiers of categorical variables.

    ``tiers``: ``[(n_vars, n_states), ...]``; ``m``: monotonicity margin (the code's ``main.py``: 0.01;
    class default there 0.1); ``connections``: T x T 0/1 table, ``A``'s block (t, s) exists when it is 1
    (default: all-to-all, the card's CPU model). ``A`` is initialised ``U(-1/sqrt(d), 1/sqrt(d))``
    (PyTorch's linear default). ``operator()`` returns ``(W, bias)`` for a whole solve; the scale is
    recomputed on every call (the code's ``clean_norms`` per forward), so an optimiser step can never
    leave a stale guarantee behind.
    """

    def __init__(self, tiers: Sequence[Sequence[int]], m: float = 0.01, connections=None):
        super().__init__()
        self.tiers = _tiers(tiers)
        if not 0.0 < float(m) < 1.0:
            raise ValueError(f"m must lie in (0, 1), got {m}")
        self.m = float(m)
        sizes = [n * k for n, k in self.tiers]
        self.dim, T = sum(sizes), len(self.tiers)
        conn = torch.ones(T, T) if connections is None else torch.as_tensor(connections, dtype=torch.float32)
        if conn.shape != (T, T):
            raise ValueError(f"connections must be {T} x {T} (row = to, col = from), got {tuple(conn.shape)}")
        tier_of = torch.repeat_interleave(torch.arange(T), torch.tensor(sizes))
        self.register_buffer("a_mask", (conn != 0).float()[tier_of][:, tier_of], persistent=False)
        gid = torch.cat([torch.arange(n).repeat_interleave(k) + off for (n, k), off in
                         zip(self.tiers, torch.tensor([0] + [n for n, _ in self.tiers]).cumsum(0).tolist())])
        self.register_buffer("gid", gid, persistent=False)  # variable index of every entry
        self.register_buffer("self_block", (gid[:, None] == gid[None, :]).float(), persistent=False)
        self.n_vars = sum(n for n, _ in self.tiers)
        bound = self.dim ** -0.5
        self.A = nn.Parameter(torch.empty(self.dim, self.dim).uniform_(-bound, bound))
        self.b = nn.ParameterList([nn.Parameter(torch.rand(s)) for s in sizes])
        self.g = nn.Parameter(torch.ones(T))
        self.offsets = [0] + torch.tensor(sizes).cumsum(0).tolist()

    def split(self, z: torch.Tensor) -> list[torch.Tensor]:
        """(B, d) -> one (B, n_vars, n_states) tensor per tier."""
        return [z[:, a:b].reshape(z.shape[0], n, k) for (a, b), (n, k) in
                zip(zip(self.offsets[:-1], self.offsets[1:]), self.tiers)]

    def block_norm(self, gram: torch.Tensor) -> torch.Tensor:
        """||D||_2 = max over variables of the largest eigenvalue of its own (PSD) block of A^T A."""
        norms = []
        for (n, k), off in zip(self.tiers, self.offsets):
            idx = off + torch.arange(n * k, device=gram.device).reshape(n, k)
            blocks = gram[idx[:, :, None], idx[:, None, :]]  # (n, k, k)
            norms.append(torch.linalg.eigvalsh(blocks)[:, -1].max())
        return torch.stack(norms).max()

    def scale(self, gram: torch.Tensor | None = None) -> torch.Tensor:
        A = self.A * self.a_mask
        gram = A.T @ A if gram is None else gram
        return torch.clamp((1 - self.m) / self.block_norm(gram), max=1.0)

    def operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W (d, d), bias (d,)): ``W = s (D - A^T A)``, ``bias = cat_t g_t b_t / ||b_t||``."""
        A = self.A * self.a_mask
        gram = A.T @ A
        W = self.scale(gram) * (gram * self.self_block - gram)
        bias = torch.cat([g * b / b.norm() for g, b in zip(self.g, self.b)])
        return W, bias

    def W_dense(self) -> torch.Tensor:
        """The coupling matrix ``W`` (d, d), for tests and small models."""
        return self.operator()[0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        W, bias = self.operator()
        return z @ W + bias  # W is symmetric: z W = (W z)^T


def group_softmax(y: torch.Tensor, gid: torch.Tensor, n_groups: int) -> torch.Tensor:
    """softmax of ``y`` (B, d) within each variable (``gid`` (d,) its variable index)."""
    top = torch.full_like(y[:, :n_groups], -torch.inf).scatter_reduce(1, gid.expand_as(y), y, "amax")
    e = torch.exp(y - top[:, gid])
    return e / e.new_zeros(e.shape[0], n_groups).index_add_(1, gid, e)[:, gid]


def mean_field_residual(q: torch.Tensor, W: torch.Tensor, b: torch.Tensor, gid: torch.Tensor,
                        free: torch.Tensor | None = None) -> torch.Tensor:
    """Per sample ``max |q - softmax(W q + b)|`` over the free (not clamped) entries: the mean-field
    stationarity of the card ("Model"); 0 exactly at a fixed point."""
    gap = (q - group_softmax(q @ W + b, gid, int(gid.max()) + 1)).abs()
    if free is not None:
        gap = gap * free
    return gap.amax(1)


def naive_mean_field(W: torch.Tensor, b: torch.Tensor, gid: torch.Tensor, q0: torch.Tensor, *, steps: int = 200,
                     damping: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain (alpha = 1) mean-field updates ``q <- (1 - damping) q + damping softmax(W q + b)`` from ``q0``
    (B, d): the baseline the paper contrasts with. Returns the last iterate and the per-sample residual
    ``max |q_T - q_{T-1}|`` of the last step (large when it oscillates)."""
    if W.shape != (q0.shape[1], q0.shape[1]) or b.shape != (q0.shape[1],):
        raise ValueError(f"W must be (d, d) and b (d,) with d = {q0.shape[1]}, got {tuple(W.shape)}, {tuple(b.shape)}")
    q, n = q0, int(gid.max()) + 1
    step = torch.zeros(q0.shape[0], dtype=q0.dtype, device=q0.device)
    for _ in range(steps):
        new = (1 - damping) * q + damping * group_softmax(q @ W + b, gid, n)
        step, q = (new - q).abs().amax(1), new
    return q, step
