"""The Hourglass MLP (frozen random lift + wide-narrow-wide blocks) and the conventional residual MLP.

Hourglass (paper Fig. 1b; card steps 1-3):

    z_0 = W_in x                      W_in in R^{d_z x d_x}, frozen at its random init (not trained)
    z_{i+1} = z_i + W_up,i sigma(W_down,i norm(z_i)),   i = 0 .. L-1   (HourglassBlock)
    y = W_out z_L + b                 W_out in R^{d_out x d_z}, trained

Conventional: the residual stream is the input itself (width d = d_x), blocks expand to d_h, and a
trained head W_out maps the stream to d_out (card: "stream at d_in, optional trainable in/out proj").
The head is on by default even when d_out == d_x, so both families end in a trained linear map
(without it a d_h < d_x network cannot even represent a linear denoiser: the skip forces +x).

Inputs of any shape (B, ...) are flattened to (B, d_x) inside. Parameter budgets count trainable
parameters only (the frozen W_in is excluded), as the card's pitfall and ``paperzoo.nn.count_params``
do; ``count_params(model, trainable=False)`` gives the total with W_in. The card's exact checks of the
construction (frozen drift, residual identity, JL ratios, closed-form counts) live here too.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.nn import count_params
from paperzoo.papers.hourglass_mlp.layers import HourglassBlock, ResidualMLPBlock, block_params, random_projection
from paperzoo.registry import register_model


def _flat(x: torch.Tensor, d_in: int, who: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise ValueError(f"{who}: expected a batch (B, ...) of inputs, got {getattr(x, 'shape', type(x))}")
    x = x.flatten(1)
    if x.shape[1] != d_in:
        raise ValueError(f"{who}: inputs flatten to {x.shape[1]} features, the model takes d_in={d_in}")
    return x


class HourglassMLP(nn.Module):
    """Hourglass MLP: ``(B, ...) -> (B, d_out)``; flattens to (B, d_in), lifts to d_z, L wide-narrow-wide blocks.

    ``freeze_input_proj=True`` (paper: W_in "can remain fixed at random initialization") keeps W_in as
    a parameter with ``requires_grad=False``, drawn by ``random_projection(d_z, d_in, proj_seed)``;
    ``False`` trains it (the card's ablation). ``zero_init`` starts every block as the identity.
    """

    def __init__(self, d_in: int, d_out: int, d_z: int, d_h: int, n_blocks: int, *, freeze_input_proj: bool = True,
                 proj_seed: int = 0, act: str = "gelu", norm: str = "layernorm", zero_init: bool = False):
        super().__init__()
        if min(d_in, d_out, d_z, d_h) <= 0 or n_blocks < 0:
            raise ValueError(f"HourglassMLP: widths must be positive and n_blocks >= 0, got d_in={d_in}, "
                             f"d_out={d_out}, d_z={d_z}, d_h={d_h}, n_blocks={n_blocks}")
        self.d_in, self.d_out, self.d_z, self.d_h, self.n_blocks = d_in, d_out, d_z, d_h, n_blocks
        self.proj_seed, self.norm_kind = proj_seed, norm
        self.w_in = nn.Parameter(random_projection(d_z, d_in, proj_seed), requires_grad=not freeze_input_proj)
        self.blocks = nn.ModuleList(HourglassBlock(d_z, d_h, act=act, norm=norm, zero_init=zero_init)
                                    for _ in range(n_blocks))
        self.out = nn.Linear(d_z, d_out)

    @property
    def frozen(self) -> bool:
        return not self.w_in.requires_grad

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        """z_0 = W_in x for a batch (B, ...) -> (B, d_z)."""
        return F.linear(_flat(x, self.d_in, "HourglassMLP"), self.w_in)

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        """z_L, the wide residual stream after all blocks: (B, d_z)."""
        z = self.lift(x)
        for block in self.blocks:
            z = block(z)
        return z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.latent(x))


class ConventionalResMLP(nn.Module):
    """Conventional residual MLP: stream at d = d_in, L narrow-wide-narrow blocks, trained head.

    ``out_proj=True`` (default) ends in ``Linear(d_in, d_out)``; ``False`` (only when d_out == d_in)
    returns the stream x_L itself.
    """

    def __init__(self, d_in: int, d_out: int, d_h: int, n_blocks: int, *, out_proj: bool = True,
                 act: str = "gelu", norm: str = "layernorm", zero_init: bool = False):
        super().__init__()
        if min(d_in, d_out, d_h) <= 0 or n_blocks < 0:
            raise ValueError(f"ConventionalResMLP: widths must be positive and n_blocks >= 0, got d_in={d_in}, "
                             f"d_out={d_out}, d_h={d_h}, n_blocks={n_blocks}")
        if not out_proj and d_out != d_in:
            raise ValueError(f"ConventionalResMLP: d_out={d_out} != d_in={d_in} needs out_proj=True")
        self.d_in, self.d_out, self.d_h, self.n_blocks, self.norm_kind = d_in, d_out, d_h, n_blocks, norm
        self.blocks = nn.ModuleList(ResidualMLPBlock(d_in, d_h, act=act, norm=norm, zero_init=zero_init)
                                    for _ in range(n_blocks))
        self.out = nn.Linear(d_in, d_out) if out_proj else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _flat(x, self.d_in, "ConventionalResMLP")
        for block in self.blocks:
            x = block(x)
        return self.out(x)


def count_trainable(model: nn.Module) -> int:
    """Trainable parameters (what the Pareto sweeps match budgets on; the frozen W_in is excluded)."""
    return count_params(model, trainable=True)


def hourglass_params(d_in: int, d_out: int, d_z: int, d_h: int, n_blocks: int, *, norm: str = "layernorm",
                     freeze_input_proj: bool = True) -> int:
    """Closed form: L (2 d_z d_h + d_h + d_z + norm) + d_out (d_z + 1) [+ d_z d_in if W_in is trained] (card)."""
    lift = 0 if freeze_input_proj else d_z * d_in
    return n_blocks * block_params(d_z, d_h, norm) + d_out * (d_z + 1) + lift


def conventional_params(d_in: int, d_out: int, d_h: int, n_blocks: int, *, norm: str = "layernorm",
                        out_proj: bool = True) -> int:
    """Closed form: L (2 d d_h + d_h + d + norm) [+ d_out (d + 1) with the head], d = d_in."""
    return n_blocks * block_params(d_in, d_h, norm) + (d_out * (d_in + 1) if out_proj else 0)


# ---------------------------------------------------------------- exact checks (card, ladder step 1)
# (a)+(b) ``frozen_drift``: after training, W_in still equals ``random_projection(d_z, d_in, proj_seed)``
#         regenerated from its seed, bit for bit (the frozen lift is never stored, only its seed).
# (c)     ``residual_identity_error``: with every W_up (and its bias) zero, each block is the identity,
#         so the network is exactly x -> W_out W_in x + b (the skip connections carry z_0 unchanged).
# (d)     ``jl_ratios``: ||W_in x - W_in y|| / ||x - y|| for random pairs; N(0, 1/d_z) entries keep it
#         near 1 (Johnson-Lindenstrauss; card: within [0.8, 1.2] at d_z = 2048).
# (e)     the closed-form trainable counts of ``model.hourglass_params`` / ``conventional_params``.
def frozen_drift(model: HourglassMLP) -> float:
    """max |W_in - W_in regenerated from ``proj_seed``|; ``inf`` when W_in is trainable (not frozen)."""
    if model.w_in.requires_grad:
        return math.inf
    fresh = random_projection(model.d_z, model.d_in, model.proj_seed).to(model.w_in)
    return float((model.w_in.detach() - fresh).abs().max())


def residual_identity_error(d_in: int = 784, d_out: int = 10, d_z: int = 256, d_h: int = 32, n_blocks: int = 3, *,
                            seed: int = 0, norm: str = "layernorm") -> float:
    """Build a float64 Hourglass MLP with zero-initialised W_up, return max |f(x) - (W_out W_in x + b)| on 16
    random inputs. The reference is written from the weights directly, not through the model's forward.
    """
    with torch.random.fork_rng():  # the global RNG is left as it was
        torch.manual_seed(seed)
        model = HourglassMLP(d_in, d_out, d_z, d_h, n_blocks, proj_seed=seed, norm=norm, zero_init=True).double()
        x = torch.rand(16, d_in, dtype=torch.float64)
    with torch.no_grad():
        ref = x @ model.w_in.T @ model.out.weight.T + model.out.bias
        return float((model(x) - ref).abs().max())


def jl_ratios(w_in: torch.Tensor, x: torch.Tensor, n_pairs: int = 100, *, seed: int = 0) -> torch.Tensor:
    """||W_in (x_i - x_j)|| / ||x_i - x_j|| for ``n_pairs`` random pairs i != j of the rows of ``x`` (flattened)."""
    x = x.flatten(1).to(w_in.dtype)
    if x.shape[1] != w_in.shape[1]:
        raise ValueError(f"jl_ratios: x has {x.shape[1]} features, W_in takes {w_in.shape[1]}")
    if len(x) < 2:
        raise ValueError("jl_ratios: need at least two samples")
    g = torch.Generator().manual_seed(seed)
    i = torch.randint(0, len(x), (n_pairs,), generator=g)
    j = (i + torch.randint(1, len(x), (n_pairs,), generator=g)) % len(x)  # never equal to i
    diff = x[i] - x[j]
    return (diff @ w_in.T).norm(dim=1) / diff.norm(dim=1)


# ---------------------------------------------------------------- registered models (arena)
@register_model("hourglass_mlp", task=("mnist", "fashion-mnist"), knob="width")
def hourglass_mlp(in_dim: int = 784, num_classes: int = 10, *, width: int = 1024, depth: int = 4, bottleneck: int = 128,
                  freeze_input_proj: bool = True, proj_seed: int = 0, act: str = "gelu", norm: str = "layernorm") -> nn.Module:
    """Hourglass MLP classifier: width = d_z (skip width), bottleneck = d_h, depth = L blocks; W_in frozen.

    Defaults are ours (the paper's grids were not retrieved): d_z=1024 > 784 (a lift), d_h=128,
    L=4, about 1.07M trainable parameters. The budget knob turns d_z at fixed d_h (the paper's
    scaling: larger budgets want wider skips and narrower bottlenecks); budgets count trainable weights.
    """
    return HourglassMLP(in_dim, num_classes, width, bottleneck, depth, freeze_input_proj=freeze_input_proj,
                        proj_seed=proj_seed, act=act, norm=norm)


@register_model("residual_mlp", task=("mnist", "fashion-mnist"), knob="width")
def residual_mlp(in_dim: int = 784, num_classes: int = 10, *, width: int = 512, depth: int = 2, act: str = "gelu",
                 norm: str = "layernorm") -> nn.Module:
    """Conventional residual MLP classifier: stream at in_dim, width = d_h, depth = L blocks, linear head.

    Defaults are ours (d_h=512, L=2 from the card's cpu grid; about 1.62M parameters).
    """
    return ConventionalResMLP(in_dim, num_classes, width, depth, act=act, norm=norm)


def _image_example() -> torch.Tensor:
    return torch.rand(4, 784, generator=torch.Generator().manual_seed(0))


@register_model("hourglass_mlp_regressor", task="regression", example=_image_example, knob="width")
def hourglass_mlp_regressor(in_dim: int = 784, out_dim: int = 784, *, width: int = 1024, depth: int = 4,
                            bottleneck: int = 128, freeze_input_proj: bool = True, proj_seed: int = 0, act: str = "gelu",
                            norm: str = "layernorm") -> nn.Module:
    """Hourglass MLP for image restoration (denoising, super-resolution): flattened image in, image out.

    width = d_z, bottleneck = d_h, depth = L; defaults as ``hourglass_mlp`` (ours; ~1.87M trainable).
    """
    return HourglassMLP(in_dim, out_dim, width, bottleneck, depth, freeze_input_proj=freeze_input_proj,
                        proj_seed=proj_seed, act=act, norm=norm)


@register_model("residual_mlp_regressor", task="regression", example=_image_example, knob="width")
def residual_mlp_regressor(in_dim: int = 784, out_dim: int = 784, *, width: int = 512, depth: int = 2,
                           out_proj: bool = True, act: str = "gelu", norm: str = "layernorm") -> nn.Module:
    """Conventional residual MLP for restoration: the stream is the image, then a trained head (ours: ~2.23M)."""
    return ConventionalResMLP(in_dim, out_dim, width, depth, out_proj=out_proj, act=act, norm=norm)
