"""``paperzoo bench skan --against pykan``: our B-spline ``KAN`` next to pykan's ``KAN`` (card anchor).

Same data (f2 = exp(sin(pi x) + y^2), 1000 train / 1000 test points uniform on [-1, 1]^2, pykan's
tutorial function), same widths ([2, 5, 1] and [2, 32, 32, 1]), grid 5, order 3, Adam, full batch of
1000, the same number of steps and learning rate. A step is one training step plus one test-set
forward, as pykan's ``fit`` does. Rows (``impl``):

- ``paperzoo``: our ``KAN`` in a plain PyTorch loop (eager), started from pykan's initial function (``from_pykan``
  on the pykan model every pykan row starts from; ``init_max_abs_diff`` is the largest difference between the two
  on the test inputs at that start).
- ``paperzoo-compiled``: the same model and loop under ``torch.compile`` (inductor). Compilation happens on
  warm-up steps, after which the model and optimizer are reset to the initial state, so the timed steps
  follow the eager run's trajectory. Compile seconds are reported apart: ``compile_s_max``, the slowest
  repeat, is the cold compile (later repeats reuse the compiled code).
- ``paperzoo-own-init``: our ``KAN`` with its own initialisation (efficient-KAN's), eager.
- ``pykan-fast``: pykan's ``KAN`` in the same loop with its per-forward extras off (``symbolic_enabled=False``,
  ``save_act=False``): the fastest pykan we know, and the like-for-like compute.
- ``pykan-module``: pykan's ``KAN`` as constructed with its defaults, in the same loop. Its forward also runs
  the symbolic branch, a Python loop over every edge (1,120 at [2, 32, 32, 1]) even when all symbolic masks
  are zero. This is how pykan was timed when the 30x target was set (335 ms per step at [2, 32, 32, 1], 7.3 ms at [2, 5, 1]).
- ``pykan-fit``: pykan's own ``fit`` as a user runs it (defaults: grid updates, auto-save of every step's state).

Both sides run with the same number of CPU threads. Every timed run has a fresh process of its own (``_isolated``:
once inductor's OpenMP kernels have run, eager PyTorch that follows in the same process slows down). The rows are
interleaved within each repeat, so all see the same machine load, and the median ms per step over repeats is
reported. Needs the optional extra ``pykan==0.2.8`` (with scikit-learn, pandas, tqdm, pyyaml, sympy, matplotlib)
and, for the compiled row, a C++ compiler for inductor.
"""
from __future__ import annotations

import contextlib
import copy
import gc
import io
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

from paperzoo.bench import bench_csv_path, bench_start, write_csv
from paperzoo.nn import count_params
from paperzoo.papers.skan.data import function_fitting_suite
from paperzoo.papers.skan.interop import from_pykan
from paperzoo.papers.skan.model import KAN

WIDTHS = ((2, 5, 1), (2, 32, 32, 1))
IMPLS = ("paperzoo", "paperzoo-compiled", "paperzoo-own-init", "pykan-fast", "pykan-module", "pykan-fit")
BASELINES = ("pykan-fast", "pykan-module", "pykan-fit")


