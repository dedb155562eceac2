"""The Principles of Deep Learning Theory (Roberts, Yaida & Hanin; book, 2022): criticality made runnable.

Infinite-width kernel recursions, susceptibilities and critical initialisations by float64 quadrature; the
leading 1/n four-point vertex checked against ensembles of random finite-width networks; a deep MLP trained at
and away from criticality; and the registered ``criticality`` probe (is this initialisation critical?).

>>> from paperzoo.papers.deep_learning_theory import find_criticality, predicted_kurtosis
>>> find_criticality("relu")                     # (0.0, 2.0, nan): scale-invariant, every K* marginal
>>> predicted_kurtosis("relu", 4, 32, 0.0, 2.0)  # 15 (l - 1) / n
"""
from paperzoo.papers.deep_learning_theory.criticality import (
    a1_coefficient,
    arccos_kernel,
    find_criticality,
    fixed_point,
    four_point_vertex,
    kernel_flow,
    nngp_recursion,
    ntk_recursion,
    predicted_kurtosis,
    susceptibilities,
    universality_class,
)
from paperzoo.papers.deep_learning_theory.finite_width import (
    exact_kurtosis_scale_invariant,
    excess_kurtosis,
    random_preactivations,
    unit_input,
)
from paperzoo.papers.deep_learning_theory.gaussian import (
    ACTIVATIONS,
    Activation,
    gaussian_expect,
    gaussian_expect2,
    get_activation,
    scale_invariant,
)
from paperzoo.papers.deep_learning_theory.models import CriticalMLP, critical_init_, critical_mlp
from paperzoo.papers.deep_learning_theory.probe import criticality
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["ACTIVATIONS", "Activation", "CriticalMLP", "PAPER", "a1_coefficient", "arccos_kernel", "critical_init_",
           "critical_mlp", "criticality", "exact_kurtosis_scale_invariant", "excess_kurtosis", "find_criticality",
           "fixed_point", "four_point_vertex", "gaussian_expect", "gaussian_expect2", "get_activation", "kernel_flow",
           "nngp_recursion", "ntk_recursion", "predicted_kurtosis", "random_preactivations", "scale_invariant",
           "susceptibilities", "unit_input", "universality_class"]

_ALL = ("smoke", "cpu", "full")
_BIG = ("cpu", "full")
_K30 = "card smoke (c): within +-30 % of the leading-order prediction"
_TRAIN = "card cpu rung (ii), ReLU MLP, SGD, eta ~ 1/L"

