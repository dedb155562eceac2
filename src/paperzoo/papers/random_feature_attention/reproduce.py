"""Protocols for ``paperzoo reproduce random-feature-attention``: the card's checks (a)-(b) and its
sample-complexity sweep, with every summary metric computed from the stored per-seed test MSEs."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paperzoo.papers.random_feature_attention.data import rfa_data
from paperzoo.papers.random_feature_attention.experiment import heldout_mse, key_shuffle_change, learnability, make_model
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    check_d: int = 8                                  # card smoke (a)/(b): d = 8, N = 8, M = 256, n = 4000
    check_keys: int = 8
    check_heads: int = 256
    check_n: int = 4000
    learnability: bool = True                         # card smoke (b); ~20 s, so in the cpu rung (deviation 3)
    d: int = 16                                       # card cpu rung
    num_keys: tuple[int, ...] = (4, 32)               # card cpu rung
    num_heads: int = 128                              # card cpu rung: 256 (deviation 4)
    kappas: tuple[float, ...] = (1.0, 2.0)            # card: kappa in {1, 2}, "sweep it"
    ns: tuple[int, ...] = (500, 1000, 2000, 4000, 8000)
    targets: tuple[str, ...] = ("corr_poly_2", "corr_poly_3", "corr_cos", "key_only")
    seeds: int = 2                                    # card: 3 (deviation 4)
    n_test: int = 2000
    noise: float = 0.1                                # card: label noise N(0, 0.1^2), training only
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("card smoke (a) key-permutation invariance of RFA vs RF-MLP, and the sweep's code path on a toy "
                    "grid (d 8, N 4 / 8, 16 heads, n 200 / 400, one seed; seconds)", learnability=False, d=8,
                    num_keys=(4, 8), num_heads=16, kappas=(2.0,), ns=(200, 400), targets=("corr_poly_1", "key_only"),
                    seeds=1, n_test=500),
    "cpu": Config("card smoke (b) learnability + the card's cpu sweep at M = 128 heads and 2 seeds: d 16, N 4 / 32, "
                  "n 500..8000, four targets, zero-mean RFA, biased RFA (kappa 1, 2) and RF-MLP at equal trainable "
                  "count (~15 CPU-min)"),
    "full": Config("card full rung on a GPU: d 32, M 1024, n up to 32k, 3 seeds", d=32, num_heads=1024,
                   ns=(1000, 2000, 4000, 8000, 16000, 32000), seeds=3, threads=None),
}


def _kinds(cfg: Config) -> dict[str, tuple[str, float]]:
    return {"rfa": ("rfa", 0.0), **{f"rfa_k{k:g}": ("rfa_biased", k) for k in cfg.kappas}, "rf_mlp": ("rf_mlp", 0.0)}


def _checks(ctx: RunContext, cfg: Config) -> dict[str, float]:
    data = rfa_data(64, cfg.check_keys, cfg.check_d, seed=ctx.seed)
    m = {}
    for kind in ("rfa", "rf_mlp"):
        model = make_model(kind, cfg.check_d, cfg.check_keys, 32, kappa=1.0, seed=ctx.seed)
        with torch.no_grad():
            model.weight.normal_(generator=torch.Generator().manual_seed(ctx.seed))
        m[f"perm_change_{kind}"] = key_shuffle_change(model, data.x0_train, data.X_train, seed=ctx.seed)
    if cfg.learnability:
        m["r2_biased_corr_poly_1"], m["r2_shuffled_control"] = ctx.cached("learnability", lambda: list(learnability(
            cfg.check_d, cfg.check_keys, cfg.check_heads, cfg.check_n, kappa=1.0, n_test=cfg.n_test, noise=cfg.noise,
            seed=ctx.seed)))
    return m


def _sweep(ctx: RunContext, cfg: Config) -> dict[str, torch.Tensor]:
    """mse[kind]: (seeds, len(num_keys), len(ns), len(targets))."""
    kinds = _kinds(cfg)
    out = {k: [] for k in kinds}
    with ctx.progress(total=cfg.seeds * len(cfg.num_keys), desc="RFA sweep") as bar:
        for s in range(cfg.seeds):
            per_n = {k: [] for k in kinds}
            for nk in cfg.num_keys:
                def one(nk=nk, s=s):
                    data = rfa_data(max(cfg.ns), nk, cfg.d, cfg.targets, n_test=cfg.n_test, noise=cfg.noise,
                                    seed=ctx.seed + 100 * s + nk)
                    return {name: heldout_mse(make_model(kind, cfg.d, nk, cfg.num_heads, kappa=kap, seed=ctx.seed + s),
                                           data, cfg.ns)[0].tolist() for name, (kind, kap) in kinds.items()}
                res = ctx.cached(f"seed{s}-N{nk}", one)
                for k in kinds:
                    per_n[k].append(res[k])
                bar.advance()
            for k in kinds:
                out[k].append(per_n[k])
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in out.items()}


def _n_to(curve: torch.Tensor, ns: tuple[int, ...], level: float) -> float:
    hit = [n for n, v in zip(ns, curve.tolist()) if v <= level]
    return float(hit[0]) if hit else math.inf


def summarise(mse: dict[str, torch.Tensor], cfg: Config) -> dict[str, float]:
    """The card's cpu bands (i)-(iii) as numbers, from seed-mean test MSE (N, n, target)."""
    mean = {k: v.mean(0) for k, v in mse.items()}
    ns, tg = cfg.ns, cfg.targets
    m: dict[str, float] = {}
    corr = [j for j, t in enumerate(tg) if t.startswith("corr_")]
    big = [i for i, n in enumerate(ns) if n >= 1000]
    for k in cfg.kappas:  # (i) biased beats zero-mean on corr_* at every n >= 1k (both N)
        gain = (mean["rfa"] - mean[f"rfa_k{k:g}"]) / mean["rfa"]
        m[f"biased_gain_k{k:g}"] = float(gain[:, big][:, :, corr].min()) if big and corr else math.nan
    if len(cfg.num_keys) >= 2:  # (ii) N-dependence at the largest n, mean over targets
        lo, hi = 0, len(cfg.num_keys) - 1
        m["rfa_N_change"] = float(((mean["rfa"][hi, -1] - mean["rfa"][lo, -1]) / mean["rfa"][lo, -1]).abs().mean())
        m["mlp_N_rise"] = float(((mean["rf_mlp"][hi, -1] - mean["rf_mlp"][lo, -1]) / mean["rf_mlp"][lo, -1]).mean())
        m["mlp_minus_rfa_Nmax"] = float((mean["rf_mlp"][hi, -1] - mean["rfa"][hi, -1]).mean())
    worst = 0.0  # (iii) non-increasing in n, 5 % noise allowed
    for v in mean.values():
        worst = max(worst, float(((v[:, 1:] - v[:, :-1]) / v[:, :-1]).max()) if len(ns) > 1 else 0.0)
    m["monotone_violation"] = worst
    if "corr_poly_2" in tg and "corr_poly_3" in tg:
        best = torch.stack(list(mean.values())).amin(0)  # best model per (N, n, target)
        n2 = min(_n_to(best[i, :, tg.index("corr_poly_2")], ns, 0.3) for i in range(len(cfg.num_keys)))
        n3 = min(_n_to(best[i, :, tg.index("corr_poly_3")], ns, 0.3) for i in range(len(cfg.num_keys)))
        m["n_to_0.3_corr_poly_2"], m["n_to_0.3_corr_poly_3"] = n2, n3
        m["p3_needs_more_n"] = float(n3 > n2)
    m["best_test_mse"] = float(min(v[:, -1].min() for v in mean.values()))
    return m


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    if not cfg.ns or cfg.seeds < 1 or not cfg.num_keys or not cfg.targets:
        raise ValueError("random-feature-attention: ns, num_keys and targets must be non-empty and seeds >= 1")
    with ctx.threads(cfg.threads):
        m = _checks(ctx, cfg)
        mse = _sweep(ctx, cfg)
    m.update(summarise(mse, cfg))
    mean = {k: v.mean(0) for k, v in mse.items()}
    for i, nk in enumerate(cfg.num_keys):
        for j, t in enumerate(cfg.targets):
            ctx.curve(f"test MSE vs n: {t}, N = {nk}", list(cfg.ns), {k: v[i, :, j].tolist() for k, v in mean.items()},
                      xlabel="training sequences n", ylabel=f"test MSE / Var(target) (mean of {cfg.seeds} seeds)",
                      logx=True, logy=True)
    ctx.table("test MSE at the largest n", [{"N": nk, "target": t, **{k: float(v[i, -1, j]) for k, v in mean.items()}}
                                            for i, nk in enumerate(cfg.num_keys) for j, t in enumerate(cfg.targets)],
              caption=f"n = {cfg.ns[-1]}, d = {cfg.d}, M = {cfg.num_heads} heads (RF-MLP: {cfg.num_heads * (cfg.d + 1)} "
                      f"features), ridge with leave-one-out penalty; mean of {cfg.seeds} seeds; 1 = constant predictor")
    return m
