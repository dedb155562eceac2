"""The single-layer Transformer of the theorem (card "Model"): embedding, one multi-head self-attention
layer with residual, one position-wise ReLU feed-forward layer with residual, a linear read-out.

    s_i = [x_i ; p_i]                                   (p_i: positional encoding, concatenated, or nothing)
    h_i = E s_i + b_E                                   (linear input embedding, d_model)
    A_h(H) = softmax_row((H W_Q^h + b_Q^h)(H W_K^h + b_K^h)^T / sqrt(d_k)) (H W_V^h + b_V^h)
    Z = H + [A_1(H), ..., A_H(H)] W_O + b_O             (MHA + residual)   [LayerNorm if layernorm=True]
    Y_i = Z_i + W_2 ReLU(W_1 Z_i + b_1) + b_2           (position-wise FFN, width r = d_ff)   [LayerNorm]
    T(X)_i = R Y_i + b_R                                (read-out to d_out)

No LayerNorm by default (the card's theorem-level model); ``layernorm=True`` places them where
``torch.nn.TransformerEncoderLayer(norm_first=False)`` does (post-norm). Without positional encoding the map
is permutation-equivariant, T(pi X) = pi T(X), which is the limit of the statement (card "Necessary caveat").
Shapes: X (B, n, d_in) -> (B, n, d_out).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo.registry import register_model

POS_ENCODINGS = ("onehot", "sinusoidal", None)


def sinusoidal_encoding(n: int, dim: int) -> torch.Tensor:
    """Vaswani et al. (2017) encoding P[i, 2k] = sin(i / 10000^(2k/dim)), P[i, 2k+1] = cos(...); (n, dim)."""
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    p = torch.zeros(n, dim, dtype=torch.float64)
    p[:, 0::2] = torch.sin(pos * freq)
    p[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return p.float()


class MultiHeadSelfAttention(nn.Module):
    """MHA(H) = [A_1, ..., A_heads] W_O with A_h = softmax(Q_h K_h^T / sqrt(d_k)) V_h (card "Model");
    ``head_dim`` d_k is free (default d_model // n_heads as in torch). Shapes: (B, n, d_model) -> same."""

    def __init__(self, d_model: int, n_heads: int, head_dim: int | None = None):
        super().__init__()
        head_dim = head_dim or d_model // n_heads
        if min(d_model, n_heads, head_dim) < 1:
            raise ValueError(f"d_model, n_heads, head_dim must be >= 1, got {d_model}, {n_heads}, {head_dim}")
        self.n_heads, self.head_dim = n_heads, head_dim
        inner = n_heads * head_dim
        self.q, self.k, self.v = (nn.Linear(d_model, inner) for _ in range(3))
        self.o = nn.Linear(inner, d_model)

    def weights(self, h: torch.Tensor) -> torch.Tensor:
        """The attention weights alpha (B, heads, n, n); rows sum to 1."""
        b, n, _ = h.shape
        q = self.q(h).view(b, n, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k(h).view(b, n, self.n_heads, self.head_dim).transpose(1, 2)
        return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.head_dim), dim=-1)

    def heads(self, h: torch.Tensor) -> torch.Tensor:
        """Per-head outputs A_h before W_O, (B, n, heads * head_dim)."""
        b, n, _ = h.shape
        v = self.v(h).view(b, n, self.n_heads, self.head_dim).transpose(1, 2)
        return (self.weights(h) @ v).transpose(1, 2).reshape(b, n, -1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.o(self.heads(h))


class SingleLayerTransformer(nn.Module):
    """One attention layer + one position-wise ReLU FFN (card "Model"; the theorem's T). Shapes:
    X (B, n, d_in) -> (B, n, d_out), n <= max_len.

    ``pos_enc``: "onehot" concatenates e_i in R^max_len (the construction's encoding), "sinusoidal" concatenates
    a ``pe_dim`` sinusoidal code, None gives a permutation-equivariant model. d_model 32 and the card's
    heads / d_ff grids are the card's cpu ladder; the paper states no sizes (only existence).
    """

    def __init__(self, d_in: int = 1, d_model: int = 32, n_heads: int = 4, d_ff: int = 256, d_out: int = 1, *,
                 max_len: int = 8, pos_enc: str | None = "onehot", pe_dim: int = 16, head_dim: int | None = None,
                 layernorm: bool = False):
        super().__init__()
        if pos_enc not in POS_ENCODINGS:
            raise ValueError(f"pos_enc must be one of {POS_ENCODINGS}, got {pos_enc!r}")
        if min(d_in, d_model, n_heads, d_ff, d_out, max_len, pe_dim) < 1:
            raise ValueError(f"sizes must be >= 1, got d_in={d_in}, d_model={d_model}, n_heads={n_heads}, d_ff={d_ff}, "
                             f"d_out={d_out}, max_len={max_len}, pe_dim={pe_dim}")
        if head_dim is None and d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}; pass head_dim")
        self.d_in, self.max_len, self.pos_enc = d_in, max_len, pos_enc
        if pos_enc == "onehot":
            pe = torch.eye(max_len)
        elif pos_enc == "sinusoidal":
            pe = sinusoidal_encoding(max_len, pe_dim)
        else:
            pe = torch.zeros(max_len, 0)
        self.register_buffer("pe", pe, persistent=False)
        self.embed = nn.Linear(d_in + pe.shape[1], d_model)
        self.attn = MultiHeadSelfAttention(d_model, n_heads, head_dim)
        self.ff1, self.ff2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model) if layernorm else nn.Identity()
        self.norm2 = nn.LayerNorm(d_model) if layernorm else nn.Identity()
        self.readout = nn.Linear(d_model, d_out)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """s_i = [x_i ; p_i], (B, n, d_in + d_p); checks the input."""
        if x.dim() != 3 or x.shape[-1] != self.d_in:
            raise ValueError(f"expected X of shape (B, n, {self.d_in}), got {tuple(x.shape)}")
        if x.shape[1] > self.max_len:
            raise ValueError(f"sequence length {x.shape[1]} exceeds max_len={self.max_len}")
        pe = self.pe[: x.shape[1]].to(x.dtype).expand(x.shape[0], -1, -1)
        return torch.cat([x, pe], dim=-1)

    def block(self, h: torch.Tensor) -> torch.Tensor:
        """The Transformer layer on embedded tokens (B, n, d_model): Z = H + MHA(H); Y = Z + FFN(Z)."""
        z = self.norm1(h + self.attn(h))
        return self.norm2(z + self.ff2(torch.relu(self.ff1(z))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.block(self.embed(self.tokens(x))))


@register_model("uat_transformer", task=("sequence", "regression"), knob="width",
                example=lambda: torch.rand(4, 8, 1) * 2 - 1)
def uat_transformer(in_dim: int = 1, out_dim: int = 1, *, width: int = 256, d_model: int = 32, n_heads: int = 4,
                    max_len: int = 8, pos_enc: str | None = "onehot", layernorm: bool = False) -> SingleLayerTransformer:
    """Single-layer Transformer (card "Model"), budget knob ``width`` = the FFN width d_ff. Defaults: card cpu ladder
    (d_model 32, n = 8, d = 1, one-hot positions, no LayerNorm); width 256 is one of its d_ff values (the paper gives none)."""
    return SingleLayerTransformer(in_dim, d_model, n_heads, width, out_dim, max_len=max_len, pos_enc=pos_enc,
                                  layernorm=layernorm)
