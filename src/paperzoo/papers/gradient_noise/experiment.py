"""The paper's MNIST experiment: a 20 x 50 ReLU MLP from a poor init, plain SGD, with and
without annealed gradient noise, over a grid of (eta, lr, seed) runs (paper, Table 1).

``deep_mlp`` builds the network; ``train_run`` trains one cell with ``paperzoo.train.fit``;
``grid`` runs the whole grid (each run a resumable unit) and summarises best / mean test
accuracy per (eta, lr) cell, which is the form of the paper's Table 1.
"""
from __future__ import annotations

import itertools
import statistics
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from paperzoo.data import Splits, TensorSet
from paperzoo.nn import MLP
from paperzoo.papers.gradient_noise.noise import NoisyOptimizer
from paperzoo.registry import register_model
from paperzoo.train import accuracy, fit

__all__ = ["deep_mlp", "train_run", "grid", "summarise", "format_table", "prepare_data"]

INITS = ("normal", "he", "torch")


@register_model("gradnoise_deep_mlp", paper="gradient-noise", tasks=("mnist",))
def deep_mlp(depth: int = 20, width: int = 50, init_std: float = 0.1, *, init: str = "normal",
             in_dim: int = 784, num_classes: int = 10) -> MLP:
    """The paper's very deep MNIST MLP: ``depth`` hidden ReLU layers of ``width`` units, then a
    linear softmax layer; input (N, 784) or (N, 1, 28, 28) -> logits (N, num_classes).

    ``init="normal"``: weights N(0, init_std^2), biases 0 -- the card's reading of the paper's
    "simple / poor" init (std 0.1 with fan-in 50 halves activations per layer). ``init="he"``: the
    good-init control, weights N(0, 2 / fan_in), biases 0. ``init="torch"``: PyTorch's default.
    Draws from the global RNG (seed it around the call).
    """
    if not isinstance(depth, int) or depth < 1 or not isinstance(width, int) or width < 1:
        raise ValueError(f"depth and width must be positive ints, got depth={depth!r}, width={width!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if init == "normal" and not (isinstance(init_std, (int, float)) and init_std > 0):
        raise ValueError(f"init_std must be a positive number for init='normal', got {init_std!r}")
    model = MLP([in_dim] + [width] * depth + [num_classes], act=nn.ReLU,
                init_std=float(init_std) if init == "normal" else None)
    if init == "he":
        for lin in model.linears:
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            nn.init.zeros_(lin.bias)
    return model


def prepare_data(splits: Splits, n_train: int | None = None, n_test: int | None = None) -> tuple[TensorSet, TensorSet]:
    """Flattened, contiguous float32 train/test tensors (the first ``n_train`` / ``n_test`` samples)."""
    def flat(ts: TensorSet, n: int | None) -> TensorSet:
        ts = ts.subset(n) if n is not None else ts
        return TensorSet(ts.x.reshape(len(ts), -1).float().contiguous(), ts.y.contiguous(), ts.name)

    return flat(splits.train, n_train), flat(splits.test, n_test)


def train_run(train: TensorSet, test: TensorSet, *, eta: float, lr: float, seed: int, epochs: int,
              depth: int = 20, width: int = 50, init_std: float = 0.1, init: str = "normal", gamma: float = 0.55,
              batch_size: int = 128, clip: float | None = 100.0, run_dir: str | Path | None = None,
              resume: bool = False, progress: bool | None = False, device: str | torch.device = "cpu",
              on_step: Callable[[int, float], None] | None = None) -> dict:
    """Train one (eta, lr, seed) cell with plain SGD (no momentum) wrapped in ``NoisyOptimizer``.

    ``seed`` fixes three independent streams: the init (global RNG, restored afterwards), the data
    order (``fit``'s per-epoch generator) and the noise (the wrapper's own generator, seeded with a
    different number), so runs that differ only in ``eta`` see the same init and the same batches.
    Returns final test accuracy (%), the per-epoch test accuracy curve and the final loss.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = deep_mlp(depth, width, init_std, init=init, in_dim=train.x[0].numel(),
                         num_classes=max(train.num_classes, test.num_classes))
    opt = NoisyOptimizer(torch.optim.SGD(model.parameters(), lr=lr), eta=eta, gamma=gamma,
                         seed=1_000_003 * seed + 777_767)
    res = fit(model, train, epochs=epochs, batch_size=batch_size, optimizer=opt, clip_grad_norm=clip,
              eval_fn=lambda m: {"test_acc": 100.0 * accuracy(m, test, batch_size=5000, device=device)},
              run_dir=run_dir, resume=resume, seed=seed, device=device, progress=progress,
              desc=f"eta={eta:g} lr={lr:g} seed={seed}", log_every=0, on_step=on_step)
    curve = [round(float(r["test_acc"]), 2) for r in res.history]
    return {"eta": eta, "lr": lr, "seed": seed, "test_acc": curve[-1] if curve else float("nan"),
            "curve": curve, "final_loss": float(res.last_loss), "steps": res.steps}


def summarise(runs: Sequence[dict]) -> list[dict]:
    """Group runs by (init, clip, eta, lr): best and mean final test accuracy (%) over seeds."""
    cells: dict[tuple, list[dict]] = {}
    for r in runs:
        cells.setdefault((r.get("init", "normal"), r.get("clip"), r["eta"], r["lr"]), []).append(r)
    out = []
    for (init, clip, eta, lr), rs in cells.items():
        accs = [r["test_acc"] for r in rs]
        out.append({"init": init, "clip": clip, "eta": eta, "lr": lr, "n": len(accs),
                    "best": max(accs), "mean": statistics.fmean(accs), "accs": accs})
    return out


def grid(etas: Sequence[float], lrs: Sequence[float], seeds: Sequence[int], epochs: int, n_train: int | None = None,
         *, data: Splits | tuple[TensorSet, TensorSet] | None = None, n_test: int | None = None,
         clips: Sequence[float | None] = (100.0,), inits: Sequence[str] = ("normal",),
         cached: Callable[[str, Callable[[], Any]], Any] | None = None,
         run_root: str | Path | None = None, resume: bool = False,
         on_run: Callable[[dict], None] | None = None, progress: bool | None = False, **run_kwargs) -> list[dict]:
    """Run every (init, clip, eta, lr, seed) combination and return the per-cell table
    (``summarise``): best and mean final test accuracy (%) over ``seeds``, plus all accuracies.

    ``data``: MNIST ``Splits`` (default ``paperzoo.data.load_mnist()``) or prepared (train, test).
    ``cached(name, fn)`` (e.g. ``ctx.cached``) makes each run a resumable unit; ``run_root`` keeps a
    per-run checkpoint folder so a killed run continues mid-training with ``resume=True``.
    ``on_run(row)`` is called after each run (for logging). Remaining kwargs go to ``train_run``.
    """
    if data is None:
        from paperzoo.data import load_mnist

        data = load_mnist()
    train, test = prepare_data(data, n_train, n_test) if isinstance(data, Splits) else data
    if n_train is not None and not isinstance(data, Splits):
        train = train.subset(n_train)
    runs = []
    for init, clip, eta, lr, seed in itertools.product(inits, clips, etas, lrs, seeds):
        name = f"init-{init}_clip-{clip}_eta-{eta:g}_lr-{lr:g}_seed-{seed}"
        rd = Path(run_root) / name if run_root is not None else None

        def one(init=init, clip=clip, eta=eta, lr=lr, seed=seed, rd=rd):
            row = train_run(train, test, eta=eta, lr=lr, seed=seed, epochs=epochs, init=init, clip=clip,
                            run_dir=rd, resume=resume, progress=progress, **run_kwargs)
            return {"init": init, "clip": clip, **row}

        row = cached(name, one) if cached is not None else one()
        runs.append(row)
        if on_run is not None:
            on_run(row)
    return summarise(runs)


def format_table(cells: Sequence[dict]) -> str:
    """The grid as a Markdown table (one row per cell)."""
    lines = ["| init | clip | eta | lr | n | best test acc (%) | mean test acc (%) | all runs (%) |",
             "|---|---|---|---|---|---|---|---|"]
    for c in cells:
        runs = ", ".join(f"{a:.2f}" for a in c["accs"])
        lines.append(f"| {c['init']} | {c['clip']} | {c['eta']:g} | {c['lr']:g} | {c['n']} | {c['best']:.2f} | "
                     f"{c['mean']:.2f} | {runs} |")
    return "\n".join(lines)
