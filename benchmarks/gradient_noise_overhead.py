"""Wall-clock overhead of ``NoisyOptimizer`` over the bare optimizer, per update step.

Two measurements per (model, optimizer): ``optimizer.step()`` alone on fixed gradients (the
wrapper's cost in isolation: one normal draw per gradient element plus an in-place add) and a
whole training step (zero_grad, forward, backward, global-norm clip, step) on a batch of 128.
Bare and noisy are timed alternately over several rounds; the min is the headline (robust to
other processes on a shared machine), the median of round medians is kept beside it.
Writes ``results/bench/gradient_noise_overhead-<device>.csv``.

    python benchmarks/gradient_noise_overhead.py [--device cpu] [--threads 1] [--repeats 20] [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics

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


def setup(model_name: str, opt_name: str, noisy: bool, device: torch.device) -> dict:
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


def measure(fns: dict, device: torch.device, repeats: int, rounds: int) -> dict:
    """Bare and noisy timed alternately in ``rounds`` rounds (so machine load hits both alike);
    returns per variant and measurement the min over all calls and the median of round medians."""
    out: dict = {}
    for _ in range(rounds):
        for variant, f in fns.items():
            for what in ("step", "train_step"):
                t = time_fn(f[what], repeats=repeats, warmup=3, device=device)
                cur = out.setdefault((variant, what), {"min": float("inf"), "medians": []})
                cur["min"] = min(cur["min"], t["min_ms"])
                cur["medians"].append(t["median_ms"])
    return {k: {"min_ms": v["min"], "median_ms": statistics.median(v["medians"])} for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    for model_name in MODELS:
        for opt_name in OPTIMIZERS:
            fns = {v: setup(model_name, opt_name, v == "noisy", device) for v in ("bare", "noisy")}
            t = measure(fns, device, args.repeats, args.rounds)
            for what in ("step", "train_step"):
                b, n = t[("bare", what)], t[("noisy", what)]
                rows.append({"model": model_name, "n_params": fns["bare"]["n_params"], "optimizer": opt_name,
                             "measured": what, "bare_min_ms": round(b["min_ms"], 4),
                             "noisy_min_ms": round(n["min_ms"], 4),
                             "overhead_min_ms": round(n["min_ms"] - b["min_ms"], 4),
                             "overhead_min_pct": round(100 * (n["min_ms"] - b["min_ms"]) / b["min_ms"], 1),
                             "bare_median_ms": round(b["median_ms"], 4), "noisy_median_ms": round(n["median_ms"], 4),
                             "threads": args.threads, "repeats": args.repeats * args.rounds})
                r = rows[-1]
                print(f"{model_name:18s} {opt_name:4s} {what:10s} min: bare {r['bare_min_ms']:8.3f} ms  noisy "
                      f"{r['noisy_min_ms']:8.3f} ms  (+{r['overhead_min_ms']:.3f} ms, {r['overhead_min_pct']:+.1f}%)   "
                      f"median: {r['bare_median_ms']:.3f} / {r['noisy_median_ms']:.3f} ms")
    path = write_csv(bench_csv_path(project_root(), "gradient_noise_overhead", device), rows, device=device)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
