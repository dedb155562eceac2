"""Protocols for ``paperzoo reproduce wide-deep-optimal``: the card's smoke checks and its Dirichlet sweep."""
from __future__ import annotations

import math
from dataclasses import dataclass

from paperzoo.papers.wide_deep_optimal.classifiers import bayes_accuracy
from paperzoo.papers.wide_deep_optimal.experiment import (
    default_methods,
    dirichlet_sweep,
    dual_mc_error,
    ntk_mc_rel_error,
    one_nn_agreement,
)
from paperzoo.papers.wide_deep_optimal.kernels import local_slope, ntk_ratio
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    mc_pairs: int = 1_000_000                   # card smoke (a) says 200k; deviation 4
    slope_depth: int = 60                       # card smoke (b)
    hermite_depth: int = 8                      # card smoke (c): depth 8 gives 1-NN; deeper underflows (deviation 3)
    relu_depth: int = 1000                      # card smoke (d)
    mc_width: int = 1024                        # finite net vs NTK recursion (ours)
    mc_seeds: int = 3
    alpha1: tuple[float, ...] = (0.5, 0.5, 2.5)     # official script, N = 3 (card)
    alpha2: tuple[float, ...] = (2.5, 0.1, 0.5)
    p1: float = 0.4
    n_trains: tuple[int, ...] = (100, 300, 1000, 3000)
    n_test: int = 2000
    seeds: int = 5
    depth: int = 100                            # NNGP depth for 3d_opt and sine_2.676 (official script)
    sine_a: float = 2.676
    devroye_alpha: float = 2.0                  # n_features - 1 (official `devroye_classifier`)
    bayes_samples: int = 400_000
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("card smoke: MC dual of opt_3d, depth-60 slopes, hermite_3 = 1-NN, ReLU ratio -> 1/4, finite net "
                    "vs NTK; Dirichlet N = 3 at n_train 100 / 300, 1 seed (seconds)",
                    n_trains=(100, 300), n_test=500, seeds=1, bayes_samples=100_000),
    "cpu": Config("card cpu ladder, scaled to the shared machine: Dirichlet N = 3, n_train 100 / 300 / 1000 / 2000, 2000 "
                  "test, 3 seeds; NNGP depth 100 (opt_3d, sine_2.676) vs Devroye, 1-NN, majority, Bayes (~2 CPU-min)",
                  n_trains=(100, 300, 1000, 2000), seeds=3),
    "full": Config("official script's size: n_train up to 10000 and 10000 test points, 5 seeds (GPU recommended)",
                   n_trains=(300, 1000, 3000, 10000), n_test=10000, threads=None),
}

_METHODS = ("bayes", "nngp_opt3d", "nngp_sine", "devroye", "one_nn", "ntk_hermite3", "majority")


