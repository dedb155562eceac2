"""Monotone deep Boltzmann machines (Feng, Winston & Kolter 2023, arXiv 2307.04990): a pairwise DBM with
arbitrary intra- and inter-tier couplings, parameterised so that ``I - W >= m I``, whose mean-field
fixed point is unique and found by damped forward-backward splitting with the "prox-softmax" operator;
gradients by implicit differentiation through the fixed point.

>>> from paperzoo.papers.monotone_dbm import HollowMonotoneLinear, MonotoneDBM, DBMLearner
>>> dbm = MonotoneDBM(HollowMonotoneLinear([(64, 4), (64, 4), (32, 4), (1, 10)], m=0.01))
>>> tiers = dbm(visible_onehot, mask)          # fixed point per tier; dbm.logits = W z* + b
"""
from paperzoo.papers.monotone_dbm.checks import (
    fixed_point_checks,
    implicit_grad_checks,
    min_eig_margin,
    naive_mf_check,
    prox_errors,
    random_linear,
)
from paperzoo.papers.monotone_dbm.learner import (
    DBMLearner,
    bucketize,
    focal_class_balanced,
    random_observation_mask,
    tune_alpha,
)
from paperzoo.papers.monotone_dbm.model import DBMImageClassifier, dense_dbm, image_bins, monotone_dbm_mnist
from paperzoo.papers.monotone_dbm.monotone import (
    HollowMonotoneLinear,
    group_softmax,
    mean_field_residual,
    naive_mean_field,
)
from paperzoo.papers.monotone_dbm.prox import lambertw_prox, prox_softmax, prox_softmax_grouped
from paperzoo.papers.monotone_dbm.solver import ImplicitFixedPoint, MonotoneDBM, anderson, picard
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["PAPER", "DBMImageClassifier", "DBMLearner", "HollowMonotoneLinear", "ImplicitFixedPoint", "MonotoneDBM",
           "anderson", "bucketize", "dense_dbm", "fixed_point_checks", "focal_class_balanced", "group_softmax",
           "image_bins", "implicit_grad_checks", "lambertw_prox", "mean_field_residual", "min_eig_margin",
           "monotone_dbm_mnist", "naive_mean_field", "naive_mf_check", "picard", "prox_errors", "prox_softmax",
           "prox_softmax_grouped", "random_linear", "random_observation_mask", "tune_alpha"]

_ALL = ("smoke", "cpu", "full")
_UNVERIFIED = " (card; paper text beyond the abstract not retrieved: unverified)"

PAPER = Paper(
    slug="monotone-dbm",
    title="Monotone deep Boltzmann machines",
    kind="architecture",
    arxiv="2307.04990",
    authors="Zhili Feng, Ezra Winston, J. Zico Kolter",
    year=2023,
    code="https://github.com/ArghyaPal/restricted_BM (authors' implementation, public copy)",
    main_metric="fixed_point_spread",
    data=("mnist",),
    claims=(
        Claim("min_eig_margin", paper="theorem: I - W >= m I", source="method section" + _UNVERIFIED,
              what="min eigenvalue of sym(I - W) minus m, worst of a random W (tiers 20x4, 10x2, 1x10, m = 0.05) "
                   "and the trained model's W (m = 0.01)",
              bands={_ALL: Band(lo=-1e-6, reason="card smoke (a): min eig sym(I - W) >= m - 1e-6")}),
        Claim("fixed_point_spread", paper="theorem: the mean-field fixed point is globally unique",
              source="method section" + _UNVERIFIED,
              what="max difference between the fixed points reached from 5 random starts (Picard splitting, "
                   "alpha 0.1, float64)",
              bands={_ALL: Band(hi=1e-5, reason="card smoke (c): the 5 starts reach the same point, max diff < 1e-5")}),
        Claim("mean_field_residual", paper="theorem: the splitting converges to the mean-field solution",
              source="method section" + _UNVERIFIED,
              what="max |q - softmax(W q + b)| per variable at the splitting's limit (float64)",
              bands={_ALL: Band(hi=1e-5, reason="card smoke (c): satisfies q = softmax(Wq + b) to 1e-5")}),
        Claim("prox_optimality_err", paper="prox^alpha_f solves its optimality equation",
              source="card, 'Prox operator' (code proxsoftmax.py)",
              what="max deviation from (1 - alpha) x + alpha log x = y + nu - alpha (float64, alpha 0.3)",
              bands={_ALL: Band(hi=1e-4, reason="card smoke (b): optimality equation to 1e-4")}),
        Claim("prox_softmax_gap", paper="prox -> softmax(y) as alpha -> 1", source="card, 'Prox operator'",
              what="max |prox^0.999(y) - softmax(y)| on 64 random 7-state y",
              bands={_ALL: Band(hi=1e-3, reason="card smoke (b): within 1e-3 at alpha = 0.999 (card measured 2.5e-4)")}),
        Claim("naive_mf_disagreement", paper="naive mean-field may not converge or has several fixed points (qualitative)",
              source="experiments, vs mean-field in RBMs" + _UNVERIFIED,
              what="plain mean-field (alpha = 1) on an unconstrained symmetric hollow W (||W||_2 ~ 21) from two "
                   "starts: max of their final distance and of the last step's change",
              bands={_ALL: Band(lo=0.1, reason="card smoke (d): different points or oscillation; 0.1 in a "
                                               "probability is 10^4 x the 1e-5 agreement of the monotone runs")}),
        Claim("grad_vs_unrolled_rel", paper="exact gradient by implicit differentiation",
              source="card, 'Inference' (code deq_model.py backward hook); issue 7",
              what="relative error of dL/dA by the implicit adjoint fixed point vs autograd through 200 unrolled "
                   "splitting steps (float64)",
              bands={_ALL: Band(hi=1e-8, reason="both are the exact gradient at convergence; float64 round-off")}),
        Claim("grad_vs_fd_rel", paper="exact gradient by implicit differentiation",
              source="card, 'Inference' (code deq_model.py backward hook); issue 7",
              what="relative error of the directional derivative vs central finite differences (eps 1e-6, float64)",
              bands={_ALL: Band(hi=1e-6, reason="central differences: O(eps^2) + round-off / eps ~ 1e-10 relative")}),
        Claim("test_acc", paper="not retrieved (card: classification numbers not retrieved)", unit="%",
              source="experiments (figures/table)" + _UNVERIFIED,
              what="test accuracy from 40% observed pixels, argmax of the label variable at the fixed point",
              bands={"cpu": Band(lo=75.0, reason="card CPU ladder: test accuracy from 40% observed pixels >= 0.75 "
                                                 "(the card's estimate for 8x8 digits; chance 10%)")}),
        Claim("completion_gain", paper="qualitative completions", unit="points",
              source="experiments (figures)" + _UNVERIFIED,
              what="accuracy of the unobserved pixels' bins minus that of the per-pixel marginal mode",
              bands={"cpu": Band(lo=2.0, reason="card CPU ladder: completion 'clearly above the marginal-frequency "
                                                "baseline'; read as > 2 points (binomial noise ~0.3 points)")}),
        Claim("forward_converged_frac", paper="splitting converges (theorem)", source="card CPU ladder",
              what="fraction of training batches whose forward solve met its tolerance",
              bands={"cpu": Band(lo=0.99, reason="card CPU ladder: forward solver converges on >= 99% of batches")}),
    ),
)
