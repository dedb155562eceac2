"""Hopfield layers (Ramsauer et al. 2021, Sec. 3; official code ml-jku/hopfield-layers, ``hflayers``).

``hopfield_core`` is the association of ``hflayers.functional.hopfield_core_forward``: one update
p = softmax(beta Q K^T) is transformer attention; further updates replace the query by
q <- beta (p K) until ``update_steps_max`` is reached or max_batch ||p_{t+1} - p_t||_2 <= eps (per head).
``HopfieldAttention`` is ``hflayers.Hopfield``; ``HopfieldPooling`` and ``HopfieldLookup`` are
``hflayers.HopfieldPooling`` / ``hflayers.HopfieldLayer``. Defaults follow the official modules.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _beta_tensor(beta: float | torch.Tensor, q: torch.Tensor) -> float | torch.Tensor:
    """A float, or a (H,) per-head tensor reshaped to broadcast over (B, H, S, d)."""
    if isinstance(beta, torch.Tensor):
        return beta.to(q).view(1, -1, 1, 1)
    return beta


def hopfield_core(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, beta: float | torch.Tensor, *,
                  update_steps_max: int | None = 0, update_eps: float = 1e-4,
                  key_padding_mask: torch.Tensor | None = None, dropout: float = 0.0, training: bool = False,
                  need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Hopfield association in the projected ("Hopfield") space, all heads and batches at once.

    p_0 = softmax(beta q K^T); p_{t+1} = softmax(beta (p_t K) K^T); Z = dropout(p_T) V.
    ``update_steps_max``: extra updates after the first (0 -> exactly one softmax, the default of
    hflayers; None -> until converged). A head stops when max over the batch of ||p_{t+1} - p_t||_2
    (Frobenius over (S, N)) <= ``update_eps``, as in ``hopfield_core_forward``.

    Shapes: q (B, H, S, d_k), k (B, H, N, d_k), v (B, H, N, d_v); ``key_padding_mask`` (B, N) bool,
    True = ignore that stored pattern; ``beta`` float or (H,). Returns Z (B, H, S, d_v) and, if
    ``need_weights``, the final association matrix p (B, H, S, N).
    """
    b = _beta_tensor(beta, q)
    mask = None if key_padding_mask is None else key_padding_mask[:, None, None, :]
    if update_steps_max == 0 and not need_weights:
        # One update is exactly scaled dot-product attention: use the fused kernel.
        attn_mask = None if mask is None else ~mask
        if isinstance(b, torch.Tensor):
            return F.scaled_dot_product_attention(q * b, k, v, attn_mask=attn_mask, scale=1.0,
                                                  dropout_p=dropout if training else 0.0), None
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=float(b),
                                              dropout_p=dropout if training else 0.0), None

    def assoc(query: torch.Tensor) -> torch.Tensor:
        logits = (b * query) @ k.transpose(-2, -1)
        if mask is not None:
            logits = logits.masked_fill(mask, float("-inf"))
        return torch.softmax(logits, dim=-1)

    p = assoc(q)
    heads = q.shape[1]
    step = 0
    limit = math.inf if update_steps_max is None else update_steps_max
    active = torch.full((heads,), step < limit, dtype=torch.bool, device=q.device)
    while bool(active.any()):
        p_new = assoc(p @ k)  # q <- beta (p K): the retrieved pattern in key space, re-scaled by beta
        p_new = torch.where(active.view(1, -1, 1, 1), p_new, p)
        with torch.no_grad():
            diff = (p_new - p).flatten(2).norm(dim=-1).amax(dim=0)  # (H,)
        p = p_new
        step += 1
        active = active & (diff > update_eps) & (step < limit)
    weights = F.dropout(p, dropout, training) if dropout > 0 else p
    return weights @ v, (p if need_weights else None)


def _check_input(x: torch.Tensor, name: str, dim: int, batch_first: bool) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.dim() != 3:
        layout = "(batch, length, features)" if batch_first else "(length, batch, features)"
        raise ValueError(f"{name} must be 3-D {layout}, got shape {tuple(x.shape)}")
    if x.shape[-1] != dim:
        raise ValueError(f"{name} has {x.shape[-1]} features, expected {dim}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")


