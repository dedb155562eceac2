"""The arena: every registered classifier for a task, at one parameter budget, with one recipe.

``paperzoo arena fashion-mnist --params 100000 --seeds 2`` finds the task's models through the
registry (their task tags), builds each at the budget with the kernel's ``at_budget`` (its declared
knob, +-10%), trains it with the shared ``Recipe`` through the kernel's ``fit`` (resumable per model
and seed; each trained model is saved as ``<out>/<task>-<N>-<recipe hash>/<model>-seed<s>/model``, which
``paperzoo probe`` accepts), and writes ``results/arena/<task>-<N>.csv`` (accuracy mean +- std over seeds, parameters,
train seconds, inference samples/s, the recipe, provenance) and a PNG of accuracy vs parameters. A
model that cannot reach the budget is listed with the reason, not dropped.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from paperzoo.bench import write_csv
from paperzoo.model_io import save_model
from paperzoo.nn.budget import BudgetError, budget_kwargs, count_params
from paperzoo.registry import ModelEntry, list_models
from paperzoo.stats import wilson_interval
from paperzoo.tasks import get_task
from paperzoo.train.context import RunContext
from paperzoo.train.loop import accuracy, fit


@dataclass(frozen=True)
class Recipe:
    """The one training recipe every model gets (no per-model tuning, by design).

    AdamW (lr 1e-3, weight decay 1e-4), batch 128, cosine decay per step over ``epochs``, inputs
    standardised with the training set's mean/std, gradients clipped at norm 1, one CPU thread per run
    (small models gain nothing from more, and arenas run side by side).
    """

    epochs: int = 3
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    clip_grad_norm: float | None = 1.0
    n_train: int | None = None
    n_test: int | None = None
    threads: int | None = 1


def _sized_kwargs(factory: Callable, task) -> dict[str, Any]:
    """Pass the task's sizes under the standard names the constructor accepts."""
    params = inspect.signature(factory).parameters
    kw: dict[str, Any] = {}
    if "in_dim" in params:
        kw["in_dim"] = math.prod(task.in_shape)
    if "in_chans" in params:
        kw["in_chans"] = task.in_shape[0]
    if "num_classes" in params:
        kw["num_classes"] = task.out_dim
    return kw


def build_at_budget(entry: ModelEntry, task, n_params: int) -> tuple[dict[str, Any], torch.nn.Module]:
    """(constructor keywords, model) for ``entry`` at ``n_params`` with the task's sizes."""
    if entry.knob is None:
        raise BudgetError(f"{entry.name} declares no budget knob")
    return budget_kwargs(entry.factory, n_params, knob=entry.knob, **_sized_kwargs(entry.factory, task))


@torch.no_grad()
def samples_per_second(model: torch.nn.Module, x: torch.Tensor, batch: int = 1000, repeats: int = 3) -> float:
    model.eval()
    xb = x[:batch]
    model(xb)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(xb)
        best = min(best, time.perf_counter() - t0)
    return len(xb) / best


def _load(task, recipe: Recipe):
    from paperzoo.data import load

    splits = load(task.dataset)
    train, test = splits.train, splits.test
    if recipe.n_train:
        train = train.subset(recipe.n_train)
    if recipe.n_test:
        test = test.subset(recipe.n_test)
    mean, std = float(train.x.mean()), float(train.x.std())
    return train.map(lambda x: (x - mean) / std), test.map(lambda x: (x - mean) / std), splits.note, (mean, std)


