"""Convex two-layer ReLU training (Bai, Gautam & Sojoudi 2023; Pilanci & Ergen 2020): activation patterns, the
group-lasso convex program, its ADMM solver (a kernel ``Learner``), recovery of the ReLU net, the non-convex Adam
baseline and convex adversarial training.

>>> from paperzoo.papers.convex_relu import ADMMLearner, ConvexReLUProblem, add_bias, sample_patterns
>>> X = add_bias(x); D, H = sample_patterns(X, 100)
>>> admm = ADMMLearner(ConvexReLUProblem(X, y, D, beta=1e-3), rho=0.1).run(1000)
>>> net = TwoLayerReLU.from_neurons(*recover_network(*admm.solution))
"""
from paperzoo.papers.convex_relu.admm import ADMMLearner
from paperzoo.papers.convex_relu.adversarial import ConvexATProblem, pgd_adversarial_training, pgd_attack, robust_accuracy
from paperzoo.papers.convex_relu.data import load_task
from paperzoo.papers.convex_relu.model import TwoLayerReLU, adam_restarts, batched_objective, convex_relu_net
from paperzoo.papers.convex_relu.patterns import (
    add_bias,
    enumerate_patterns_2d,
    max_patterns,
    sample_patterns,
    unique_patterns,
)
from paperzoo.papers.convex_relu.problem import ConvexReLUProblem, loss_value, recover_network
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["ADMMLearner", "ConvexATProblem", "ConvexReLUProblem", "PAPER", "TwoLayerReLU", "adam_restarts", "add_bias",
           "batched_objective", "convex_relu_net", "enumerate_patterns_2d", "load_task", "loss_value", "max_patterns",
           "pgd_adversarial_training", "pgd_attack", "recover_network", "robust_accuracy", "sample_patterns",
           "unique_patterns"]

_ALL = ("smoke", "cpu", "full")

PAPER = Paper(
    slug="convex-relu",
    title="Efficient Global Optimization of Two-layer ReLU Networks: Quadratic-time Algorithms and Adversarial Training",
    kind="learning rule",
    arxiv="2201.01965",
    authors="Yatong Bai, Tanmay Gautam, Somayeh Sojoudi",
    year=2023,
    code="https://github.com/Bai-YT/Convex-NN-Training (CVXPY/MOSEK baseline only; no official ADMM code found)",
    main_metric="test_acc",
    data=("breast_cancer (sklearn)", "make_moons (sklearn)", "mnist"),
    claims=(
        Claim("recovery_pred_err", paper=0.0, source="convex reformulation (Pilanci & Ergen 2020), card smoke (a)",
              what="max |recovered ReLU net - sum_i D_i X (v_i - w_i)| / max |fit| on the certified 1-D problem "
                   "(ADMM solution)",
              bands={_ALL: Band(hi=1e-6, reason="card smoke (a): predictions equal to 1e-6")}),
        Claim("recovery_obj_rel_err", paper=0.0, source="convex reformulation; card smoke (a)",
              what="|regularised non-convex objective of the recovered net - convex objective| / convex objective",
              bands={_ALL: Band(hi=1e-6, reason="card smoke (a): objectives equal (card's check: 2e-8); 1e-6 as for "
                                                "the predictions")}),
        Claim("adam_excess_min", paper=">= 0 (global optimum)", source="global optimality of the convex program "
              "with all patterns (Pilanci & Ergen 2020); card smoke (b)",
              what="min over 20 Adam restarts (m = 50) of (best non-convex objective - certified convex optimum) / "
                   "optimum, all patterns of 1-D data",
              bands={_ALL: Band(lo=-1e-6, reason="card smoke (b): never below the convex optimum - 1e-6 (relative)")}),
        Claim("adam_excess_median", paper="> 0 (card's check: best of 20 is 39% above)", source="card smoke (b)",
              what="median over Adam restarts of the relative excess over the certified optimum", bands={}),
        Claim("optimum_rel_gap", paper=0.0, source="card smoke (a)/(c): the convex optimum is solver-independent",
              what="|ADMM objective (10k iterations) - CVXPY/Clarabel objective| / CVXPY, certified 1-D problem "
                   "(needs cvxpy)",
              bands={("cpu", "full"): Band(hi=1e-5, reason="solver tolerance: card says ADMM reaches high precision "
                                                           "slowly (1e-6 at ~1e4 iterations in our sweep); 1e-5 "
                                                           "allows for the stopping point, Clarabel is at 1e-8")}),
        Claim("admm_rel_gap", paper="linear convergence; small after few iterations",
              source="ADMM convergence theorem (abstract, source-checked in the card); card cpu rung",
              what="|ADMM - CVXPY| / CVXPY on breast cancer (P_s = 100, beta = 1e-3) after 1 000 iterations, best rho",
              bands={"cpu": Band(hi=1e-2, reason="card cpu rung: relative gap <= 1e-2 within 1 000 iterations")}),
        Claim("gap_decades_per_1000", paper="linear (geometric) convergence", unit="decades / 1000 it.",
              source="ADMM theorem (abstract, source-checked in the card)",
              what="decrease of log10(relative gap) per 1 000 iterations over the second half of the run (best rho)",
              bands={}),
        Claim("test_acc", paper="high accuracy (values not retrieved)", unit="%", source="card cpu rung",
              what="test accuracy of the recovered ReLU net, breast cancer 80/20 (full: MNIST 0-vs-1)",
              bands={"cpu": Band(lo=94.0, reason="card cpu rung: test accuracy >= 94%")}),
        Claim("early_acc_gap", paper="first few iterations already give high accuracy", unit="points",
              source="abstract (source-checked in the card); card cpu rung",
              what="|test accuracy after 100 ADMM iterations - after the last|",
              bands={("cpu", "full"): Band(hi=1.0, reason="card cpu rung: within 1 point of final after ~100 "
                                                          "iterations")}),
        Claim("at_robust_gain", paper="convex AT robust; competitive with PGD-AT (unverified)", unit="points",
              source="AT experiments (numbers not retrieved; comparison unverified, card)",
              what="min over eps in {0.05, 0.1} of PGD-50 robust test accuracy: convex AT - PGD-AT (same width), "
                   "make_moons (needs cvxpy)",
              bands={"cpu": Band(lo=0.0, reason="card cpu rung: convex-AT robust accuracy >= PGD-AT's at the same m")}),
    ),
)
