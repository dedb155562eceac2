"""Protocols of S-KAN: identities, the T_4 selection check, the function-fitting grid, S-ConvKAN on images."""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from paperzoo.papers.skan.data import DESCRIPTIONS, SUITE
from paperzoo.papers.skan.experiments import chebyshev_check, fit_one, identity_errors, image_one, summarise_fitting
from paperzoo.papers.skan.layers import DEFAULT_POOL
from paperzoo.papers.skan.model import IMAGE_POOL
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    functions: tuple[str, ...] = SUITE      # card CPU ladder: seven classic KAN toy functions
    seeds: int = 3                          # card: 3 seeds
    steps: int = 2000                       # card: Adam lr 1e-2, full batch, 2000 steps
    lr: float = 1e-2
    hidden: int = 5                         # card: [d, 5, 1]
    families: tuple[str, ...] = DEFAULT_POOL
    phases: tuple[float, ...] = (0.6, 0.3, 0.1)   # card default schedule (paper's not retrieved)
    n_train: int = 1000
    n_test: int = 1000
    cheb_seeds: int = 3                     # card smoke (b), over 3 seeds (a single run is flaky, card)
    cheb_steps: int = 500
    image_sets: tuple[str, ...] = ("mnist",)
    image_train: int | None = 5000          # None: the full training set
    image_test: int | None = 2000
    image_epochs: int = 1
    image_batch: int = 50
    image_lr: float = 1e-3
    image_families: tuple[str, ...] = IMAGE_POOL
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("seconds: identity checks (one-hot a = plain KANLayer, prune keeps the output) and the T_4 "
                    "selection check; no fitting grid, no images", functions=(), seeds=1, image_sets=()),
    "cpu": Config("card cpu ladder: 7 functions x 3 seeds, S-KAN [d,5,1] vs 4 single-family KANs vs matched MLP "
                  "(2000 Adam steps); S-ConvKAN vs ConvKANs on 5k MNIST, 1 epoch (reduced from the card's 10k x 2)"),
    "full": Config("paper-scale: the function grid with 5 seeds; S-ConvKAN vs ConvKANs on full MNIST and "
                   "Fashion-MNIST, 10 epochs, batch 64 (GPU)", seeds=5, image_sets=("mnist", "fashion-mnist"),
                   image_train=None, image_test=None, image_epochs=10, image_batch=64, threads=None),
}

_SHORT = {"mnist": "mnist", "fashion-mnist": "fmnist"}


def _load(name: str):
    from paperzoo.data import load

    return load(name)


def _images(ctx: RunContext, cfg: Config, metrics: dict) -> None:
    kinds = ("skan", *cfg.image_families)
    for name in cfg.image_sets:
        splits = _load(name)
        train, test = splits.train.subset(cfg.image_train), splits.test.subset(cfg.image_test)
        train, test = train.to(ctx.device), test.to(ctx.device)
        sub = ctx.sub(_SHORT.get(name, name))
        res = {}
        for kind in kinds:
            res[kind] = sub.cached(kind, lambda kind=kind: image_one(
                kind, train, test, seed=sub.seed, epochs=cfg.image_epochs, batch=cfg.image_batch, lr=cfg.image_lr,
                families=cfg.image_families, phases=cfg.phases))
        best = max(cfg.image_families, key=lambda f: res[f]["acc"])
        key = _SHORT.get(name, name)
        metrics[f"{key}_sconvkan_acc"] = res["skan"]["acc"]
        metrics[f"{key}_sconvkan_gap"] = res[best]["acc"] - res["skan"]["acc"]
        ctx.table(f"{key}_accuracy", [{"model": "S-ConvKAN" if k == "skan" else f"ConvKAN ({k})",
                                       "test_acc": round(r["acc"], 2), "params": r["params"],
                                       "families": ", ".join(f"{f}: {c}" for f, c in sorted(r["families"].items()))}
                                      for k, r in res.items()],
                  caption=f"{name}: {len(train)} training images, {cfg.image_epochs} epoch(s), test on {len(test)}; "
                          f"S-ConvKAN trained in three phases {cfg.phases}")


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    metrics: dict[str, float] = {}
    with ctx.threads(cfg.threads):
        metrics.update(identity_errors(ctx.seed))
        metrics.update(ctx.cached("cheb4", lambda: chebyshev_check(cfg.cheb_seeds, cfg.cheb_steps, base_seed=ctx.seed,
                                                                     phases=cfg.phases)))
        if cfg.functions:
            per_fn = {}
            for name in cfg.functions:
                per_fn[name] = [ctx.cached(f"{name}_s{s}", lambda name=name, s=s: fit_one(
                    name, ctx.seed * 1000 + s, families=cfg.families, hidden=cfg.hidden, steps=cfg.steps, lr=cfg.lr,
                    phases=cfg.phases, n_train=cfg.n_train, n_test=cfg.n_test)) for s in range(cfg.seeds)]
            fit_metrics, rows = summarise_fitting(per_fn, cfg.families)
            metrics.update(fit_metrics)
            ctx.table("function_fitting", [{**r, "function": f"{r['function']}: {DESCRIPTIONS[r['function']]}",
                                            **{k: float(f"{r[k]:.3g}") for k in ("skan", "mlp", *cfg.families)}}
                                           for r in rows],
                      caption=f"test RMSE, median of {cfg.seeds} seeds; [d, {cfg.hidden}, 1], Adam {cfg.lr}, "
                              f"{cfg.steps} full-batch steps; MLP [d, h, h, 1] matched to the pruned S-KAN")
            chosen: dict[str, int] = {}
            for runs in per_fn.values():
                for r in runs:
                    for f, c in r["skan_families"].items():
                        chosen[f] = chosen.get(f, 0) + c
            ctx.table("families_chosen", [{"family": f, "nodes": chosen.get(f, 0)} for f in cfg.families],
                      caption="nodes (over all functions, seeds and layers) whose S-KAN selection kept each family")
            metrics["fit_skan_median_rmse"] = statistics.median(r["skan"] for r in rows)
        if cfg.image_sets:
            _images(ctx, cfg, metrics)
    return metrics
