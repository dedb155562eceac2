"""Landscaping Linear Mode Connectivity (Singh, Adilova, Kamp, Fischer, Schölkopf, Hofmann; ICML 2024 HiLD workshop).

>>> from paperzoo.papers.lmc_landscape import interpolate, barrier, params_of, lmc
>>> curve = interpolate(model, params_of(net_a), params_of(net_b), data=(x, y))   # loss / error along the path
>>> barrier(curve)                                   # max excess over the chord
>>> lmc(net_a, (x, y), other=net_b)                  # the registered probe: barriers, layer-wise, after alignment
"""
from paperzoo.papers.lmc_landscape.align import activation_matching, apply_permutation, linear_chain, weight_matching
from paperzoo.papers.lmc_landscape.curvature import (
    TOY_PATHS,
    directional_grad,
    fd_curvature,
    hvp_quadratic,
    midpoint_excess,
    model_loss,
    path_curve,
    predict_barrier,
    quad_form,
    quadratic,
    scalar_two_layer,
    toy_path,
)
from paperzoo.papers.lmc_landscape.experiments import measure_pair, sgd_steps, spawn_experiment
from paperzoo.papers.lmc_landscape.lmc import (
    ALPHAS,
    barrier,
    evaluate,
    geometry,
    interpolate,
    layer_groups,
    layerwise_barriers,
    lerp,
    params_of,
)
from paperzoo.papers.lmc_landscape.models import ResNet20, lmc_mlp, lmc_resnet20
from paperzoo.papers.lmc_landscape.probe import lmc, lmc_report
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["ALPHAS", "PAPER", "TOY_PATHS", "ResNet20", "activation_matching", "apply_permutation", "barrier",
           "directional_grad", "evaluate", "fd_curvature", "geometry", "hvp_quadratic", "interpolate", "layer_groups",
           "layerwise_barriers", "lerp", "linear_chain", "lmc", "lmc_mlp", "lmc_report", "lmc_resnet20",
           "measure_pair", "midpoint_excess", "model_loss", "params_of", "path_curve", "predict_barrier", "quad_form",
           "quadratic", "scalar_two_layer", "sgd_steps", "spawn_experiment", "toy_path", "weight_matching"]

_ALL = ("smoke", "cpu", "full")
_NOVAL = "card: no numeric values retrieved from the paper (full text inaccessible); unverified"

PAPER = Paper(
    slug="lmc-landscape",
    title="Landscaping Linear Mode Connectivity",
    kind="theory",
    arxiv="2406.16300",
    authors="Sidak Pal Singh, Linara Adilova, Michael Kamp, Asja Fischer, Bernhard Schölkopf, Thomas Hofmann",
    year=2024,
    code="",
    main_metric="barrier_last_over_first",
    data=("fashion-mnist", "mnist", "cifar10"),
    claims=(
        Claim("barrier_last_over_first", paper="barrier vanishes after some k*",
              source="paper main figures (card; " + _NOVAL + ")",
              what="test-loss barrier (11 alphas) of children spawned at the last k / at k = 0 (1 when there is no "
                   "barrier at k = 0)",
              bands={"cpu": Band(hi=0.1, reason="card cpu rung: barrier decreases by >= 10x from k = 0 to k = 1600"),
                     "full": Band(hi=0.1, reason="card full rung: LMC onset after a few epochs (same >= 10x drop "
                                                 "from k = 0 to the last k)")}),
        Claim("distance_increases", paper="distance shrinks with k", source="paper geometry figures (card)",
              what="number of consecutive spawn steps at which ||theta_A - theta_B|| does not decrease",
              bands={"cpu": Band(hi=0.0, reason="card cpu rung: distance decreases monotonically")}),
        Claim("angle_drop_deg", paper="angle shrinks with k", source="paper geometry figures (card)", unit="deg",
              what="angle between the children's displacements from theta_k at k = 0 minus at the last k",
              bands={"cpu": Band(lo=10.0, reason="card cpu rung: angle at k = 1600 >= 10 deg below the angle at k = 0")}),
        Claim("pmid_rel_err_k0", paper="second-order analysis predicts the barrier",
              source="paper theory section + figure (card: predictor reconstructed)",
              what="|P_mid - barrier| / barrier at k = 0 (P_mid = -1/8 delta^T H(theta_mid) delta, 2k test images)",
              bands={"cpu": Band(hi=0.25, reason="card cpu rung: P_mid within 25% of the barrier at k = 0")}),
        Claim("layer_spearman_p_mid", paper="faithfully predicts layer-wise LMC", source="paper layer-wise figure (card)",
              what="Spearman correlation of the layer-block P_mid with the measured layer-wise barriers over "
                   "(layer, k in layer_k)",
              bands={"full": Band(lo=1e-9, reason="card full rung: positive rank correlation between the curvature "
                                                  "predictor and measured layer-wise barriers")}),
        Claim("control_barrier", paper="no barrier (card's MNIST control)", source="card cpu rung (project's measurement)",
              what="MNIST, lr 0.05, children spawned at k = 0: test-loss barrier",
              bands={"cpu": Band(hi=0.01, reason="card: LMC <=> B ~ 0 (threshold 0.01); card measured 0 on MNIST")}),
        Claim("toy_err", paper=0.0, source="card toy (project's, exact); paper last section (toy)",
              what="max |ours - exact| of the toy f = (w1 w2 - 1)^2: barrier, P_mid, P_end on the card's three paths",
              bands={_ALL: Band(hi=1e-6, reason="card smoke rung: toy values to 1e-6")}),
        Claim("quadratic_identity_err", paper=0.0, source="card barrier-height analysis (reconstructed identity)",
              what="L = 1/2 theta^T A theta, A indefinite: |midpoint excess + 1/8 delta^T A delta| (and P_mid, P_end) "
                   "relative to 1/8 |delta^T A delta|",
              bands={_ALL: Band(hi=1e-10, reason="card smoke rung: equal exactly (float64)")}),
        Claim("hvp_err", paper=0.0, source="card smoke rung",
              what="relative error of delta^T H delta by double back-prop vs an explicit Hessian "
                   "(torch.autograd.functional.hessian) of a 50-parameter MLP",
              bands={_ALL: Band(hi=1e-5, reason="card smoke rung: matches an explicit Hessian to 1e-5")}),
        Claim("endpoint_err", paper=0.0, source="card smoke rung",
              what="|loss and error at alpha = 0, 1 of the path - those of the two networks|",
              bands={_ALL: Band(hi=0.0, reason="card smoke rung: endpoint losses reproduced bit-exactly")}),
    ),
)
