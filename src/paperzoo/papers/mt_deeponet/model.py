"""Multi-task DeepONet (Kumar, Goswami, Kontolati, Shields, Karniadakis 2024): an unstacked DeepONet whose branch
reads the task (Taylor coefficients of a reaction term, or a geometry mask) and whose output is masked.

``G(v)(y) ~ sum_k b_k(v) t_k(y)`` (no output bias), and with a geometry mask ``M``: ``M(y) sum_k b_k(v) t_k(y)``
(card "The method" (B); the mask is also an input channel of the branch). Layouts and defaults are the official
code's (``Fisher/model.py``, ``Darcy/model.py``, the yamls; source-checked in the card):

* ``FisherBranchMLP``: Dense 68 -> 128 (linear) -> LayerNorm -> leaky-ReLU(0.2) -> Dense 128 -> LayerNorm ->
  leaky-ReLU -> Dense 128 -> 300 (linear); ``Trunk``: Dense 2 -> 128 -> 128 -> 128 (leaky-ReLU) -> 300 (linear).
* ``DarcyBranchCNN``: [Conv 5 x 5 "same" -> ReLU -> AvgPool 2] x 4 (16, 32, 64, 64 filters) -> flatten ->
  Dense 128 tanh -> Dropout 0.1 -> Dense 128 tanh -> Dropout 0.1 -> Dense 150; trunk 2 -> 64 -> 128 -> 128 -> 128 -> 150.
* Init: Glorot-normal kernels, biases N(0, 0.01^2) (both official models). Keras' ``leaky_relu`` slope is 0.2.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo.registry import register_model

SLOPE = 0.2  # Keras leaky_relu default (card pitfall; PyTorch's default is 0.01)


def keras_init_(module: nn.Module) -> nn.Module:
    """Glorot-normal kernels, N(0, 0.01^2) biases on every Linear / Conv2d (official ``model.py`` initialisers)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            fan_out, fan_in = m.weight.shape[0], m.weight.shape[1]
            rf = m.weight[0, 0].numel()
            with torch.no_grad():
                m.weight.normal_(0.0, math.sqrt(2.0 / ((fan_in + fan_out) * rf)))
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.01)
    return module


class Trunk(nn.Module):
    """``Trunk(dims=(2, 128, 128, 128), latent=300)``: leaky-ReLU(0.2) after every hidden layer, linear output.
    ``y`` (N, dims[0]) -> (N, latent)."""

    def __init__(self, dims: tuple[int, ...] = (2, 128, 128, 128), latent: int = 300, *, negative_slope: float = SLOPE):
        super().__init__()
        if len(dims) < 2 or min(dims) < 1 or latent < 1:
            raise ValueError(f"Trunk: need dims (in, hidden...) >= 1 and latent >= 1, got {dims}, {latent}")
        layers: list[nn.Module] = []
        for a, b in zip(dims, dims[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(negative_slope)]
        self.net = nn.Sequential(*layers, nn.Linear(dims[-1], latent))
        keras_init_(self)

    @property
    def out(self) -> nn.Linear:
        """The output layer (the trunk layer the official transfer step keeps trainable)."""
        return self.net[-1]

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.net(y)


class FisherBranchMLP(nn.Module):
    """Branch on ``[c_1..c_4, u_0(x_1..x_m)]`` (B, n_coeff + n_sensors) -> (B, latent): each hidden block is
    Dense (no activation) -> LayerNorm -> leaky-ReLU(0.2); the last Dense is linear (official ``Fisher/model.py``)."""

    def __init__(self, n_coeff: int = 4, n_sensors: int = 64, hidden: tuple[int, ...] = (128, 128), latent: int = 300, *,
                 layernorm: bool = True, negative_slope: float = SLOPE):
        super().__init__()
        if n_coeff < 0 or n_sensors < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"FisherBranchMLP: bad sizes n_coeff={n_coeff}, n_sensors={n_sensors}, hidden={hidden}")
        self.in_dim = n_coeff + n_sensors
        layers: list[nn.Module] = []
        for a, b in zip((self.in_dim, *hidden), hidden):
            layers += [nn.Linear(a, b), nn.LayerNorm(b, eps=1e-3) if layernorm else nn.Identity(),
                       nn.LeakyReLU(negative_slope)]
        self.net = nn.Sequential(*layers, nn.Linear(hidden[-1], latent))
        keras_init_(self)

    def kernels(self) -> list[torch.Tensor]:
        """The Dense kernels the official L2 regulariser (1e-3) acts on."""
        return [m.weight for m in self.net if isinstance(m, nn.Linear)]

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        if v.ndim != 2 or v.shape[1] != self.in_dim:
            raise ValueError(f"FisherBranchMLP: v must be (B, {self.in_dim}), got {tuple(v.shape)}")
        return self.net(v)


