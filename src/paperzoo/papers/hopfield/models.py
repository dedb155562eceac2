"""Multiple-instance-learning models built on the Hopfield layers, and the baselines they are compared with.

Bit-pattern MIL (official ``examples/bit_pattern/bit_pattern_demo.ipynb``; defaults = the demo's "adapted"
settings: 8 heads of size 8, ``update_steps_max=3``, beta = ``scaling`` = 0.25, dropout 0.5):
  ``HopfieldMIL``        Hopfield(input_size=bits) over the bag -> flatten -> Linear -> logit
  ``HopfieldPoolingMIL`` HopfieldPooling(input_size=bits) -> Linear -> logit
  ``HopfieldLookupMIL``  HopfieldLayer(input_size=bits, quantity) per instance -> flatten -> Linear -> logit
  ``MeanPoolMIL``        the pooling model with uniform weights (beta -> 0 limit of HopfieldPooling)
MNIST-bags (official ``examples/mnist_bags``, after Ilse et al. 2018): ``MnistBagsMIL`` = LeNet-style
instance encoder -> pooling ("hopfield" | "attention" | "gated") -> Linear -> logit.
All models return one logit per bag (loss: BCE with logits). ``mask`` (B, N) is True on real instances.
``width`` is the per-head size of the Hopfield space (official ``hidden_size``) unless a docstring says otherwise.
"""
from __future__ import annotations

import torch
from torch import nn

from paperzoo.papers.hopfield.layers import HopfieldAttention, HopfieldLookup, HopfieldPooling
from paperzoo.registry import register_model

ADAPTED = dict(num_heads=8, update_steps_max=3, beta=0.25, dropout=0.5)  # bit-pattern demo, "adapted" settings


def bit_bags(batch: int = 4, num_instances: int = 16, bits: int = 8) -> torch.Tensor:
    """An example batch of bit-pattern bags: (batch, num_instances, bits) in {0, 1}."""
    return torch.randint(0, 2, (batch, num_instances, bits)).float()


def _check_bags(bags: torch.Tensor, n: int | None, d: int) -> None:
    if not isinstance(bags, torch.Tensor) or bags.dim() != 3 or bags.shape[-1] != d or (n and bags.shape[1] != n):
        raise ValueError(f"bags must be (B, {n or 'N'}, {d}), got {tuple(getattr(bags, 'shape', ()))}")


