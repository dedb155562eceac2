"""Wall-clock overhead of ``NoisyOptimizer`` over the bare optimizer, per update step (``paperzoo bench gradient-noise``).

Two measurements per (model, optimizer): ``optimizer.step()`` alone on fixed gradients (the wrapper's
cost in isolation: one normal draw per gradient element plus an in-place add) and a whole training
step (zero_grad, forward, backward, global-norm clip, step) on a batch of 128. Bare and noisy are
timed alternately over several rounds; the min is the headline (robust to other processes on a
shared machine), the median of round medians is kept beside it. Writes
``results/bench/gradient_noise_overhead-<device>.csv``.

The card's anchor, ``keras-gradient-noise``, is a Keras/TensorFlow wrapper: a speed comparison across
frameworks says little, so the baseline here is the bare torch optimizer (``against=None``).
"""
from __future__ import annotations

import statistics
from pathlib import Path

import torch
import torch.nn.functional as F

from paperzoo.bench import bench_csv_path, time_fn, write_csv
from paperzoo.nn import MLP
from paperzoo.papers.gradient_noise.model import deep_mlp
from paperzoo.papers.gradient_noise.noise import NoisyOptimizer

MODELS = {
    "deep_mlp_20x50": lambda: deep_mlp(),                      # the paper's MNIST net, 88k params
    "mlp_784-1024x2-10": lambda: MLP([784, 1024, 1024, 10]),   # a wider net, 1.86M params
}
OPTIMIZERS = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.05),
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-3),
}


def _setup(model_name: str, opt_name: str, noisy: bool, device: torch.device) -> dict:
    """Callables for ``optimizer.step()`` alone and for a whole training step, plus the size."""
    torch.manual_seed(0)
    model = MODELS[model_name]().to(device)
    opt = OPTIMIZERS[opt_name](model.parameters())
    if noisy:
        opt = NoisyOptimizer(opt, eta=0.3, gamma=0.55, seed=0)
    x = torch.rand(128, 784, device=device)
    y = torch.randint(0, 10, (128,), device=device)

    def train_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 100.0)
        opt.step()

    train_step()  # gradients exist from here on; step() alone reuses them
    return {"step": opt.step, "train_step": train_step, "n_params": sum(p.numel() for p in model.parameters())}


def _measure(fns: dict, device: torch.device, repeats: int, rounds: int) -> dict:
    out: dict = {}
    for _ in range(rounds):
        for variant, f in fns.items():
            for what in ("step", "train_step"):
                t = time_fn(f[what], repeats=repeats, warmup=3, device=device)
                cur = out.setdefault((variant, what), {"min": float("inf"), "medians": []})
                cur["min"] = min(cur["min"], t["min_ms"])
                cur["medians"].append(t["median_ms"])
    return {k: {"min_ms": v["min"], "median_ms": statistics.median(v["medians"])} for k, v in out.items()}


def run(*, against: str | None = None, root: str | Path | None = None, device: str = "cpu", threads: int = 1,
        repeats: int = 20, rounds: int = 5) -> Path:
    """Time bare vs noisy optimizers and write the CSV under ``root/results/bench`` (default: the checkout)."""
    if against not in (None, "torch"):
        raise ValueError(f"gradient-noise bench compares with the bare torch optimizer only (against=None or 'torch'), "
                         f"got {against!r}; keras-gradient-noise needs TensorFlow and times another framework")
    if root is None:
        from paperzoo.api import project_root

        root = project_root()
    dev = torch.device(device)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    try:
        for model_name in MODELS:
            for opt_name in OPTIMIZERS:
                fns = {v: _setup(model_name, opt_name, v == "noisy", dev) for v in ("bare", "noisy")}
                t = _measure(fns, dev, repeats, rounds)
                for what in ("step", "train_step"):
                    b, n = t[("bare", what)], t[("noisy", what)]
                    rows.append({"model": model_name, "n_params": fns["bare"]["n_params"], "optimizer": opt_name,
                                 "measured": what, "bare_min_ms": round(b["min_ms"], 4),
                                 "noisy_min_ms": round(n["min_ms"], 4),
                                 "overhead_min_ms": round(n["min_ms"] - b["min_ms"], 4),
                                 "overhead_min_pct": round(100 * (n["min_ms"] - b["min_ms"]) / b["min_ms"], 1),
                                 "bare_median_ms": round(b["median_ms"], 4), "noisy_median_ms": round(n["median_ms"], 4),
                                 "threads": threads, "repeats": repeats * rounds})
        return write_csv(bench_csv_path(root, "gradient_noise_overhead", dev), rows, device=dev)  # names `threads`
    finally:
        torch.set_num_threads(old)
