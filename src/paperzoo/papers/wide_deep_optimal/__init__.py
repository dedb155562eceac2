"""Wide and Deep Neural Networks Achieve Optimality for Classification (Radhakrishnan, Belkin, Uhler; 2022).

Infinitely wide networks are kernel machines (NNGP / NTK); as their depth grows, the classifier tends to 1-NN,
to majority vote, or to a singular kernel classifier sign(sum_i y_i / ||x - x_i||^alpha) depending on the
activation's dual, and with alpha matched to the data dimension the last is Bayes optimal as n -> inf.
Here: dual activations, the NNGP / NTK recursions (with a finite network whose kernels they are), the limit
exponents, the classifiers of the taxonomy and the official script's Dirichlet experiment.
"""
from paperzoo.papers.wide_deep_optimal.classifiers import (
    KernelClassifier,
    bayes_accuracy,
    bayes_dirichlet,
    dirichlet_sphere_data,
    majority_vote,
    one_nn,
    singular_kernel_classifier,
)
from paperzoo.papers.wide_deep_optimal.duals import (
    ACTIVATIONS,
    Activation,
    dual,
    dual_derivative,
    get_activation,
    hermite,
    hermite_activation,
    hermite_k,
    infinite_depth_exponent,
    sine,
)
from paperzoo.papers.wide_deep_optimal.kernels import kernel_fn, local_slope, nngp_kernel, ntk_kernel, ntk_ratio, sphere
from paperzoo.papers.wide_deep_optimal.models import WideDeepMLP, empirical_nngp, empirical_ntk, wide_deep_mlp
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["ACTIVATIONS", "Activation", "KernelClassifier", "PAPER", "WideDeepMLP", "bayes_accuracy", "bayes_dirichlet",
           "dirichlet_sphere_data", "dual", "dual_derivative", "empirical_nngp", "empirical_ntk", "get_activation",
           "hermite", "hermite_activation", "hermite_k", "infinite_depth_exponent", "kernel_fn", "local_slope",
           "majority_vote", "nngp_kernel", "ntk_kernel", "ntk_ratio", "one_nn", "sine", "singular_kernel_classifier",
           "sphere", "wide_deep_mlp"]

_ALL = ("smoke", "cpu", "full")
_BIG = ("cpu", "full")
_SLOPE = "card smoke (b): depth-60 local slope within +-0.02 (card's check: "


def _slope(metric, value, kernel, act, alpha):
    return Claim(metric, paper=value, source="taxonomy theorem; exponent derived in the card (reconstructed)",
                 what=f"depth-60 {kernel} of {act}: d log K / d log(1 - xi) near xi = 1 (= -alpha/2, alpha = {alpha})",
                 bands={_ALL: Band(value - 0.02, value + 0.02, reason=f"{_SLOPE}{value:.2f})")})


