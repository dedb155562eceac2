"""Make Deep Networks Shallow Again: deep (sequential) vs shallow (parallel) residual stacks (Bermeitinger et al., 2023).

>>> import paperzoo as pz
>>> deep = pz.create_model("sequential_resnet_conv")            # stem + 3 residual conv layers in sequence
>>> flat = pz.create_model("parallel_resnet_conv")              # the same layers read h_0 in parallel, summed
>>> stack = pz.papers.shallow_again.ResidualConvStack(16, 4, 3, mode="parallel")
"""
from paperzoo.papers.shallow_again.analysis import (
    Q_EDGES,
    bin_gaps,
    binned_table,
    compare_layouts,
    determination_ratio,
    q_bin,
    single_layer_error,
    taylor_gap,
    taylor_order_ratio,
    truncation_gap,
)
from paperzoo.papers.shallow_again.layers import ResidualConvStack, ResidualDenseStack, set_mode, stack_params, twin
from paperzoo.papers.shallow_again.model import (
    ConvClassifier,
    MLPClassifier,
    conv_params,
    mlp_params,
    parallel_resnet_conv,
    parallel_resnet_mlp,
    sequential_resnet_conv,
    sequential_resnet_mlp,
)
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

_EXACT = ("smoke", "cpu", "full")
_T2 = "Table 2 (source-checked, card)"

PAPER = Paper(
    slug="shallow-again", title="Make Deep Networks Shallow Again", kind="architecture", arxiv="2309.08414",
    authors="Bernhard Bermeitinger, Tomas Hrycej, Siegfried Handschuh", year=2023, code="",
    main_metric="val_loss_ratio_dev", data=("mnist", "cifar10"),
    claims=(
        Claim("val_loss_ratio_dev", paper="0.45 at Q<1, <= 0.10 at Q>=1 (MNIST)", source=f"{_T2}: MNIST val-loss ratios "
              "parallel/sequential 1.45 / 0.92 / 0.98 / 1.10 per Q bin (card, recomputed from Table 2)",
              what="max over configurations (seeds averaged) of |val loss parallel / val loss sequential - 1|",
              bands={("cpu", "full"): Band(hi=0.25, reason="card cpu ladder: parallel val loss within +-25 % of "
                                                           "sequential")}),
        Claim("val_acc_gap", paper="similar (accuracy not reported)", unit="points",
              source="abstract / conclusion: both layouts 'produced similar results' (card cpu expectation)",
              what="max over configurations (seeds averaged) of |val accuracy parallel - sequential|",
              bands={("cpu", "full"): Band(hi=1.0, reason="card cpu ladder: val accuracy within 1 point")}),
        Claim("seq_train_wins", paper=0.875, unit="fraction",
              source=f"{_T2}: sequential train loss lower in 7 of 8 bins; conclusion: deep marginally better on "
                     "train loss (source-checked)",
              what="fraction of (configuration, seed) pairs with train loss sequential <= parallel",
              bands={"cpu": Band(lo=0.75, reason="card cpu ladder: sequential train loss <= parallel 'in most pairs' "
                                                 "(>= 3 of the 4 pairs)"),
                     "full": Band(lo=0.5, reason="conclusion: deep marginally better on train loss (a majority of pairs)")}),
        Claim("mnist_bin_val_gap", paper=0.024, unit="nats",
              source=f"{_T2}: MNIST |val par - val seq| per bin 0.024 / 0.010 / 0.003 / 0.014",
              what="max over MNIST Q bins of |mean val loss parallel - sequential|",
              bands={"full": Band(hi=0.05, reason="card full match: per-bin mean val loss within ~0.05 (MNIST)")}),
        Claim("cifar10_bin_val_gap", paper=0.068, unit="nats",
              source=f"{_T2}: CIFAR-10 |val par - val seq| 0.068 / 0.005 / 0.035 in the Q >= 1 bins",
              what="max over CIFAR-10 Q bins with Q >= 1 of |mean val loss parallel - sequential|",
              bands={"full": Band(hi=0.1, reason="card full match: within ~0.1 (CIFAR, Q >= 1)")}),
        Claim("cifar10_q_lt1_par_advantage", paper=0.707, unit="nats",
              source=f"{_T2}: CIFAR-10 Q in [0,1): val 2.03107 sequential vs 1.32386 parallel",
              what="mean val loss sequential - parallel in the CIFAR-10 bin Q < 1",
              bands={"full": Band(lo=0.1, reason="card full match: parallel generalises 'clearly better' at Q < 1 "
                                                 "(more than the card's 0.1 CIFAR tolerance)")}),
        Claim("param_count_diff", paper=0.0, source="card method + smoke (a): same parameter count by construction",
              what="|params seq - params par| over every pair + |params - closed form| over every run",
              bands={_EXACT: Band(hi=0.0, reason="exact: equal counts (card smoke (a))")}),
        Claim("taylor_order_ratio", paper=100.0, source="card smoke (b): the layouts differ at second order in eps",
              what="float64 linear stack, F_i = eps W_i: gap(eps) / gap(eps/10), gap = ||seq(x) - par(x)|| / ||x||",
              bands={_EXACT: Band(70.0, 130.0, reason="card smoke (b): ratio in [70, 130]")}),
        Claim("single_layer_err", paper=0.0, source="card smoke (c): with L = 1 both layouts are one residual layer",
              what="max |sequential(x) - parallel(x)| of an L = 1 classifier with shared weights",
              bands={_EXACT: Band(hi=1e-6, reason="card smoke (c): max abs diff < 1e-6")}),
    ),
)

__all__ = [
    "PAPER", "Q_EDGES", "ConvClassifier", "MLPClassifier", "ResidualConvStack", "ResidualDenseStack", "bin_gaps",
    "binned_table", "compare_layouts", "conv_params", "determination_ratio", "mlp_params", "parallel_resnet_conv",
    "parallel_resnet_mlp", "q_bin", "sequential_resnet_conv", "sequential_resnet_mlp", "set_mode", "single_layer_error",
    "stack_params", "taylor_gap", "taylor_order_ratio", "truncation_gap", "twin",
]
