"""The finite-width network whose infinite-width NNGP / NTK the recursions describe (card "Setting").

f(x) = W_{L+1} phi(h_L) / sqrt(n),  h_1 = W_1 x,  h_{l+1} = W_{l+1} phi(h_l) / sqrt(n),  all W ~ N(0, 1),
no biases, NTK parametrisation, x on the unit sphere, phi normalised (E phi(z)^2 = 1). As n -> inf, for unit
x, z: Cov(f(x), f(z)) = xi_L (NNGP) and sum_theta df(x)/dtheta df(z)/dtheta = K_L (NTK) of `kernels.py`, with
L = ``depth`` = the number of hidden layers.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo.papers.wide_deep_optimal.duals import get_activation
from paperzoo.registry import register_model


class WideDeepMLP(nn.Module):
    """Bias-free MLP in NTK parametrisation; ``depth`` hidden layers of ``width`` units; inputs projected onto
    the unit sphere when ``project`` (the paper's inputs). Shapes: (B, in_dim) -> (B, num_classes)."""

    def __init__(self, in_dim: int = 16, num_classes: int = 1, *, width: int = 512, depth: int = 3,
                 act: str = "opt_3d", project: bool = True):
        super().__init__()
        if min(in_dim, num_classes, width, depth) < 1:
            raise ValueError(f"in_dim, num_classes, width, depth must be >= 1, got {in_dim}, {num_classes}, {width}, {depth}")
        self.act, self.project, self.depth = get_activation(act), project, depth
        dims = [in_dim] + [width] * depth + [num_classes]
        self.weights = nn.ParameterList(nn.Parameter(torch.randn(o, i)) for i, o in zip(dims[:-1], dims[1:]))
        self.scales = [1.0] + [1.0 / math.sqrt(width)] * depth   # layer 1: x has unit norm, so Var(h_1) = 1

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Post-activations phi(h_1), ..., phi(h_L), each (B, width)."""
        if x.dim() != 2 or x.shape[1] != self.weights[0].shape[1]:
            raise ValueError(f"expected input (B, {self.weights[0].shape[1]}), got {tuple(x.shape)}")
        h = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12) if self.project else x
        outs = []
        for w, c in zip(self.weights[:-1], self.scales[:-1]):
            h = self.act(c * h @ w.T)
            outs.append(h)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scales[-1] * self.hidden(x)[-1] @ self.weights[-1].T


@register_model("wide_deep_mlp", task="regression", knob="width",
                example=lambda: torch.randn(4, 16))
def wide_deep_mlp(in_dim: int = 16, num_classes: int = 1, *, width: int = 512, depth: int = 3,
                  act: str = "opt_3d") -> WideDeepMLP:
    """Bias-free NTK-parametrised MLP on the sphere (paper's setting); act = opt_3d (official "3d_opt"), budget knob
    width (depth 3 and width 512 are ours: the card gives no finite width except the optional 2048 of its full rung)."""
    return WideDeepMLP(in_dim, num_classes, width=width, depth=depth, act=act)


def empirical_ntk(model: WideDeepMLP, x: torch.Tensor) -> torch.Tensor:
    """Theta_ij = sum_theta df(x_i)/dtheta . df(x_j)/dtheta for the first output, by autograd (B, B)."""
    params = [p for p in model.parameters() if p.requires_grad]
    out = model(x)[:, 0]
    rows = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(out[i], params, retain_graph=True)])
            for i in range(len(x))]
    jac = torch.stack(rows)
    return jac @ jac.T


def empirical_nngp(model: WideDeepMLP, x: torch.Tensor) -> torch.Tensor:
    """(1/n) phi(h_L(x)) . phi(h_L(z)): the Monte-Carlo NNGP of the last hidden layer (B, B), which
    estimates the output covariance E[f(x) f(z)] over W_{L+1}."""
    h = model.hidden(x)[-1]
    return h @ h.T / h.shape[1]
