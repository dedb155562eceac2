"""Random-feature attention (RFA) and the random-feature MLP it is compared with (card "The method").

RFA, M heads, frozen query-key products ``W_m`` (d+1, d+1), trainable values ``v_m`` (d+1), tokens augmented
with a constant coordinate ``x~ = [x; 1]``:

    f(x_{0:N}) = sum_m (1/N) sum_i sigma(x~_0^T W_m x~_i) <v_m, x~_i>
               = <V, Phi(x_{0:N})>,   Phi_m = (1/N) sum_i sigma(x~_0^T W_m x~_i) x~_i.

``W_m = Wbar + G_m``: ``G_m`` i.i.d. N(0, 1/d^2) on the x-block (so x_0^T G x_i ~ N(0, 1) for tokens of norm
sqrt(d)) and N(0, 1/d) on the entries touching the constant coordinate; the biased draw adds
``Wbar = (kappa / sqrt(d)) diag(I_d, 0)`` (mean pre-activation ``kappa <x_0, x_i> / sqrt(d)``). All scales are
the card's (ASSUMED, paper body not retrieved). ``sigma``: relu (default), exp, or softmax over the keys
(which replaces ``(1/N) sigma``).

RF-MLP on the flattened sequence ``z = vec(x~_0, ..., x~_N)``: ``g(z) = sum_k a_k sigma(<w_k, z>)``, frozen
``w_k ~ N(0, I / dim z)`` (``<w_k, z> ~ N(0, 1)`` as ``|z|^2 ~ dim z``), trainable ``a``; the card matches the
trainable count, ``K = M (d + 1)``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo.nn import ridge_solve
from paperzoo.registry import register_model

ACTIVATIONS = ("relu", "exp", "softmax")
_CHUNK = 1024


def _check_act(activation: str, who: str, allowed=ACTIVATIONS) -> None:
    if activation not in allowed:
        raise ValueError(f"{who}: activation must be one of {allowed}, got {activation!r}")


def augment(x: torch.Tensor) -> torch.Tensor:
    """``[x; 1]`` on the last axis."""
    return torch.cat([x, torch.ones_like(x[..., :1])], -1)


class _LinearInFeatures(nn.Module):
    """Shared API: ``features`` (B, P) -> prediction ``features @ weight``; ``fit_ridge`` sets the weight."""

    weight: nn.Parameter

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.features(*inputs) @ self.weight.reshape(-1)

    @torch.no_grad()
    def fit_ridge(self, *inputs_and_y: torch.Tensor, lam: float) -> "_LinearInFeatures":
        """Least squares with penalty: ``argmin (1/n) ||Phi v - y||^2 + lam ||v||^2`` (float64), stored in place."""
        *inputs, y = inputs_and_y
        v = ridge_solve(self.features(*inputs).double(), y.double().reshape(-1), lam)
        self.weight.copy_(v.reshape(self.weight.shape).to(self.weight.dtype))
        return self


class RandomFeatureAttention(_LinearInFeatures):
    """``RandomFeatureAttention(d, num_heads=256, *, activation="relu", qk_mean=0.0, seed=0)``; forward
    ``(x0 (B, d), X (B, N, d)) -> (B,)``. ``qk_mean`` is kappa (0: zero-mean RFA; card sweeps 1, 2).
    The query-key products are buffers (frozen, drawn from ``seed``); only ``weight`` (M, d+1) trains."""

    def __init__(self, d: int, num_heads: int = 256, *, activation: str = "relu", qk_mean: float = 0.0, seed: int = 0):
        super().__init__()
        if d < 1 or num_heads < 1:
            raise ValueError(f"RandomFeatureAttention: need d >= 1 and num_heads >= 1, got d={d}, num_heads={num_heads}")
        _check_act(activation, "RandomFeatureAttention")
        self.d, self.num_heads, self.activation, self.qk_mean = int(d), int(num_heads), activation, float(qk_mean)
        gen = torch.Generator().manual_seed(seed)
        std = torch.full((d + 1, d + 1), 1.0 / d)  # x-block 1/d; row / column of the constant coordinate 1/sqrt(d)
        std[d, :] = std[:, d] = 1.0 / math.sqrt(d)
        w = torch.randn(num_heads, d + 1, d + 1, generator=gen, dtype=torch.float64) * std.double()
        w[:, :d, :d] += (qk_mean / math.sqrt(d)) * torch.eye(d, dtype=torch.float64)
        self.register_buffer("qk", w.float())
        self.weight = nn.Parameter(torch.zeros(num_heads, d + 1))

    def _check(self, x0: torch.Tensor, X: torch.Tensor) -> None:
        if x0.ndim != 2 or X.ndim != 3 or x0.shape[0] != X.shape[0] or x0.shape[1] != self.d or X.shape[2] != self.d:
            raise ValueError(f"RandomFeatureAttention(d={self.d}): expected x0 (B, {self.d}) and X (B, N, {self.d}), got "
                             f"{tuple(x0.shape)} and {tuple(X.shape)}")

    def scores(self, x0: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """Pre-activations ``x~_0^T W_m x~_i``, (B, M, N)."""
        self._check(x0, X)
        q, k = augment(x0), augment(X)
        a = (q @ self.qk.to(q.dtype).permute(1, 0, 2).reshape(self.d + 1, -1)).view(len(q), self.num_heads, self.d + 1)
        return a @ k.transpose(1, 2)

    def features(self, x0: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """``Phi`` (B, M (d+1)), evaluated in chunks of 1024 sequences."""
        self._check(x0, X)
        out = []
        for s in range(0, len(x0), _CHUNK):
            q, k = x0[s:s + _CHUNK], X[s:s + _CHUNK]
            sc = self.scores(q, k)
            if self.activation == "softmax":
                att = torch.softmax(sc, -1)
            else:
                att = (torch.relu(sc) if self.activation == "relu" else torch.exp(sc)) / k.shape[1]
            out.append((att @ augment(k)).flatten(1))
        return torch.cat(out) if out else x0.new_zeros(0, self.num_heads * (self.d + 1))

    def extra_repr(self) -> str:
        return f"d={self.d}, num_heads={self.num_heads}, activation={self.activation!r}, qk_mean={self.qk_mean}"


class RandomFeatureMLP(_LinearInFeatures):
    """``RandomFeatureMLP(in_dim, num_features, *, activation="relu", seed=0)``: forward on ``z`` (B, in_dim) or on a
    sequence ``(x0, X)`` (flattened with the constant coordinate, ``in_dim = (N + 1)(d + 1)``) -> (B,)."""

    def __init__(self, in_dim: int, num_features: int, *, activation: str = "relu", seed: int = 0):
        super().__init__()
        if in_dim < 1 or num_features < 1:
            raise ValueError(f"RandomFeatureMLP: need in_dim >= 1 and num_features >= 1, got {in_dim}, {num_features}")
        _check_act(activation, "RandomFeatureMLP", ("relu", "exp"))
        self.in_dim, self.num_features, self.activation = int(in_dim), int(num_features), activation
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("w", (torch.randn(num_features, in_dim, generator=gen, dtype=torch.float64)
                                   / math.sqrt(in_dim)).float())
        self.weight = nn.Parameter(torch.zeros(num_features))

    def flatten(self, x0: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        return torch.cat([augment(x0).unsqueeze(1), augment(X)], 1).flatten(1)

    def features(self, *inputs: torch.Tensor) -> torch.Tensor:
        z = self.flatten(*inputs) if len(inputs) == 2 else inputs[0]
        if z.ndim != 2 or z.shape[1] != self.in_dim:
            raise ValueError(f"RandomFeatureMLP(in_dim={self.in_dim}): expected z (B, {self.in_dim}) or (x0, X) "
                             f"flattening to it, got {tuple(z.shape)}")
        pre = z @ self.w.to(z.dtype).T
        return torch.relu(pre) if self.activation == "relu" else torch.exp(pre)

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, num_features={self.num_features}, activation={self.activation!r}"


def _example(d: int = 16, num_keys: int = 8):
    return lambda: (torch.randn(4, d), torch.randn(4, num_keys, d))


@register_model("rfa", task="sequence", example=_example(), knob="num_heads")
def rfa(d: int = 16, *, num_heads: int = 256, activation: str = "relu", qk_mean: float = 0.0,
        seed: int = 0) -> RandomFeatureAttention:
    """Zero-mean random-feature attention; card cpu rung: d = 16, M = 256 heads."""
    return RandomFeatureAttention(d, num_heads, activation=activation, qk_mean=qk_mean, seed=seed)


@register_model("rfa_biased", task="sequence", example=_example(), knob="num_heads")
def rfa_biased(d: int = 16, *, num_heads: int = 256, activation: str = "relu", qk_mean: float = 1.0,
               seed: int = 0) -> RandomFeatureAttention:
    """Biased random-feature attention, query-key mean (kappa / sqrt d) I with kappa = 1 (card, ASSUMED)."""
    return RandomFeatureAttention(d, num_heads, activation=activation, qk_mean=qk_mean, seed=seed)


@register_model("rf_mlp_seq", task="sequence", example=_example(), knob="num_features")
def rf_mlp_seq(d: int = 16, num_keys: int = 8, *, num_features: int = 256 * 17, activation: str = "relu",
               seed: int = 0) -> RandomFeatureMLP:
    """Random-feature MLP on the flattened sequence; K = M (d + 1) = 4352 matches RFA's trainable count (card)."""
    return RandomFeatureMLP((num_keys + 1) * (d + 1), num_features, activation=activation, seed=seed)
