"""The finite-width learner: a two-layer ReLU net trained by full-batch GD on the k basis vectors (official
`model.py` `NTKMLP`, `experiment.py` `train_model`), one at a time or as a batched ensemble.

f(x) = W2 ReLU(W1 x + b1) + b2,  W1 ~ N(0, sigma_w^2 / k), W2 ~ N(0, sigma_w^2 / m), b ~ N(0, sigma_b^2);
standard parameterisation (no 1/sqrt(m) in the forward pass), so the NTK and the stable learning rate scale
with m. Loss: MSE averaged over batch and outputs; plain SGD, batch 256 >= k (one full-batch step per epoch).
Defaults from the official scripts: m = 50 000, sigma_w = 1, sigma_b = 0 (the trainer's None -> 0.0; the
class default sigma_b = 1 was not what ran), lr 1e-3, 10 000 steps.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.registry import register_model

OFFICIAL_WIDTH = 50_000
OFFICIAL_LR = 1e-3


def scaled_lr(width: int, lr: float = OFFICIAL_LR, ref_width: int = OFFICIAL_WIDTH) -> float:
    """lr * ref_width / width: keeps lr * m (the NTK time scale in this parameterisation) at the official value."""
    return lr * ref_width / width


class TwoLayerReLU(nn.Module):
    """f(x) = W2 ReLU(W1 x + b1) + b2 with the official init (``NTKMLP``). Shapes: (B, in_dim) -> (B, out_dim)."""

    def __init__(self, in_dim: int = 10, out_dim: int | None = None, *, width: int = OFFICIAL_WIDTH,
                 sigma_w: float = 1.0, sigma_b: float = 0.0):
        super().__init__()
        out_dim = in_dim if out_dim is None else out_dim
        if min(in_dim, out_dim, width) < 1 or sigma_w <= 0 or sigma_b < 0:
            raise ValueError(f"TwoLayerReLU: need in_dim, out_dim, width >= 1, sigma_w > 0, sigma_b >= 0; "
                             f"got {in_dim}, {out_dim}, {width}, {sigma_w}, {sigma_b}")
        self.fc1, self.fc2 = nn.Linear(in_dim, width), nn.Linear(width, out_dim)
        self.sigma_w, self.sigma_b = sigma_w, sigma_b
        with torch.no_grad():
            for fc in (self.fc1, self.fc2):
                fc.weight.normal_(0.0, sigma_w / math.sqrt(fc.in_features))
                fc.bias.normal_(0.0, sigma_b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.fc1.in_features:
            raise ValueError(f"TwoLayerReLU: expected input (B, {self.fc1.in_features}), got {tuple(x.shape)}")
        return self.fc2(F.relu(self.fc1(x)))


@register_model("perm_two_layer_relu", task="regression", knob="width", example=lambda: torch.randn(4, 10))
def perm_two_layer_relu(in_dim: int = 10, out_dim: int | None = None, *, width: int = 4096, sigma_w: float = 1.0,
                        sigma_b: float = 0.0) -> TwoLayerReLU:
    """The permutation learner (official ``NTKMLP`` with the scripts' sigma_w = 1, sigma_b = 0); budget knob
    width (default 4096 is our cpu width; the paper ran 50 000)."""
    return TwoLayerReLU(in_dim, out_dim, width=width, sigma_w=sigma_w, sigma_b=sigma_b)


def train_gd(model: TwoLayerReLU, x: torch.Tensor, y: torch.Tensor, *, lr: float = OFFICIAL_LR,
             steps: int = 10_000) -> list[float]:
    """Full-batch GD with ``torch.optim.SGD`` on F.mse_loss (the official loop with batch >= k); returns the
    loss before each step."""
    if steps < 0 or lr <= 0:
        raise ValueError(f"train_gd: need steps >= 0 and lr > 0, got {steps}, {lr}")
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


class ReLUEnsemble:
    """E independent two-layer ReLU nets held as batched tensors W1t (E, k, m) (= W1 transposed), b1 (E, m),
    W2 (E, c, m), b2 (E, c), trained together by full-batch GD with hand-written gradients of each model's own
    mean-squared error (the gradient of the sum over models of F.mse_loss)."""

    def __init__(self, n_models: int, in_dim: int, out_dim: int | None = None, *, width: int = 4096,
                 sigma_w: float = 1.0, sigma_b: float = 0.0, generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float32):
        out_dim = in_dim if out_dim is None else out_dim
        if min(n_models, in_dim, out_dim, width) < 1:
            raise ValueError(f"ReLUEnsemble: sizes must be >= 1, got E={n_models}, k={in_dim}, c={out_dim}, m={width}")
        E, k, c, m = n_models, in_dim, out_dim, width

        def rn(*shape, std):
            return torch.randn(*shape, generator=generator, dtype=dtype) * std
        self.W1t, self.b1 = rn(E, m, k, std=sigma_w / math.sqrt(k)).transpose(1, 2).contiguous(), rn(E, m, std=sigma_b)
        self.W2, self.b2 = rn(E, c, m, std=sigma_w / math.sqrt(m)), rn(E, c, std=sigma_b)

    @classmethod
    def from_models(cls, models: list[TwoLayerReLU]) -> "ReLUEnsemble":
        """Stack existing ``TwoLayerReLU`` modules (copies of their weights)."""
        ens = cls.__new__(cls)
        ens.W1t = torch.stack([mod.fc1.weight.detach().T.contiguous() for mod in models])
        ens.b1, ens.W2, ens.b2 = (torch.stack([p.detach().clone() for p in ps]) for ps in
                                  zip(*[(mod.fc1.bias, mod.fc2.weight, mod.fc2.bias) for mod in models]))
        return ens

    def to(self, device: torch.device | str) -> "ReLUEnsemble":
        """Move the weights to ``device`` (they are drawn on the CPU from the CPU generator); returns self."""
        for n in ("W1t", "b1", "W2", "b2"):
            setattr(self, n, getattr(self, n).to(device))
        return self

    def _hidden(self, x: torch.Tensor, basis: bool) -> torch.Tensor:
        if basis:   # x = I: the hidden pre-activations of e_i are row i of W1^T, plus b1
            return self.W1t + self.b1[:, None, :]
        return torch.matmul(x, self.W1t) + self.b1[:, None, :]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs of every member: (B, k) -> (E, B, c)."""
        if x.dim() != 2 or x.shape[1] != self.W1t.shape[1]:
            raise ValueError(f"ReLUEnsemble: expected input (B, {self.W1t.shape[1]}), got {tuple(x.shape)}")
        h = self._hidden(x.to(self.W1t.dtype), False)
        return torch.bmm(h.clamp_(min=0), self.W2.transpose(1, 2)) + self.b2[:, None, :]

    def step(self, x: torch.Tensor, y: torch.Tensor, lr: float, basis: bool = False) -> torch.Tensor:
        """One GD step on every member's mean-squared error; returns the per-member losses before the step (E,)."""
        h = self._hidden(x, basis)                              # (E, n, m)
        a = F.relu(h)
        r = torch.bmm(a, self.W2.transpose(1, 2)) + self.b2[:, None, :] - y     # residual (E, n, c)
        g = r * (2.0 / (r.shape[1] * r.shape[2]))               # d mean((f - y)^2) / d f
        dh = torch.bmm(g, self.W2).mul_(h > 0)                  # (E, n, m)
        self.W2.baddbmm_(g.transpose(1, 2), a, alpha=-lr)       # dW2 = g^T a
        self.b2.sub_(g.sum(1), alpha=lr)
        self.b1.sub_(dh.sum(1), alpha=lr)
        if basis:
            self.W1t.sub_(dh, alpha=lr)                         # dW1^T = x^T dh = dh
        else:
            self.W1t.sub_(torch.matmul(x.T, dh), alpha=lr)
        return r.square().mean(dim=(1, 2))


def train_ensemble_batched(n_models: int, x: torch.Tensor, y: torch.Tensor, *, width: int = 4096,
                           lr: float | None = None, steps: int = 2000, sigma_w: float = 1.0, sigma_b: float = 0.0,
                           generator: torch.Generator | None = None, chunk: int = 25) -> tuple[ReLUEnsemble, torch.Tensor]:
    """Train ``n_models`` nets on (x, y) by full-batch GD, ``chunk`` models at a time (cache-friendly);
    lr defaults to ``scaled_lr(width)``. Returns the ensemble and its final training losses (E,)."""
    if x.dim() != 2 or y.dim() != 2 or len(x) != len(y):
        raise ValueError(f"train_ensemble_batched: x (n, k) and y (n, c) must pair up, got {tuple(x.shape)}, {tuple(y.shape)}")
    if steps < 1 or n_models < 1 or chunk < 1:
        raise ValueError(f"train_ensemble_batched: need steps, n_models, chunk >= 1, got {steps}, {n_models}, {chunk}")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError("train_ensemble_batched: x and y must be finite (NaN or inf in the data)")
    lr = scaled_lr(width) if lr is None else lr
    basis = x.shape[0] == x.shape[1] and torch.equal(x, torch.eye(len(x), dtype=x.dtype, device=x.device))
    parts, losses = [], []
    for start in range(0, n_models, chunk):
        ens = ReLUEnsemble(min(chunk, n_models - start), x.shape[1], y.shape[1], width=width, sigma_w=sigma_w,
                           sigma_b=sigma_b, generator=generator, dtype=x.dtype).to(x.device)
        for _ in range(steps):
            ens.step(x, y, lr, basis)
        r = ens(x) - y
        if not torch.isfinite(r).all():
            raise FloatingPointError(f"train_ensemble_batched: GD diverged (lr={lr:g}, width={width}); lower lr")
        parts.append(ens)
        losses.append(r.square().mean(dim=(1, 2)))
    out = ReLUEnsemble.__new__(ReLUEnsemble)
    out.W1t, out.b1, out.W2, out.b2 = (torch.cat([getattr(p, n) for p in parts]) for n in ("W1t", "b1", "W2", "b2"))
    return out, torch.cat(losses)
