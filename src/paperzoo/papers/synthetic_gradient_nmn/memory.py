"""The LRUA external memory of a memory-augmented network (Santoro et al. 2016, "One-shot learning with
memory-augmented neural networks", Sec. 3.1), the neural memory the card reconstructs the paper's NMN on.

State per episode (batch ``B``, ``N`` slots of width ``W``, ``R`` read heads = ``R`` write heads):
    M (B, N, W) memory, w_r (B, R, N) last read weights, w_u (B, N) usage.
One step, given read keys k (B, R, W), write keys a (B, R, W) and write-gate logits alpha (B, R):
    1. lu weights from the previous usage:  w_lu_{t-1}(i) = 1 for the R smallest entries of w_u_{t-1}
    2. zero the single least-used slot argmin_i w_u_{t-1}(i)             (MANN: "prior to writing")
    3. w_w_t = sigma(alpha) w_r_{t-1} + (1 - sigma(alpha)) w_lu_{t-1}                    (MANN Eq. 7)
       M_t = M_{t-1} + sum_h w_w_{t,h}^T a_{t,h}                                          (MANN Eq. 8)
    4. w_r_t(i) = softmax_i K(k_t, M_t(i)), K = cosine similarity                         (MANN Eq. 2-3)
       r_t = sum_i w_r_t(i) M_t(i)                                                        (MANN Eq. 4)
    5. w_u_t = gamma w_u_{t-1} + sum_h (w_r_{t,h} + w_w_{t,h})                            (MANN Eq. 5)
Defaults (128 x 40 memory, 4 read heads, gamma = 0.95) are the MANN Omniglot settings the card names
(choice, pending the paper's method section). Vectorised over episodes and heads; no device argument.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

EPS = 1e-8  # cosine-similarity guard
M_INIT = 1e-6  # MANN initialises memory to a small constant (zero would make every cosine undefined)


@dataclass
class MemoryState:
    """One batch of episodes' memory: ``M`` (B, N, W), ``w_r`` (B, R, N), ``w_u`` (B, N)."""

    M: torch.Tensor
    w_r: torch.Tensor
    w_u: torch.Tensor


def least_used(w_u: torch.Tensor, n: int) -> torch.Tensor:
    """LRUA least-used weights (B, N): 1 on the ``n`` slots with the smallest usage, 0 elsewhere
    (MANN: w_lu(i) = 0 if w_u(i) > m(w_u, n), the n-th smallest, else 1)."""
    idx = torch.topk(w_u, n, dim=-1, largest=False).indices
    return torch.zeros_like(w_u).scatter_(-1, idx, 1.0)


def cosine_read_weights(keys: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """w_r (B, R, N) = softmax over slots of the cosine similarity of each key (B, R, W) with each row of M."""
    kn = keys / (keys.norm(dim=-1, keepdim=True) + EPS)
    mn = M / (M.norm(dim=-1, keepdim=True) + EPS)
    return torch.softmax(torch.einsum("brw,bnw->brn", kn, mn), dim=-1)


class LRUAMemory(nn.Module):
    """Least-recently-used-access memory (no parameters): ``initial(B)`` and ``step(state, k, a, alpha)``.

    ``step`` returns ``(r, state, w_w)``: the read vectors (B, R, W), the new state, and the write
    weights (B, R, N) (returned for tests and probes).
    """

    def __init__(self, slots: int = 128, width: int = 40, read_heads: int = 4, gamma: float = 0.95):
        super().__init__()
        for name, v in (("slots", slots), ("width", width), ("read_heads", read_heads)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"LRUAMemory: {name} must be a positive int, got {v!r}")
        if read_heads > slots:
            raise ValueError(f"LRUAMemory: read_heads ({read_heads}) cannot exceed slots ({slots})")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"LRUAMemory: gamma is a decay in [0, 1], got {gamma!r}")
        self.slots, self.width, self.read_heads, self.gamma = slots, width, read_heads, float(gamma)

    def extra_repr(self) -> str:
        return f"slots={self.slots}, width={self.width}, read_heads={self.read_heads}, gamma={self.gamma}"

    def initial(self, batch: int, *, like: torch.Tensor) -> MemoryState:
        """A fresh memory per episode (reset at every episode start), on ``like``'s device and dtype."""
        kw = {"device": like.device, "dtype": like.dtype}
        return MemoryState(M=torch.full((batch, self.slots, self.width), M_INIT, **kw),
                           w_r=torch.zeros(batch, self.read_heads, self.slots, **kw),
                           w_u=torch.zeros(batch, self.slots, **kw))

    def step(self, state: MemoryState, keys: torch.Tensor, write_keys: torch.Tensor,
             alpha: torch.Tensor) -> tuple[torch.Tensor, MemoryState, torch.Tensor]:
        B, R, W = keys.shape
        if (R, W) != (self.read_heads, self.width) or write_keys.shape != keys.shape or alpha.shape != (B, R):
            raise ValueError(f"LRUAMemory.step: keys {tuple(keys.shape)}, write_keys {tuple(write_keys.shape)} must "
                             f"be (B, {self.read_heads}, {self.width}) and alpha {tuple(alpha.shape)} (B, {self.read_heads})")
        w_lu = least_used(state.w_u, self.read_heads)                                    # from usage at t-1
        keep = torch.ones_like(state.w_u).scatter_(-1, state.w_u.argmin(-1, keepdim=True), 0.0)
        gate = torch.sigmoid(alpha).unsqueeze(-1)                                        # (B, R, 1)
        w_w = gate * state.w_r + (1.0 - gate) * w_lu.unsqueeze(1)                        # (B, R, N)
        M = state.M * keep.unsqueeze(-1) + torch.einsum("brn,brw->bnw", w_w, write_keys)
        w_r = cosine_read_weights(keys, M)
        r = torch.einsum("brn,bnw->brw", w_r, M)
        w_u = self.gamma * state.w_u + w_r.sum(1) + w_w.sum(1)
        return r, MemoryState(M=M, w_r=w_r, w_u=w_u), w_w
