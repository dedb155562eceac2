"""``paperzoo bench convex-relu --against cvxpy``: our ADMM next to CVXPY (Clarabel, SCS) on the same convex program.

Problem: the card's cpu rung, breast cancer (sklearn's copy), standardised, 80/20 split (seed 0), squared loss on
+-1 labels, beta = 1e-3, P_s = 100 sampled patterns (+ bias: d = 31, u has 2 d P ~ 6 200 entries). Reported per
solver: the objective it reached (evaluated by our ``ConvexReLUProblem.objective``), the largest cone-constraint
violation, the relative gap to Clarabel's objective and the wall seconds (ADMM: setup + iterations; CVXPY: the
solver call including canonicalisation, as ``prob.solve`` runs it). ADMM rows at 100, 1 000 and 5 000 iterations
for rho = 0.1 (the card's default). Needs the optional extra ``cvxpy``.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from paperzoo.bench import bench_csv_path, bench_start, write_csv
from paperzoo.papers.convex_relu.admm import ADMMLearner
from paperzoo.papers.convex_relu.data import load_task
from paperzoo.papers.convex_relu.patterns import add_bias, sample_patterns
from paperzoo.papers.convex_relu.problem import ConvexReLUProblem


def problem(P: int = 100, beta: float = 1e-3, seed: int = 0) -> ConvexReLUProblem:
    """The card's cpu-rung breast-cancer problem (training split)."""
    g = torch.Generator().manual_seed(seed)
    Xtr, ytr, _, _ = load_task("breast_cancer", generator=g)
    X = add_bias(Xtr)
    D, _ = sample_patterns(X, P, generator=g)
    return ConvexReLUProblem(X, ytr, D, beta)


def run(*, against: str | None = None, root: str | Path | None = None, P: int = 100, rho: float = 0.1,
        checkpoints: tuple[int, ...] = (100, 1000, 5000), threads: int = 1) -> Path:
    """Solve with ADMM and CVXPY (Clarabel, SCS); write ``results/bench/convex_relu_vs_cvxpy-cpu.csv`` under ``root``."""
    root = bench_start("convex-relu", against, "cvxpy", root, module="cvxpy")
    import cvxpy
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        pb = problem(P)
        ref = {}
        for solver in ("CLARABEL", "SCS"):
            v, w, info = pb.solve_cvxpy(solver)
            ref[solver] = (info, pb.violation(v, w))
        best = ref["CLARABEL"][0]["objective"]
        rows = [{"impl": f"cvxpy {cvxpy.__version__} / {s.lower()}", "iterations": "", "objective": info["objective"],
                 "rel_gap_to_clarabel": (info["objective"] - best) / best, "max_violation": viol,
                 "seconds": round(info["seconds"], 3)} for s, (info, viol) in ref.items()]
        t0 = time.perf_counter()
        admm = ADMMLearner(pb, rho=rho)  # setup: the one-time factorisations
        secs = time.perf_counter() - t0
        for it in sorted(checkpoints):
            t0 = time.perf_counter()
            admm.run(it - admm.iteration)
            secs += time.perf_counter() - t0  # iterations only; the objective evaluation below is not timed
            v, w = admm.solution
            obj = pb.objective(v, w)
            rows.append({"impl": f"paperzoo ADMM rho={rho:g} ({admm.solve_kind})", "iterations": it, "objective": obj,
                         "rel_gap_to_clarabel": (obj - best) / best, "max_violation": pb.violation(v, w),
                         "seconds": round(secs, 3)})
    finally:
        torch.set_num_threads(old)
    for r in rows:
        r.update(n=pb.n, d=pb.d, P=pb.P, beta=pb.beta, threads=threads)
    return write_csv(bench_csv_path(root, "convex_relu_vs_cvxpy", "cpu"), rows)
