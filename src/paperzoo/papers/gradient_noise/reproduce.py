"""Protocols for ``paperzoo reproduce gradient-noise``: smoke, cpu, full.

Every protocol first runs the exact noise checks (statistics vs Eq. 1, eta = 0 identity, checkpoint
round trip), then the Table 1 rows named in ``cfg.rows`` at the paper's noise setting (eta = 0.01,
gamma = 0.55, SGD lr in {0.1, 0.01}), each with and without noise on the same inits and batches,
then (optionally) an exploratory sweep of other eta on the Simple Init that carries no claim.
Every run is a sub-run (``ctx.sub``) whose finished result is cached, so ``--resume`` continues a
killed protocol from the last finished run and the running one from its last epoch.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from paperzoo.data import load_mnist
from paperzoo.papers.gradient_noise.checks import eta0_identity, noise_statistics, restore_identity
from paperzoo.papers.gradient_noise.experiment import ROWS, prepare_data, summarise, table1_metrics, table1_rows, train_run
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    rows: tuple[str, ...] = ("simple_noclip", "zero_clip10")  # Table 1 rows (experiment.ROWS)
    eta: float = 0.01          # Sec. 4.1: eta = 0.01 for MNIST
    gamma: float = 0.55        # Sec. 2: gamma = 0.55 in every experiment
    lrs: tuple[float, ...] = (0.1, 0.01)  # Sec. 4.1: fixed learning rates 0.1 and 0.01
    seeds: int = 2             # runs per (row, lr, noise); the paper has 20
    epochs: int = 10           # not stated in the paper
    batch_size: int = 128      # not stated in the paper (card default)
    n_train: int | None = None
    n_test: int | None = None
    scale: float = 255.0       # input pixel scale: 255 -> raw bytes (README: the 11.35% question), 1 -> [0, 1]
    sweep_etas: tuple[float, ...] = ()  # exploratory eta sweep (Simple Init), no claims
    sweep_lrs: tuple[float, ...] = (0.05,)
    sweep_clip: float = 100.0
    sweep_seeds: int = 1
    threads: int | None = 1    # the 50-wide layers are faster single-threaded


PROTOCOLS = {
    "smoke": Config("seconds: noise checks (Eq. 1 statistics, eta = 0 identity, checkpoint round trip) and Simple/zero "
                    "init rows on 512 MNIST images for 1 epoch (code path only, no learning claim)",
                    lrs=(0.1,), seeds=1, epochs=1, n_train=512, n_test=500),
    "cpu": Config("Table 1 Exp 1 (Simple Init, no clip) and Exp 6 (zero init, clip 10) at the paper's eta = 0.01, "
                  "lr {0.1, 0.01}: 2 seeds x 60k MNIST (raw 0-255 pixels) x 10 epochs, with and without noise "
                  "(16 runs, ~3 min alone on 1 thread)"),
    "full": Config("Table 1 Exp 1-3, 5, 6 at eta = 0.01, lr {0.1, 0.01}, 20 seeds each (the paper's 40 runs per cell), "
                   "60k MNIST (raw 0-255 pixels), 20 epochs, plus an eta {0.05, 0.1, 0.3} x lr {0.05, 0.1} exploratory "
                   "sweep (~400 runs)", rows=tuple(ROWS), seeds=20, epochs=20, sweep_etas=(0.05, 0.1, 0.3),
                   sweep_lrs=(0.05, 0.1), sweep_seeds=2),
}


def _check(cfg: Config) -> None:
    bad = [r for r in cfg.rows if r not in ROWS]
    if bad or not cfg.rows:
        raise ValueError(f"rows must name Table 1 rows from {list(ROWS)}, got {list(cfg.rows)}")
    if not cfg.eta > 0 or cfg.gamma < 0:
        raise ValueError(f"eta must be > 0 (the noisy half of each row) and gamma >= 0, got {cfg.eta}, {cfg.gamma}")
    if cfg.seeds < 1 or cfg.epochs < 1 or not cfg.lrs or min(cfg.lrs) <= 0:
        raise ValueError(f"need seeds >= 1, epochs >= 1 and positive lrs, got {cfg.seeds}, {cfg.epochs}, {cfg.lrs}")


def _noise_checks(ctx: RunContext) -> dict[str, float]:
    stats = ctx.cached("noise_statistics", lambda: noise_statistics(eta=0.3, gamma=0.55, seed=ctx.seed))
    ident = ctx.cached("eta0_identity", lambda: eta0_identity(seed=ctx.seed))
    restore = ctx.cached("restore_identity", lambda: restore_identity(seed=ctx.seed))
    ctx.table("noise_statistics", [{k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()}
                                   for r in stats["rows"]], caption="noise added to a zero gradient (eta 0.3, gamma 0.55)")
    ctx.details["eta0_identity"] = ident["per_optimizer"]
    ctx.details["restore_identity"] = restore["per_optimizer"]
    return {"noise_var_rel_err": stats["var_rel_err"], "noise_mean_z": stats["mean_z"],
            "noise_lag1_abs_corr": stats["lag1_abs_corr"], "eta0_max_abs_diff": ident["max_abs_diff"],
            "restore_max_abs_diff": restore["max_abs_diff"]}


def _one(ctx: RunContext, pair: RunContext, train, test, show: bool, **kw) -> dict:
    """One run in its own sub-folder, seeded like its pair (same init and batches with and without noise)."""
    run_ctx = pair.sub(f"lr{kw['lr']:g}_eta{kw['eta']:g}")
    run_ctx.seed = pair.seed
    row = run_ctx.cached("run", lambda: train_run(run_ctx, train, test, **kw))
    ctx.log(**{k: v for k, v in row.items() if k != "curve"})
    if show:
        print(f"{run_ctx.name}: test acc {row['test_acc']:.2f}% (peak {max(row['curve']):.2f}%)", flush=True)
    return row


def _curves(ctx: RunContext, name: str, runs: list[dict], epochs: int) -> None:
    """Mean test accuracy per epoch over seeds, one line per (eta, lr)."""
    ys = {}
    for eta in sorted({r["eta"] for r in runs}):
        for lr in sorted({r["lr"] for r in runs}, reverse=True):
            cs = [r["curve"] for r in runs if r["eta"] == eta and r["lr"] == lr]
            if cs:
                ys[f"eta {eta:g}, lr {lr:g}"] = [statistics.fmean(c[e] for c in cs) for e in range(epochs)]
    ctx.curve(name, list(range(1, epochs + 1)), ys, xlabel="epoch", ylabel="test accuracy (%, mean over seeds)",
              title=name)


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    _check(cfg)
    show = ctx.show_progress is not False
    common = dict(epochs=cfg.epochs, gamma=cfg.gamma, batch_size=cfg.batch_size)
    with ctx.threads(cfg.threads):
        metrics = _noise_checks(ctx)
        train, test = prepare_data(load_mnist(), cfg.n_train, cfg.n_test, scale=cfg.scale)
        runs = []
        for name in cfg.rows:
            _, init, clip = ROWS[name]
            row_ctx, mine = ctx.sub(name), []
            for k in range(cfg.seeds):
                pair = row_ctx.sub(f"seed{k}")
                for lr in cfg.lrs:
                    for eta in (0.0, cfg.eta):
                        mine.append(_one(ctx, pair, train, test, show, init=init, clip=clip, eta=eta, lr=lr, **common))
            _curves(ctx, name, mine, cfg.epochs)
            runs += mine
        metrics.update(table1_metrics(runs))
        ctx.table("table1", table1_rows(runs), caption=f"Table 1 cells: best / mean final test accuracy (%) over "
                  f"lr {list(cfg.lrs)} x {cfg.seeds} seeds (paper: 2 lr x 20 seeds); noise eta = {cfg.eta:g}")
        sweep = []
        if cfg.sweep_etas:
            sweep_ctx = ctx.sub("sweep")
            for k in range(cfg.sweep_seeds):
                pair = sweep_ctx.sub(f"seed{k}")
                for lr in cfg.sweep_lrs:
                    for eta in cfg.sweep_etas:
                        sweep.append(_one(ctx, pair, train, test, show, init="simple", clip=cfg.sweep_clip, eta=eta,
                                          lr=lr, **common))
            ctx.table("sweep", [{k: (round(v, 2) if isinstance(v, float) and k in ("best", "mean") else v)
                                 for k, v in c.items()} for c in summarise(sweep)],
                      caption="exploratory eta sweep (Simple Init, no claim): final test accuracy (%)")
    ctx.details["runs"] = runs
    ctx.details["sweep_runs"] = sweep
    return metrics
