"""Residual MLP blocks (wide-narrow-wide and narrow-wide-narrow) and the frozen random lift.

Both block shapes compute the same pre-norm residual update (Chen et al. 2025, Fig. 1a and the
card's equations)

    z_{i+1} = z_i + W_up,i sigma(W_down,i norm(z_i))            (card, "The method, precisely")

and differ only in which width is larger: the Hourglass block keeps the skip connection in a wide
space d_z and computes through a narrow bottleneck d_h < d_z; the conventional block keeps the skip
at the input width d and expands to d_h > d. The paper's figure omits norm and nonlinearity
("components that do not depend on dimensionality"); pre-LayerNorm and GELU are the card's defaults
(**not confirmed** by the paper).

``random_projection`` draws the input lift W_in in R^{d_z x d_x} with i.i.d. N(0, 1/d_z) entries
(card; the paper's distribution was not retrieved, **unverified**), so ``E ||W_in x||^2 = ||x||^2``
(a Johnson-Lindenstrauss-style lift). It is a pure function of ``seed``: the frozen projection can be
regenerated instead of stored (paper abstract: "can remain fixed at random initialization").
"""
from __future__ import annotations

import math

import torch
from torch import nn

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU}
NORMS = ("layernorm", "rmsnorm", "none")


def make_act(name: str) -> nn.Module:
    """The element-wise nonlinearity sigma by name (``gelu`` | ``relu`` | ``silu``)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"act must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


def make_norm(name: str, dim: int) -> nn.Module:
    """The pre-norm of a block by name (``layernorm`` | ``rmsnorm`` | ``none``), over ``dim`` features."""
    if name == "layernorm":
        return nn.LayerNorm(dim)
    if name == "rmsnorm":
        return nn.RMSNorm(dim)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {name!r}")


def norm_params(name: str, dim: int) -> int:
    """Trainable parameters of ``make_norm(name, dim)`` (LayerNorm: weight + bias; RMSNorm: weight)."""
    return {"layernorm": 2 * dim, "rmsnorm": dim, "none": 0}[name]


def random_projection(d_z: int, d_x: int, seed: int = 0, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """W_in in R^{d_z x d_x}, entries i.i.d. N(0, 1/d_z), drawn from its own generator seeded by ``seed``.

    Independent of the global RNG, so ``random_projection(d_z, d_x, seed)`` regenerates a frozen
    projection bit-exactly (card, smoke check (b)).
    """
    if d_z <= 0 or d_x <= 0:
        raise ValueError(f"random_projection: d_z and d_x must be positive, got {d_z}, {d_x}")
    g = torch.Generator().manual_seed(int(seed))
    return (torch.randn(d_z, d_x, generator=g, dtype=torch.float64) / math.sqrt(d_z)).to(dtype)


class ResidualBlock(nn.Module):
    """``z + W_up sigma(W_down norm(z))`` on the last dimension (shape (..., dim) -> (..., dim)).

    ``zero_init`` zeroes W_up and its bias, so the block starts as the identity (card, smoke (c)).
    PyTorch's default ``nn.Linear`` initialisation otherwise (the paper's init was not retrieved).
    """

    def __init__(self, dim: int, hidden: int, *, act: str = "gelu", norm: str = "layernorm", zero_init: bool = False):
        super().__init__()
        if dim <= 0 or hidden <= 0:
            raise ValueError(f"{type(self).__name__}: widths must be positive, got dim={dim}, hidden={hidden}")
        self.dim, self.hidden = dim, hidden
        self.norm = make_norm(norm, dim)
        self.down = nn.Linear(dim, hidden)
        self.act = make_act(act)
        self.up = nn.Linear(hidden, dim)
        if zero_init:
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)

    def residual(self, z: torch.Tensor) -> torch.Tensor:
        """The update W_up sigma(W_down norm(z)) alone (through the ``hidden``-wide layer)."""
        return self.up(self.act(self.down(self.norm(z))))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[-1] != self.dim:
            raise ValueError(f"{type(self).__name__}: expected (..., {self.dim}) input, got shape {tuple(z.shape)}")
        return z + self.residual(z)


class HourglassBlock(ResidualBlock):
    """Wide-narrow-wide block: skip at ``d_z``, computation through the bottleneck ``d_h`` (< d_z).

    z_{i+1} = z_i + W_up,i sigma(W_down,i norm(z_i)), W_down in R^{d_h x d_z}, W_up in R^{d_z x d_h}
    (paper Fig. 1a; card). The shape d_h < d_z is what makes it an hourglass; it is not enforced, so
    that a parameter-budget search may pass through any widths.
    """

    def __init__(self, d_z: int, d_h: int, *, act: str = "gelu", norm: str = "layernorm", zero_init: bool = False):
        super().__init__(d_z, d_h, act=act, norm=norm, zero_init=zero_init)


class ResidualMLPBlock(ResidualBlock):
    """Conventional narrow-wide-narrow block: skip at the stream width ``d``, expansion to ``d_h``.

    x_{i+1} = x_i + W_2,i sigma(W_1,i norm(x_i)), W_1 in R^{d_h x d}, W_2 in R^{d x d_h} (card).
    """

    def __init__(self, d: int, d_h: int, *, act: str = "gelu", norm: str = "layernorm", zero_init: bool = False):
        super().__init__(d, d_h, act=act, norm=norm, zero_init=zero_init)


def block_params(dim: int, hidden: int, norm: str = "layernorm") -> int:
    """Closed-form trainable count of one block: 2 dim hidden weights + hidden + dim biases + norm."""
    return 2 * dim * hidden + hidden + dim + norm_params(norm, dim)
