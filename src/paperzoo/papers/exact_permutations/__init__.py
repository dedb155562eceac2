"""Exact Learning of Permutations for Nonzero Binary Inputs with Logarithmic Training Size and Quadratic Ensemble
Complexity (Giapitzakis, Back de Luca, Fountoulakis; 2025).

A two-layer ReLU net in the NTK regime, trained by GD on the k basis vectors (e_i, P e_i) only, outputs a Gaussian
process whose mean has the sign pattern of P x on every other nonzero binary input; averaging an ensemble of such
nets and rounding at 0 recovers P x exactly once the ensemble is large enough (Figure 1: models needed vs k).
Here: the task and rounding, the official net with a batched GD trainer, the infinite-width kernels (float64) and
the exact GP sampler of trained nets, the ensemble stopping rule, and closed-form complexities.
"""
from paperzoo.papers.exact_permutations.complexity import (
    all_inputs_failure_bound,
    closed_form_complexity,
    expected_accuracy,
    gp_complexity_trials,
    gp_ensemble_complexity,
    gp_for_permutation,
    loglog_slope,
    margins,
)
from paperzoo.papers.exact_permutations.kernels import NTKGP, arccos_terms, empirical_ntk, nngp_kernel, ntk_kernel
from paperzoo.papers.exact_permutations.model import (
    ReLUEnsemble,
    TwoLayerReLU,
    perm_two_layer_relu,
    scaled_lr,
    train_ensemble_batched,
    train_gd,
)
from paperzoo.papers.exact_permutations.task import (
    accuracy_curve,
    binary_inputs,
    ensemble_complexity,
    exact,
    make_task,
    round_sign,
    running_means,
    two_hot_tests,
)
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["NTKGP", "PAPER", "ReLUEnsemble", "TwoLayerReLU", "accuracy_curve", "all_inputs_failure_bound",
           "arccos_terms", "binary_inputs", "closed_form_complexity", "empirical_ntk", "ensemble_complexity", "exact",
           "expected_accuracy", "gp_complexity_trials", "gp_ensemble_complexity", "gp_for_permutation", "loglog_slope",
           "make_task", "margins", "nngp_kernel", "ntk_kernel", "perm_two_layer_relu", "round_sign", "running_means",
           "scaled_lr", "train_ensemble_batched", "train_gd", "two_hot_tests"]

_ALL = ("smoke", "cpu", "full")
_BIG = ("cpu", "full")
_FIG1 = "Fig. 1 left (official results/experiment_1/<k>/0/results.csv; card, source-checked)"
_FIG1R = "Fig. 1 right (official results/experiment_2/<k>/0/results.csv; card, source-checked)"
_X2 = "card cpu ladder: same order as the paper's single trial, 'allow a factor 2 because m is 12x smaller'"
_HALF = "card full rung: single official trials, 'expect +-50 % trial-to-trial variation'"


def _finite(k, paper):
    return Claim(f"finite_N_k{k}", paper=paper, source=_FIG1, unit="models",
                 what=f"k = {k}: median over orders of the first N with exact accuracy >= 0.9 (width-4096 nets in cpu)",
                 bands={"cpu": Band(paper / 2, paper * 2, reason=_X2), "full": Band(paper / 2, paper * 1.5, reason=_HALF)})


def _gp(k, delta, paper, src):
    tag = str(delta).replace(".", "p")
    return Claim(f"gp_N_k{k}_delta_{tag}", paper=paper, source=src, unit="models",
                 what=f"k = {k}, delta = {delta:g}: median over trials of N for the exact infinite-width ensemble",
                 bands={_BIG: Band(paper / 2, paper * 1.5, reason=_HALF)})


