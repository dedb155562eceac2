"""``paperzoo bench nalsm --against brian2``: our liquid simulator next to brian2 on the same frozen liquid.

The same 1000-neuron LIF liquid without plasticity (``build_liquid`` seed k, every |w| set to the LSM scalar
``w_liquid``; input -> reservoir + recurrent synapses), dt = 1 ms, the same input (784 inputs, Bernoulli
``p_input`` per ms; the identical event raster goes to both), the same simulated time, for ``seeds`` liquids.
brian2 runs ``brian2_liquid.py`` (cython target) in its own environment: ``$PAPERZOO_BRIAN2_PYTHON``, else a venv at
``~/.cache/paperzoo/envs/brian2`` created here if missing (``python -m venv`` + ``pip install brian2 "numpy<2.3"``);
network and input go over as .npz, results come back as JSON.

Reported: simulated ms per wall second (brian2 after a compiling warm-up; ours one liquid, then batches of B
liquids with independent inputs as one tensor program: sample-ms per second), and spike statistics: per-seed
mean reservoir rate for both (same events), their mean and spread over seeds, a two-sample z score, and the
fraction of neurons whose spike count is identical.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from paperzoo.bench import bench_csv_path, bench_start, write_csv
from paperzoo.papers.nalsm.liquid import build_liquid
from paperzoo.papers.nalsm.sim import LIFLiquidSim

SCRIPT = Path(__file__).with_name("brian2_liquid.py")
DEFAULT_ENV = Path.home() / ".cache" / "paperzoo" / "envs" / "brian2"


def brian2_python() -> str:
    """The interpreter that runs brian2: ``$PAPERZOO_BRIAN2_PYTHON`` or the cached venv (created if missing)."""
    env = os.environ.get("PAPERZOO_BRIAN2_PYTHON")
    if env:
        return env
    py = DEFAULT_ENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not py.exists():
        print(f"nalsm bench: creating a brian2 environment at {DEFAULT_ENV} (python -m venv; pip install brian2 "
              f"'numpy<2.3'); set PAPERZOO_BRIAN2_PYTHON to use another", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(DEFAULT_ENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "brian2", "numpy<2.3"], check=True)
    return str(py)


def _brian2(py: str, sim: LIFLiquidSim, w: torch.Tensor, events: torch.Tensor, warmup_ms: int) -> dict:
    lq = sim.liquid
    with tempfile.TemporaryDirectory(prefix="nalsm_bench_") as tmp:
        net, out = Path(tmp) / "net.npz", Path(tmp) / "out.json"
        np.savez(net, pre=lq.pre.numpy(), post=lq.post.numpy(), w=w.double().numpy(), events=events.numpy(),
                 n_inputs=lq.n_inputs, n_all=lq.n_all, tau_v=sim.tau_v, tau_u=sim.tau_u, v_th=sim.v_th,
                 t_ref=sim.t_ref, input_current=sim.input_current, timer_max=sim.timer_max, warmup_ms=warmup_ms)
        proc = subprocess.run([py, str(SCRIPT), str(net), str(out)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"nalsm bench: brian2 script failed:\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text())


def _ours(sim: LIFLiquidSim, w: torch.Tensor, p: torch.Tensor, steps: int, *, events=None, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    out = sim.run(p, steps, weights=w, events=events, generator=g)
    return out["counts"], time.perf_counter() - t0


def run(*, against: str | None = None, root: str | Path | None = None, sim_ms: int = 2000, seeds: int = 5,
        batches: tuple[int, ...] = (1, 16, 64, 256), dims: tuple[int, int, int] = (10, 10, 10), w_liquid: float = 1.0,
        p_input: float = 0.02, threads: int = 1, warmup_ms: int = 20) -> Path:
    """Time and compare both; write ``results/bench/nalsm_vs_brian2-cpu.csv`` under ``root``."""
    root = bench_start("nalsm", against, "brian2", root)  # brian2 runs in its own venv (brian2_python)
    py = brian2_python()
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows, per_seed = [], {"brian2": [], "paperzoo": []}
    try:
        speed = {"brian2": [], "paperzoo": []}
        same = []
        for k in range(seeds):
            lq = build_liquid(dims, seed=k)
            sim = LIFLiquidSim(lq)
            w = lq.with_magnitude(w_liquid)
            p = torch.full((1, lq.n_inputs), p_input)
            events = torch.rand(sim_ms, 1, lq.n_inputs, generator=torch.Generator().manual_seed(1000 + k)) < p_input
            b = _brian2(py, sim, w, events[:, 0], warmup_ms)
            _ours(sim, w, p, warmup_ms, events=events[:warmup_ms])  # warm-up, like brian2's
            ours, secs = _ours(sim, w, p, sim_ms, events=events)
            cb = torch.tensor(b["counts"], dtype=torch.float64)
            per_seed["brian2"].append(1000.0 * float(cb.mean()) / sim_ms)
            per_seed["paperzoo"].append(1000.0 * float(ours.double().mean()) / sim_ms)
            same.append(float((cb == ours[0].double()).double().mean()))
            speed["brian2"].append(sim_ms / b["run_seconds"])
            speed["paperzoo"].append(sim_ms / secs)
        mb, mo = statistics.fmean(per_seed["brian2"]), statistics.fmean(per_seed["paperzoo"])
        sb, so = statistics.stdev(per_seed["brian2"]), statistics.stdev(per_seed["paperzoo"])
        z = (mo - mb) / math.sqrt((sb**2 + so**2) / seeds) if sb + so > 0 else 0.0
        ref = statistics.median(speed["brian2"])
        common = {"neurons": lq.n_res, "inputs": lq.n_inputs, "synapses": lq.n_syn, "w_liquid": w_liquid,
                  "p_input": p_input, "sim_ms": sim_ms, "seeds": seeds, "threads": threads}
        rows.append({"impl": "brian2", "version": b["brian2"] + " cython", "batch": 1, **common,
                     "sample_ms_per_s": round(ref, 1), "speedup_vs_brian2": 1.0, "mean_rate_hz": round(mb, 3),
                     "rate_sd_over_seeds": round(sb, 3), "z_vs_brian2": 0.0, "identical_counts_frac": 1.0})
        rows.append({"impl": "paperzoo", "version": "ours", "batch": 1, **common,
                     "sample_ms_per_s": round(statistics.median(speed["paperzoo"]), 1),
                     "speedup_vs_brian2": round(statistics.median(speed["paperzoo"]) / ref, 2),
                     "mean_rate_hz": round(mo, 3), "rate_sd_over_seeds": round(so, 3), "z_vs_brian2": round(z, 2),
                     "identical_counts_frac": round(statistics.fmean(same), 4)})
        for bsz in batches:
            if bsz == 1:
                continue
            lq = build_liquid(dims, seed=0)
            sim, w = LIFLiquidSim(lq), lq.with_magnitude(w_liquid)
            p = torch.full((bsz, lq.n_inputs), p_input)
            _ours(sim, w, p, warmup_ms)
            counts, secs = _ours(sim, w, p, sim_ms, seed=bsz)
            rate = 1000.0 * counts.double().mean(1) / sim_ms  # per liquid
            rows.append({"impl": "paperzoo", "version": "ours", "batch": bsz, **common,
                         "sample_ms_per_s": round(bsz * sim_ms / secs, 1),
                         "speedup_vs_brian2": round(bsz * sim_ms / secs / ref, 2),
                         "mean_rate_hz": round(float(rate.mean()), 3), "rate_sd_over_seeds": round(float(rate.std()), 3),
                         "z_vs_brian2": "", "identical_counts_frac": ""})
    finally:
        torch.set_num_threads(old)
    return write_csv(bench_csv_path(root, "nalsm_vs_brian2", "cpu"), rows)
