"""The approximation experiments of the card's ladder: train ``SingleLayerTransformer`` on a target with fresh
uniform samples each step (Adam, lr 1e-3, batch 256, 3,000 steps: card cpu rung) and measure its test error,
next to the error floor of every permutation-equivariant predictor on the same test set; and the constructive
model's error versus FFN width (``construction_sweep``)."""
from __future__ import annotations

import math
from typing import Callable

import torch

from paperzoo.papers.uat_transformer.construction import check_construction, fit_ffn
from paperzoo.papers.uat_transformer.model import SingleLayerTransformer
from paperzoo.papers.uat_transformer.targets import Target, equivariant_floor, get_target


def test_set(target: Target | str, n: int, d: int = 1, num: int = 4096, seed: int = 12345) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed test sample of a target (one seed for every model, so the rows of a sweep are comparable)."""
    target = get_target(target) if isinstance(target, str) else target
    return target.sample(num, n, d, seed)


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """RMS error per component and the sup over the test set of max-abs error per token."""
    err = model(x) - y
    return {"rms": float(err.double().square().mean().sqrt()), "sup": float(err.abs().max())}


def train_transformer(target: Target | str, n: int = 8, d: int = 1, *, d_ff: int = 256, n_heads: int = 4,
                      pos_enc: str | None = "onehot", d_model: int = 32, layernorm: bool = False, steps: int = 3000,
                      batch: int = 256, lr: float = 1e-3, seed: int = 0, n_test: int = 4096,
                      device: str | torch.device = "cpu", on_step: Callable[[], None] | None = None) -> dict[str, float]:
    """Fit a fresh ``SingleLayerTransformer`` by MSE on ``steps`` fresh batches (card cpu rung recipe, constant lr) and
    return its test ``rms`` / ``sup`` error, the target's test std and the final training loss. Raises on a NaN loss.
    Samples are drawn on the CPU from a seeded generator and moved to ``device``, so the data do not depend on it."""
    target = get_target(target) if isinstance(target, str) else target
    if min(steps, batch, n_test) < 1 or not lr > 0:
        raise ValueError(f"steps, batch, n_test must be >= 1 and lr > 0, got {steps}, {batch}, {n_test}, {lr}")
    torch.manual_seed(seed)
    model = SingleLayerTransformer(d, d_model, n_heads, d_ff, target.out_dim(d), max_len=n, pos_enc=pos_enc,
                                   layernorm=layernorm).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed + 1)
    loss = torch.tensor(math.nan)
    for step in range(steps):
        x, y = target.sample(batch, n, d, g)
        loss = (model(x.to(device)) - y.to(device)).square().mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{target.name}: loss is {float(loss)} at step {step} (d_ff={d_ff}, lr={lr})")
        opt.zero_grad()
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step()
    xt, yt = test_set(target, n, d, n_test)
    return {**evaluate(model, xt.to(device), yt.to(device)), "std": float(yt.double().std()), "train_loss": float(loss.detach())}


def floors(targets: list[str], n: int, d: int = 1, n_test: int = 4096, perms: int = 256) -> dict[str, float]:
    """The equivariant error floor of each target on its test set (``equivariant_floor``), with the Monte-Carlo bias
    removed: averaging K arrangements inflates the expected MSE by the factor (1 + 1/K) exactly."""
    out = {}
    for name in targets:
        x, _ = test_set(name, n, d, n_test)
        out[name] = equivariant_floor(name, x.double(), perms=perms) / math.sqrt(1 + 1 / perms)
    return out


def construction_sweep(targets: list[str], n: int, d: int, widths: list[int], *, beta: float, steps: int,
                       seed: int = 0, num: int = 4096, on_fit: Callable[[], None] | None = None) -> list[dict]:
    """Step 4 + 5 of the construction per (target, FFN width r): fit g (``fit_ffn``), build the routing Transformer,
    check its error against the budget (``check_construction``). One row per fit."""
    rows = []
    for name in targets:
        for r in widths:
            ffn = fit_ffn(name, n, d, width=r, steps=steps, seed=seed)
            rows.append({"target": name, "width": r, **check_construction(ffn, name, n, d, beta=beta, num=num, seed=seed + 7)})
            if on_fit is not None:
                on_fit()
    return rows


def monotone_decreasing(values: list[float]) -> float:
    """1.0 if each value is below the previous one, else 0.0 (NaN for fewer than two)."""
    if len(values) < 2:
        return math.nan
    return float(all(b < a for a, b in zip(values, values[1:])))
