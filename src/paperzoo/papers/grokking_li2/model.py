"""The two-layer network of Li2, its losses and the stage-I ridge ("lazy") top layer.

Official ``ModularAdditionNN`` (facebookresearch/luckmatters, ``ssl/real-dataset/cogo``): the input is the
concatenation of one-hot codes of a and b (frozen identity embedding, 2M dims), hidden pre-activation
h = W [e_a; e_b] = W_a[:, a] + W_b[:, b] with W = [W_a | W_b] in R^{K x 2M} (no bias), F = sigma(h), output
o = V F with V in R^{M x K} (no bias). Init: PyTorch's default Linear init (Kaiming-uniform, bound 1/sqrt(fan_in)).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as nnf
from torch import nn

from paperzoo.registry import register_model

ACTIVATIONS = {
    "sqr": (lambda x: x.square(), lambda x: 2 * x),                     # official default sigma = x^2
    "relu": (torch.relu, lambda x: (x > 0).to(x.dtype)),
    "silu": (nnf.silu, lambda x: torch.sigmoid(x) * (1 + x * (1 - torch.sigmoid(x)))),
    "relusqr": (lambda x: torch.relu(x).square(), lambda x: 2 * torch.relu(x)),
}


def activation(name: str):
    """(sigma, sigma') for ``name`` in ACTIVATIONS."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class TwoLayerGroupNet(nn.Module):
    """o = V sigma(W [e_a; e_b]) for group elements a, b of a group of order M. Shapes: (B, 2) int64 -> (B, M).

    ``M`` group order, ``width`` = K hidden nodes (official ``hidden_size``; yaml default 512), ``act`` sigma."""

    def __init__(self, M: int = 23, *, width: int = 512, act: str = "sqr"):
        super().__init__()
        if M < 2 or width < 1:
            raise ValueError(f"M must be >= 2 and width >= 1, got M={M}, width={width}")
        self.M, self.act_name = M, act
        self.sigma = activation(act)[0]
        self.W = nn.Parameter(torch.empty(width, 2 * M))
        self.V = nn.Parameter(torch.empty(M, width))
        for p in (self.W, self.V):                                        # nn.Linear default: U(+-1/sqrt(fan_in))
            nn.init.kaiming_uniform_(p, a=math.sqrt(5))

    def hidden(self, pairs: torch.Tensor) -> torch.Tensor:
        """Pre-activations h = W_a[:, a] + W_b[:, b], (B, K): one-hot times W without building the one-hots."""
        if pairs.dim() != 2 or pairs.shape[1] != 2 or pairs.dtype != torch.int64:
            raise ValueError(f"expected int64 pairs (B, 2), got {tuple(pairs.shape)} {pairs.dtype}")
        if pairs.numel() and (pairs.min() < 0 or pairs.max() >= self.M):
            raise ValueError(f"group elements must lie in 0..{self.M - 1}")
        wt = self.W.T
        return wt[pairs[:, 0]] + wt[self.M + pairs[:, 1]]

    def features(self, pairs: torch.Tensor) -> torch.Tensor:
        """F = sigma(h), (B, K)."""
        return self.sigma(self.hidden(pairs))

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return self.features(pairs) @ self.V.T

    @torch.no_grad()
    def set_ridge_top(self, pairs: torch.Tensor, y_tilde: torch.Tensor, eta: float) -> None:
        """Stage-I lazy top layer: V <- ((F^T F + eta I)^-1 F^T Ytilde)^T on the batch (official ``set_weight_reg``)."""
        self.V.copy_(ridge_solution(self.features(pairs), y_tilde, eta).T)


def ridge_solution(f: torch.Tensor, y: torch.Tensor, eta: float) -> torch.Tensor:
    """(F^T F + eta I)^-1 F^T Y via the SVD F = U diag(s) V^T: V diag(s / (s^2 + eta)) U^T Y (official). (K, M)."""
    if eta <= 0:
        raise ValueError(f"ridge eta must be > 0, got {eta}")
    u, s, vt = torch.linalg.svd(f, full_matrices=False)
    return vt.T @ ((u.T @ y) * (s / (s.square() + eta))[:, None])


def centered_targets(labels: torch.Tensor, M: int, dtype=torch.float32) -> torch.Tensor:
    """Ytilde = one-hot - 1/M (zero-mean rows; official ``Y_train``). (n, M)."""
    return nnf.one_hot(labels, M).to(dtype) - 1.0 / M


def centered_mse(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Official "mse": mean over samples of ||o~ - y~||^2, o~ = logits minus their per-sample mean, y~ = one-hot - 1/M."""
    o = logits - logits.mean(1, keepdim=True)
    return (o - centered_targets(labels, logits.shape[1], logits.dtype)).square().sum(1).mean()


def nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Official "nll": cross-entropy on the logits."""
    return nnf.cross_entropy(logits, labels)


LOSSES = {"mse": centered_mse, "nll": nll}


def _example():
    return torch.randint(0, 23, (4, 2))


@register_model("li2_group_net", task="sequence", example=_example, knob="width")
def li2_group_net(M: int = 23, *, width: int = 512, act: str = "sqr") -> TwoLayerGroupNet:
    """Li2's two-layer net on pairs of elements of a group of order M (input (B, 2) token ids -> (B, M) logits);
    sigma = x^2 and K = 512 are the official ``dyn_madd.yaml`` defaults; budget knob: width (K)."""
    return TwoLayerGroupNet(M, width=width, act=act)