PAPER = Paper(
    slug="wide-deep-optimal",
    title="Wide and Deep Neural Networks Achieve Optimality for Classification",
    kind="theory",
    arxiv="2204.14126",
    authors="Adityanarayanan Radhakrishnan, Mikhail Belkin, Caroline Uhler",
    year=2022,
    main_metric="opt3d_gap_to_bayes",
    data=(),
    claims=(
        Claim("dual_mc_err_opt3d", paper=0.0, source="dual activation definition (card); official `dual_act` 3d_opt",
              what="max over xi in {-0.5, 0, 0.5, 0.9} of |MC mean phi(u)phi(v) - (xi^3/2 + xi/2)|, 1M pairs",
              bands={_ALL: Band(hi=0.01, reason="card smoke (a): within 0.01 (card: 200k pairs; we use 1M, deviation 4)")}),
        _slope("ntk_slope_opt3d", -2.0, "NTK", "opt_3d", 4),
        _slope("ntk_slope_opt9d", -5.0, "NTK", "opt_9d", 10),
        _slope("nngp_slope_opt3d", -1.0, "NNGP", "opt_3d", 2),
        _slope("nngp_slope_opt9d", -4.0, "NNGP", "opt_9d", 8),
        Claim("hermite3_1nn_agreement", paper="equals 1-NN", source="taxonomy theorem (psi'(0) = 0 regime)",
              what="share of 200 test points (positive orthant of S^2) where depth-8 hermite_3 NTK regression = 1-NN",
              bands={_ALL: Band(lo=0.98, reason="card smoke (c): >= 98 % at depth 8 (card got 100 %)")}),
        Claim("relu_ratio_dev", paper="majority vote (K_L(xi)/K_L(1) -> 1/4)", source="taxonomy theorem; ratio from the card",
              what="max over xi in {0, 0.5} of |K_L(xi)/K_L(1) - 1/4|, ReLU NTK, depth 1000",
              bands={_ALL: Band(hi=0.01, reason="card smoke (d): within 0.01 at depth 1000 (card: 0.2533, 0.2538)")}),
        Claim("ntk_mc_rel_err", paper=0.0, source="NTK recursion (card 'Kernel recursions'; official `ntk_kernel`)",
              what="finite ReLU net (width 1024, depth 2, 3 inits, float64): max |mean empirical NTK - K_2| / K_2(1)",
              bands={_ALL: Band(hi=0.1, reason="ours: finite-width Monte-Carlo error ~ depth / sqrt(width) ~ 0.06; "
                                               "card full rung 'the finite network tracks its kernel'")}),
        Claim("majority_acc", paper="max prior (about 0.60)", source="taxonomy theorem; card cpu ladder",
              what="majority-vote test accuracy (p1 = 0.4, fixed class counts)",
              bands={_BIG: Band(0.58, 0.62, reason="card cpu ladder: majority vote ~ max prior ~ 0.60")}),
        Claim("opt3d_devroye_agreement", paper="singular kernel classifier, alpha = N - 1",
              source="taxonomy theorem; official script (NNGP, 3d_opt 'consistent for 3d data'); card cpu ladder",
              what="min over n_train of the agreement of depth-100 NNGP-opt_3d with Devroye alpha = 2",
              bands={_BIG: Band(lo=0.99, reason="card cpu ladder: >= 99 % (card: 0.996-0.999)")}),
        Claim("one_nn_err_over_bayes_err", paper="between 1 and 2 (Cover-Hart)", source="card cpu ladder",
              what="1-NN test error / Bayes test error at the largest n_train",
              bands={_BIG: Band(1.0, 2.0, reason="card cpu ladder: 1-NN error between Bayes and 2x Bayes")}),
        Claim("opt3d_between_1nn_and_bayes", paper="1 (optimal activation beats 1-NN, below Bayes)",
              source="optimality theorem; card cpu ladder",
              what="1 if acc(1-NN) <= acc(NNGP opt_3d) <= acc(Bayes) at the largest n_train (mean over seeds)",
              bands={_BIG: Band(lo=1.0, reason="card cpu ladder: accuracy lies between 1-NN and Bayes")}),
        Claim("opt3d_gap_shrinks", paper="1 (consistency: gap -> 0 as n grows)", source="optimality theorem; card cpu ladder",
              what="1 if the Bayes - NNGP opt_3d accuracy gap is smaller at the largest than at the smallest n_train",
              bands={_BIG: Band(lo=1.0, reason="card cpu ladder: the gap to Bayes shrinking with n")}),
        Claim("opt3d_gap_to_bayes", paper="-> 0 as n -> inf", source="optimality theorem; card cpu ladder / full rung",
              what="Bayes test accuracy - NNGP opt_3d test accuracy at the largest n_train", unit="accuracy",
              bands={"cpu": Band(hi=0.03, reason="card cpu ladder: 0.953 vs 0.937 at n = 3000 (one seed); "
                                                 "0.03 = twice the card's gap"),
                     "full": Band(hi=0.015, reason="card full rung: within ~1 point of Bayes (at n = 20000; ours 10000)")}),
    ),
)