def run_arena(task_name: str, n_params: int, *, seeds: int = 1, recipe=Recipe(), models: list[str] | None = None,
              out: str | Path = "runs/arena", resume: bool = False, progress: bool | None = None,
              data: tuple | None = None) -> list[dict]:
    """Train every registered classifier of ``task_name`` at ``n_params`` (+-10%); one row per model.
    ``task_name`` may also be an operator benchmark (``darcy``: ``paperzoo.arena.operators``)."""
    from paperzoo.arena.operators import BENCHMARKS, OperatorRecipe, run_operator_arena

    if task_name in BENCHMARKS:  # a PDE benchmark: every registered neural operator of its family
        if recipe == Recipe():
            recipe = OperatorRecipe()
        if not isinstance(recipe, OperatorRecipe):
            raise TypeError(f"arena {task_name!r} is an operator benchmark: pass an OperatorRecipe")
        return run_operator_arena(task_name, n_params, seeds=seeds, recipe=recipe, models=models, out=out,
                                  resume=resume, progress=progress)
    task = get_task(task_name)
    if task.kind != "classification":
        raise ValueError(f"the arena trains classifiers; task {task_name!r} is a {task.kind} task")
    entries = [m for m in list_models(task_name) if models is None or m.name in models]
    if models:
        missing = sorted(set(models) - {m.name for m in entries})
        if missing:
            raise KeyError(f"not registered for task {task_name!r}: {missing}")
    if not entries:
        raise ValueError(f"no model is registered for task {task_name!r}")
    train, test, note, norm = data if data is not None else _load(task, recipe)
    tag = hashlib.sha1(json.dumps(asdict(recipe), sort_keys=True).encode()).hexdigest()[:8]  # resume only the same recipe
    root = RunContext("arena", seed=0, out=Path(out) / f"{task_name}-{n_params}-{tag}", resume=resume,
                      show_progress=progress)
    rows = []
    for entry in entries:
        row = {"task": task_name, "budget": n_params, "model": entry.name, "paper": entry.paper, "knob": entry.knob,
               "params": "", "seeds": seeds, "acc_mean": "", "acc_std": "", "acc_ci95": "", "train_seconds": "",
               "samples_per_s": "", "status": "ok", "reason": "", "note": ""}
        try:
            _, probe = build_at_budget(entry, task, n_params)
        except (BudgetError, TypeError, ValueError) as e:
            rows.append({**row, "status": "skipped", "reason": str(e)})
            continue
        accs, secs, speeds = [], [], []
        for s in range(seeds):
            sub = root.sub(f"{entry.name}-seed{s}")

            def train_one(sub=sub, s=s):
                torch.manual_seed(sub.seed)
                kwargs, model = build_at_budget(entry, task, n_params)
                t0 = time.perf_counter()
                steps = recipe.epochs * (len(train) // recipe.batch_size)
                fit(model, train, epochs=recipe.epochs, batch_size=recipe.batch_size, ctx=sub, desc=f"{entry.name} s{s}",
                    optimizer=lambda p: torch.optim.AdamW(p, lr=recipe.lr, weight_decay=recipe.weight_decay),
                    scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, max(steps, 1)),
                    scheduler_per="step", clip_grad_norm=recipe.clip_grad_norm, log_every=0)
                secs = time.perf_counter() - t0
                save_model(sub.out / "model", model, name=entry.name, kwargs=kwargs, input_norm=norm,
                           extra={"task": task_name, "budget": n_params, "recipe": asdict(recipe)})
                return {"acc": accuracy(model, test), "seconds": secs, "samples_per_s": samples_per_second(model, test.x)}

            with root.threads(recipe.threads):
                r = sub.cached("result", train_one)
            accs.append(100 * r["acc"])
            secs.append(r["seconds"])
            speeds.append(r["samples_per_s"])
        k = round(statistics.fmean(accs) / 100 * len(test))
        lo, hi = wilson_interval(k, len(test))
        rows.append({**row, "params": count_params(probe), "acc_mean": round(statistics.fmean(accs), 3),
                     "acc_std": round(statistics.stdev(accs), 3) if len(accs) > 1 else 0.0,
                     "acc_ci95": f"[{100 * lo:.2f}, {100 * hi:.2f}]", "train_seconds": round(statistics.fmean(secs), 2),
                     "samples_per_s": round(statistics.median(speeds)), "note": note or ""})
    for r in rows:
        r["recipe"] = json.dumps(asdict(recipe), sort_keys=True)
        r["n_train"], r["n_test"] = len(train), len(test)
    return rows


def write_arena(rows: list[dict], root: str | Path) -> tuple[Path, Path | None]:
    """``<root>/results/arena/<task>-<N>.csv`` (+ provenance) and the accuracy-vs-parameters PNG."""
    task, budget = rows[0]["task"], rows[0]["budget"]
    csv_path = write_csv(Path(root) / "results" / "arena" / f"{task}-{budget}.csv", rows)
    return csv_path, plot_arena(rows, csv_path.with_suffix(".png"))


def plot_arena(rows: list[dict], path: Path) -> Path | None:
    """The arena at a glance, one row per model, ranked best first. Left: the metric (accuracy, or relative L2 on a
    log axis) with its std over seeds. Right: each model's parameter count inside the budget's +-10% band. Colour
    and marker give the paper; models that could not reach the budget are named under the plot.
    Returns None without matplotlib or without a finished model."""
    try:
        import matplotlib
        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        return None
    acc = "acc_mean" in ok[0]
    key, std, label = (("acc_mean", "acc_std", "test accuracy (%)") if acc
                       else ("rel_l2_mean", "rel_l2_std", "test relative L2 error (log)"))
    ok = sorted(ok, key=lambda r: float(r[key]), reverse=acc)[::-1]  # best at the top of the plot
    papers = sorted({r["paper"] for r in ok})
    cmap, markers = plt.get_cmap("tab20"), "osD^v<>P"
    style = {p: (cmap(i % 20), markers[(i // 20 + i) % len(markers)]) for i, p in enumerate(papers)}
    budget, n = int(rows[0]["budget"]), len(ok)
    fig, (ax, axp) = plt.subplots(1, 2, figsize=(9, 1.4 + 0.26 * n), sharey=True, layout="constrained",
                                  gridspec_kw={"width_ratios": [3, 1.2]})
    y = list(range(n))
    for yi, r in zip(y, ok):
        c, m = style[r["paper"]]
        e = float(r[std]) if r.get(std) not in (None, "") else 0.0
        ax.errorbar(float(r[key]), yi, xerr=e or None, fmt=m, color=c, ms=5, capsize=2)
        axp.plot(int(r["params"]), yi, m, color=c, ms=5)
    ax.set_yticks(y, [f"{r['model']}  ({r['paper']})" for r in ok], fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    if not acc:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(label)
    ax.grid(axis="x", alpha=0.3)
    axp.axvspan(0.9 * budget, 1.1 * budget, color="0.9", zorder=0)
    axp.axvline(budget, color="0.6", lw=0.8)
    axp.set_xlim(0.85 * budget, 1.15 * budget)
    axp.set_xlabel("parameters (grey: +-10%)")
    axp.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
    axp.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
    skipped = [r["model"] for r in rows if r["status"] != "ok"]
    fig.suptitle(f"arena: {rows[0]['task']} at {budget:,} parameters, {rows[0]['seeds']} seed(s), one recipe",
                 fontsize=10)
    if skipped:
        fig.supxlabel("cannot reach the budget (reasons in the CSV): " + ", ".join(skipped), fontsize=7)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_arena_csv(csv_path: str | Path) -> Path | None:
    """Re-draw ``results/arena/<task>-<N>.png`` from its committed CSV (same figure as a fresh run writes)."""
    import csv

    csv_path = Path(csv_path)
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"plot_arena_csv: {csv_path} has no rows")
    return plot_arena(rows, csv_path.with_suffix(".png"))
