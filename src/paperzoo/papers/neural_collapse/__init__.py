"""Neural Collapse in Deep Linear Networks: From Balanced to Imbalanced Data (Dang et al., ICML 2023).

>>> from paperzoo.papers.neural_collapse import UFMDeepLinear, imbalanced_mse_optimum, nc_metrics
>>> ufm = UFMDeepLinear([200, 100, 50, 50], d=32, depth=2); ufm.fit_lbfgs()
>>> ufm.metrics(target="imbalanced")            # NC1, NC2_W, NC2_H, NC3 per linear layer, ~1e-7
"""
from paperzoo.papers.neural_collapse.closed_form import ImbalancedOptimum, imbalanced_mse_optimum, solve_x
from paperzoo.papers.neural_collapse.experiments import head_mse_loss
from paperzoo.papers.neural_collapse.metrics import TARGETS, deep_linear_nc_metrics, nc1, nc_metrics, target_matrix
from paperzoo.papers.neural_collapse.models import MLPWithLinearHead, mlp_linear_head
from paperzoo.papers.neural_collapse.probe import head_nc_metrics, neural_collapse
from paperzoo.papers.neural_collapse.ufm import UFMDeepLinear, fit_sgd_stacked, stacked_loss_and_grads
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["PAPER", "TARGETS", "ImbalancedOptimum", "MLPWithLinearHead", "UFMDeepLinear", "deep_linear_nc_metrics",
           "fit_sgd_stacked", "head_mse_loss", "head_nc_metrics", "imbalanced_mse_optimum", "mlp_linear_head",
           "nc1", "nc_metrics", "neural_collapse", "solve_x", "stacked_loss_and_grads", "target_matrix"]

_SMOKE = "card smoke rung: L-BFGS on the exact float64 objective reaches the global minimiser"
_UFM = "card cpu rung: after 30k SGD steps all NC metrics < 1e-2"
_NET = "card cpu rung (MNIST); full: same thresholds, the paper's curves go toward 0 (values not retrieved)"

PAPER = Paper(
    slug="neural-collapse",
    title="Neural Collapse in Deep Linear Networks: From Balanced to Imbalanced Data",
    kind="theory",
    arxiv="2301.00437",
    authors="Hien Dang, Tho Tran, Stanley Osher, Hung Tran-The, Nhat Ho, Tan Nguyen",
    year=2023,
    code="https://github.com/Fsoft-AIC/Neural-Collapse-in-Deep-Linear-Networks",
    main_metric="synthetic_imbalanced_max",
    data=("mnist", "cifar10"),
    claims=(
        Claim("synthetic_imbalanced_max", paper=0.0, source="imbalanced theorem; synthetic figure",
              what="imbalanced UFM, bias-free MSE: max over layers/depths of NC2_W, NC2_H, NC3 vs the closed-form "
                   "diagonals (x_k: largest root of b/n_k = M x^(M-1)/(x^M+1)^2); the theorem: exactly 0",
              bands={"smoke": Band(hi=1e-3, reason=_SMOKE + " (Gram errors < 1e-3)"),
                     ("cpu", "full"): Band(hi=1e-2, reason=_UFM)}),
        Claim("synthetic_of_max", paper=0.0, source="balanced MSE theorem; synthetic figure",
              what="balanced bias-free UFM: max NC2_W, NC2_H, NC3 vs the orthogonal frame I_K/sqrt(K) over layers "
                   "and depths; the theorem: exactly 0",
              bands={"smoke": Band(hi=1e-3, reason=_SMOKE + " (vs I_K/sqrt(K) < 1e-3)"),
                     ("cpu", "full"): Band(hi=1e-2, reason=_UFM)}),
        Claim("synthetic_etf_max", paper=0.0, source="balanced theorems",
              what="balanced UFM with unregularised last-layer bias: max NC2_W, NC2_H, NC3 vs the simplex ETF",
              bands={"smoke": Band(hi=1e-3, reason=_SMOKE + " (same 1e-3 tolerance as the bias-free checks)"),
                     ("cpu", "full"): Band(hi=1e-2, reason=_UFM)}),
        Claim("synthetic_nc1_max", paper=0.0, source="all UFM theorems",
              what="max NC1 = tr(Sigma_W Sigma_B^+)/K over all UFM variants, depths and layers",
              bands={"smoke": Band(hi=1e-6, reason=_SMOKE + " (NC1 < 1e-6)"),
                     ("cpu", "full"): Band(hi=1e-2, reason=_UFM)}),
        Claim("net_train_acc", paper=100.0, source="experiment figures (terminal phase of training)", unit="%",
              what="train accuracy of the balanced MLP runs (min over M)",
              bands={"cpu": Band(lo=100.0, reason="card cpu rung: train accuracy 100 %"),
                     "full": Band(lo=100.0, reason="card: NC is measured as training reaches zero train error")}),
        Claim("net_nc1_drop", paper="NC1 -> 0", source="experiment figures",
              what="NC1(init) / NC1(final) of the features entering the head, balanced runs (min over M); paper: "
                   "curves toward 0, values not retrieved",
              bands={"cpu": Band(lo=100.0, reason="card cpu rung: NC1 drops by >= 2 orders of magnitude"),
                     "full": Band(lo=100.0, reason=_NET)}),
        Claim("net_of_max", paper="-> 0", source="experiment figures",
              what="balanced bias-free head: max of NC2_H and NC3 vs the orthogonal frame (features entering the "
                   "head, end-to-end product; max over M). NC2_W is left out: the head is initialised orthogonally "
                   "(official code), so W W^T starts at the frame; paper: curves toward 0, values not retrieved",
              bands={"cpu": Band(hi=0.2, reason="card cpu rung: NC2/NC3 to the orthogonal frame < 0.2"),
                     "full": Band(hi=0.2, reason=_NET)}),
        Claim("net_imbalanced_of_over_cf", paper="> 1", source="card full rung; imbalanced theorem",
              what="imbalanced run: mean(NC2_W, NC2_H, NC3) vs the orthogonal frame / the same vs the closed form "
                   "(min over M)",
              bands={"cpu": Band(lo=1.0, reason="card: bias-free imbalanced head matches the closed-form geometry "
                                                "better than the OF/ETF targets"),
                     "full": Band(lo=1.0, reason="card full rung: closed form matches better than ETF/OF")}),
    ),
)
