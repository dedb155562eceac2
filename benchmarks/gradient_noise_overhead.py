"""Wall-clock overhead of ``NoisyOptimizer`` over the bare optimizer, per update step.

Two measurements per (model, optimizer): ``optimizer.step()`` alone on fixed gradients (the
wrapper's cost in isolation: one normal draw per gradient element plus an in-place add) and a
whole training step (zero_grad, forward, backward, global-norm clip, step) on a batch of 128.
Writes ``results/bench/gradient_noise_overhead-<device>.csv``.

    python benchmarks/gradient_noise_overhead.py [--device cpu] [--threads 1] [--repeats 50]
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from paperzoo.api import project_root
from paperzoo.bench import bench_csv_path, time_fn, write_csv
from paperzoo.nn import MLP
from paperzoo.papers.gradient_noise import NoisyOptimizer, deep_mlp

MODELS = {
    "deep_mlp_20x50": lambda: deep_mlp(depth=20, width=50),           # the paper's MNIST net, 88k params
    "mlp_784-1024x2-10": lambda: MLP([784, 1024, 1024, 10]),          # a wider net, 1.86M params
}
OPTIMIZERS = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.05),
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-3),
}


def measure(model_name: str, opt_name: str, noisy: bool, device: torch.device, repeats: int) -> dict:
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
    step_only = time_fn(opt.step, repeats=repeats, warmup=5, device=device)
    whole = time_fn(train_step, repeats=repeats, warmup=5, device=device)
    return {"step_ms": step_only["median_ms"], "train_step_ms": whole["median_ms"],
            "n_params": sum(p.numel() for p in model.parameters())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    for model_name in MODELS:
        for opt_name in OPTIMIZERS:
            bare = measure(model_name, opt_name, False, device, args.repeats)
            noisy = measure(model_name, opt_name, True, device, args.repeats)
            for what in ("step", "train_step"):
                b, n = bare[f"{what}_ms"], noisy[f"{what}_ms"]
                rows.append({"model": model_name, "n_params": bare["n_params"], "optimizer": opt_name,
                             "measured": what, "bare_median_ms": round(b, 4), "noisy_median_ms": round(n, 4),
                             "overhead_ms": round(n - b, 4), "overhead_pct": round(100 * (n - b) / b, 1),
                             "threads": args.threads, "repeats": args.repeats})
                print(f"{model_name:20s} {opt_name:5s} {what:10s} bare {b:8.3f} ms  noisy {n:8.3f} ms  "
                      f"(+{n - b:.3f} ms, {100 * (n - b) / b:+.1f}%)")
    path = write_csv(bench_csv_path(project_root(), "gradient_noise_overhead", device), rows, device=device)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