def _loop(model: torch.nn.Module, params, data, *, steps: int, lr: float, curve: list | None = None) -> float:
    """``steps`` Adam steps on the full training set, each followed by a test-set forward; wall seconds.
    ``curve``: a list that receives the test RMSE after every step."""
    x_tr, y_tr, x_te, y_te = data
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    gc.collect()  # the previous run's garbage (pykan's per-edge tensors) is not collected inside the timed loop
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = F.mse_loss(model(x_tr), y_tr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            losses.append(F.mse_loss(model(x_te), y_te))
    secs = time.perf_counter() - t0
    if curve is not None:
        curve.extend(torch.stack(losses).sqrt().tolist() if losses else [])
    return secs


def _result(model: torch.nn.Module, data, secs: float, steps: int, **extra) -> dict:
    with torch.no_grad():
        err = float(torch.sqrt(F.mse_loss(model(data[2]), data[3])))
    return {"ms_per_step": 1e3 * secs / steps, "test_rmse": err, "params": count_params(model), **extra}


def _pykan_init(widths, seed: int):
    """pykan's ``KAN(width, grid=5, k=3, seed)`` as constructed (every pykan row starts here, and so does ours)."""
    from kan import KAN as PyKAN

    with _quiet_tmpdir():
        return PyKAN(width=list(widths), grid=5, k=3, seed=seed, auto_save=False, device="cpu")


def _ours(widths, data, *, steps: int, lr: float, seed: int, compiled: bool = False, backend: str = "inductor",
          warmup: int = 3, start=None) -> dict:
    """Our KAN, eager or under ``torch.compile(backend=...)`` (warm-up steps, then reset to the initial state).
    ``start``: a pykan model whose function ours starts from (``from_pykan``); the largest difference between the two
    on the test inputs at that start is reported as ``init_max_abs_diff``."""
    extra = {}
    if start is None:
        torch.manual_seed(seed)
        model = KAN(list(widths), basis="bspline", grid=5, order=3)
    else:
        model = from_pykan(start)
        start.symbolic_enabled, start.save_act = False, False
        with torch.no_grad():
            extra["init_max_abs_diff"] = float((model(data[2]) - start(data[2])).abs().max())
    if not compiled:
        return _result(model, data, _loop(model, model.parameters(), data, steps=steps, lr=lr), steps, **extra)
    init = copy.deepcopy(model.state_dict())
    run = torch.compile(model, backend=backend)
    t0 = time.perf_counter()
    _loop(run, model.parameters(), data, steps=warmup, lr=lr)  # compiles the training and the no-grad graphs
    compile_s = time.perf_counter() - t0
    model.load_state_dict(init)
    return _result(model, data, _loop(run, model.parameters(), data, steps=steps, lr=lr), steps, compile_s=compile_s,
                   **extra)


@contextlib.contextmanager
def _quiet_tmpdir():
    """pykan prints progress and may write checkpoints under the working directory: keep both out of the way."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(cwd)


def _pykan(widths, data, *, steps: int, lr: float, seed: int, mode: str) -> dict:
    from kan import KAN as PyKAN

    x_tr, y_tr, x_te, y_te = data
    with _quiet_tmpdir():
        if mode == "fit":  # pykan as a user runs it: its defaults (auto-save, grid updates), Adam, full batch
            model = PyKAN(width=list(widths), grid=5, k=3, seed=seed, device="cpu")
            dataset = {"train_input": x_tr, "train_label": y_tr, "test_input": x_te, "test_label": y_te}
            t0 = time.perf_counter()
            model.fit(dataset, opt="Adam", steps=steps, lr=lr, batch=len(x_tr))
            secs = time.perf_counter() - t0
        else:
            model = _pykan_init(widths, seed)
            if mode == "fast":
                model.symbolic_enabled, model.save_act = False, False
            secs = _loop(model, model.parameters(), data, steps=steps, lr=lr)
        model.symbolic_enabled, model.save_act = False, False  # scoring only
    return _result(model, data, secs, steps)


def _task(task: dict, data=None, *, warmup: bool = True) -> dict:
    """One timed run, ``task`` = {impl, widths, steps, lr, seed, threads} (what ``_isolated`` runs in a child).
    ``warmup``: first a throwaway 5-step run of the same implementation, so one-time costs of a fresh process
    (lazy imports, first allocations, pykan's first checkpoint) stay out of the per-step time."""
    torch.set_num_threads(int(task["threads"]))
    data = data if data is not None else function_fitting_suite("f2", 1000, 1000, seed=0)
    if warmup:
        _task({**task, "steps": 5}, data, warmup=False)
    widths, impl = tuple(task["widths"]), task["impl"]
    kw = dict(steps=int(task["steps"]), lr=float(task["lr"]), seed=int(task["seed"]))
    if impl == "paperzoo-own-init":
        return _ours(widths, data, **kw)
    if impl in ("paperzoo", "paperzoo-compiled"):
        return _ours(widths, data, compiled=impl == "paperzoo-compiled", start=_pykan_init(widths, kw["seed"]), **kw)
    if impl.startswith("pykan-"):
        return _pykan(widths, data, mode=impl.removeprefix("pykan-"), **kw)
    raise ValueError(f"skan bench: unknown implementation {impl!r} (have {IMPLS})")


def _isolated(task: dict, timeout: float = 1800.0) -> dict:
    """``_task`` in a fresh Python process, results back as JSON on its last stdout line. Each timing starts from a
    clean process: inductor's OpenMP threads slow later eager work in the same process, and pykan's allocation
    churn slows what runs after it."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "paperzoo.papers.skan.bench", json.dumps(task)], capture_output=True,
                         text=True, timeout=timeout)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"skan bench: {task['impl']} failed in its process:\n{out.stderr.strip()[-3000:]}")
    return json.loads(lines[-1])


CURVE_AT = (50, 200, 1000)


def convergence(data, *, widths=(2, 32, 32, 1), steps: int = 1000, seeds: int = 3, lr: float = 1e-2,
                at: tuple[int, ...] = CURVE_AT) -> list[dict]:
    """Test RMSE along training, from the same start (pykan's seed-``s`` model, ``from_pykan``) for ours and pykan
    in the same loop, plus ours from its own init and pykan's ``fit``: the error side of the comparison, past the
    50 timed steps. Rows per implementation: median (and min, max) over seeds at each step of ``at``."""
    at = [a for a in at if a <= steps]
    curves: dict[str, list[list[float]]] = {}
    for seed in range(seeds):
        for impl in ("paperzoo", "paperzoo-own-init", "pykan-fast", "pykan-fit"):
            curve: list[float] = []
            if impl == "pykan-fit":
                from kan import KAN as PyKAN

                x_tr, y_tr, x_te, y_te = data
                with _quiet_tmpdir():
                    model = PyKAN(width=list(widths), grid=5, k=3, seed=seed, device="cpu")
                    res = model.fit({"train_input": x_tr, "train_label": y_tr, "test_input": x_te,
                                     "test_label": y_te}, opt="Adam", steps=steps, lr=lr, batch=len(x_tr))
                curve = [float(v) for v in res["test_loss"]]
            elif impl == "pykan-fast":
                model = _pykan_init(widths, seed)
                model.symbolic_enabled, model.save_act = False, False
                _loop(model, model.parameters(), data, steps=steps, lr=lr, curve=curve)
            else:
                if impl == "paperzoo":
                    model = from_pykan(_pykan_init(widths, seed))
                else:
                    torch.manual_seed(seed)
                    model = KAN(list(widths), basis="bspline", grid=5, order=3)
                _loop(model, model.parameters(), data, steps=steps, lr=lr, curve=curve)
            curves.setdefault(impl, []).append(curve)
    rows = []
    for impl, cs in curves.items():
        row = {"impl": impl, "widths": "-".join(map(str, widths)), "seeds": seeds, "lr": lr, "steps": steps}
        for a in at:
            vals = [c[a - 1] for c in cs]
            row |= {f"rmse_at_{a}": round(statistics.median(vals), 5), f"rmse_at_{a}_min": round(min(vals), 5),
                    f"rmse_at_{a}_max": round(max(vals), 5)}
        rows.append(row)
    return rows


def run(*, against: str | None = None, root: str | Path | None = None, steps: int = 50, repeats: int = 5,
        lr: float = 1e-2, threads: int = 2, curve_steps: int = 1000, curve_seeds: int = 3, isolate: bool = True) -> Path:
    """Time and score every row of ``IMPLS``; write ``results/bench/skan_vs_pykan-cpu.csv`` under ``root``, and
    (``curve_steps > 0``) the test error along ``curve_steps`` steps, ``skan_vs_pykan_convergence-cpu.csv``."""
    root = bench_start("skan", against, "pykan", root, module="kan",
                       install="pykan==0.2.8 scikit-learn pandas tqdm pyyaml sympy matplotlib")
    data = function_fitting_suite("f2", 1000, 1000, seed=0)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    runs: dict[tuple, list[dict]] = {}
    compile_error = None
    try:
        for widths in WIDTHS:
            for rep in range(repeats):  # interleaved, so every row sees the same machine load
                for impl in IMPLS:
                    if impl == "paperzoo-compiled" and compile_error is not None:
                        continue
                    task = {"impl": impl, "widths": list(widths), "steps": steps, "lr": lr, "seed": rep,
                            "threads": threads}
                    try:
                        res = _isolated(task) if isolate else _task(task, data)
                    except Exception as e:
                        if impl != "paperzoo-compiled":
                            raise
                        # no C++ compiler for inductor, or an unsupported platform
                        compile_error = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e) else ''}"
                        warnings.warn(f"skan bench: torch.compile failed, the compiled row is left out "
                                      f"({compile_error})", stacklevel=2)
                        continue
                    runs.setdefault((impl, widths), []).append(res)
        curve_rows = convergence(data, steps=curve_steps, seeds=curve_seeds, lr=lr) if curve_steps > 0 else []
    finally:
        torch.set_num_threads(old)
    if curve_rows:
        write_csv(bench_csv_path(root, "skan_vs_pykan_convergence", "cpu"), curve_rows)
    import kan as _kan

    def med(impl, widths, key="ms_per_step"):
        return statistics.median(r[key] for r in runs[(impl, widths)])

    rows = []
    runs = {k: v for k, v in runs.items() if not (compile_error and k[0] == "paperzoo-compiled")}
    for (impl, widths), rs in sorted(runs.items(), key=lambda kv: (WIDTHS.index(kv[0][1]), IMPLS.index(kv[0][0]))):
        ms = med(impl, widths)
        row = {"impl": impl, "version": getattr(_kan, "__version__", "0.2.8") if impl.startswith("pykan") else "ours",
               "widths": "-".join(map(str, widths)), "grid": 5, "k": 3, "optimizer": "Adam", "lr": lr,
               "batch": 1000, "steps": steps, "repeats": repeats, "threads": threads,
               "ms_per_step_median": round(ms, 3), "ms_per_step_min": round(min(r["ms_per_step"] for r in rs), 3),
               "test_rmse_median": round(med(impl, widths, "test_rmse"), 5), "params": rs[0]["params"],
               "compile_s_max": round(max(r["compile_s"] for r in rs), 2) if "compile_s" in rs[0] else "",
               "init_max_abs_diff": (f"{max(r['init_max_abs_diff'] for r in rs):.1e}"
                                     if "init_max_abs_diff" in rs[0] else "")}
        for base in BASELINES:
            row[f"speedup_vs_{base.replace('-', '_')}"] = round(med(base, widths) / ms, 1)
        rows.append(row)
    return write_csv(bench_csv_path(root, "skan_vs_pykan", "cpu"), rows)


if __name__ == "__main__":  # one isolated timing (see _isolated): JSON task in, JSON result out
    import json
    import sys

    print(json.dumps(_task(json.loads(sys.argv[1]))))
