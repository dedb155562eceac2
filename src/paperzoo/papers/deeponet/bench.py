"""``paperzoo bench deeponet --against deepxde``: our DeepONet next to DeepXDE's on identical data (issue 8).

Aligned ("Cartesian product") antiderivative data: ``n_train`` GRF functions (l = 0.2) at 100 sensors, each
integrated exactly at the same 100 query points of [0, 1]; ``n_test`` fresh functions. Both sides: branch
[100, 40, 40], trunk [1, 40, 40], ReLU, Glorot normal, scalar output bias, Adam lr 1e-3, full batch, the same
number of steps, test error evaluated every 1000 steps (DeepXDE's ``display_every``), float32, the same number of
CPU threads. Ours runs a plain PyTorch loop (``F.mse_loss``, ``torch.optim.Adam(fused=True)``: the same Adam in
torch's fused CPU kernel); DeepXDE runs its ``Model.train``. Reported per implementation: wall seconds per 1000
steps (median of ``repeats`` interleaved runs, seeds 0 .. repeats-1;
ours starts from the very weights DeepXDE drew for the same seed, so the errors compare the implementations, not two
initialisations)
and the relative L2 test error ``||pred - s|| / ||s||`` over the whole test array (DeepXDE's ``l2 relative error``),
plus its per-function mean (DeepXDE's ``mean l2 relative error``).
Needs the optional extra ``deepxde`` (PyTorch backend; ``DDE_BACKEND=pytorch`` is set here).
"""
from __future__ import annotations

import contextlib
import io
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from paperzoo.bench import bench_csv_path, bench_start, write_csv
from paperzoo.data.pde import GRF1D, sensors
from paperzoo.papers.deeponet.model import DeepONet


def aligned_antiderivative(n: int, m: int = 100, n_points: int = 100, *, seed: int = 0):
    """``(u (n, m), y (n_points, 1), s (n, n_points))``: every function integrated at the same points."""
    g = GRF1D(0.2)
    f = g.sample(n, torch.Generator().manual_seed(seed))
    sp = g.spline(f)
    y = torch.linspace(0, 1, n_points, dtype=torch.float64)
    s = torch.from_numpy(sp.antiderivative()(y.numpy()))
    u = torch.from_numpy(sp(sensors(m).numpy()))
    return u.float(), y.unsqueeze(1).float(), s.float()


def _errors(pred: torch.Tensor, s: torch.Tensor) -> tuple[float, float]:
    glob = float((pred - s).norm() / s.norm())
    per = float(((pred - s).norm(dim=1) / s.norm(dim=1)).mean())
    return glob, per


def load_deepxde_init(model: DeepONet, init: dict[str, torch.Tensor]) -> DeepONet:
    """Copy a DeepXDE ``DeepONetCartesianProd`` state (``branch/trunk.linears.i.weight`` (out, in), ``.bias``, ``b.0``)
    into our unstacked DeepONet (weights (1, in, out)), so both implementations start from the same point."""
    with torch.no_grad():
        for name, net in (("branch", model.branch), ("trunk", model.trunk)):
            for i, (w, b) in enumerate(zip(net.weights, net.biases)):
                w.copy_(init[f"{name}.linears.{i}.weight"].T.reshape(w.shape))
                b.copy_(init[f"{name}.linears.{i}.bias"].reshape(b.shape))
        model.b0.copy_(init["b.0"].reshape(()))
    return model


def _ours(data, *, steps: int, lr: float, seed: int, init: dict[str, torch.Tensor] | None = None) -> dict:
    u_tr, y, s_tr, u_te, s_te = data
    torch.manual_seed(seed)
    model = DeepONet(u_tr.shape[1])
    if init is not None:
        load_deepxde_init(model, init)
    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)  # the same Adam, torch's fused CPU kernel
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        loss = F.mse_loss(model(u_tr, y), s_tr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 1000 == 0 or step == steps:
            with torch.no_grad():
                ((model(u_te, y) - s_te) ** 2).mean()
    secs = time.perf_counter() - t0
    with torch.no_grad():
        glob, per = _errors(model(u_te, y), s_te)
    return {"s_per_1000_steps": 1000 * secs / steps, "rel_l2": glob, "mean_rel_l2": per}


def _deepxde(data, *, steps: int, lr: float, seed: int) -> dict:
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import deepxde as dde

        if dde.backend.backend_name != "pytorch":
            raise RuntimeError(f"deeponet bench: DeepXDE must use the pytorch backend, got {dde.backend.backend_name}")
        u_tr, y, s_tr, u_te, s_te = (t.numpy() for t in data)
        dde.config.set_random_seed(seed)
        d = dde.data.TripleCartesianProd(X_train=(u_tr, y), y_train=s_tr, X_test=(u_te, y), y_test=s_te)
        net = dde.nn.DeepONetCartesianProd([u_tr.shape[1], 40, 40], [1, 40, 40], "relu", "Glorot normal")
        init = {k: v.detach().clone() for k, v in net.state_dict().items()}
        model = dde.Model(d, net)
        model.compile("adam", lr=lr)
        t0 = time.perf_counter()
        model.train(iterations=steps, display_every=1000, verbose=0)
        secs = time.perf_counter() - t0
        pred = torch.as_tensor(model.predict((u_te, y)))
    glob, per = _errors(pred, torch.as_tensor(s_te))
    return {"s_per_1000_steps": 1000 * secs / steps, "rel_l2": glob, "mean_rel_l2": per, "init": init}


def run(*, against: str | None = None, root: str | Path | None = None, steps: int = 2200, repeats: int = 6,
        n_train: int = 1000, n_test: int = 1000, lr: float = 1e-3, threads: int = 2) -> Path:
    """Time and score both; write ``results/bench/deeponet_vs_deepxde-cpu.csv`` under ``root``."""
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    root = bench_start("deeponet", against, "deepxde", root, module="deepxde")
    u_tr, y, s_tr = aligned_antiderivative(n_train, seed=0)
    u_te, _, s_te = aligned_antiderivative(n_test, seed=1)
    data = (u_tr, y, s_tr, u_te, s_te)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        runs: dict[str, list[dict]] = {"paperzoo": [], "deepxde": []}
        for rep in range(repeats):  # interleaved: both see the same machine load
            runs["deepxde"].append(_deepxde(data, steps=steps, lr=lr, seed=rep))
            runs["paperzoo"].append(_ours(data, steps=steps, lr=lr, seed=rep, init=runs["deepxde"][-1].pop("init")))
    finally:
        torch.set_num_threads(old)
    import deepxde as dde

    ref = statistics.median(r["s_per_1000_steps"] for r in runs["deepxde"])
    rows = []
    for impl, rs in runs.items():
        sec = statistics.median(r["s_per_1000_steps"] for r in rs)
        rows.append({"impl": impl, "version": dde.__version__ if impl == "deepxde" else "ours", "branch": "100-40-40",
                     "trunk": "1-40-40", "functions": n_train, "points": int(y.shape[0]), "optimizer": "Adam", "lr": lr,
                     "steps": steps, "repeats": repeats, "threads": threads,
                     "s_per_1000_steps_median": round(sec, 4),
                     "s_per_1000_steps_min": round(min(r["s_per_1000_steps"] for r in rs), 4),
                     "rel_l2_median": round(statistics.median(r["rel_l2"] for r in rs), 5),
                     "mean_rel_l2_median": round(statistics.median(r["mean_rel_l2"] for r in rs), 5),
                     "speedup_vs_deepxde": round(ref / sec, 2)})
    return write_csv(bench_csv_path(root, "deeponet_vs_deepxde", "cpu"), rows)