def _limit_checks(ctx: RunContext, cfg: Config) -> dict[str, float]:
    m = {"dual_mc_err_opt3d": dual_mc_error("opt_3d", n=cfg.mc_pairs, seed=ctx.seed),
         "dual_mc_err_relu": dual_mc_error("relu", n=cfg.mc_pairs, seed=ctx.seed + 1)}
    for kind in ("ntk", "nngp"):
        for act in ("opt_3d", "opt_9d"):
            m[f"{kind}_slope_{act.replace('_', '')}"] = local_slope(kind, cfg.slope_depth, act)
    m["hermite3_1nn_agreement"] = one_nn_agreement("hermite_3", cfg.hermite_depth, seed=ctx.seed)
    ratios = ntk_ratio([0.0, 0.5], cfg.relu_depth, "relu")
    m["relu_ratio_dev"] = float((ratios - 0.25).abs().max())
    m["ntk_mc_rel_err"] = ntk_mc_rel_error("relu", width=cfg.mc_width, seeds=cfg.mc_seeds, seed=ctx.seed)
    depths = [10, 30, 100, 300, 1000]
    ctx.curve("ReLU NTK ratio K_L(xi)/K_L(1)", depths,
              {f"xi={xi}": [float(ntk_ratio(xi, d, "relu")) for d in depths] for xi in (0.0, 0.5)},
              xlabel="depth L", ylabel="K_L(xi) / K_L(1)", logx=True, hline=0.25)
    ctx.table("limit checks", [{"check": k, "value": v} for k, v in m.items()],
              caption="card smoke (a)-(d); slopes are d log K / d log(1 - xi) at xi = 1 - 1e-6 .. 1 - 1e-5")
    return m


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    if len(cfg.alpha1) != len(cfg.alpha2) or not cfg.n_trains or cfg.seeds < 1:
        raise ValueError("wide-deep-optimal: alpha1/alpha2 must match in length, n_trains non-empty, seeds >= 1")
    with ctx.threads(cfg.threads):
        m = _limit_checks(ctx, cfg)
        methods = default_methods(cfg.depth, cfg.hermite_depth, cfg.devroye_alpha, cfg.sine_a)
        per_seed = []
        with ctx.progress(total=cfg.seeds, desc="Dirichlet sweep") as bar:
            for s in range(cfg.seeds):
                res = ctx.cached(f"seed{s}", lambda s=s: {str(n): row for n, row in dirichlet_sweep(
                    cfg.alpha1, cfg.alpha2, cfg.p1, cfg.n_trains, cfg.n_test, ctx.seed + s, methods, ctx.device).items()})
                per_seed.append(res)
                bar.advance()
        ns = list(cfg.n_trains)
        mean = {n: {k: sum(r[str(n)][k] for r in per_seed) / len(per_seed) for k in per_seed[0][str(n)]} for n in ns}
        m["bayes_acc"] = bayes_accuracy(cfg.alpha1, cfg.alpha2, cfg.p1, cfg.bayes_samples, seed=ctx.seed + 99)
        ctx.curve("Dirichlet N=3: test accuracy vs n_train", ns,
                  {k: [mean[n][f"acc_{k}"] for n in ns] for k in _METHODS}, xlabel="n_train",
                  ylabel=f"test accuracy (mean of {cfg.seeds} seeds)", logx=True, hline=m["bayes_acc"])
        ctx.table("Dirichlet N=3 accuracy", [{"n_train": n, **{k: mean[n][f"acc_{k}"] for k in _METHODS},
                                             "agree_opt3d_devroye": mean[n]["agree_nngp_opt3d_devroye"]} for n in ns],
                  caption=f"mean over {cfg.seeds} seeds, {cfg.n_test} test points; Bayes rule on {cfg.bayes_samples} "
                          f"fresh points: {m['bayes_acc']:.4f}; NNGP depth {cfg.depth}, NTK hermite_3 depth {cfg.hermite_depth}")
        big, small = mean[ns[-1]], mean[ns[0]]
        m["majority_acc"] = big["acc_majority"]
        m["opt3d_acc"] = big["acc_nngp_opt3d"]
        m["sine_acc"] = big["acc_nngp_sine"]
        m["one_nn_acc"] = big["acc_one_nn"]
        m["bayes_test_acc"] = big["acc_bayes"]
        m["opt3d_gap_to_bayes"] = big["acc_bayes"] - big["acc_nngp_opt3d"]
        m["opt3d_devroye_agreement"] = min(mean[n]["agree_nngp_opt3d_devroye"] for n in ns)
        m["hermite3_1nn_agreement_dirichlet"] = min(mean[n]["agree_ntk_hermite3_one_nn"] for n in ns)
        m["one_nn_err_over_bayes_err"] = (1 - big["acc_one_nn"]) / max(1 - big["acc_bayes"], 1e-12)
        m["opt3d_between_1nn_and_bayes"] = float(big["acc_one_nn"] <= big["acc_nngp_opt3d"] <= big["acc_bayes"])
        gap_small = small["acc_bayes"] - small["acc_nngp_opt3d"]
        m["opt3d_gap_shrinks"] = float(m["opt3d_gap_to_bayes"] < gap_small) if len(ns) > 1 else math.nan
    return m