@register_model("hopfield_mil", task="mil", example=bit_bags, knob="width")
class HopfieldMIL(nn.Module):
    """Self-association over a fixed-size bag (demo "Hopfield-based Network"): (B, N, in_dim) -> (B,) logits."""

    def __init__(self, in_dim: int = 8, num_instances: int = 16, *, width: int = 8, num_heads: int = 8,
                 beta: float | None = 0.25, update_steps_max: int | None = 3, dropout: float = 0.5, **hopfield_kwargs):
        super().__init__()
        self.hopfield = HopfieldAttention(in_dim, width, num_heads=num_heads, beta=beta,
                                          update_steps_max=update_steps_max, dropout=dropout, **hopfield_kwargs)
        self.in_dim, self.num_instances = in_dim, num_instances
        self.head = nn.Linear(self.hopfield.d_out * num_instances, 1)

    def forward(self, bags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        _check_bags(bags, self.num_instances, self.in_dim)
        pad = None if mask is None else ~mask
        return self.head(self.hopfield(bags, key_padding_mask=pad).flatten(1)).squeeze(-1)


@register_model("hopfield_pooling_mil", task="mil", example=bit_bags, knob="width")
class HopfieldPoolingMIL(nn.Module):
    """HopfieldPooling over the bag (demo "Hopfield-based Pooling"): (B, N, in_dim) -> (B,) logits.
    ``embed_dim``: optional instance embedding Linear(in_dim, embed_dim) + ReLU before the pooling (the
    paper's MIL models embed instances with fully connected layers first)."""

    def __init__(self, in_dim: int = 8, *, width: int = 8, num_heads: int = 8, quantity: int = 1,
                 embed_dim: int | None = None, beta: float | None = 0.25, update_steps_max: int | None = 3,
                 dropout: float = 0.5, **pooling_kwargs):
        super().__init__()
        self.in_dim = in_dim
        self.embed = nn.Sequential(nn.Linear(in_dim, embed_dim), nn.ReLU()) if embed_dim else nn.Identity()
        self.pooling = HopfieldPooling(embed_dim or in_dim, quantity, d_k=width, num_heads=num_heads, beta=beta,
                                       update_steps_max=update_steps_max, dropout=dropout, **pooling_kwargs)
        self.head = nn.Linear(self.pooling.hopfield.d_out * quantity, 1)

    def forward(self, bags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        _check_bags(bags, None, self.in_dim)
        pad = None if mask is None else ~mask
        return self.head(self.pooling(self.embed(bags), key_padding_mask=pad)).squeeze(-1)


@register_model("hopfield_lookup_mil", task="mil", example=bit_bags, knob="quantity")
class HopfieldLookupMIL(nn.Module):
    """HopfieldLookup applied to every instance (demo "Hopfield-based Lookup"): (B, N, in_dim) -> (B,) logits.

    Demo settings: layer defaults (one head, d_k = in_dim, beta = 1/sqrt(d_k)) with separate, fixed lookup
    targets; ``quantity`` stored patterns (the demo stores the unique training instances; default 256, one
    per 8-bit pattern) is the budget knob, since the stored patterns dominate the parameter count.
    """

    def __init__(self, in_dim: int = 8, num_instances: int = 16, *, quantity: int = 256, width: int | None = None,
                 separate_targets: bool = True, targets_trainable: bool = False, **lookup_kwargs):
        super().__init__()
        self.lookup = HopfieldLookup(in_dim, quantity, d_k=width, separate_targets=separate_targets,
                                     targets_trainable=targets_trainable, **lookup_kwargs)
        self.in_dim, self.num_instances = in_dim, num_instances
        self.head = nn.Linear(self.lookup.hopfield.d_out * num_instances, 1)

    def forward(self, bags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        _check_bags(bags, self.num_instances, self.in_dim)
        out = self.lookup(bags)
        if mask is not None:
            out = out * mask.unsqueeze(-1).to(out.dtype)
        return self.head(out.flatten(1)).squeeze(-1)


@register_model("mean_pool_mil", task="mil", example=bit_bags, knob="width")
class MeanPoolMIL(nn.Module):
    """Baseline: HopfieldPooling's path with uniform association weights (the beta -> 0 global average):
    LN(y) W_V averaged over the bag, then W_O and a linear head. (B, N, in_dim) -> (B,) logits.
    ``width``: size of the value projection (default in_dim)."""

    def __init__(self, in_dim: int = 8, *, width: int | None = None, out_dim: int | None = None):
        super().__init__()
        width = in_dim if width is None else width
        out_dim = in_dim if out_dim is None else out_dim
        self.in_dim = in_dim
        self.norm = nn.LayerNorm(in_dim)
        self.w_v = nn.Linear(in_dim, width)
        self.w_o = nn.Linear(width, out_dim)
        self.head = nn.Linear(out_dim, 1)

    def forward(self, bags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        _check_bags(bags, None, self.in_dim)
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


def mnist_bag_example() -> tuple[torch.Tensor, torch.Tensor]:
    """Two bags of up to 5 MNIST-sized instances and their mask (the second bag has 3)."""
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    return torch.rand(2, 5, 1, 28, 28), mask


@register_model("mnist_bags_mil", task="mil", example=mnist_bag_example, knob="width")
class MnistBagsMIL(nn.Module):
    """LeNet instance encoder + bag pooling + linear classifier (official mnist_bags demo / Ilse et al.).

    pooling="hopfield": HopfieldPooling(input_size=width, hidden_size=hidden, output_size=width, num_heads=1)
    then dropout 0.1 (demo ``HfPooling``: width 500, hidden 32); "attention" / "gated": Ilse et al.'s (gated)
    attention, D=128. ``width`` is the instance feature size (Ilse et al.'s L = 500), the budget knob.
    bags (B, N, 1, 28, 28), mask (B, N) -> (B,) logits.
    """

    def __init__(self, *, pooling: str = "hopfield", width: int = 500, hidden: int = 32):
        super().__init__()
        if pooling not in ("hopfield", "attention", "gated"):
            raise ValueError(f"pooling must be 'hopfield', 'attention' or 'gated', got {pooling!r}")
        self.pooling_kind = pooling
        self.features = LeNetFeatures(width)
        if pooling == "hopfield":
            self.pool = HopfieldPooling(width, d_k=hidden, d_out=width, num_heads=1)
            self.drop = nn.Dropout(0.1)
        else:
            self.pool = AttentionPool(width, 128, gated=pooling == "gated")
            self.drop = nn.Identity()
        self.head = nn.Linear(width, 1)

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
