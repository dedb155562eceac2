"""Why do our no-noise Simple Init runs sit at 11.35% when the paper's (Table 1, Exp 1) reach ~90%?

Each candidate changes one thing of the project's setting (60k / 20k MNIST in [0, 1], mean
cross-entropy, batch 128, biases 0, plain SGD lr 0.1, no clipping, no noise) and trains the 20 x 50
Simple Init MLP; ``run()`` writes one CSV row per run to ``results/gradient-noise/investigation-cpu.csv``
(``paperzoo.bench.write_csv``: device, torch version and commit in every row). README "The 11.35%
question" reads its numbers from that file.

    python -m paperzoo.papers.gradient_noise.investigate
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from paperzoo.bench import write_csv
from paperzoo.data import load_mnist
from paperzoo.papers.gradient_noise.experiment import prepare_data
from paperzoo.papers.gradient_noise.model import deep_mlp
from paperzoo.papers.gradient_noise.noise import NoisyOptimizer
from paperzoo.train import DivergenceError, accuracy, fit

# name -> changes from the baseline; "quick": 20k images x 10 epochs (1,560 steps), "long": 60k x 60 (28,080).
CANDIDATES: dict[str, dict[str, Any]] = {
    "baseline": {},
    "bias N(0, 0.1^2)": {"bias": "normal"},
    "bias 0.1 (TF tutorial)": {"bias": "const"},
    "sum loss (x batch)": {"reduction": "sum"},
    "sum loss, lr 0.01": {"reduction": "sum", "lr": 0.01},
    "inputs x 255": {"scale": 255.0},
    "inputs standardised": {"standardise": True},
    "batch 32": {"batch_size": 32},
    "noise eta 0.01 (paper)": {"eta": 0.01},
    "inputs x 255 + noise eta 0.01": {"scale": 255.0, "eta": 0.01},
}


def _model(seed: int, bias: str) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = deep_mlp()
        with torch.no_grad():
            for lin in model.linears:
                if bias == "normal":
                    lin.bias.normal_(0.0, 0.1)
                elif bias == "const":
                    lin.bias.fill_(0.1)
    return model


def one(train, test, *, seed: int = 0, lr: float = 0.1, eta: float = 0.0, epochs: int = 10, batch_size: int = 128,
        bias: str = "zero", reduction: str = "mean", scale: float = 1.0, standardise: bool = False,
        clip: float | None = None) -> dict:
    """Train one no-clip SGD run of the Simple Init MLP with one candidate change; per-epoch test accuracy."""
    if scale != 1.0 or standardise:
        mu, sd = (float(train.x.mean()), float(train.x.std())) if standardise else (0.0, 1.0)
        train = type(train)((train.x * scale - mu) / sd, train.y, train.name)
        test = type(test)((test.x * scale - mu) / sd, test.y, test.name)
    model = _model(seed, bias)
    opt = NoisyOptimizer(torch.optim.SGD(model.parameters(), lr=lr), eta=eta, seed=seed + 1)
    t0 = time.perf_counter()
    try:
        res = fit(model, train, epochs=epochs, batch_size=batch_size, optimizer=opt, clip_grad_norm=clip, seed=seed,
                  progress=False, log_every=0,
                  loss_fn=lambda m, x, y: F.cross_entropy(m(x), y, reduction=reduction),
                  eval_fn=lambda m, e: {"acc": 100.0 * accuracy(m, test, batch_size=5000)})
        curve, diverged = [round(r["acc"], 2) for r in res.history], ""
    except DivergenceError as e:
        curve, diverged = [], str(e).split(";")[0]
    return {"final": curve[-1] if curve else math.nan, "peak": max(curve) if curve else math.nan,
            "epoch_left_chance": next((i + 1 for i, a in enumerate(curve) if a > 12.0), 0), "diverged": diverged,
            "curve": " ".join(f"{a:g}" for a in curve), "seconds": round(time.perf_counter() - t0, 1)}


def run(*, root: str | Path | None = None, seeds: tuple[int, ...] = (0, 1), long_epochs: int = 60,
        threads: int = 1) -> Path:
    """Every candidate on the quick setting (20k x 10 epochs) for ``seeds``, then the baseline and the
    paper's noise (eta 0.01) on the long setting (60k x ``long_epochs``); writes the CSV, returns its path."""
    if root is None:
        from paperzoo.api import project_root

        root = project_root()
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    try:
        full_train, test = prepare_data(load_mnist())
        quick = full_train.subset(20_000)
        plan = [(name, kw, "quick", quick, 10) for name, kw in CANDIDATES.items()]
        plan += [("baseline", {}, "long", full_train, long_epochs),
                 ("noise eta 0.01 (paper)", {"eta": 0.01}, "long", full_train, long_epochs)]
        for name, kw, setting, train, epochs in plan:
            for seed in seeds[:1] if setting == "long" else seeds:
                r = one(train, test, seed=seed, epochs=epochs, **kw)
                rows.append({"candidate": name, "setting": setting, "n_train": len(train), "epochs": epochs,
                             "seed": seed, "lr": kw.get("lr", 0.1), **r})
                print(f"{name:28s} {setting:5s} seed {seed}: final {r['final']:.2f}% peak {r['peak']:.2f}% "
                      f"({r['seconds']} s){' ' + r['diverged'] if r['diverged'] else ''}", flush=True)
    finally:
        torch.set_num_threads(old)
    return write_csv(Path(root) / "results" / "gradient-noise" / "investigation-cpu.csv", rows)


if __name__ == "__main__":
    print(run())