PAPER = Paper(
    slug="exact-permutations",
    title="Exact Learning of Permutations for Nonzero Binary Inputs with Logarithmic Training Size and Quadratic "
          "Ensemble Complexity",
    kind="theory",
    arxiv="2502.16763",
    authors="George Giapitzakis, Artur Back de Luca, Kimon Fountoulakis",
    year=2025,
    code="https://github.com/opallab/permlearn",
    main_metric="finite_N_k10",
    data=(),
    claims=(
        Claim("ntk_rel_err", paper=0.0, source="card 'Fast exact alternative' (NTK derived in the card) and its anchor",
              what="||empirical NTK - analytic NTK||_F / ||analytic NTK||_F, empirical NTK averaged over 4 inits of width "
                   "50 000, k = 6, 10 inputs (float64); max-entry error reported as ntk_max_entry_err (deviation 6)",
              bands={_ALL: Band(hi=0.02, reason="card anchor: relative error < 2 % at m = 50 000")}),
        Claim("gp_interp_err", paper=0.0, source="NTK-GP of converged GD (Lee et al. 2019; card)",
              what="max(|mu(X) - Y|, |Sigma(X, X)|) on the training basis (float64)",
              bands={_ALL: Band(hi=1e-9, reason="exact identity: converged GD interpolates the training set")}),
        Claim("gp_sign_exact_k6", paper="sign pattern of P x (main theorem)", source="main theorem; card smoke (b)",
              what="share of the 15 two-hot inputs (k = 6) whose converged GP mean rounds (at 0) to P x",
              bands={_ALL: Band(lo=1.0, reason="card smoke (b): exactly P x on all 15")}),
        Claim("gp_on_k6", paper=0.61, source="card smoke (b) (the card's own computation, reconstructed)",
              what="mean of the GP mean on the coordinates where P x = 1, two-hot inputs, k = 6",
              bands={_ALL: Band(0.605, 0.615, reason="card smoke (b): ~0.61 (its two digits)")}),
        Claim("gp_off_k6", paper=-0.035, source="card smoke (b) and Pitfalls (the card's own computation, reconstructed)",
              what="mean of the GP mean on the coordinates where P x = 0, two-hot inputs, k = 6",
              bands={_ALL: Band(-0.0355, -0.0345, reason="card smoke (b): ~-0.035 (its two significant digits)")}),
        Claim("all_inputs_sign_exact_k10", paper="exact on every nonzero binary input", source="main theorem (abstract)",
              what="share of the 1013 inputs with >= 2 ones (k = 10) whose converged GP mean rounds to P x "
                   "(the infinite-ensemble limit; s = 1 is the training set, deviation 3)",
              bands={_ALL: Band(lo=1.0, reason="theorem: the rounded mean is exact on every nonzero binary input")}),
        Claim("fit_mse_max", paper="trained to fit (10 000 GD steps)", source="card smoke (a); official experiment.py",
              what="largest training MSE over the 10 single nets, k = 6, width 4096, lr x m as official",
              bands={_ALL: Band(hi=1e-4, reason="card smoke (a): training MSE < 1e-4")}),
        Claim("fit_exact_frac", paper=1.0, source="card smoke (a)",
              what="share of the 10 nets whose training outputs round (at 1/2, deviation 4) to P e_i",
              bands={_ALL: Band(lo=1.0, reason="card smoke (a): equal P exactly")}),
        Claim("single_not_exact", paper="one model is not enough (Fig. 1: N > 1 for k >= 3)", source="card smoke (c); Fig. 1",
              what="how many of 10 single nets (k = 6) are NOT exact on all their two-hot tests",
              bands={_ALL: Band(lo=8, reason="card smoke (c): >= 8 of 10")}),
        _finite(4, 10), _finite(6, 34), _finite(8, 40), _finite(10, 69),
        Claim("finite_N_rises", paper=69 / 10, source=_FIG1, what="finite_N at the largest k over finite_N at the smallest",
              bands={_BIG: Band(lo=1.0, reason="card cpu ladder: N increasing with k")}),
        Claim("finite_over_gp", paper=1.0, source="card 'Fast exact alternative': the sampler reproduces the ensemble",
              what="finite-width median N over infinite-width GP median N at k = 10",
              bands={_BIG: Band(0.5, 2.0, reason="card cpu ladder: factor 2 allowed for width 4096 vs 50 000")}),
        _gp(10, 0.1, 69, _FIG1), _gp(20, 0.1, 117, _FIG1), _gp(30, 0.1, 175, _FIG1),
        _gp(10, 0.001, 129, _FIG1R), _gp(30, 0.001, 318, _FIG1R),
        Claim("gp_slope_delta_0p1", paper=1.80, source=f"{_FIG1}; slope computed from its numbers over the same k's",
              what="least-squares slope of log median N vs log k, k in the Fig. 1 left set, delta = 0.1",
              bands={_BIG: Band(1.0, 2.0, reason="card cpu ladder: fit log N vs log k, slope between 1 and 2")}),
        Claim("gp_slope_delta_0p001", paper=1.13, source=f"{_FIG1R}; slope computed from its numbers over the same k's",
              what="least-squares slope of log median N vs log k, k = 5..30, delta = 0.001",
              bands={_BIG: Band(1.0, 2.0, reason="card cpu ladder: fit log N vs log k, slope between 1 and 2")}),
        Claim("allinputs_slope", paper="quadratic (O(k^2))", source="abstract; theorems (not retrieved: reconstructed)",
              what="slope of log N vs log k, N = smallest ensemble with union bound over all inputs (>= 2 ones) <= 0.1",
              bands={_BIG: Band(hi=2.0, reason="abstract: ensemble complexity quadratic in k for all inputs (an upper bound)")}),
    ),
)
