"""Protocols for ``paperzoo reproduce bandlimited-random``: the error-floor sweep (card ladder)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paperzoo.papers.bandlimited_random.sweep import error_floor_sweep, floor_per_lambda, medians, spearman, suitable_lambda
from paperzoo.papers.bandlimited_random.targets import TARGETS, fourier_tail, l2_norm
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    t1_lams: tuple[float, ...] = (1.0, 10.0, 50.0, 200.0, 500.0)
    t1_ds: tuple[int, ...] = (50, 200, 1000, 3000)
    t2_ks: tuple[int, ...] = (1, 4, 16)
    t2_lams: tuple[float, ...] = (1.0, 5.0, 20.0, 50.0, 200.0)
    t2_ds: tuple[int, ...] = (50, 200, 1000, 2000)
    seeds: int = 5
    rcond: float = 1e-10
    rcond_check: float = 1e-13     # the mu -> 0 check of the card's pitfalls
    proxy_d: int = 1000            # width at which the floor is compared with the Fourier-tail proxy
    noise_floor: float = 1e-6      # cells below this are at numerical precision and carry no rank
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("card smoke: T1 at lam 1 / 200, d 200 / 1000; T2 k=16 at lam 5 / 200, d <= 2000; 1 seed (seconds)",
                    t1_lams=(1.0, 200.0), t1_ds=(200, 1000), t2_ks=(16,), t2_lams=(5.0, 200.0),
                    t2_ds=(200, 1000, 2000), seeds=1),
    "cpu": Config("card cpu ladder: full lam x d grid for T1 and T2 (k = 1, 4, 16), 5 seeds, least squares "
                  "(about 3 min on 1 thread)"),
    "full": Config("the cpu grid with 10 seeds (no GPU needed: the card's full rung is optional)", seeds=10),
}


def _metrics_t1(med: dict, d_set: set) -> dict[str, float]:
    m = {}
    if (1.0, 1000) in med:
        m["t1_lam1_rmse_d1000"] = med[(1.0, 1000)]
        if (1.0, 200) in med:
            m["t1_lam1_plateau_rel"] = abs(med[(1.0, 1000)] - med[(1.0, 200)]) / med[(1.0, 200)]
    if (200.0, 1000) in med:
        m["t1_lam200_rmse_d1000"] = med[(200.0, 1000)]
    floors = floor_per_lambda(med)
    if len(floors) >= 3:
        lams = sorted(floors)
        m["t1_floor_lambda_spearman"] = spearman(lams, [floors[lam] for lam in lams])
    return m


def _proxy_fit(cells: list[tuple[str, float, float]], noise_floor: float) -> tuple[float, float, list[float]]:
    """Fit kappa (log grid) so that E = tail(kappa lam) ||f|| matches the floors in log10; return
    (kappa, Spearman(floor, E), E per cell) over the cells above the numerical noise floor."""
    cells = [c for c in cells if c[2] >= noise_floor]
    if len(cells) < 3:
        return math.nan, math.nan, []
    norms = {name: l2_norm(TARGETS[name]) for name in {c[0] for c in cells}}
    best = (math.inf, math.nan, [])
    for kappa in torch.logspace(-1, 2, 61, dtype=torch.float64).tolist():
        proxy = [fourier_tail(TARGETS[n], kappa * lam) * norms[n] for n, lam, _ in cells]
        loss = sum((math.log10(max(p, 1e-12)) - math.log10(f)) ** 2 for p, (_, _, f) in zip(proxy, cells))
        if loss < best[0]:
            best = (loss, kappa, proxy)
    _, kappa, proxy = best
    return kappa, spearman([c[2] for c in cells], proxy), proxy


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    seeds = [ctx.seed + s for s in range(cfg.seeds)]
    jobs = [("T1", cfg.t1_lams, cfg.t1_ds)] + [(f"T2k{k}", cfg.t2_lams, cfg.t2_ds) for k in cfg.t2_ks]
    for name, _, _ in jobs:
        if name not in TARGETS:
            raise ValueError(f"bandlimited-random: no target {name!r} (have {sorted(TARGETS)})")
    total = sum(len(lams) * len(ds) * len(seeds) for _, lams, ds in jobs) + len(seeds)
    metrics: dict[str, float] = {}
    proxy_cells = []
    with ctx.threads(cfg.threads), ctx.progress(total=total, desc="lstsq fits") as bar:
        for name, lams, ds in jobs:
            cells = ctx.cached(f"sweep-{name}", lambda name=name, lams=lams, ds=ds: {
                f"{lam}|{d}": v for (lam, d), v in error_floor_sweep(
                    TARGETS[name], lams, ds, seeds, rcond=cfg.rcond, on_fit=bar.advance).items()})
            med = medians({(float(k.split("|")[0]), int(k.split("|")[1])): v for k, v in cells.items()})
            ctx.curve(f"{name}: test RMSE vs width", list(ds),
                      {f"lam={lam:g}": [med[(lam, d)] for d in ds] for lam in lams},
                      xlabel="width d", ylabel=f"median test RMSE ({len(seeds)} seeds)", logx=True, logy=True)
            ctx.table(f"{name}: median test RMSE", [{"lam": lam, **{f"d={d}": med[(lam, d)] for d in ds}}
                                                     for lam in lams])
            if name == "T1":
                metrics.update(_metrics_t1(med, set(ds)))
            else:
                metrics[f"suitable_lambda_{name[2:]}"] = suitable_lambda(med, 1000)
                if name == "T2k16":
                    if (5.0, 200) in med:
                        metrics["t2k16_lam5_min_rmse"] = min(med[(5.0, d)] for d in ds if d <= 2000)
                    if (200.0, 1000) in med:
                        metrics["t2k16_lam200_rmse_d1000"] = med[(200.0, 1000)]
            proxy_cells += [(name, lam, med[(lam, cfg.proxy_d)]) for lam in lams if (lam, cfg.proxy_d) in med]
        ks = [f"k{k}" for k in cfg.t2_ks]
        lam_k = [metrics.get(f"suitable_lambda_{k}", math.nan) for k in ks]
        if len(lam_k) >= 2 and all(not math.isnan(v) for v in lam_k):
            metrics["suitable_lambda_grows"] = float(all(a <= b for a, b in zip(lam_k, lam_k[1:])) and lam_k[0] < lam_k[-1])
        if len(cfg.t1_lams) >= 3 and 1.0 in cfg.t1_lams and 1000 in cfg.t1_ds:
            check = ctx.cached("rcond-check", lambda: error_floor_sweep(
                TARGETS["T1"], [1.0], [1000], seeds, rcond=cfg.rcond_check, on_fit=bar.advance)[(1.0, 1000)])
            low = sorted(check)[len(check) // 2] if len(check) % 2 else sum(sorted(check)[len(check) // 2 - 1:][:2]) / 2
            metrics["floor_rcond_rel_change"] = abs(low - metrics["t1_lam1_rmse_d1000"]) / metrics["t1_lam1_rmse_d1000"]
        if len(proxy_cells) >= 3 and len(cfg.t1_lams) >= 3:
            kappa, rho, proxy = _proxy_fit(proxy_cells, cfg.noise_floor)
            metrics["floor_tail_rank_corr"], metrics["proxy_kappa"] = rho, kappa
            kept = [c for c in proxy_cells if c[2] >= cfg.noise_floor]
            ctx.table("floor vs Fourier-tail proxy", [{"target": n, "lam": lam, "floor": f, "proxy": p}
                                                      for (n, lam, f), p in zip(kept, proxy)],
                      caption=f"d = {cfg.proxy_d}; proxy = tail(kappa lam) ||f||, kappa = {kappa:.3g} fitted in log10")
    return metrics
