"""The two MLPs of Bachmann et al. (2023): the inverted-bottleneck MLP and the standard MLP.

Both follow the official ``models/networks.py`` of ``gregorbachmann/scaling_mlps`` (checked there):

* ``BottleneckMLP``: z_0 = W_in x + b_in; for each of the B blocks (pre-norm residual, Sec. 3)
  z_{l+1} = z_l + W_2 GELU(W_1 Norm(z_l) + b_1) + b_2 with W_1: thin -> wide, W_2: wide -> thin,
  wide = expansion * thin (4 by default); logits = W_out z_B + b_out, **no final norm**.
* ``StandardMLP``: z_0 = W_in x + b_in; for each of the (depth - 1) hidden layers
  z_{l+1} = W_l GELU(LayerNorm(z_l)) + b_l (norm -> GELU -> Linear, no residual); logits = W_out z.

Architecture strings follow the official parser (``models/__init__.py``): ``B_{depth}-Wi_{thin}[-E_{expansion}]``;
for the standard MLP the same string means ``depth`` width entries, i.e. ``depth - 1`` hidden w -> w layers.
Inputs are flattened inside (``(B, C, H, W)`` or ``(B, d)``); every Linear has a bias, PyTorch default init.
"""
from __future__ import annotations

import re

import torch
from torch import nn

from paperzoo.registry import register_model

NORMS = {"layer": nn.LayerNorm, "batch": nn.BatchNorm1d}
TASKS = ("fashion-mnist", "mnist", "cifar10")


def _check_sizes(**sizes: int) -> None:
    for name, v in sizes.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def _flatten(x: torch.Tensor, in_dim: int, who: str) -> torch.Tensor:
    if x.dim() < 2:
        raise ValueError(f"{who}: expected a batch (B, ...) of inputs, got shape {tuple(x.shape)}")
    x = x.flatten(1)
    if x.shape[1] != in_dim:
        raise ValueError(f"{who}: inputs flatten to {x.shape[1]} features, but in_dim={in_dim}")
    return x


class BottleneckBlock(nn.Module):
    """Inverted bottleneck thin -> wide -> thin: ``Linear(thin, wide) -> GELU -> Linear(wide, thin)``.

    Shapes: ``(B, thin) -> (B, thin)``. The residual and the norm live in ``BottleneckMLP`` (as in the
    official code, where the block is the residual branch only).
    """

    def __init__(self, thin: int, wide: int):
        super().__init__()
        _check_sizes(thin=thin, wide=wide)
        self.block = nn.Sequential(nn.Linear(thin, wide), nn.GELU(), nn.Linear(wide, thin))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class BottleneckMLP(nn.Module):
    """Inverted-bottleneck MLP (Sec. 3, Fig. 2): ``z <- z + Block(Norm(z))`` for ``blocks`` blocks.

    ``dim_in`` = C * R * R flattened input, ``n_classes`` outputs, ``thin`` the residual width,
    ``expansion`` the factor of the wide layer (default 4, official parser), ``norm`` "layer" (default)
    or "batch" (official ``NORMS``). Shapes: ``(B, dim_in)`` or ``(B, C, R, R)`` -> ``(B, n_classes)``.
    """

    def __init__(self, dim_in: int, n_classes: int, blocks: int, thin: int, expansion: int = 4,
                 norm: str = "layer"):
        super().__init__()
        _check_sizes(dim_in=dim_in, n_classes=n_classes, blocks=blocks, thin=thin, expansion=expansion)
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {sorted(NORMS)}, got {norm!r}")
        self.dim_in, self.n_classes, self.thin, self.expansion = dim_in, n_classes, thin, expansion
        self.linear_in = nn.Linear(dim_in, thin)
        self.blocks = nn.ModuleList(BottleneckBlock(thin, expansion * thin) for _ in range(blocks))
        self.norms = nn.ModuleList(NORMS[norm](thin) for _ in range(blocks))
        self.linear_out = nn.Linear(thin, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear_in(_flatten(x, self.dim_in, "BottleneckMLP"))
        for block, norm in zip(self.blocks, self.norms):
            z = z + block(norm(z))
        return self.linear_out(z)


class StandardMLP(nn.Module):
    """Standard MLP (Sec. 3): ``Linear(dim_in, width)``, then ``depth - 1`` layers
    ``z <- Linear(width, width)(GELU(LayerNorm(z)))``, then ``Linear(width, n_classes)``; no residuals.

    ``depth`` counts the width entries as the official parser does (``B_4-Wi_512`` -> widths [512] * 4).
    Shapes: ``(B, dim_in)`` or ``(B, C, R, R)`` -> ``(B, n_classes)``.
    """

    def __init__(self, dim_in: int, n_classes: int, depth: int, width: int):
        super().__init__()
        _check_sizes(dim_in=dim_in, n_classes=n_classes, depth=depth, width=width)
        self.dim_in, self.n_classes, self.width = dim_in, n_classes, width
        self.linear_in = nn.Linear(dim_in, width)
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 1))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(depth - 1))
        self.act = nn.GELU()
        self.linear_out = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear_in(_flatten(x, self.dim_in, "StandardMLP"))
        for layer, norm in zip(self.layers, self.norms):
            z = layer(self.act(norm(z)))
        return self.linear_out(z)


