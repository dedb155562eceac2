"""Neural Collapse in Deep Linear Networks: From Balanced to Imbalanced Data (Dang et al., ICML 2023).

>>> from paperzoo.papers.neural_collapse import UFMDeepLinear, imbalanced_mse_optimum, nc_metrics
>>> ufm = UFMDeepLinear([200, 100, 50, 50], d=32, depth=2); ufm.fit_lbfgs()
>>> ufm.metrics(target="imbalanced")            # NC1, NC2_W, NC2_H, NC3 per linear layer, ~1e-7
"""
from paperzoo.papers.neural_collapse.closed_form import ImbalancedOptimum, imbalanced_mse_optimum, solve_x
from paperzoo.papers.neural_collapse.metrics import (
           TARGETS,
           deep_linear_nc_metrics,
           model_nc_metrics,
           nc1,
           nc_metrics,
           target_matrix,
)
from paperzoo.papers.neural_collapse.models import MLPWithLinearHead
from paperzoo.papers.neural_collapse.ufm import UFMDeepLinear, fit_sgd_stacked, stacked_loss_and_grads
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["PAPER", "TARGETS", "ImbalancedOptimum", "MLPWithLinearHead", "UFMDeepLinear", "deep_linear_nc_metrics",
           "fit_sgd_stacked", "imbalanced_mse_optimum", "model_nc_metrics", "nc1", "nc_metrics", "solve_x",
           "stacked_loss_and_grads", "target_matrix"]

_SMOKE = "card smoke rung: L-BFGS on the exact float64 objective reaches the global minimiser"
_UFM = "card cpu rung: after 30k SGD steps all NC metrics < 1e-2"
_NET = "card cpu rung (MNIST); full: same thresholds, the paper's curves go toward 0 (values not retrieved)"

PAPER = Paper(
    slug="neural-collapse",
    title="Neural Collapse in Deep Linear Networks: From Balanced to Imbalanced Data",
    kind="theory",
    package=__name__,
    arxiv="2301.00437",
    authors="Hien Dang, Tho Tran, Stanley Osher, Hung Tran-The, Nhat Ho, Tan Nguyen",
    year=2023,
    main_metric="synthetic_imbalanced_max",
    data=("mnist", "cifar10"),
    protocols={
        "smoke": "UFM d=32, M=2, L-BFGS float64 (balanced / bias / imbalanced) + a 3-epoch MNIST MLP (seconds)",
        "cpu": "UFM d=64, M in {1,3,6}, 30k SGD steps; MNIST 5k (and 1000/500/100 imbalanced), "
               "MLP 3x256 + M in {1,3} linear head, MSE, Adam 1e-3, 100 epochs",
        "full": "UFM M in {1,3,6,9}; CIFAR-10 (test = first 1,000 official test images), MLP 6x2048 + "
                "M in {1,3,6,9}, Adam 1e-4, 200 epochs, imbalanced 5000/2500/500",
    },
    claims=(
        Claim("synthetic_imbalanced_max", "0 (closed form)",
              "imbalanced theorem; synthetic figure",
              "imbalanced UFM, bias-free MSE: max over layers/depths of NC2_W, NC2_H, NC3 vs the closed-form "
              "diagonals (x_k: largest root of b/n_k = M x^(M-1)/(x^M+1)^2)",
              bands={"smoke": Band(hi=1e-3, reason=_SMOKE + " (Gram errors < 1e-3)"),
                     "cpu": Band(hi=1e-2, reason=_UFM), "full": Band(hi=1e-2, reason=_UFM)}),
        Claim("synthetic_of_max", "0 (OF)", "balanced MSE theorem; synthetic figure",
              "balanced bias-free UFM: max NC2_W, NC2_H, NC3 vs the orthogonal frame I_K/sqrt(K) over layers "
              "and depths",
              bands={"smoke": Band(hi=1e-3, reason=_SMOKE + " (vs I_K/sqrt(K) < 1e-3)"),
                     "cpu": Band(hi=1e-2, reason=_UFM), "full": Band(hi=1e-2, reason=_UFM)}),
        Claim("synthetic_etf_max", "0 (ETF)", "balanced theorems",
              "balanced UFM with unregularised last-layer bias: max NC2_W, NC2_H, NC3 vs the simplex ETF",
              bands={"smoke": Band(hi=1e-3, reason=_SMOKE + " (same 1e-3 tolerance as the bias-free checks)"),
                     "cpu": Band(hi=1e-2, reason=_UFM), "full": Band(hi=1e-2, reason=_UFM)}),
        Claim("synthetic_nc1_max", "0", "all UFM theorems",
              "max NC1 = tr(Sigma_W Sigma_B^+)/K over all UFM variants, depths and layers",
              bands={"smoke": Band(hi=1e-6, reason=_SMOKE + " (NC1 < 1e-6)"),
                     "cpu": Band(hi=1e-2, reason=_UFM), "full": Band(hi=1e-2, reason=_UFM)}),
        Claim("net_train_acc", 100.0, "experiment figures (terminal phase of training)",
              "train accuracy of the balanced MLP runs (min over M)", unit="%",
              bands={"cpu": Band(lo=100.0, reason="card cpu rung: train accuracy 100 %"),
                     "full": Band(lo=100.0, reason="card: NC is measured as training reaches zero train error")}),
        Claim("net_nc1_drop", "NC1 -> 0", "experiment figures",
              "NC1(init) / NC1(final) of the features entering the head, balanced runs (min over M); paper: "
              "curves toward 0, values not retrieved",
              bands={"cpu": Band(lo=100.0, reason="card cpu rung: NC1 drops by >= 2 orders of magnitude"),
                     "full": Band(lo=100.0, reason=_NET)}),
        Claim("net_of_max", "-> 0", "experiment figures",
              "balanced bias-free head: max of NC2_W, NC2_H, NC3 vs the orthogonal frame (end-to-end head, "
              "max over M); paper: curves toward 0, values not retrieved",
              bands={"cpu": Band(hi=0.2, reason="card cpu rung: NC2/NC3 to the orthogonal frame < 0.2"),
                     "full": Band(hi=0.2, reason=_NET)}),
        Claim("net_imbalanced_of_over_cf", "> 1",
              "card full rung; imbalanced theorem",
              "imbalanced run: mean(NC2_W, NC2_H, NC3) vs the orthogonal frame / the same vs the closed form "
              "(min over M)",
              bands={"cpu": Band(lo=1.0, reason="card: bias-free imbalanced head matches the closed-form geometry "
                                                "better than the OF/ETF targets"),
                     "full": Band(lo=1.0, reason="card full rung: closed form matches better than ETF/OF")}),
    ),
)
