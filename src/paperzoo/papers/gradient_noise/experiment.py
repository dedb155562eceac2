"""The paper's MNIST experiment (Sec. 4.1, Table 1): the 20 x 50 ReLU MLP trained with plain SGD,
with and without annealed gradient noise, summarised per Table 1 row as best and average test
accuracy over every run of the row (both learning rates and all seeds pooled, as the paper's
"best / average over 40 runs": 20 runs x lr {0.1, 0.01}).

``train_run`` trains one run (one init, clip, eta, lr and seed) with ``paperzoo.train.fit``;
``table1_metrics`` turns runs into the Table 1 cells; ``summarise`` groups runs into cells.
"""
from __future__ import annotations

import statistics
from typing import Sequence

import torch

from paperzoo.data import Splits, TensorSet
from paperzoo.papers.gradient_noise.model import deep_mlp
from paperzoo.papers.gradient_noise.noise import NoisyOptimizer
from paperzoo.train import DivergenceError, RunContext, accuracy, fit

__all__ = ["ROWS", "STATS", "TABLE1", "prepare_data", "summarise", "table1_metrics", "table1_rows", "train_run"]

# Table 1 rows: key -> (experiment number, init, global-norm clip threshold or None).
ROWS: dict[str, tuple[int, str, float | None]] = {
    "simple_noclip": (1, "simple", None),
    "simple_clip100": (2, "simple", 100.0),
    "simple_clip10": (3, "simple", 10.0),
    "he_clip10": (5, "he", 10.0),
    "zero_clip10": (6, "zero", 10.0),
}

# The paper's cells (Table 1, % test accuracy over 40 runs): (no-noise best, no-noise average,
# noise best, noise average). Experiment 4 (Sussillo & Abbott init) is not implemented here.
TABLE1: dict[str, tuple[float, float, float, float]] = {
    "simple_noclip": (89.9, 43.1, 96.7, 52.7),
    "simple_clip100": (90.0, 46.3, 96.7, 52.3),
    "simple_clip10": (95.7, 51.6, 97.0, 53.6),
    "he_clip10": (97.4, 91.7, 97.2, 91.7),
    "zero_clip10": (11.4, 10.1, 94.5, 49.7),
}
STATS = ("plain_best", "plain_mean", "noise_best", "noise_mean")