_ARCH = re.compile(r"^B_(\d+)-Wi_(\d+)(?:-E_(\d+))?$")


def parse_arch(arch: str) -> tuple[int, int, int]:
    """``"B_6-Wi_512"`` -> (blocks=6, thin=512, expansion=4); ``"B_4-Wi_64-E_2"`` -> (4, 64, 2)."""
    m = _ARCH.match(arch) if isinstance(arch, str) else None
    if m is None:
        raise ValueError(f"architecture string must look like 'B_6-Wi_512' or 'B_6-Wi_512-E_4', got {arch!r}")
    depth, width, exp = int(m.group(1)), int(m.group(2)), int(m.group(3) or 4)
    _check_sizes(blocks=depth, width=width, expansion=exp)
    return depth, width, exp


def from_arch_string(arch: str, dim_in: int, n_classes: int, *, model: str = "BottleneckMLP",
                     norm: str = "layer") -> nn.Module:
    """Build ``BottleneckMLP`` (default) or ``StandardMLP`` (``model="MLP"``) from an official arch string."""
    depth, width, exp = parse_arch(arch)
    if model == "BottleneckMLP":
        return BottleneckMLP(dim_in, n_classes, depth, width, expansion=exp, norm=norm)
    if model == "MLP":
        return StandardMLP(dim_in, n_classes, depth, width)
    raise ValueError(f"model must be 'BottleneckMLP' or 'MLP' (official names), got {model!r}")


def bottleneck_params(dim_in: int, n_classes: int, blocks: int, thin: int, expansion: int = 4) -> int:
    """Closed-form parameter count of ``BottleneckMLP`` with LayerNorm (weight + bias per norm):
    (dim_in + 1) thin + blocks (2 thin wide + wide + thin + 2 thin) + (thin + 1) n_classes."""
    wide = expansion * thin
    return (dim_in + 1) * thin + blocks * (2 * thin * wide + wide + thin + 2 * thin) + (thin + 1) * n_classes


def standard_params(dim_in: int, n_classes: int, depth: int, width: int) -> int:
    """Closed-form parameter count of ``StandardMLP``: (dim_in + 1) w + (depth - 1)(w^2 + w + 2 w) + (w + 1) classes."""
    return (dim_in + 1) * width + (depth - 1) * (width * width + 3 * width) + (width + 1) * n_classes


@register_model("bottleneck_mlp", task=TASKS, knob="width")
def bottleneck_mlp(in_dim: int = 784, num_classes: int = 10, *, width: int = 128, depth: int = 4,
                   expansion: int = 4, norm: str = "layer") -> nn.Module:
    """Inverted-bottleneck MLP B_{depth}-Wi_{width} (width = thin); default B_4-Wi_128, the card's CPU model
    (expansion 4 and LayerNorm: official defaults). Flattens its input."""
    return BottleneckMLP(in_dim, num_classes, depth, width, expansion=expansion, norm=norm)


@register_model("standard_mlp", task=TASKS, knob="width")
def standard_mlp(in_dim: int = 784, num_classes: int = 10, *, width: int = 512, depth: int = 4) -> nn.Module:
    """Standard MLP (LayerNorm -> GELU -> Linear layers, no residual) with ``depth`` width entries;
    default depth 4, width 512, the card's CPU baseline. Flattens its input."""
    return StandardMLP(in_dim, num_classes, depth, width)
