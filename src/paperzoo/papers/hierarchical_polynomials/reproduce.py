"""Protocols for ``paperzoo reproduce hierarchical-polynomials``: target identities and the sample-complexity
sweep (layer-wise three-layer net vs the random-feature kernel baseline), card's ladder (k = 2 reconstruction)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paperzoo.papers.hierarchical_polynomials.model import ThreeLayerNet, feature_alignment, relative_mse, rf_ridge_baseline
from paperzoo.papers.hierarchical_polynomials.target import HierarchicalPolyTask, hermite_orthonormality_err, link_moments
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    ds: tuple[int, ...] = (16,)
    k: int = 2
    link: str = "he1+he3"
    feature: str = "sum_hermite"
    ns: tuple[int, ...] = (1000, 4000, 16000)    # samples per stage; the kernel baseline gets both stages' 2n
    n_test: int = 4000
    m2: int = 2048                                # card cpu rung
    m1: int = 1000                                # card prototype
    lams: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1)   # card's 1e-4 plus a held-out choice (ours)
    seeds: int = 3
    shuffled_control: bool = True
    float64: bool = False
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("card smoke rung: d = 8, k = 2, n = 8000, m2 = 1024 (m1 = 200), corr(u, p) and the shuffled-label "
                    "control, float64; Hermite/link identities by quadrature (seconds)",
                    ds=(8,), ns=(8000,), m2=1024, m1=200, seeds=1, float64=True),
    "cpu": Config("card cpu rung: d = 16, k = 2, n in {1k, 4k, 16k} per stage, m2 = 2048, m1 = 1000, 3 seeds; "
                  "test error vs n for the three-layer net and the RF ridge baseline (a few min on 1 thread)"),
    "full": Config("card full rung (layer-wise variant): d in {16, 24}, n up to 64k per stage, 3 seeds; the n at which "
                   "corr(u, p) crosses 0.9 vs d (GPU or a long CPU run)",
                   ds=(16, 24), ns=(1000, 2000, 4000, 8000, 16000, 32000, 64000)),
}


def one_run(d: int, n: int, seed: int, cfg: Config) -> dict[str, float]:
    """Stage 1 on n samples, stage 2 on n fresh samples, RF baseline on all 2n; errors on n_test fresh points."""
    dtype = torch.float64 if cfg.float64 else torch.float32
    task = HierarchicalPolyTask(d, cfg.k, g=cfg.link, feature=cfg.feature, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    x1, y1, _ = task.sample(n, generator=gen, dtype=dtype)
    x2, y2, _ = task.sample(n, generator=gen, dtype=dtype)
    xt, yt, pt = task.sample(cfg.n_test, generator=gen, dtype=dtype)
    net = ThreeLayerNet(d, cfg.m2, cfg.m1, seed=seed, dtype=dtype)
    net.stage1(x1, y1, x_cal=x2)
    out = {"corr": feature_alignment(net.feature(xt), pt)}
    net.stage2(x2, y2, lam=cfg.lams, generator=gen)
    with torch.no_grad():
        out["mse3"] = relative_mse(net(xt), yt)
        predict, _, lam_rf = rf_ridge_baseline(net, torch.cat([x1, x2]), torch.cat([y1, y2]), lam=cfg.lams)
        out["mserf"] = relative_mse(predict(xt), yt)
    out["lam3"], out["lamrf"] = net.lam, lam_rf
    if cfg.shuffled_control:
        ctrl = ThreeLayerNet(d, cfg.m2, cfg.m1, seed=seed, dtype=dtype)
        ctrl.stage1(x1, y1[torch.randperm(n, generator=gen)], x_cal=x2)
        out["corr_shuffled"] = feature_alignment(ctrl.feature(xt), pt)
    return out


def crossing_n(ns: list[int], corrs: list[float], level: float = 0.9) -> float:
    """The n at which corr first reaches ``level``, interpolated linearly in log n (nan if never)."""
    for i, (n, c) in enumerate(zip(ns, corrs)):
        if c >= level:
            if i == 0:
                return float(n)
            n0, c0 = ns[i - 1], corrs[i - 1]
            t = (level - c0) / (c - c0)
            return float(math.exp(math.log(n0) + t * (math.log(n) - math.log(n0))))
    return math.nan


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    for name, v in (("ds", cfg.ds), ("ns", cfg.ns)):
        if not v or min(v) < 1:
            raise ValueError(f"hierarchical-polynomials: {name} must be non-empty positive integers, got {v}")
    g2, gprime = link_moments(cfg.link)
    metrics = {"hermite_orthonormality_err": hermite_orthonormality_err(), "link_variance_err": abs(g2 - 1.0),
               "link_linear_coef": gprime}
    seeds = [ctx.seed * 1000 + s for s in range(cfg.seeds)]
    crossings = {}
    with ctx.threads(cfg.threads), ctx.progress(total=len(cfg.ds) * len(cfg.ns) * len(seeds), desc="fits") as bar:
        for d in cfg.ds:
            rows = []
            for n in cfg.ns:
                runs = []
                for s in seeds:
                    runs.append(ctx.cached(f"d{d}-n{n}-s{s}", lambda d=d, n=n, s=s: one_run(d, n, s, cfg)))
                    bar.advance()
                mean = {key: sum(r[key] for r in runs) / len(runs) for key in runs[0]}
                rows.append({"n": n, **mean})
                if d == cfg.ds[0]:
                    metrics.update({f"{key}_n{n}": mean[key] for key in ("corr", "mse3", "mserf", "corr_shuffled")
                                    if key in mean})
            ns = [r["n"] for r in rows]
            ctx.curve(f"d={d}: test error vs n", ns, {"three-layer (layer-wise)": [r["mse3"] for r in rows],
                                                      "RF ridge baseline (2n samples)": [r["mserf"] for r in rows]},
                      xlabel="n (samples per stage)", ylabel=f"test MSE / Var(y) (mean of {len(seeds)} seeds)",
                      logx=True, logy=True)
            ctx.curve(f"d={d}: corr(u, p) vs n", ns, {"corr(u, p)": [r["corr"] for r in rows]},
                      xlabel="n (samples per stage)", ylabel="Pearson corr of learned feature with p", logx=True,
                      hline=0.9)
            ctx.table(f"d={d}: sample complexity", [{k: (round(v, 4) if isinstance(v, float) else v)
                                                     for k, v in r.items()} for r in rows],
                      caption=f"k = {cfg.k}, link {cfg.link}, m2 = {cfg.m2}, m1 = {cfg.m1}; means over {len(seeds)} "
                              "seeds; lam3 / lamrf are the held-out ridge choices (means)")
            crossings[d] = crossing_n(ns, [r["corr"] for r in rows])
            metrics[f"n90_d{d}"] = crossings[d]
    if len(cfg.ns) >= 2:
        first, last = cfg.ns[0], cfg.ns[-1]
        metrics["gap_growth"] = ((metrics[f"mserf_n{last}"] - metrics[f"mse3_n{last}"])
                                 - (metrics[f"mserf_n{first}"] - metrics[f"mse3_n{first}"]))
    if 16 in crossings and 24 in crossings:
        metrics["n90_ratio_d24_d16"] = crossings[24] / crossings[16]
    return metrics
