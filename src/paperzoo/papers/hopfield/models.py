"""Multiple-instance-learning models built on the Hopfield layers, and the baselines they are compared with.

Bit-pattern MIL (official ``examples/bit_pattern/bit_pattern_demo.ipynb``):
  ``HopfieldMIL``        Hopfield(input_size=bits) over the bag -> flatten -> Linear -> logit
  ``HopfieldPoolingMIL`` HopfieldPooling(input_size=bits) -> Linear -> logit
  ``HopfieldLookupMIL``  HopfieldLayer(input_size=bits, quantity) per instance -> flatten -> Linear -> logit
  ``MeanPoolMIL``        the pooling model with uniform weights (beta -> 0 limit of HopfieldPooling)
MNIST-bags (official ``examples/mnist_bags``, after Ilse et al. 2018): ``MnistBagsMIL`` = LeNet-style
instance encoder -> pooling ("hopfield" | "attention" | "gated") -> Linear -> logit.
All models return one logit per bag (loss: BCE with logits). ``mask`` (B, N) is True on real instances.
"""
from __future__ import annotations

import torch
from torch import nn

from paperzoo.papers.hopfield.layers import HopfieldAttention, HopfieldLookup, HopfieldPooling
from paperzoo.registry import register_model


@register_model("hopfield_mil", paper="hopfield", tasks=("mil",))
class HopfieldMIL(nn.Module):
    """Self-association over a fixed-size bag (demo "Hopfield-based Network"): (B, N, d_in) -> (B,) logits."""

    def __init__(self, d_in: int, num_instances: int, **hopfield_kwargs):
        super().__init__()
        self.hopfield = HopfieldAttention(d_in, **hopfield_kwargs)
        self.num_instances = num_instances
        self.head = nn.Linear(self.hopfield.d_out * num_instances, 1)

    def forward(self, bags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if bags.dim() != 3 or bags.shape[1] != self.num_instances:
            raise ValueError(f"bags must be (B, {self.num_instances}, d_in), got {tuple(bags.shape)}")
        pad = None if mask is None else ~mask
        return self.head(self.hopfield(bags, key_padding_mask=pad).flatten(1)).squeeze(-1)


@register_model("hopfield_pooling_mil", paper="hopfield", tasks=("mil",))
class HopfieldPoolingMIL(nn.Module):
    """HopfieldPooling over the bag (demo "Hopfield-based Pooling"): (B, N, d_in) -> (B,) logits.
    ``d_embed``: optional instance embedding Linear(d_in, d_embed) + ReLU before the pooling (the paper's
    MIL models embed instances with fully connected layers first)."""

    def __init__(self, d_in: int, d_embed: int | None = None, **pooling_kwargs):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(d_in, d_embed), nn.ReLU()) if d_embed else nn.Identity()
        self.pooling = HopfieldPooling(d_embed or d_in, **pooling_kwargs)
        self.head = nn.Linear(self.pooling.hopfield.d_out * self.pooling.quantity, 1)

    def forward(self, bags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        pad = None if mask is None else ~mask
        return self.head(self.pooling(self.embed(bags), key_padding_mask=pad)).squeeze(-1)


@register_model("hopfield_lookup_mil", paper="hopfield", tasks=("mil",))
class HopfieldLookupMIL(nn.Module):
    """HopfieldLookup applied to every instance (demo "Hopfield-based Lookup"): (B, N, d_in) -> (B,) logits."""

    def __init__(self, d_in: int, num_instances: int, quantity: int, **lookup_kwargs):
        super().__init__()
        self.lookup = HopfieldLookup(d_in, quantity, **lookup_kwargs)
        self.num_instances = num_instances
        self.head = nn.Linear(self.lookup.hopfield.d_out * num_instances, 1)

    def forward(self, bags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if bags.dim() != 3 or bags.shape[1] != self.num_instances:
            raise ValueError(f"bags must be (B, {self.num_instances}, d_in), got {tuple(bags.shape)}")
        out = self.lookup(bags)
        if mask is not None:
            out = out * mask.unsqueeze(-1).to(out.dtype)
        return self.head(out.flatten(1)).squeeze(-1)


@register_model("mean_pool_mil", paper="hopfield", tasks=("mil",))
class MeanPoolMIL(nn.Module):
    """Baseline: HopfieldPooling's path with uniform association weights (the beta -> 0 global average):
    LN(y) W_V averaged over the bag, then W_O and a linear head. (B, N, d_in) -> (B,) logits."""

    def __init__(self, d_in: int, d_k: int | None = None, d_out: int | None = None):
        super().__init__()
        d_k = d_in if d_k is None else d_k
        d_out = d_in if d_out is None else d_out
        self.norm = nn.LayerNorm(d_in)
        self.w_v = nn.Linear(d_in, d_k)
        self.w_o = nn.Linear(d_k, d_out)
        self.head = nn.Linear(d_out, 1)

    def forward(self, bags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        v = self.w_v(self.norm(bags))
        if mask is None:
            pooled = v.mean(1)
        else:
            m = mask.unsqueeze(-1).to(v.dtype)
            pooled = (v * m).sum(1) / m.sum(1).clamp_min(1.0)
        return self.head(self.w_o(pooled)).squeeze(-1)


class LeNetFeatures(nn.Module):
    """Ilse et al.'s instance encoder: conv 20@5x5 -> ReLU -> pool 2 -> conv 50@5x5 -> ReLU -> pool 2 ->
    FC 800 -> 500 -> ReLU. (M, 1, 28, 28) -> (M, 500)."""

    def __init__(self, d_feat: int = 500):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
                                  nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.fc = nn.Sequential(nn.Linear(50 * 4 * 4, d_feat), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).flatten(1))


class AttentionPool(nn.Module):
    """Attention-MIL pooling (Ilse et al. 2018, eq. 9/10): a_k = softmax_k(w^T tanh(V h_k) [* sigm(U h_k)]),
    z = sum_k a_k h_k. (B, N, L) -> (B, L)."""

    def __init__(self, d_in: int = 500, d_attn: int = 128, gated: bool = False):
        super().__init__()
        self.v = nn.Linear(d_in, d_attn)
        self.u = nn.Linear(d_in, d_attn) if gated else None
        self.w = nn.Linear(d_attn, 1)

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        a = torch.tanh(self.v(h))
        if self.u is not None:
            a = a * torch.sigmoid(self.u(h))
        logits = self.w(a).squeeze(-1)
        if mask is not None:
            logits = logits.masked_fill(~mask, float("-inf"))
        return (torch.softmax(logits, dim=-1).unsqueeze(-1) * h).sum(1)


@register_model("mnist_bags_mil", paper="hopfield", tasks=("mil",))
class MnistBagsMIL(nn.Module):
    """LeNet instance encoder + bag pooling + linear classifier (official mnist_bags demo / Ilse et al.).

    pooling="hopfield": HopfieldPooling(input_size=500, hidden_size=32, output_size=500, num_heads=1)
    then dropout 0.1 (demo ``HfPooling``); "attention" / "gated": Ilse et al.'s (gated) attention, D=128.
    bags (B, N, 1, 28, 28), mask (B, N) -> (B,) logits.
    """

    def __init__(self, pooling: str = "hopfield", d_feat: int = 500):
        super().__init__()
        if pooling not in ("hopfield", "attention", "gated"):
            raise ValueError(f"pooling must be 'hopfield', 'attention' or 'gated', got {pooling!r}")
        self.pooling_kind = pooling
        self.features = LeNetFeatures(d_feat)
        if pooling == "hopfield":
            self.pool = HopfieldPooling(d_feat, d_k=32, d_out=d_feat, num_heads=1)
            self.drop = nn.Dropout(0.1)
        else:
            self.pool = AttentionPool(d_feat, 128, gated=pooling == "gated")
            self.drop = nn.Identity()
        self.head = nn.Linear(d_feat, 1)

    def forward(self, bags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if bags.dim() != 5 or bags.shape[2:] != (1, 28, 28):
            raise ValueError(f"bags must be (B, N, 1, 28, 28), got {tuple(bags.shape)}")
        b, n = bags.shape[:2]
        h = self.features(bags.flatten(0, 1)).view(b, n, -1)
        if self.pooling_kind == "hopfield":
            z = self.pool(h, key_padding_mask=None if mask is None else ~mask)
        else:
            z = self.pool(h, mask)
        return self.head(self.drop(z)).squeeze(-1)
