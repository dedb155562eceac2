"""The two-layer ReLU net f(x) = sum_j alpha_j (u_j . [x, 1])_+ (card "Network and non-convex problem"), its
regularised objective l(f(X), y) + (beta / 2) sum_j (||u_j||^2 + alpha_j^2), and the non-convex baseline:
independent Adam restarts trained at once (batched over restarts, no Python loop over them)."""
from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo.papers.convex_relu.problem import loss_value
from paperzoo.registry import register_model


class TwoLayerReLU(nn.Module):
    """f(x) = sum_j alpha_j (u_j . x~)_+ with x~ = [x, 1] when ``bias`` (the card's constant feature, appended
    last as in ``add_bias``). ``U`` (width, in_dim + bias), ``alpha`` (width,); forward (B, in_dim) -> (B,).

    Default init: u_j ~ N(0, I / d~), alpha_j ~ N(0, 1 / width) (a He-like scale; the paper's baseline init was
    not retrieved)."""

    def __init__(self, in_dim: int = 16, *, width: int = 64, bias: bool = True):
        super().__init__()
        if in_dim < 1 or width < 1:
            raise ValueError(f"TwoLayerReLU: in_dim and width must be >= 1, got {in_dim}, {width}")
        self.in_dim, self.bias = in_dim, bias
        d = in_dim + int(bias)
        self.U = nn.Parameter(torch.randn(width, d) / math.sqrt(d))
        self.alpha = nn.Parameter(torch.randn(width) / math.sqrt(width))

    @classmethod
    def from_neurons(cls, U: torch.Tensor, alpha: torch.Tensor, *, bias: bool = True) -> "TwoLayerReLU":
        """A net holding given neurons (e.g. ``recover_network(v, w)``); U's last column is the bias weight."""
        if U.dim() != 2 or alpha.shape != (U.shape[0],) or U.shape[0] == 0:
            raise ValueError(f"need U (m, d) and alpha (m,) with m >= 1, got {tuple(U.shape)}, {tuple(alpha.shape)}")
        net = cls(U.shape[1] - int(bias), width=U.shape[0], bias=bias).to(U.dtype)
        with torch.no_grad():
            net.U.copy_(U)
            net.alpha.copy_(alpha)
        return net.to(U.device)

    @property
    def width(self) -> int:
        return self.U.shape[0]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"TwoLayerReLU: expected input (B, {self.in_dim}), got {tuple(x.shape)}")
        if self.bias:
            x = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)], 1)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.features(x) @ self.U.T).clamp(min=0) @ self.alpha

    def objective(self, x: torch.Tensor, y: torch.Tensor, beta: float, loss: str = "mse") -> torch.Tensor:
        """l(f(x), y) + (beta / 2) (||U||_F^2 + ||alpha||^2): the non-convex problem of the card."""
        return loss_value(self(x), y, loss) + 0.5 * beta * (self.U.square().sum() + self.alpha.square().sum())


@register_model("convex_relu_net", task="regression", knob="width", example=lambda: torch.randn(4, 16))
def convex_relu_net(in_dim: int = 16, *, width: int = 64, bias: bool = True) -> TwoLayerReLU:
    """The two-layer ReLU net that convex training recovers (scalar output); knob: hidden neurons (= non-zero
    convex blocks after recovery)."""
    return TwoLayerReLU(in_dim, width=width, bias=bias)


def batched_objective(U: torch.Tensor, alpha: torch.Tensor, X: torch.Tensor, y: torch.Tensor, beta: float,
                      loss: str = "mse") -> torch.Tensor:
    """Objectives (R,) of R nets at once: U (R, m, d) acting on X (n, d) (bias column included), alpha (R, m)."""
    pred = torch.einsum("rnm,rm->rn", (X @ U.transpose(1, 2)).clamp(min=0), alpha)
    return loss_value(pred, y, loss) + 0.5 * beta * (U.square().sum((1, 2)) + alpha.square().sum(1))


def adam_restarts(X: torch.Tensor, y: torch.Tensor, *, width: int, beta: float, restarts: int = 20,
                  steps: int = 5000, lr: float = 1e-2, loss: str = "mse", generator: torch.Generator | None = None
                  ) -> dict:
    """The non-convex baseline (card smoke (b)): ``restarts`` independent nets of ``width`` neurons, full-batch
    Adam (lr 1e-2, 5 000 steps: the card's check) on the regularised objective, trained as one batched tensor
    (Adam is per-coordinate and the objectives are separate, so this equals ``restarts`` separate runs).

    ``X`` (n, d) includes the bias column. Returns {"final": (R,) objectives, "best": (R,) lowest seen,
    "U", "alpha" (final weights)}. Init as ``TwoLayerReLU``, drawn on the CPU from ``generator``."""
    if restarts < 1 or steps < 0 or width < 1:
        raise ValueError(f"adam_restarts: need restarts >= 1, steps >= 0, width >= 1; got {restarts}, {steps}, {width}")
    d = X.shape[1]
    U = (torch.randn(restarts, width, d, generator=generator, dtype=torch.float64) / math.sqrt(d)).to(X)
    alpha = (torch.randn(restarts, width, generator=generator, dtype=torch.float64) / math.sqrt(width)).to(X)
    U.requires_grad_(True)
    alpha.requires_grad_(True)
    opt = torch.optim.Adam([U, alpha], lr=lr)
    best = torch.full((restarts,), math.inf, dtype=X.dtype, device=X.device)
    for _ in range(steps):
        obj = batched_objective(U, alpha, X, y, beta, loss)
        best = torch.minimum(best, obj.detach())
        opt.zero_grad(set_to_none=True)
        obj.sum().backward()
        opt.step()
    with torch.no_grad():
        final = batched_objective(U, alpha, X, y, beta, loss)
    return {"final": final, "best": torch.minimum(best, final), "U": U.detach(), "alpha": alpha.detach()}
