"""Scalable Neural Network Kernels (Sehanobish, Choromanski, Zhao, Dubey, Likhosherstov; ICLR 2024).

A feed-forward pair ``f(W x + b)`` is replaced by ``Phi(x) Psi(W, b)^T``: a random nonlinear feature map of the
input (universal random features for any f with a Fourier transform; ReLU random features for the ReLU-SNNK)
followed by a linear map whose trainable matrix P = Psi(W) has m columns instead of d. Here: the URF and ReLU
feature maps, ``SNNKLinear``, the SNNK adapter, uptraining, closed-form bundling and an SNNK-MLP for the arena.
"""
from paperzoo.papers.snnk.experiments import exact_checks, kernel_error_sweep, loglog_slope
from paperzoo.papers.snnk.features import (
    ACTIVATIONS,
    URF,
    arccos1_kernel,
    gaussian_matrix,
    relu_rf,
    urf_features,
    urf_for_activation,
)
from paperzoo.papers.snnk.layers import BundledRF, SNNKAdapter, SNNKLinear, bundle_fit, init_weight, uptrain
from paperzoo.papers.snnk.models import SNNKMLP, snnk_mlp
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["ACTIVATIONS", "BundledRF", "PAPER", "SNNKAdapter", "SNNKLinear", "SNNKMLP", "URF", "arccos1_kernel",
           "bundle_fit", "exact_checks", "gaussian_matrix", "init_weight", "kernel_error_sweep", "loglog_slope", "relu_rf",
           "snnk_mlp", "uptrain", "urf_features", "urf_for_activation"]

_ALL = ("smoke", "cpu", "full")
_BIG = ("cpu", "full")
_SLOPE = Band(-1.15, -0.85, reason="card cpu rung: log-log slope of relative MSE vs m must be -1 +- 0.15")


def _slope(name: str, what: str) -> Claim:
    return Claim(f"slope_{name}", paper="MSE falls with m (unbiased estimator, variance ~ 1/m)",
                 source="paper early experiments (figure, values not retrieved; card)", unit="log-log slope",
                 what=f"{what}: slope of relative MSE vs m in {{16, ..., 4096}}, 200 pairs", bands={_BIG: _SLOPE})


PAPER = Paper(
    slug="snnk",
    title="Scalable Neural Network Kernels",
    kind="architecture",
    arxiv="2310.13225",
    authors="Arijit Sehanobish, Krzysztof Choromanski, Yunfan Zhao, Avinava Dubey, Valerii Likhosherstov",
    year=2024,
    code="https://github.com/arijitthegame/neural-network-kernels",
    main_metric="slope_cos",
    data=("mnist",),
    claims=(
        Claim("cos_urf_err_over_bound", paper="unbiased URF estimator of f(w^T x + b)", source="Sec. 3 URFs; card smoke (a)",
              what="cos URF at m = 20,000, d = 8: max |error| / (4 sqrt(exp(|x|^2 + |w|^2) / m)) over 5 pairs",
              bands={_ALL: Band(hi=1.0, reason="card smoke (a): within 4 sqrt(exp(|x|^2+|w|^2)/m) of the truth")}),
        Claim("cos_urf_var_ratio", paper=10.0, source="Sec. 3 (variance ~ 1/m); card smoke (a)",
              what="Var of the cos URF estimate at m = 1,000 over that at m = 10,000 (200 draws)",
              bands={_ALL: Band(10 / 1.5, 15.0, reason="card smoke (a): within a factor 1.5 of 10 (1/m scaling)")}),
        Claim("relu_rf_rel_err", paper=0.0, source="Sec. 3 ReLU-SNNK (arc-cosine kernel); card smoke (b)",
              what="ReLU RF mean at m = 50,000 vs the exact first-order arc-cosine kernel, relative error (one pair)",
              bands={_ALL: Band(hi=0.02, reason="card smoke (b): within 2% at m = 50,000")}),
        Claim("adapter_init_err", paper=0.0, source="official CustomReluAdapter (zero modulating vector); card smoke (c)",
              what="max |adapter(h) - h| at init",
              bands={_ALL: Band(hi=0.0, reason="card smoke (c): the adapter returns its input exactly at init")}),
        Claim("bundle_err", paper=0.0, source="Sec. 4 bundling (closed form); card section 6",
              what="bundle_fit vs augmented least squares [Phi; sqrt(lam) I] in float64",
              bands={_ALL: Band(hi=1e-10, reason="exact identity in float64")}),
        _slope("cos", "cos URF"), _slope("exp", "exp URF (positive random features)"),
        _slope("gaussian", "Gaussian-activation URF"), _slope("relu", "ReLU RF vs arc-cosine kernel"),
        Claim("hidden_param_reduction", paper="up to 5x fewer trainable parameters", source="abstract",
              what="trainable params of the dense hidden layer / of its ReLU-SNNK replacement (784-1024, m = 32)",
              bands={_BIG: Band(lo=5.0, reason="abstract: up to 5x reduction (card expects ~24x at m = 32)")}),
        Claim("uptrain_acc_gap", paper="competitive accuracy", source="abstract; card cpu rung (uptraining analogue)",
              unit="points",
              what="MNIST test acc: dense GELU MLP minus its hidden pair swapped for ReLU-SNNK (m = 32), fine-tuned",
              bands={_BIG: Band(hi=1.5, reason="card cpu rung: within ~1.5 points of the dense MLP")}),
        Claim("bundle_acc_gap", paper="comparable, parameters in closed form", source="bundling experiments (card)",
              unit="points", what="MNIST test acc: 1-hidden-layer MLP (Adam) minus closed-form bundled ReLU-RF (m = 512)",
              bands={_BIG: Band(hi=2.0, reason="card cpu rung: within ~2 points of the backprop MLP")}),
    ),
)
