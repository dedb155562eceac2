"""``paperzoo bench skan --against pykan``: our B-spline ``KAN`` next to pykan's ``KAN`` (card anchor).

Same data (f2 = exp(sin(pi x) + y^2), 1000 train / 1000 test points uniform on [-1, 1]^2, pykan's
tutorial function), same widths ([2, 5, 1] and [2, 32, 32, 1]), grid 5, order 3, Adam, full batch of
1000, the same number of steps and learning rate. A step is one training step plus one test-set
forward, as pykan's ``fit`` does. pykan runs twice: "pykan" keeps its defaults except
``update_grid=False`` and ``auto_save=False`` (our KAN has no grid updates or checkpoints, so this is the
like-for-like compute), and "pykan-defaults" is pykan as a user runs it out of the box (auto-save of
every step's model state, grid updates). Both sides run with the same number of CPU
threads; each (implementation, width) is repeated and the median ms per step is reported.
Needs the optional extra ``pykan==0.2.8`` (with scikit-learn, pandas, tqdm, pyyaml, sympy, matplotlib).
"""
from __future__ import annotations

import contextlib
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from paperzoo.bench import bench_csv_path, write_csv
from paperzoo.nn import count_params
from paperzoo.papers.skan.data import function_fitting_suite
from paperzoo.papers.skan.model import KAN

WIDTHS = ((2, 5, 1), (2, 32, 32, 1))


def _ours(widths, data, *, steps: int, lr: float, seed: int) -> dict:
    x_tr, y_tr, x_te, y_te = data
    torch.manual_seed(seed)
    model = KAN(list(widths), basis="bspline", grid=5, order=3)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = F.mse_loss(model(x_tr), y_tr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            F.mse_loss(model(x_te), y_te)
    secs = time.perf_counter() - t0
    with torch.no_grad():
        err = float(torch.sqrt(F.mse_loss(model(x_te), y_te)))
    return {"ms_per_step": 1e3 * secs / steps, "test_rmse": err, "params": count_params(model)}


def _pykan(widths, data, *, steps: int, lr: float, seed: int, defaults: bool = False) -> dict:
    from kan import KAN as PyKAN

    x_tr, y_tr, x_te, y_te = data
    dataset = {"train_input": x_tr, "train_label": y_tr, "test_input": x_te, "test_label": y_te}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        os.chdir(tmp)  # pykan may write checkpoints / figures under the working directory
        try:
            if defaults:  # pykan as a user runs it: its defaults (auto-save, grid updates), Adam, full batch
                model = PyKAN(width=list(widths), grid=5, k=3, seed=seed, device="cpu")
                t0 = time.perf_counter()
                model.fit(dataset, opt="Adam", steps=steps, lr=lr, batch=len(x_tr))
            else:
                model = PyKAN(width=list(widths), grid=5, k=3, seed=seed, auto_save=False, device="cpu")
                t0 = time.perf_counter()
                model.fit(dataset, opt="Adam", steps=steps, lr=lr, batch=len(x_tr), update_grid=False)
            secs = time.perf_counter() - t0
        finally:
            os.chdir(cwd)
    with torch.no_grad():
        err = float(torch.sqrt(F.mse_loss(model(x_te), y_te)))
    return {"ms_per_step": 1e3 * secs / steps, "test_rmse": err, "params": count_params(model)}


def run(*, against: str | None = None, root: str | Path | None = None, steps: int = 50, repeats: int = 3,
        lr: float = 1e-2, threads: int = 2) -> Path:
    """Time and score both implementations; write ``results/bench/skan_vs_pykan-cpu.csv`` under ``root``."""
    against = against or "pykan"
    if against != "pykan":
        raise ValueError(f"skan bench: --against must be 'pykan', got {against!r}")
    try:
        import kan  # noqa: F401
    except ImportError as e:
        raise ImportError("skan bench needs pykan: pip install pykan==0.2.8 scikit-learn pandas tqdm pyyaml "
                          f"sympy matplotlib ({e})") from e
    if root is None:
        from paperzoo.api import project_root

        root = project_root()
    data = function_fitting_suite("f2", 1000, 1000, seed=0)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        runs: dict[tuple, list[dict]] = {}
        for widths in WIDTHS:
            for rep in range(repeats):  # interleaved, so both sides see the same machine load
                runs.setdefault(("paperzoo", widths), []).append(_ours(widths, data, steps=steps, lr=lr, seed=rep))
                runs.setdefault(("pykan", widths), []).append(_pykan(widths, data, steps=steps, lr=lr, seed=rep))
                runs.setdefault(("pykan-defaults", widths), []).append(
                    _pykan(widths, data, steps=steps, lr=lr, seed=rep, defaults=True))
    finally:
        torch.set_num_threads(old)
    import kan as _kan

    rows = []
    for (impl, widths), rs in runs.items():
        ms = statistics.median(r["ms_per_step"] for r in rs)
        py = statistics.median(r["ms_per_step"] for r in runs[("pykan", widths)])
        py_def = statistics.median(r["ms_per_step"] for r in runs[("pykan-defaults", widths)])
        rows.append({"impl": impl, "version": getattr(_kan, "__version__", "0.2.8") if impl != "paperzoo" else "ours",
                     "widths": "-".join(map(str, widths)), "grid": 5, "k": 3, "optimizer": "Adam", "lr": lr,
                     "batch": 1000, "steps": steps, "repeats": repeats, "threads": threads,
                     "ms_per_step_median": round(ms, 3), "ms_per_step_min": round(min(r["ms_per_step"] for r in rs), 3),
                     "test_rmse_median": round(statistics.median(r["test_rmse"] for r in rs), 5),
                     "params": rs[0]["params"], "speedup_vs_pykan": round(py / ms, 1),
                     "speedup_vs_pykan_defaults": round(py_def / ms, 1)})
    return write_csv(bench_csv_path(root, "skan_vs_pykan", "cpu"), rows)