def prepare_data(splits: Splits, n_train: int | None = None, n_test: int | None = None, *,
                 scale: float = 1.0) -> tuple[TensorSet, TensorSet]:
    """Flattened float32 train / test sets (the first ``n_train`` / ``n_test`` images), pixels
    multiplied by ``scale`` (1: the kernel's [0, 1] MNIST; 255: raw byte values)."""
    if not (isinstance(scale, (int, float)) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")

    def flat(ts: TensorSet, n: int | None) -> TensorSet:
        if n is not None and not 0 < n <= len(ts):
            raise ValueError(f"asked for {n} {ts.name} images, have {len(ts)}")
        ts = ts.subset(n) if n is not None else ts
        return TensorSet((ts.x.reshape(len(ts), -1).float() * float(scale)).contiguous(), ts.y.contiguous(), ts.name)

    return flat(splits.train, n_train), flat(splits.test, n_test)


def train_run(ctx: RunContext, train: TensorSet, test: TensorSet, *, init: str, clip: float | None, eta: float,
              lr: float, epochs: int, gamma: float = 0.55, batch_size: int = 128, depth: int = 20,
              width: int = 50) -> dict:
    """Train one run with plain SGD (no momentum) wrapped in ``NoisyOptimizer`` (eta = 0: no noise).

    ``ctx.seed`` fixes the init (global RNG, restored afterwards) and the data order (``fit``); the
    noise has its own generator seeded from ``ctx.seed``, so two runs with the same ``ctx.seed`` that
    differ only in ``eta`` see the same init and the same batches. Order per step (kernel ``fit``):
    backward, global-norm clip at ``clip``, then ``step()`` adds the noise (unclipped) and updates.
    Returns the final test accuracy (%), the per-epoch curve, the final training loss and whether the
    run diverged (then the rest of its curve is the accuracy of the diverged weights).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ctx.seed)
        model = deep_mlp(train.x[0].numel(), max(train.num_classes, test.num_classes), width=width, depth=depth,
                         init=init)
    opt = NoisyOptimizer(torch.optim.SGD(model.parameters(), lr=lr), eta=eta, gamma=gamma,
                         seed=(1_000_003 * ctx.seed + 777_767) % (2**62))
    curve: list[float] = []

    def evaluate(m: torch.nn.Module, epoch: int) -> dict:
        curve.append(round(100.0 * accuracy(m, test, batch_size=5000, device=ctx.device), 2))
        return {"test_acc": curve[-1]}

    try:
        res = fit(model, train, ctx=ctx, epochs=epochs, batch_size=batch_size, optimizer=opt, clip_grad_norm=clip,
                  eval_fn=evaluate, desc=f"{init} clip={clip} eta={eta:g} lr={lr:g}", log_every=0)
        curve, loss, diverged = [float(r["test_acc"]) for r in res.history], float(res.last_loss), False
    except DivergenceError:
        # A diverged run (NaN/inf loss: possible without clipping, as in Exp 1) counts as what its
        # non-finite weights predict, for the rest of its epochs.
        loss, diverged = float("nan"), True
        curve += [round(100.0 * accuracy(model, test, batch_size=5000, device=ctx.device), 2)] * (epochs - len(curve))
    return {"init": init, "clip": clip, "eta": eta, "lr": lr, "seed": ctx.seed, "test_acc": curve[-1],
            "curve": curve, "final_loss": loss, "diverged": diverged}


def summarise(runs: Sequence[dict], by: Sequence[str] = ("init", "clip", "eta", "lr")) -> list[dict]:
    """Group runs by the keys ``by``: per cell ``n``, ``best`` (max) and ``mean`` final test accuracy (%)."""
    cells: dict[tuple, list[float]] = {}
    for r in runs:
        cells.setdefault(tuple(r[k] for k in by), []).append(float(r["test_acc"]))
    return [{**dict(zip(by, key)), "n": len(accs), "best": max(accs), "mean": statistics.fmean(accs)}
            for key, accs in cells.items()]


def table1_metrics(runs: Sequence[dict]) -> dict[str, float]:
    """Table 1 cells from ``runs``: for every row of ``ROWS`` that has runs, ``<row>_plain_best``,
    ``<row>_plain_mean`` (eta = 0), ``<row>_noise_best``, ``<row>_noise_mean`` (eta > 0), pooled over
    learning rates and seeds, and the gains ``<row>_gain_mean`` / ``<row>_gain_best`` (noise minus no
    noise, percentage points). A row needs both noisy and noise-free runs."""
    out: dict[str, float] = {}
    for row, (_, init, clip) in ROWS.items():
        mine = [r for r in runs if r["init"] == init and r["clip"] == clip]
        plain = [float(r["test_acc"]) for r in mine if r["eta"] == 0]
        noisy = [float(r["test_acc"]) for r in mine if r["eta"] > 0]
        if not mine:
            continue
        if not plain or not noisy:
            raise ValueError(f"Table 1 row {row!r} needs runs with and without noise (have {len(plain)} / {len(noisy)})")
        cell = {"plain_best": max(plain), "plain_mean": statistics.fmean(plain),
                "noise_best": max(noisy), "noise_mean": statistics.fmean(noisy)}
        out.update({f"{row}_{k}": v for k, v in cell.items()})
        out[f"{row}_gain_mean"] = cell["noise_mean"] - cell["plain_mean"]
        out[f"{row}_gain_best"] = cell["noise_best"] - cell["plain_best"]
    return out


def table1_rows(runs: Sequence[dict]) -> list[dict]:
    """The Table 1 comparison (ours vs paper) as table rows, for every row of ``ROWS`` that has runs."""
    metrics, rows = table1_metrics(runs), []
    for row, (exp, init, clip) in ROWS.items():
        if f"{row}_plain_best" not in metrics:
            continue
        for i, stat in enumerate(STATS):
            noisy = stat.startswith("noise")
            n = sum(r["init"] == init and r["clip"] == clip and (r["eta"] > 0) == noisy for r in runs)
            rows.append({"experiment": exp, "init": init, "clip": "none" if clip is None else clip,
                         "noise": "yes" if noisy else "no", "stat": stat.split("_")[1], "runs": n,
                         "ours": round(metrics[f"{row}_{stat}"], 2), "paper": TABLE1[row][i]})
    return rows