class DarcyBranchCNN(nn.Module):
    """Branch on fields (B, in_ch, res, res) -> (B, latent): [Conv k x k "same" -> ReLU -> AvgPool 2] per filter
    count, flatten, tanh MLP with dropout, linear output (official ``Darcy/model.py``; pooling floors like Keras')."""

    def __init__(self, in_ch: int = 2, filters: tuple[int, ...] = (16, 32, 64, 64), k: int = 5,
                 mlp: tuple[int, ...] = (128, 128), latent: int = 150, dropout: float = 0.1, *, res: int = 100):
        super().__init__()
        side = res
        for _ in filters:
            side //= 2
        if in_ch < 1 or not filters or min(filters) < 1 or k % 2 == 0 or side < 1 or not mlp:
            raise ValueError(f"DarcyBranchCNN: in_ch={in_ch}, filters={filters}, odd k={k}, mlp={mlp} and res={res} "
                             f"(>= 2^{len(filters)}) needed")
        self.in_ch, self.res = in_ch, res
        convs: list[nn.Module] = []
        for a, b in zip((in_ch, *filters), filters):
            convs += [nn.Conv2d(a, b, k, padding=k // 2), nn.ReLU(), nn.AvgPool2d(2)]
        self.cnn = nn.Sequential(*convs, nn.Flatten())
        dense: list[nn.Module] = []
        for a, b in zip((filters[-1] * side * side, *mlp), mlp):
            dense += [nn.Linear(a, b), nn.Tanh(), nn.Dropout(dropout)]
        self.mlp = nn.Sequential(*dense, nn.Linear(mlp[-1], latent))
        keras_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1:] != (self.in_ch, self.res, self.res):
            raise ValueError(f"DarcyBranchCNN: x must be (B, {self.in_ch}, {self.res}, {self.res}), got {tuple(x.shape)}")
        return self.mlp(self.cnn(x))


class MTDeepONet(nn.Module):
    """``MTDeepONet(branch, trunk, latent=None, output_bias=False)``; ``forward(v, y, mask=None) -> (B, N)``:
    ``out[b, n] = M[b, n] * sum_k branch(v)[b, k] trunk(y)[n, k]`` (card method (B); ``mask`` (B, N) or (N,))."""

    def __init__(self, branch: nn.Module, trunk: nn.Module, latent: int | None = None, output_bias: bool = False):
        super().__init__()
        self.branch, self.trunk, self.latent = branch, trunk, latent
        self.b0 = nn.Parameter(torch.zeros(())) if output_bias else None

    def forward(self, v: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t = self.branch(v), self.trunk(y)
        if b.shape[-1] != t.shape[-1] or (self.latent is not None and b.shape[-1] != self.latent):
            raise ValueError(f"MTDeepONet: branch gives {b.shape[-1]} and trunk {t.shape[-1]} latent features"
                             + (f", expected {self.latent}" if self.latent is not None else ""))
        out = b @ t.T
        if self.b0 is not None:
            out = out + self.b0
        if mask is not None:
            if mask.shape[-1] != out.shape[-1] or mask.ndim > 2:
                raise ValueError(f"MTDeepONet: mask must be (N,) or (B, N) with N = {out.shape[-1]}, got {tuple(mask.shape)}")
            out = out * mask.to(out.dtype)
        return out


def grid_coords(res: int, *, lo: float = -1.0, hi: float = 1.0, device=None, dtype=None) -> torch.Tensor:
    """Trunk inputs of a res x res node grid, (res * res, 2), row-major (C order), coordinates in [lo, hi]
    (official Darcy: rescaled to [-1, 1])."""
    s = torch.linspace(lo, hi, res, device=device, dtype=dtype)
    return torch.stack(torch.meshgrid(s, s, indexing="ij"), -1).reshape(-1, 2)


class DarcyMTDeepONet(nn.Module):
    """The Darcy multi-geometry model on a grid: ``forward(x (B, in_ch, res, res), mask=None) -> (B, 1, res, res)``.

    The branch CNN reads ``[x, M]`` (the mask as an extra channel), the trunk the grid nodes in [-1, 1]^2, and the
    output is multiplied by ``M`` (card method (B)). ``mask`` (B, res, res) or (res, res), 1 inside the domain;
    ``None`` means the whole box (``M = 1``), which is how the 2-D operator arena calls it.
    """

    def __init__(self, in_ch: int = 1, *, res: int = 100, width: int = 128, filters: tuple[int, ...] | None = None,
                 latent: int = 150, dropout: float = 0.1, k: int = 5):
        super().__init__()
        if width < 1:
            raise ValueError(f"DarcyMTDeepONet: width must be >= 1, got {width}")
        filters = filters or (max(1, width // 8), max(1, width // 4), max(1, width // 2), max(1, width // 2))
        self.in_ch, self.res = in_ch, res
        self.net = MTDeepONet(DarcyBranchCNN(in_ch + 1, filters, k, (width, width), latent, dropout, res=res),
                              Trunk((2, max(1, width // 2), width, width, width), latent), latent)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1:] != (self.in_ch, self.res, self.res):
            raise ValueError(f"DarcyMTDeepONet: x must be (B, {self.in_ch}, {self.res}, {self.res}) (built for res "
                             f"{self.res}), got {tuple(x.shape)}")
        B = x.shape[0]
        if mask is None:
            m = torch.ones(B, self.res, self.res, dtype=x.dtype, device=x.device)
        else:
            if mask.shape[-2:] != (self.res, self.res) or mask.ndim not in (2, 3):
                raise ValueError(f"DarcyMTDeepONet: mask must be ({self.res}, {self.res}) or (B, ...), got {tuple(mask.shape)}")
            m = mask.to(x.dtype).expand(B, self.res, self.res)
        y = grid_coords(self.res, device=x.device, dtype=x.dtype)
        out = self.net(torch.cat([x, m[:, None]], 1), y, m.reshape(B, -1))
        return out.view(B, 1, self.res, self.res)


def freeze_for_transfer(model: DarcyMTDeepONet) -> list[str]:
    """Official ``main_target_model.py``: train the first conv layer, all branch Dense layers and the trunk output
    layer; freeze everything else. Returns the names of the trainable parameters."""
    net = model.net
    keep = {id(p) for p in net.branch.cnn[0].parameters()}
    keep |= {id(p) for m in net.branch.mlp if isinstance(m, nn.Linear) for p in m.parameters()}
    keep |= {id(p) for p in net.trunk.out.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)
    return [n for n, p in model.named_parameters() if p.requires_grad]


@register_model("mt_deeponet_fisher", task="operator-1d", knob="width",
                example=lambda: (torch.randn(4, 68), torch.rand(7, 2)))
def mt_deeponet_fisher(n_coeff: int = 4, n_sensors: int = 64, *, width: int = 128, depth: int = 2,
                       latent: int = 300) -> MTDeepONet:
    """Fisher MT-DeepONet: branch [4 + 64, 128 x 2 (LayerNorm), 300], trunk [2, 128 x 3, 300] (official yaml);
    ``forward(v (B, 68), y (N, 2) = (t, x)) -> (B, N)``. ``width`` scales every hidden layer."""
    return MTDeepONet(FisherBranchMLP(n_coeff, n_sensors, (width,) * depth, latent), Trunk((2,) + (width,) * (depth + 1),
                                                                                        latent), latent)


@register_model("mt_deeponet_darcy", task="operator-2d", knob="width", example=lambda: torch.rand(2, 1, 64, 64))
def mt_deeponet_darcy(in_ch: int = 1, out_ch: int = 1, *, res: int = 64, width: int = 128, latent: int = 150,
                      dropout: float = 0.1) -> DarcyMTDeepONet:
    """Darcy MT-DeepONet with the mask channel (official source yaml at ``width=128``: filters 16/32/64/64, MLP 128 x 2,
    trunk 64/128/128/128, p = 150; ``width`` scales filters and widths together). ``res`` is fixed at construction
    (the branch flattens the last feature map): 64 for the Darcy arena, 100 in the paper. One output channel."""
    if out_ch != 1:
        raise ValueError(f"mt_deeponet_darcy: a DeepONet with one trunk gives one output channel, got out_ch={out_ch}")
    return DarcyMTDeepONet(in_ch, res=res, width=width, latent=latent, dropout=dropout)
