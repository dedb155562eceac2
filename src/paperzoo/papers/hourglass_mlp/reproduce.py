"""Protocols: parameter-matched Pareto sweeps of Hourglass vs conventional residual MLPs (card ladder).

smoke: tiny grids, 512 images, 1 epoch; the exact construction checks (card step 1 (a)-(e)).
cpu:   the card's cpu ladder scaled down: MNIST denoising (sigma 0.5), 5k train / 2k test
       (card 20k / 5k), 3 epochs at batch 128 (card 5 at 256), AdamW lr 1e-3; Hourglass grid
       d_z {1024, 2048} x d_h {64, 128} x L {2, 4}; conventional grid (stream 784) d_h {256, 512, 1024}
       x L {1, 2, 4}; frontiers compared at 3 shared budgets (+-15 %); plus the frozen-vs-trained W_in
       ablation on the smallest Hourglass.
full:  the card's full setting on MNIST: 60k train, 30 epochs, denoising + 4x super-resolution +
       classification (stand-in for "generative classification").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paperzoo.data import load
from paperzoo.data.sets import TensorSet
from paperzoo.papers.hourglass_mlp.layers import random_projection
from paperzoo.papers.hourglass_mlp.model import count_trainable, frozen_drift, jl_ratios, residual_identity_error
from paperzoo.papers.hourglass_mlp.sweep import (
    Arch,
    best_arch_at,
    budget_points,
    compare_frontiers,
    conventional_grid,
    frontier_at,
    hourglass_grid,
    pareto_frontier,
    prune_to_overlap,
    scaling_score,
)
from paperzoo.papers.hourglass_mlp.tasks import make_task, noisy_psnr
from paperzoo.train import RunContext, fit


@dataclass(frozen=True)
class Config:
    about: str
    tasks: tuple[str, ...] = ("denoise",)
    data: str = "mnist"
    n_train: int | None = 20_000
    n_test: int | None = 5_000
    epochs: int = 5
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.01
    sigma: float = 0.5
    sr_factor: int = 4
    hg_dz: tuple[int, ...] = (1024, 2048)
    hg_dh: tuple[int, ...] = (64, 128)
    hg_depth: tuple[int, ...] = (2, 4)
    conv_dh: tuple[int, ...] = (256, 512, 1024)
    conv_depth: tuple[int, ...] = (1, 2, 4)
    conv_head: bool = True
    prune: bool = True
    n_budgets: int = 3
    match_tol: float = 0.15
    ablation: bool = True
    jl_dz: int = 2048
    jl_pairs: int = 100
    act: str = "gelu"
    norm: str = "layernorm"
    threads: int | None = None


PROTOCOLS = {
    "smoke": Config("seconds: 512 MNIST images, 1 epoch, tiny grids; the exact checks (frozen W_in, identity, JL, "
                    "counts)", n_train=512, n_test=256, epochs=1, batch_size=128, hg_dz=(1024,), hg_dh=(16,),
                    hg_depth=(1, 2), conv_dh=(64,), conv_depth=(2, 4), ablation=False, threads=1),
    "cpu": Config("card cpu ladder scaled down: MNIST denoising sigma 0.5, 5k/2k images (card 20k/5k), 3 epochs at "
                  "batch 128 (117 steps), card grids (8 Hourglass + 8 conventional in the shared range), 3 budgets, "
                  "frozen-vs-trained W_in; 1 thread", n_train=5_000, n_test=2_000, epochs=3, batch_size=128, threads=1),
    "full": Config("card full setting on MNIST: 60k/10k, 30 epochs, denoising + 4x super-resolution + classification "
                   "(stand-in) sweeps (GPU)", tasks=("denoise", "superres", "classify"), n_train=None, n_test=None,
                   epochs=30),
}

PREFIX = {"denoise": "", "superres": "sr_", "classify": "cls_"}
UNIT = {"psnr_db": "db", "acc_pct": "pct"}


def _train_point(ctx: RunContext, arch: Arch, task, train: TensorSet, test: TensorSet, cfg: Config, d_out: int, *,
                 freeze: bool = True) -> dict:
    """Train one architecture on one task (resumable); its row of the sweep table."""
    d_in = train.x.shape[1]

    def compute() -> dict:
        ctx.seed_all()
        model = arch.build(d_in, d_out, proj_seed=ctx.seed, freeze_input_proj=freeze, act=cfg.act, norm=cfg.norm)
        params = count_trainable(model)
        total = sum(p.numel() for p in model.parameters())
        fit(model, train, epochs=cfg.epochs, batch_size=cfg.batch_size, loss_fn=task.loss, ctx=ctx, desc=arch.name,
            optimizer=lambda ps: torch.optim.AdamW([p for p in ps if p.requires_grad], lr=cfg.lr,
                                                   weight_decay=cfg.weight_decay))
        drift = frozen_drift(model) if arch.family == "hourglass" and freeze else 0.0
        closed = arch.params(d_in, d_out, norm=cfg.norm, freeze_input_proj=freeze)
        return {"name": arch.name + ("" if freeze else "-trained-win"), "family": arch.family, "d_z": arch.d_z,
                "d_h": arch.d_h, "depth": arch.depth, "params": params, "total_params": total,
                "score": task.evaluate(model, test, device=ctx.device), "w_in_drift": drift,
                "count_err": abs(params - closed)}

    return ctx.cached("point", compute)


def _curve(ctx: RunContext, name: str, rows: list[dict], metric: str) -> None:
    xs = sorted({r["params"] for r in rows})
    ys = {}
    for fam in ("hourglass", "conventional"):
        pts = [(r["params"], r["score"]) for r in rows if r["family"] == fam]
        raw = {p: s for p, s in pts}
        front = pareto_frontier(pts)
        ys[f"{fam} (each model)"] = [raw.get(x, math.nan) for x in xs]
        ys[f"{fam} frontier"] = [frontier_at(front, x, tol=0.0) for x in xs]
    ctx.curve(name, xs, ys, xlabel="trainable parameters (frozen W_in excluded)", ylabel=metric, logx=True,
              title=f"{name}: Pareto frontiers")


def _sweep(ctx: RunContext, cfg: Config, tname: str, train_raw: TensorSet, test_raw: TensorSet,
           metrics: dict) -> list[dict]:
    task = make_task(tname, sigma=cfg.sigma, factor=cfg.sr_factor)
    train, test = task.prepare(train_raw, ctx.seed * 2 + 1), task.prepare(test_raw, ctx.seed * 2 + 2)
    d_in, d_out = train.x.shape[1], task.out_dim(train_raw)
    archs = hourglass_grid(cfg.hg_dz, cfg.hg_dh, cfg.hg_depth) + conventional_grid(cfg.conv_dh, cfg.conv_depth,
                                                                                 head=cfg.conv_head)
    grid = {f: [a.params(d_in, d_out, norm=cfg.norm) for a in archs if a.family == f] for f in ("hourglass", "conventional")}
    budgets = budget_points(grid["hourglass"], grid["conventional"], cfg.n_budgets)  # from the whole grid
    if cfg.prune:
        archs, skipped = prune_to_overlap(archs, d_in, d_out, tol=cfg.match_tol, norm=cfg.norm)
        if skipped:
            ctx.note(f"{tname}: not trained (above every shared budget + {cfg.match_tol:.0%}, so outside any "
                     f"comparison): {', '.join(a.name for a in skipped)}")
    rows = [_train_point(ctx.sub(f"{tname}-{a.name}"), a, task, train, test, cfg, d_out) for a in archs]
    ctx.table(f"{tname}_sweep", rows, caption=f"{tname} on {cfg.data}: every model; params = trainable (frozen "
                                              f"W_in excluded), total_params includes it; score = {task.metric}")
    hg = [(r["params"], r["score"]) for r in rows if r["family"] == "hourglass"]
    conv = [(r["params"], r["score"]) for r in rows if r["family"] == "conventional"]
    cmp = compare_frontiers(hg, conv, tol=cfg.match_tol, budgets=budgets)
    hg_rows = [r for r in rows if r["family"] == "hourglass"]
    conv_rows = [r for r in rows if r["family"] == "conventional"]
    best = [(best_arch_at(hg_rows, c["budget"], tol=cfg.match_tol), best_arch_at(conv_rows, c["budget"], tol=cfg.match_tol))
            for c in cmp]
    if cmp:
        ctx.table(f"{tname}_frontiers", [{**c, "best_hourglass": h["name"] if h else "-", "best_conventional":
                                          v["name"] if v else "-"} for c, (h, v) in zip(cmp, best)],
                  caption=f"best {task.metric} with <= budget x {1 + cfg.match_tol:g} trainable parameters")
    else:
        ctx.note(f"{tname}: the two families' parameter ranges do not overlap; no frontier comparison")
    _curve(ctx, f"{tname}_pareto", rows, task.metric)
    key = PREFIX[tname] + "frontier_gap_" + UNIT[task.metric]
    gaps = [c["gap"] for c in cmp if math.isfinite(c["gap"])]
    metrics[key] = sum(gaps) / len(gaps) if gaps else math.nan
    metrics[PREFIX[tname] + "frontier_wins"] = float(sum(g >= 0 for g in gaps)) if gaps else math.nan
    if tname == "denoise":
        metrics["noisy_input_psnr_db"] = noisy_psnr(cfg.sigma)
        metrics["scaling_score"] = scaling_score(best[0][0], best[-1][0]) if best else math.nan
    if cfg.ablation and tname == "denoise":
        small = min((a for a in archs if a.family == "hourglass"), key=lambda a: a.params(d_in, d_out))
        frozen = next(r for r, a in zip(rows, archs) if a == small)
        trained = _train_point(ctx.sub(f"{tname}-{small.name}-trained-win"), small, task, train, test, cfg, d_out,
                               freeze=False)
        ctx.table("win_ablation", [frozen, trained], caption="W_in frozen at its random init vs trained (same shape)")
        metrics["frozen_minus_trained_db"] = frozen["score"] - trained["score"]
    return rows


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    if not cfg.tasks or any(t not in PREFIX for t in cfg.tasks):
        raise ValueError(f"tasks must be a non-empty subset of {tuple(PREFIX)}, got {cfg.tasks}")
    with ctx.threads(cfg.threads):
        splits = load(cfg.data)
        train_raw, test_raw = splits.train.subset(cfg.n_train), splits.test.subset(cfg.n_test)
        d_x = train_raw.x[0].numel()
        ratios = jl_ratios(random_projection(cfg.jl_dz, d_x, ctx.seed), test_raw.x, cfg.jl_pairs, seed=ctx.seed)
        metrics = {"jl_ratio_min": float(ratios.min()), "jl_ratio_max": float(ratios.max()),
                   "residual_identity_err": residual_identity_error(d_in=d_x, seed=ctx.seed)}
        rows = []
        for tname in cfg.tasks:
            rows += _sweep(ctx, cfg, tname, train_raw, test_raw, metrics)
        metrics["w_in_drift"] = max(r["w_in_drift"] for r in rows)
        metrics["count_err"] = float(sum(r["count_err"] for r in rows))
        ctx.details.update({"n_train": len(train_raw), "n_test": len(test_raw), "d_x": d_x})
    return metrics