PAPER = Paper(
    slug="deep-learning-theory",
    title="The Principles of Deep Learning Theory (criticality, kernel recursions, 1/n four-point vertex)",
    kind="theory",
    arxiv="2106.10165",
    authors="Daniel A. Roberts, Sho Yaida, Boris Hanin",
    year=2022,
    main_metric="critical_margin",
    data=("mnist",),
    claims=(
        Claim("crit_card_err", paper=0.0, source="ch. 5 critical (C_b, C_W) as stated by the card (unverified)",
              what="max over relu, leaky_relu (a- = 0.1), linear, tanh, sin of |find_criticality - card (C_b, C_W)|: "
                   "(0, 2), (0, 2/(1 + 0.01)), (0, 1), (0, 1/sigma_1^2) = (0, 1)",
              bands={_ALL: Band(hi=1e-6, reason="card smoke (a): within 1e-6")}),
        Claim("crit_chi_err", paper=0.0, source="ch. 5 definition of criticality (card)",
              what="max |chi - 1| of chi_par, chi_perp by quadrature at every critical point found (scale-invariant at "
                   "K = 1 and 10; tanh, sin at K = 1e-6; gelu, swish at their K*, ours)",
              bands={_ALL: Band(hi=1e-5, reason="criticality means chi_par = chi_perp = 1 (card); the K* = 0 class is "
                                               "read at K = 1e-6, where chi = 1 + O(K) (ours)")}),
        Claim("relu_arccos_err", paper=0.0, source="card smoke (b): ReLU NNGP recursion = arc-cosine kernel",
              what="max |quadrature NNGP recursion - closed form| over 8 inputs x 4 layers, C_b = 0.1, C_W = 2",
              bands={_ALL: Band(hi=1e-6, reason="card smoke (b): to 1e-6")}),
        Claim("tanh_K9", paper=0.0652, source="card correction (its own 120-node quadrature; not a book number)",
              what="exact infinite-width tanh kernel K^(9) at (C_b, C_W) = (0, 1) from K^(1) = 1",
              bands={_ALL: Band(0.06515, 0.06525, reason="card: 0.0652 to 4 digits (rounding interval)")}),
        Claim("tanh_decay_200", paper=1.0, source="ch. 5 K* = 0 class: K^(l) ~ 1/((-a_1) l), tanh a_1 = -2 (card)",
              what="(-a_1) l K^(l) at l = 200 (exact recursion); -> 1 as l -> inf",
              bands={_ALL: Band(0.98, 1.02, reason="card: K^(200) = 0.002534 vs the asymptote 0.0025 (1.4 % above)")}),
        Claim("relu_kurtosis_ratio", paper=1.0, source="ch. 4-5 four-point vertex; card: 15 (l - 1)/n",
              what="simulated excess kurtosis / 15 (l - 1)/n, ReLU at (0, 2), n = 32, l = 3, 3000 networks",
              bands={_ALL: Band(0.7, 1.3, reason=_K30)}),
        Claim("linear_kurtosis_ratio", paper=1.0, source="ch. 3-4 deep linear networks; card: 6 (l - 1)/n",
              what="simulated excess kurtosis / 6 (l - 1)/n, linear at (0, 1), n = 32, l = 3, 3000 networks",
              bands={_ALL: Band(0.7, 1.3, reason=_K30)}),
        Claim("tanh_K9_sim_ratio", paper=1.0, source="ch. 5 (card smoke (d))",
              what="simulated K^(9) (n = 32, 3000 networks) / exact infinite-width recursion K^(9)",
              bands={_ALL: Band(0.9, 1.1, reason="card smoke (d): within 10 % of the exact recursion (0.0652)")}),
        Claim("relu_kurtosis_slope", paper=15.0, source="ch. 5 (card cpu rung (i))",
              what="slope through the origin of simulated excess kurtosis vs (l - 1)/n, pooled over n in {16, 32, 64}, "
                   "l <= 12, (l - 1)/n <= 0.15; ReLU at criticality",
              bands={_BIG: Band(10.5, 19.5, reason="card cpu (i): slope 15 for l/n <~ 0.15; +-30 % as card smoke (c)")}),
        Claim("linear_kurtosis_slope", paper=6.0, source="ch. 3-5 (card cpu rung (i))",
              what="as relu_kurtosis_slope, linear activation at (0, 1)",
              bands={_BIG: Band(4.2, 7.8, reason="card cpu (i): slope 6 for l/n <~ 0.15; +-30 % as card smoke (c)")}),
        Claim("tanh_kurtosis_ratio", paper=1.0, source="ch. 5 vertex recursion (card: 3 V/(n K^2) = 0.46 at l = 9, n = 32)",
              what="simulated excess kurtosis / leading order 3 V^(9)/(32 K^(9)^2), tanh at (0, 1), 3000 networks",
              bands={_BIG: Band(0.7, 1.3, reason=_K30 + " (applied to tanh)")}),
        Claim("critical_acc", paper=">= 90 (card)", source=_TRAIN, unit="%",
              what="MNIST test accuracy of the depth-30 (full: 100; claim_depth) ReLU MLP initialised at C_W = 2",
              bands={_BIG: Band(lo=90.0, reason="card cpu (ii): critical C_W = 2 reaches >= 90 %")}),
        Claim("critical_margin", paper=">= 10 points (card)", source=_TRAIN, unit="points",
              what="test accuracy at C_W = 2 minus the best of C_W = 1.6 and 2.4, at depth 30 (full: 100; claim_depth)",
              bands={_BIG: Band(lo=10.0, reason="card cpu (ii): the others are clearly worse (expect >= 10 points)")}),
        Claim("probe_log_chi_err", paper=0.0, source="ch. 5: ReLU chi_perp = C_W / 2 (card formula)",
              what="max over C_W in {1.6, 2, 2.4} of |mean_log_chi of the criticality probe on MNIST at init - "
                   "log(C_W / 2)| at depth 30 (full: 100; claim_depth)",
              bands={_BIG: Band(hi=0.05, reason="ours: a quarter of the smallest gap |log(C_W/2)| = 0.18 between the "
                                                "settings, so the probe tells them apart")}),
    ),
)