class HopfieldAttention(nn.Module):
    """Hopfield layer with stored, state and projection inputs (paper Sec. 3; ``hflayers.Hopfield``).

    Z = softmax(beta Q K^T) V W_O with Q = LN(R) W_Q, K = LN(Y) W_K, V = LN(Y_proj) W_V
    (R: state patterns, Y: stored patterns, Y_proj: pattern projection input, default Y), iterated as in
    ``hopfield_core``. One update with norms off and beta = 1/sqrt(d_k) is ``nn.MultiheadAttention``.

    Args (official defaults, ``hflayers/__init__.py`` and ``activation.py``):
        d_in: state-pattern size (``input_size``). d_k: per-head size of the Hopfield space
        (``hidden_size``; default d_in // num_heads). d_out: output size (default d_in). d_v: per-head
        size of the projected patterns (``pattern_size``; default d_k). d_stored / d_proj: sizes of the
        stored-pattern / projection inputs (default d_in). beta: inverse temperature (``scaling``;
        None -> 1/sqrt(d_k)); a float or one per head. update_steps_max: 0 = one update, None = until
        converged. update_eps: 1e-4. norm_stored/norm_state/norm_proj: affine LayerNorm (eps 1e-5) on
        the three inputs, on by default. bias: in/out projection biases (``input_bias=True``).
        dropout on the association matrix (0.0). All projection weights ~ N(0, 0.02^2), biases 0.

    Shapes (batch_first=True): stored (B, N, d_stored), state (B, S, d_in), proj (B, N, d_proj),
    key_padding_mask (B, N) bool (True = ignore). Output (B, S, d_out).
    """

    def __init__(self, d_in: int, d_k: int | None = None, d_out: int | None = None, *, num_heads: int = 1,
                 beta: float | Sequence[float] | None = None, update_steps_max: int | None = 0,
                 update_eps: float = 1e-4, norm_stored: bool = True, norm_state: bool = True,
                 norm_proj: bool = True, d_v: int | None = None, d_stored: int | None = None,
                 d_proj: int | None = None, dropout: float = 0.0, bias: bool = True, batch_first: bool = True):
        super().__init__()
        for name, val in (("d_in", d_in), ("num_heads", num_heads)):
            if not isinstance(val, int) or val <= 0:
                raise ValueError(f"{name} must be a positive int, got {val!r}")
        if d_k is None:
            if d_in % num_heads:
                raise ValueError(f"d_in={d_in} is not divisible by num_heads={num_heads}; pass d_k explicitly")
            d_k = d_in // num_heads
        d_v = d_k if d_v is None else d_v
        d_out = d_in if d_out is None else d_out
        d_stored = d_in if d_stored is None else d_stored
        d_proj = d_in if d_proj is None else d_proj
        for name, val in (("d_k", d_k), ("d_v", d_v), ("d_out", d_out), ("d_stored", d_stored), ("d_proj", d_proj)):
            if not isinstance(val, int) or val <= 0:
                raise ValueError(f"{name} must be a positive int, got {val!r}")
        if update_steps_max is not None and (not isinstance(update_steps_max, int) or update_steps_max < 0):
            raise ValueError(f"update_steps_max must be an int >= 0 or None, got {update_steps_max!r}")
        if not update_eps > 0:
            raise ValueError(f"update_eps must be positive, got {update_eps}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if beta is None:
            beta = 1.0 / math.sqrt(d_k)
        if isinstance(beta, (int, float)):
            if not beta > 0 or not math.isfinite(beta):
                raise ValueError(f"beta must be positive and finite, got {beta}")
            self.beta: float | torch.Tensor = float(beta)
        else:
            bt = torch.as_tensor(beta, dtype=torch.float32).flatten()
            if bt.numel() != num_heads or not (bt > 0).all() or not torch.isfinite(bt).all():
                raise ValueError(f"beta must be a positive float or {num_heads} positive per-head values, got {beta}")
            self.register_buffer("beta", bt)
        self.d_in, self.d_k, self.d_v, self.d_out = d_in, d_k, d_v, d_out
        self.d_stored, self.d_proj, self.num_heads = d_stored, d_proj, num_heads
        self.update_steps_max, self.update_eps, self.dropout = update_steps_max, float(update_eps), dropout
        self.batch_first = batch_first
        self.norm_stored = nn.LayerNorm(d_stored) if norm_stored else None
        self.norm_state = nn.LayerNorm(d_in) if norm_state else None
        self.norm_proj = nn.LayerNorm(d_proj) if norm_proj else None
        self.w_q = nn.Linear(d_in, num_heads * d_k, bias=bias)
        self.w_k = nn.Linear(d_stored, num_heads * d_k, bias=bias)
        self.w_v = nn.Linear(d_proj, num_heads * d_v, bias=bias)
        self.w_o = nn.Linear(num_heads * d_v, d_out, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """N(0, 0.02^2) weights, zero biases, LayerNorm (1, 0): ``HopfieldCore.reset_parameters``."""
        for lin in (self.w_q, self.w_k, self.w_v, self.w_o):
            nn.init.normal_(lin.weight, 0.0, 0.02)
            if lin.bias is not None:
                nn.init.zeros_(lin.bias)
        for ln in (self.norm_stored, self.norm_state, self.norm_proj):
            if ln is not None:
                ln.reset_parameters()

    def _heads(self, x: torch.Tensor, d: int) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, d).transpose(1, 2)

    def associate(self, stored: torch.Tensor, state: torch.Tensor | None = None,
                  proj: torch.Tensor | None = None, key_padding_mask: torch.Tensor | None = None,
                  need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Forward pass returning (output (B, S, d_out), association matrix p (B, H, S, N) or None)."""
        state = stored if state is None else state
        proj = stored if proj is None else proj
        _check_input(stored, "stored", self.d_stored, self.batch_first)
        if state is not stored:
            _check_input(state, "state", self.d_in, self.batch_first)
        elif self.d_in != self.d_stored:
            raise ValueError(f"state defaults to stored, but d_in={self.d_in} != d_stored={self.d_stored}")
        if proj is not stored:
            _check_input(proj, "proj", self.d_proj, self.batch_first)
        elif self.d_proj != self.d_stored:
            raise ValueError(f"proj defaults to stored, but d_proj={self.d_proj} != d_stored={self.d_stored}")
        if not self.batch_first:
            stored, state, proj = stored.transpose(0, 1), state.transpose(0, 1), proj.transpose(0, 1)
        bsz, n = stored.shape[:2]
        if state.shape[0] != bsz or proj.shape[:2] != stored.shape[:2]:
            raise ValueError(f"batch/length mismatch: stored {tuple(stored.shape)}, state {tuple(state.shape)}, "
                             f"proj {tuple(proj.shape)} (proj must have the stored patterns' length)")
        if key_padding_mask is not None:
            if key_padding_mask.dtype != torch.bool or key_padding_mask.shape != (bsz, n):
                raise ValueError(f"key_padding_mask must be a bool tensor of shape {(bsz, n)}, got "
                                 f"{key_padding_mask.dtype} {tuple(key_padding_mask.shape)}")
        y = self.norm_stored(stored) if self.norm_stored is not None else stored
        r = self.norm_state(state) if self.norm_state is not None else state
        yp = self.norm_proj(proj) if self.norm_proj is not None else proj
        q = self._heads(self.w_q(r), self.d_k)
        k = self._heads(self.w_k(y), self.d_k)
        v = self._heads(self.w_v(yp), self.d_v)
        z, p = hopfield_core(q, k, v, self.beta, update_steps_max=self.update_steps_max, update_eps=self.update_eps,
                             key_padding_mask=key_padding_mask, dropout=self.dropout, training=self.training,
                             need_weights=need_weights)
        out = self.w_o(z.transpose(1, 2).reshape(bsz, state.shape[1], self.num_heads * self.d_v))
        return (out if self.batch_first else out.transpose(0, 1)), p

    def forward(self, stored: torch.Tensor, state: torch.Tensor | None = None, proj: torch.Tensor | None = None,
                key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """stored (B, N, d_stored); state (B, S, d_in), default = stored; proj (B, N, d_proj), default = stored."""
        return self.associate(stored, state, proj, key_padding_mask)[0]

    def extra_repr(self) -> str:
        beta = self.beta if isinstance(self.beta, float) else self.beta.tolist()
        return (f"d_in={self.d_in}, d_k={self.d_k}, d_v={self.d_v}, d_out={self.d_out}, heads={self.num_heads}, "
                f"beta={beta}, update_steps_max={self.update_steps_max}")


class HopfieldPooling(nn.Module):
    """Pool a set into ``quantity`` vectors with learned state patterns (``hflayers.HopfieldPooling``).

    Z = softmax(beta Q K^T) V W_O with Q = LN(W_state) W_Q a learned (quantity, d_in) query ("prototype"),
    K, V from the set. W_state ~ N(0, 0.02^2) (official ``reset_parameters``); other args as in
    ``HopfieldAttention`` (d_stored = d_proj = d_in). Input (B, N, d_in) -> output (B, quantity * d_out).
    """

    def __init__(self, d_in: int, quantity: int = 1, *, d_k: int | None = None, d_out: int | None = None,
                 num_heads: int = 1, trainable: bool = True, **kwargs):
        super().__init__()
        if not isinstance(quantity, int) or quantity <= 0:
            raise ValueError(f"quantity must be a positive int, got {quantity!r}")
        self.hopfield = HopfieldAttention(d_in, d_k=d_k, d_out=d_out, num_heads=num_heads, **kwargs)
        self.quantity = quantity
        self.state = nn.Parameter(torch.empty(quantity, d_in), requires_grad=trainable)
        nn.init.normal_(self.state, 0.0, 0.02)

    def associate(self, stored: torch.Tensor, proj: torch.Tensor | None = None,
                  key_padding_mask: torch.Tensor | None = None, need_weights: bool = False):
        _check_input(stored, "stored", self.hopfield.d_stored, self.hopfield.batch_first)
        bsz = stored.shape[0 if self.hopfield.batch_first else 1]
        state = self.state.unsqueeze(0).expand(bsz, -1, -1)
        if not self.hopfield.batch_first:
            state = state.transpose(0, 1)
        out, p = self.hopfield.associate(stored, state, stored if proj is None else proj, key_padding_mask,
                                         need_weights)
        if not self.hopfield.batch_first:
            out = out.transpose(0, 1)
        return out.flatten(1), p

    def forward(self, stored: torch.Tensor, proj: torch.Tensor | None = None,
                key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """stored (B, N, d_in) [, proj (B, N, d_in)] -> (B, quantity * d_out)."""
        return self.associate(stored, proj, key_padding_mask)[0]


class HopfieldLookup(nn.Module):
    """Look inputs up in ``quantity`` learned stored patterns (``hflayers.HopfieldLayer``).

    Z = softmax(beta Q K^T) V W_O with Q from the input (state patterns), K = LN(W_stored) W_K and
    V = LN(W_target) W_V, where W_target = W_stored unless ``separate_targets`` (official
    ``lookup_weights_as_separated``). W_stored, W_target ~ N(0, 0.02^2). Input (B, S, d_in) -> (B, S, d_out).
    """

    def __init__(self, d_in: int, quantity: int, *, d_k: int | None = None, d_out: int | None = None,
                 num_heads: int = 1, separate_targets: bool = False, targets_trainable: bool = True,
                 trainable: bool = True, **kwargs):
        super().__init__()
        if not isinstance(quantity, int) or quantity <= 0:
            raise ValueError(f"quantity must be a positive int, got {quantity!r}")
        self.hopfield = HopfieldAttention(d_in, d_k=d_k, d_out=d_out, num_heads=num_heads, **kwargs)
        self.quantity = quantity
        self.stored = nn.Parameter(torch.empty(quantity, self.hopfield.d_stored), requires_grad=trainable)
        nn.init.normal_(self.stored, 0.0, 0.02)
        if separate_targets:
            self.targets = nn.Parameter(torch.empty(quantity, self.hopfield.d_proj), requires_grad=targets_trainable)
            nn.init.normal_(self.targets, 0.0, 0.02)
        else:
            self.register_parameter("targets", None)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        """state (B, S, d_in) -> (B, S, d_out)."""
        _check_input(state, "state", self.hopfield.d_in, self.hopfield.batch_first)
        bsz = state.shape[0 if self.hopfield.batch_first else 1]
        stored = self.stored.unsqueeze(0).expand(bsz, -1, -1)
        proj = stored if self.targets is None else self.targets.unsqueeze(0).expand(bsz, -1, -1)
        if not self.hopfield.batch_first:
            stored, proj = stored.transpose(0, 1), proj.transpose(0, 1)
        return self.hopfield(stored, state, proj)
