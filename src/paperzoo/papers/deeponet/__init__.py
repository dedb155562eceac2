"""DeepONet: learning nonlinear operators via DeepONet based on the universal approximation theorem of operators
(Lu, Jin, Pang, Zhang, Karniadakis; Nature Machine Intelligence 2021, arXiv 1910.03193).

A branch net reads an input function at m sensors, a trunk net reads a query point, and their dot product
(plus one scalar bias) is the operator's output there. Here: unstacked and stacked DeepONet, the FNN baseline,
the antiderivative and nonlinear-ODE operators from ``paperzoo.data.pde``, the official training recipe
(full-batch Adam, best-training-loss checkpoint), and the sensor-count and data-size sweeps.
"""
from paperzoo.papers.deeponet.experiments import (
    PROBLEMS,
    fit_and_test,
    operator_data,
    power_law_slope,
    scaling_invariant_error,
    subsample_sensors,
)
from paperzoo.papers.deeponet.model import DeepONet, FNNOperator, deeponet, deeponet_fnn
from paperzoo.papers.deeponet.training import TrainResult, mse, mse_without_outliers, predict, train
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["PAPER", "PROBLEMS", "DeepONet", "FNNOperator", "TrainResult", "deeponet", "deeponet_fnn", "fit_and_test",
           "mse", "mse_without_outliers", "operator_data", "power_law_slope", "predict", "scaling_invariant_error",
           "subsample_sensors", "train"]

_ALL = ("smoke", "cpu", "full")
_BIG = ("cpu", "full")

PAPER = Paper(
    slug="deeponet",
    title="DeepONet: Learning nonlinear operators via DeepONet based on the universal approximation theorem of operators",
    kind="architecture",
    arxiv="1910.03193",
    authors="Lu Lu, Pengzhan Jin, Guofei Pang, Zhongqiang Zhang, George Em Karniadakis",
    year=2021,
    main_metric="test_mse",
    data=(),
    claims=(
        Claim("gen_linearity_err", paper=0.0, source="card smoke (a): the antiderivative operator is linear",
              what="max |G(u1 + u2)(y) - G(u1)(y) - G(u2)(y)| from the generator, 2 x 50 points",
              bands={_ALL: Band(hi=1e-4, reason="card smoke (a): within 1e-4")}),
        Claim("gen_const_err", paper=0.0, source="card smoke (a): G(1)(y) = y",
              what="max |G(1)(y) - y| from the generator", bands={_ALL: Band(hi=1e-4, reason="card smoke (a): within 1e-4")}),
        Claim("branch_scaling_err", paper=0.0, source="network definition (dot product, linear last branch layer; "
              "DeepXDE OpNN, source-checked in the card)",
              what="max |G_c - b0 - c (G - b0)| / max |G - b0| after scaling the last branch layer by c = 3 (float64)",
              bands={_ALL: Band(hi=1e-10, reason="card smoke (b): 'exactly c'; 1e-10 = float64 round-off with margin")}),
        Claim("test_mse", paper=9.27e-7, source="official README standard output (50 000 steps, 100 000 test triplets; "
              "source-checked in the card)", what="antiderivative test MSE, unstacked DeepONet, best-training-loss state",
              bands={"smoke": Band(hi=1e-2, reason="card smoke (c): < 1e-2 after 2 000 steps on 2 000 triplets"),
                     "cpu": Band(1e-6, 3e-5, reason="card cpu rung: expected 1e-6 ... 3e-5 at 20 000 steps"),
                     "full": Band(3e-7, 3e-6, reason="card full rung: accept 3e-7 ... 3e-6 around the README's 9.3e-7")}),
        Claim("zero_over_test", paper=">= 20", source="card smoke (c)",
              what="test MSE of the zero predictor / DeepONet's test MSE",
              bands={_ALL: Band(lo=20, reason="card smoke (c): at least 20x below the zero predictor")}),
        Claim("fnn_over_deeponet", paper="DeepONet markedly better", source="paper's DeepONet vs FNN comparison (values "
              "not retrieved); card cpu rung", what="FNN [101, 100, 100, 1] test MSE / DeepONet test MSE, same data and steps",
              bands={_BIG: Band(lo=3, reason="card cpu rung: DeepONet's test MSE >= 3x lower")}),
        Claim("ode_test_mse", paper="small (values not retrieved)", source="paper's nonlinear-ODE experiment; card cpu rung",
              what="ds/dx = -s^2 + u: test MSE, same recipe",
              bands={_BIG: Band(hi=1e-4, reason="card cpu rung: expected test MSE <= 1e-4")}),
        Claim("sensor_gain", paper="error decreases with m", source="theorem + sensor-count figure (constants not "
              "retrieved)", what="test MSE with the fewest sensors / with 100 sensors (sweep, 5 000 steps)",
              bands={_BIG: Band(lo=1.0, reason="card: 'approximation error decreases with m'")}),
        Claim("data_slope", paper="< 0 (polynomial convergence)", source="data-size convergence figures (values not "
              "retrieved)", what="slope of log test MSE vs log training functions (sweep, 5 000 steps)",
              bands={_BIG: Band(hi=0.0, reason="card full rung: a decreasing, roughly power-law test-MSE curve")}),
    ),
)
