"""Exact checks of the noise itself (card, smoke ladder step 1): its statistics against
Eq. 1, bit-identity with the bare optimizer at eta = 0, and an unchanged noise stream after
a checkpoint round trip through the kernel's safetensors + JSON format.
"""
from __future__ import annotations

import math
import tempfile
from typing import Callable, Sequence

import torch
from torch import nn

from paperzoo.papers.gradient_noise.noise import AnnealedGaussianGradientNoise, NoisyOptimizer
from paperzoo.train import load_checkpoint, save_checkpoint

__all__ = ["noise_statistics", "eta0_identity", "restore_identity"]


@torch.no_grad()
def noise_statistics(eta: float = 0.3, gamma: float = 0.55, steps: Sequence[int] = (0, 100, 10_000),
                     n: int = 100_000, seed: int = 0) -> dict:
    """Noise added to a zero gradient of ``n`` elements at each ``t`` in ``steps`` (and ``t + 1``).

    Per step: ``var_rel_err = |sample var / sigma_t^2 - 1|``, ``mean_z = |mean| / SE`` (SE =
    sqrt(var / n)) and ``lag1_corr`` = Pearson correlation of the noise at ``t`` and ``t + 1``
    (independent draws => ~N(0, 1/n)). Returns the rows and the worst value of each.
    """
    p = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    noise = AnnealedGaussianGradientNoise([p], eta=eta, gamma=gamma, seed=seed)

    def draw(t: int) -> torch.Tensor:
        p.grad = torch.zeros_like(p)
        noise.apply(t)
        return p.grad.clone()

    rows = []
    for t in steps:
        z, z_next = draw(t), draw(t + 1)
        s2 = noise.sigma2(t)
        var = float(z.var())
        corr = float(torch.corrcoef(torch.stack([z, z_next]))[0, 1])
        rows.append({"t": t, "sigma2": s2, "var": var, "var_rel_err": abs(var / s2 - 1.0),
                     "mean_z": abs(float(z.mean())) / math.sqrt(var / n), "lag1_corr": corr})
    return {"rows": rows, "var_rel_err": max(r["var_rel_err"] for r in rows),
            "mean_z": max(r["mean_z"] for r in rows), "lag1_abs_corr": max(abs(r["lag1_corr"]) for r in rows)}


def _toy(seed: int) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model, torch.randn(64, 8, generator=g), torch.randint(0, 3, (64,), generator=g)


def _train(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, steps: int) -> None:
    for i in range(steps):
        xb, yb = x[(8 * i) % 64:(8 * i) % 64 + 8], y[(8 * i) % 64:(8 * i) % 64 + 8]
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()


def _max_diff(a: nn.Module, b: nn.Module) -> float:
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters()))


OPTIMIZERS: dict[str, Callable] = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1),
    "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-2),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-2),
    "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=1e-3),
}


def eta0_identity(steps: int = 20, seed: int = 0) -> dict:
    """Max |difference| of the parameters after ``steps`` updates: ``NoisyOptimizer(base, eta=0)`` vs
    the bare ``base`` (same init, same batches), per optimizer. Exactly 0.0 when eta = 0 is a no-op."""
    out = {}
    for name, make in OPTIMIZERS.items():
        m_ref, x, y = _toy(seed)
        m_noisy, _, _ = _toy(seed)
        _train(m_ref, make(m_ref.parameters()), x, y, steps)
        _train(m_noisy, NoisyOptimizer(make(m_noisy.parameters()), eta=0.0, seed=seed), x, y, steps)
        out[name] = _max_diff(m_ref, m_noisy)
    return {"per_optimizer": out, "max_abs_diff": max(out.values())}


def restore_identity(steps_before: int = 7, steps_after: int = 9, eta: float = 0.3, seed: int = 0) -> dict:
    """Train ``steps_before`` updates with noise, checkpoint (kernel safetensors + JSON), then continue
    ``steps_after`` updates both in the live run and in a fresh model + optimizer restored from
    the checkpoint. Returns the max |difference| of the final parameters (0.0 = same noise stream)."""
    diffs = {}
    for name in ("sgd_momentum", "adam"):
        make = OPTIMIZERS[name]
        m_live, x, y = _toy(seed)
        opt_live = NoisyOptimizer(make(m_live.parameters()), eta=eta, seed=seed)
        _train(m_live, opt_live, x, y, steps_before)
        with tempfile.TemporaryDirectory() as tmp:
            save_checkpoint(tmp, steps_before, {"model": m_live.state_dict(), "optimizer": opt_live.state_dict()})
            _, st = load_checkpoint(tmp)
        m_new, _, _ = _toy(seed + 1)  # different init: everything must come from the checkpoint
        m_new.load_state_dict(st["model"])
        opt_new = NoisyOptimizer(make(m_new.parameters()), eta=eta, seed=seed + 1)
        opt_new.load_state_dict(st["optimizer"])
        _train(m_live, opt_live, x, y, steps_after)
        _train(m_new, opt_new, x, y, steps_after)
        same_t = opt_live.t == opt_new.t == steps_before + steps_after
        diffs[name] = _max_diff(m_live, m_new) if same_t else math.inf
    return {"per_optimizer": diffs, "max_abs_diff": max(diffs.values())}
