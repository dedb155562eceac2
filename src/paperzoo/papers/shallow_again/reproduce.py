"""Protocols: sequential vs parallel residual conv stacks, trained from scratch, binned by Q (card ladder).

smoke: seconds; the exact checks (equal parameter counts, second-order Taylor gap, L = 1 identity)
       and a 4-run sweep on 512 MNIST images.
cpu:   the card's cpu ladder: MNIST 10k train / 10k val, C = 16, k = 3, L in {2, 4}, both layouts,
       2 seeds, 3 epochs (Adam lr 1e-3, batch 128); 2 x 2 max-pool before the head (ours). One thread:
       on a shared machine two OpenMP threads spent ~7x the CPU time per step of one.
full:  the card's full sweep: MNIST and CIFAR-10, L {2,3,4,6} x C {8,16,32} x k {3,5} x pool {none, 2}
       x 2 layouts, 10 epochs, on the full training set and a 5k subset (to reach Q < 1; ours).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from paperzoo.data import load
from paperzoo.data.sets import TensorSet
from paperzoo.nn import count_params
from paperzoo.papers.shallow_again.analysis import (
    bin_gaps,
    bin_labels,
    binned_table,
    compare_layouts,
    determination_ratio,
    pair_runs,
    q_bin,
    single_layer_error,
    taylor_order_ratio,
    truncation_gap,
)
from paperzoo.papers.shallow_again.model import ConvClassifier, conv_params
from paperzoo.train import RunContext, fit

CONFIG_KEYS = ("dataset", "n_train", "depth", "channels", "kernel", "pool")


@dataclass(frozen=True)
class Config:
    about: str
    datasets: tuple[str, ...] = ("mnist",)
    n_trains: tuple[int | None, ...] = (10_000,)
    n_val: int | None = 10_000
    depths: tuple[int, ...] = (2, 4)
    channels: tuple[int, ...] = (16,)
    kernels: tuple[int, ...] = (3,)
    pools: tuple[int, ...] = (2,)
    seeds: int = 2
    epochs: int = 3
    batch_size: int = 128
    lr: float = 1e-3
    act: str = "relu"
    gap_batch: int = 256
    threads: int | None = None


PROTOCOLS = {
    "smoke": Config("seconds: exact checks (equal counts, 2nd-order Taylor gap, L=1 identity) + 4 tiny MNIST runs "
                    "(512 images, 1 epoch)", n_trains=(512,), n_val=256, depths=(1, 2), channels=(4,), seeds=1,
                    epochs=1, threads=1),
    "cpu": Config("card cpu ladder: MNIST 10k train / 10k val, C=16, k=3, L in {2,4}, sequential vs parallel, "
                  "2 seeds, 3 epochs (8 runs; single-threaded, about 5 min on one core)", threads=1),
    "full": Config("card full sweep: MNIST + CIFAR-10, L{2,3,4,6} x C{8,16,32} x k{3,5} x pool{1,2} x 2 layouts, "
                   "full and 5k training sets, 10 epochs (GPU)", datasets=("mnist", "cifar10"), n_trains=(None, 5_000),
                   n_val=None, depths=(2, 3, 4, 6), channels=(8, 16, 32), kernels=(3, 5), pools=(1, 2), seeds=1,
                   epochs=10),
}


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: TensorSet, batch: int = 1000) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in %) of ``model`` on ``data`` (eval mode)."""
    model.eval()
    dev = next(model.parameters()).device
    loss, correct = 0.0, 0
    for i in range(0, len(data), batch):
        x, y = data.x[i:i + batch].to(dev), data.y[i:i + batch].to(dev)
        out = model(x)
        loss += float(F.cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
    return loss / len(data), 100.0 * correct / len(data)


def _prepare(name: str, n_train: int | None, n_val: int | None, device: torch.device) -> tuple[TensorSet, TensorSet]:
    splits = load(name)
    train, val = splits.train.subset(n_train), splits.test.subset(n_val)
    mean, std = float(train.x.mean()), float(train.x.std())  # standardised with training statistics (ours)
    train, val = train.map(lambda x: (x - mean) / std), val.map(lambda x: (x - mean) / std)
    return (train.to(device), val.to(device)) if device.type == "cuda" else (train, val)


def _train_one(ctx: RunContext, cfg: Config, spec: dict, train: TensorSet, val: TensorSet) -> dict:
    """Train one (configuration, layout, seed) from scratch (resumable); its row of the sweep table."""

    def compute() -> dict:
        ctx.seed_all()
        _, c, h, _ = train.x.shape
        grid = h // spec["pool"]
        model = ConvClassifier(c, int(train.y.max()) + 1, spec["channels"], spec["depth"], spec["kernel"],
                               mode=spec["mode"], head_grid=grid, act=cfg.act)
        params = count_params(model)
        closed = conv_params(c, model.head.out_features, spec["channels"], spec["depth"], spec["kernel"], grid)
        fit(model, train, epochs=cfg.epochs, batch_size=cfg.batch_size, ctx=ctx, desc=ctx.name,
            optimizer=lambda ps: torch.optim.Adam(ps, lr=cfg.lr))
        train_loss, _ = evaluate(model, train)
        val_loss, val_acc = evaluate(model, val)
        with torch.no_grad():
            gap = truncation_gap(model.stack, model.features(val.x[:cfg.gap_batch].to(next(model.parameters()).device)))
        q = determination_ratio(params, len(train), model.head.out_features)
        return {**spec, "params": params, "count_err": abs(params - closed), "q": q, "q_bin": q_bin(q),
                "train_loss": train_loss, "val_loss": val_loss, "val_acc": val_acc, "taylor_gap": gap}

    return ctx.cached("run", compute)


def exact_checks(seed: int = 0) -> dict[str, float]:
    """Card smoke (a)-(c): equal parameter counts of the two layouts, the second-order Taylor ratio,
    and identical outputs of the layouts for an L = 1 stack."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        seq = ConvClassifier(1, 10, 8, 3, 3, mode="sequential")
        par = ConvClassifier(1, 10, 8, 3, 3, mode="parallel")
        one = ConvClassifier(1, 10, 8, 1, 3, head_grid=7)
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    return {"param_count_diff": float(abs(count_params(seq) - count_params(par))),
            "taylor_order_ratio": taylor_order_ratio(1e-2, seed=seed), "single_layer_err": single_layer_error(one, x)}


def _specs(cfg: Config, name: str):
    for n, d, c, k, p, s in itertools.product(cfg.n_trains, cfg.depths, cfg.channels, cfg.kernels, cfg.pools,
                                              range(cfg.seeds)):
        for mode in ("sequential", "parallel"):
            yield {"dataset": name, "n_train": n, "depth": d, "channels": c, "kernel": k, "pool": p, "mode": mode,
                   "seed": s}


def _outputs(ctx: RunContext, rows: list[dict], table: list[dict]) -> None:
    ctx.table("runs", rows, caption="every run: params (trainable, head included), Q = n_train x 10 / params, final "
                                    "mean cross-entropy on the training set and on the validation set, val accuracy (%), "
                                    "taylor_gap = ||seq(h0) - par(h0)|| / ||seq(h0) - h0|| of the trained stack's weights")
    ctx.table("q_bins", table, caption="paper Table 2 layout: mean loss per determination-ratio bin and layout")
    labels = bin_labels()
    ys = {}
    for ds in dict.fromkeys(r["dataset"] for r in table):
        for mode, key in (("sequential", "val_seq"), ("parallel", "val_par")):
            cells = {r["q_bin"]: r[key] for r in table if r["dataset"] == ds}
            ys[f"{ds} {mode}"] = [cells.get(label, math.nan) for label in labels]
    ctx.curve("val_loss_by_q", list(range(len(labels))), ys, xlabel="Q bin (0: [0,1), 1: [1,3), 2: [3,10), 3: >=10)",
              ylabel="mean validation loss", title="validation loss per determination-ratio bin")
    first = rows[0]["dataset"]
    depths = sorted({r["depth"] for r in rows})
    ys = {mode: [sum(r["val_loss"] for r in sel) / len(sel) for d in depths
                 if (sel := [r for r in rows if r["dataset"] == first and r["depth"] == d and r["mode"] == mode])]
          for mode in ("sequential", "parallel")}
    ctx.curve("val_loss_by_depth", depths, ys, xlabel="number of residual layers L", ylabel="mean validation loss",
              title=f"{first}: deep (sequential) vs shallow (parallel)")


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    if not cfg.datasets or cfg.seeds < 1 or min(cfg.pools, default=0) < 1:
        raise ValueError(f"need datasets, seeds >= 1 and pools >= 1; got {cfg.datasets}, {cfg.seeds}, {cfg.pools}")
    with ctx.threads(cfg.threads):
        metrics = exact_checks(ctx.seed)
        rows = []
        for name in cfg.datasets:
            for n_train in cfg.n_trains:
                train, val = _prepare(name, n_train, cfg.n_val, ctx.device)
                for spec in _specs(cfg, name):
                    if spec["n_train"] != n_train:
                        continue
                    tag = "-".join(f"{k[0]}{v}" for k, v in spec.items() if k not in ("dataset", "mode"))
                    sub = ctx.sub(f"{name}-{tag}-{spec['mode'][:3]}")
                    rows.append(_train_one(sub, cfg, spec, train, val))
        table = binned_table(rows)
        _outputs(ctx, rows, table)
        pairs = pair_runs(rows, [*CONFIG_KEYS, "seed"])
        metrics["param_count_diff"] += sum(abs(s["params"] - p["params"]) for s, p in pairs) + sum(r["count_err"] for r in rows)
        metrics.update(compare_layouts(rows, CONFIG_KEYS))
        metrics["val_acc_seq"] = sum(s["val_acc"] for s, _ in pairs) / len(pairs)
        metrics["val_acc_par"] = sum(p["val_acc"] for _, p in pairs) / len(pairs)
        metrics["taylor_gap_trained"] = max(r["taylor_gap"] for r in rows if r["mode"] == "sequential")
        metrics["mnist_bin_val_gap"] = bin_gaps(table, "mnist")
        metrics["cifar10_bin_val_gap"] = bin_gaps(table, "cifar10", min_q=1.0)
        low = [r for r in table if r["dataset"] == "cifar10" and r["q_bin"] == bin_labels()[0]]
        metrics["cifar10_q_lt1_par_advantage"] = low[0]["val_seq"] - low[0]["val_par"] if low else math.nan
        ctx.details.update({"runs": len(rows), "pairs": len(pairs)})
    return {k: float(v) for k, v in metrics.items()}
