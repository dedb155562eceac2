"""Protocols for ``paperzoo reproduce gradient-noise``: smoke, cpu (the card's main protocol), full.

Every protocol first runs the exact noise checks (statistics vs Eq. 1, eta = 0 identity,
checkpoint round trip), then the MNIST deep-MLP grid of ``CONFIGS[protocol]``. Each grid run is a
resumable unit (``ctx.cached``) with its own checkpoint folder, so ``--resume`` continues a
killed grid from the last finished run and the running one from its last epoch.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import torch

from paperzoo.data import load_mnist
from paperzoo.papers.gradient_noise.checks import eta0_identity, noise_statistics, restore_identity
from paperzoo.papers.gradient_noise.experiment import format_table, grid, prepare_data
from paperzoo.train import RunContext

POOR = "normal"  # the paper's poor init: N(0, 0.1^2) weights, zero biases (card)

# One entry per grid; all share the card's fixed settings: 20 x 50 ReLU MLP, SGD (no momentum),
# batch 128, gamma 0.55, full 10k test set. Seeds are offsets added to ctx.seed.
CONFIGS: dict[str, dict] = {
    "smoke": {"grids": [dict(etas=(0.0, 0.1), lrs=(0.05,), seeds=(0,), epochs=1, n_train=512, n_test=500,
                             clips=(100.0,), inits=(POOR,))]},
    "cpu": {"grids": [dict(etas=(0.0, 0.05, 0.1, 0.3), lrs=(0.05, 0.1), seeds=(0, 1), epochs=20, n_train=None,
                           n_test=None, clips=(100.0,), inits=(POOR,))]},
    "full": {"grids": [dict(etas=(0.0, 0.01, 0.3, 1.0), lrs=(0.01, 0.05, 0.1), seeds=tuple(range(10)), epochs=20,
                            n_train=None, n_test=None, clips=(10.0, 100.0), inits=(POOR,)),
                       dict(etas=(0.0, 0.01, 0.3, 1.0), lrs=(0.01, 0.05, 0.1), seeds=tuple(range(10)), epochs=20,
                            n_train=None, n_test=None, clips=(100.0,), inits=("he",))]},
}


@contextmanager
def _threads(device: torch.device):
    """One intra-op thread on CPU: the 50-wide layers are too small to gain from more, and on a
    shared 2-core machine 2 threads ran ~10x slower (spin-waiting). Restored afterwards."""
    old = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _noise_checks(ctx: RunContext) -> dict[str, float]:
    stats = ctx.cached("noise_statistics", lambda: noise_statistics(eta=0.3, gamma=0.55, seed=ctx.seed))
    ident = ctx.cached("eta0_identity", lambda: eta0_identity(seed=ctx.seed))
    restore = ctx.cached("restore_identity", lambda: restore_identity(seed=ctx.seed))
    ctx.details["noise_statistics"] = stats["rows"]
    ctx.details["eta0_identity"] = ident["per_optimizer"]
    ctx.details["restore_identity"] = restore["per_optimizer"]
    return {"noise_var_rel_err": stats["var_rel_err"], "noise_mean_z": stats["mean_z"],
            "noise_lag1_abs_corr": stats["lag1_abs_corr"], "eta0_max_abs_diff": ident["max_abs_diff"],
            "restore_max_abs_diff": restore["max_abs_diff"]}


def _grid_metrics(cells: list[dict]) -> dict[str, float]:
    def best(vals):
        vals = list(vals)
        return max(vals) if vals else math.nan

    poor = [c for c in cells if c["init"] == POOR]
    m = {"no_noise_max_acc": best(c["best"] for c in poor if c["eta"] == 0),
         "no_noise_mean_acc": best(c["mean"] for c in poor if c["eta"] == 0),
         "best_noisy_cell_mean_acc": best(c["mean"] for c in poor if c["eta"] > 0),
         "best_noisy_run_acc": best(c["best"] for c in poor if c["eta"] > 0),
         "noisy_cells_trained": float(sum(c["mean"] >= 50.0 for c in poor if c["eta"] > 0)),
         "noisy_cells": float(sum(c["eta"] > 0 for c in poor))}
    he = [c for c in cells if c["init"] == "he"]
    if he:
        m["he_noise_minus_no_noise"] = (best(c["mean"] for c in he if c["eta"] > 0)
                                        - best(c["mean"] for c in he if c["eta"] == 0))
    return m


def run(ctx: RunContext) -> dict[str, float]:
    if ctx.protocol not in CONFIGS:
        raise ValueError(f"gradient-noise: unknown protocol {ctx.protocol!r}; have {', '.join(CONFIGS)}")
    cfg = CONFIGS[ctx.protocol]
    show = ctx.show_progress is not False  # print per-run lines unless asked to be quiet (tests)
    with _threads(ctx.device):
        metrics = _noise_checks(ctx)
        if show:
            print("noise checks: " + ", ".join(f"{k}={v:.3g}" for k, v in metrics.items()), flush=True)
        splits = load_mnist()
        runs, cells = [], []
        for gi, g in enumerate(cfg["grids"]):
            g = dict(g)
            n_train, n_test, seeds = g.pop("n_train"), g.pop("n_test"), [ctx.seed + s for s in g.pop("seeds")]
            train, test = prepare_data(splits, n_train, n_test)
            n_runs = len(g["etas"]) * len(g["lrs"]) * len(seeds) * len(g["clips"]) * len(g["inits"])
            per_run = g["epochs"] * (len(train) // 128)
            if show:
                print(f"grid {gi + 1}/{len(cfg['grids'])}: {n_runs} runs x {g['epochs']} epochs on {len(train)} "
                      f"train / {len(test)} test images (init {', '.join(g['inits'])})", flush=True)
            with ctx.progress(total=n_runs * per_run, desc=f"grid {gi + 1}/{len(cfg['grids'])}") as bar:
                done = {"steps": 0}

                def on_step(step, loss, done=done, bar=bar):
                    done["steps"] += 1
                    bar.advance(loss=loss, run=len(runs) + 1)

                def on_run(row, done=done, bar=bar, n_runs=n_runs, per_run=per_run):
                    bar.advance(per_run - done["steps"], run=len(runs) + 1)  # a cached run took no steps
                    done["steps"] = 0
                    runs.append(row)
                    ctx.log(**{k: v for k, v in row.items() if k != "curve"})
                    if show:
                        print(f"[{len(runs)}/{n_runs}] init={row['init']} clip={row['clip']} eta={row['eta']:g} "
                              f"lr={row['lr']:g} seed={row['seed']}: test acc {row['test_acc']:.2f}%", flush=True)

                cells += grid(seeds=seeds, n_train=None, data=(train, test), cached=ctx.cached,
                              run_root=ctx.run_dir("runs"), resume=ctx.resume, on_run=on_run, on_step=on_step,
                              device=ctx.device, **g)
    ctx.details["grid"] = cells
    ctx.details["runs"] = runs
    ctx.note(f"grid ran with {1 if ctx.device.type == 'cpu' else torch.get_num_threads()} torch thread(s)")
    if show:
        print(format_table(cells), flush=True)
    metrics.update(_grid_metrics(cells))
    return metrics


def plot(result, path) -> bool:
    """Test accuracy per epoch of every grid run (colour = eta, line style = lr) -> ``path``."""
    import matplotlib.pyplot as plt

    runs = result.details.get("runs") or []
    if not runs:
        return False
    etas = sorted({r["eta"] for r in runs})
    lrs = sorted({r["lr"] for r in runs})
    colours = plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    seen = set()
    for r in runs:
        key = (r["eta"], r["lr"])
        ax.plot(range(1, len(r["curve"]) + 1), r["curve"], color=colours(etas.index(r["eta"]) / max(len(etas) - 1, 1)),
                ls=("-", "--", ":", "-.")[lrs.index(r["lr"]) % 4], lw=1.2,
                label=None if key in seen else f"eta={r['eta']:g}, lr={r['lr']:g}")
        seen.add(key)
    ax.set(xlabel="epoch", ylabel="test accuracy (%)", ylim=(0, 100),
           title=f"{result.slug} ({result.protocol}): 20x50 ReLU MLP, N(0, 0.1^2) init, SGD")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
