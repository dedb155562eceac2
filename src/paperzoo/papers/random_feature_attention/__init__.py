"""What can a Single Attention Layer Learn? A Study Through the Random Features Lens (Fu, Guo, Bai, Mei; NeurIPS 2023).

A multi-head attention layer with frozen random query-key matrices and trainable values is a random-feature
model of the (query, key) pairs: it represents functions that are permutation-invariant in the keys, learns
them with a sample complexity that does not grow with the number of keys (unlike a random-feature MLP on the
flattened sequence), and a query-key draw with non-zero mean learns correlation targets faster.
The card was written from the abstract and venue pages only (paper body not retrieved): model scalings and the
simulation suite are the card's reconstruction (ASSUMED there, "reconstructed" here).
"""
from paperzoo.papers.random_feature_attention.data import TARGETS, hermite, rfa_data, sphere_tokens, target
from paperzoo.papers.random_feature_attention.experiment import (
    KINDS,
    heldout_mse,
    key_shuffle_change,
    learnability,
    make_model,
    sample_complexity_curve,
)
from paperzoo.papers.random_feature_attention.models import (
    RandomFeatureAttention,
    RandomFeatureMLP,
    rf_mlp_seq,
    rfa,
    rfa_biased,
)
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["KINDS", "PAPER", "TARGETS", "RandomFeatureAttention", "RandomFeatureMLP", "heldout_mse", "hermite",
           "key_shuffle_change", "learnability", "make_model", "rf_mlp_seq", "rfa", "rfa_biased", "rfa_data",
           "sample_complexity_curve", "sphere_tokens", "target"]

_ALL = ("smoke", "cpu", "full")
_BIG = ("cpu", "full")
_SWEEP = "simulation figures (numbers not retrieved); card cpu rung"

PAPER = Paper(
    slug="random-feature-attention",
    title="What can a Single Attention Layer Learn? A Study Through the Random Features Lens",
    kind="theory",
    arxiv="2307.11353",
    authors="Hengyu Fu, Tianyu Guo, Yu Bai, Song Mei",
    year=2023,
    main_metric="mlp_minus_rfa_Nmax",
    data=(),
    claims=(
        Claim("perm_change_rfa", paper=0.0, source="expressivity theorem: RFA is permutation-invariant in the keys",
              what="max |f(x0, X) - f(x0, X[:, pi])| for RFA (d 8, N 8, 32 heads, random values, 64 sequences, float64)",
              bands={_ALL: Band(hi=1e-6, reason="card smoke (a): changes by < 1e-6")}),
        Claim("perm_change_rf_mlp", paper="clearly nonzero", source="card smoke (a) (RF-MLP sees positions)",
              what="the same for the RF-MLP on the flattened sequence",
              bands={_ALL: Band(lo=1e-3, reason="card smoke (a): 'a clearly nonzero amount'; 1e-3 is ours, 10^12 x "
                                                "float64 rounding")}),
        Claim("r2_biased_corr_poly_1", paper=">= 0.9", source="card smoke (b) (reconstructed simulation)",
              what="test R^2 of biased RFA (kappa 1) on corr_poly_1, d 8, N 8, M 256, n 4000, ridge",
              bands={_BIG: Band(lo=0.9, reason="card smoke (b): R^2 >= 0.9")}),
        Claim("r2_shuffled_control", paper="<= 0.05", source="card smoke (b)",
              what="the same fit to shuffled training labels",
              bands={_BIG: Band(hi=0.05, reason="card smoke (b): shuffled-label control R^2 <= 0.05")}),
        Claim("biased_gain_k1", paper="biased < zero-mean", source="sampling-distribution section + simulations; "
              + _SWEEP, what="min over corr_* targets, n >= 1000 and N of (MSE_RFA - MSE_biased) / MSE_RFA, kappa 1",
              bands={_BIG: Band(lo=0.2, reason="card cpu band (i): biased better by >= 20 % relative at every n >= 1k")}),
        Claim("biased_gain_k2", paper="biased < zero-mean", source="sampling-distribution section + simulations; "
              + _SWEEP, what="the same with kappa 2",
              bands={_BIG: Band(lo=0.2, reason="card cpu band (i): biased better by >= 20 % relative at every n >= 1k")}),
        Claim("rfa_N_change", paper="error independent of N", source="excess-risk theorems; " + _SWEEP,
              what="mean over targets of |MSE(N = 32) - MSE(N = 4)| / MSE(N = 4), zero-mean RFA, largest n",
              bands={_BIG: Band(hi=0.25, reason="card cpu band (ii): RFA's error changes by < 25 % relative")}),
        Claim("mlp_N_rise", paper="error grows with N", source="comparison with RF-MLP; " + _SWEEP,
              what="mean over targets of (MSE(N = 32) - MSE(N = 4)) / MSE(N = 4), RF-MLP at equal trainable count",
              bands={_BIG: Band(lo=0.25, reason="card cpu band (ii): RF-MLP's error rises by more than 25 %")}),
        Claim("mlp_minus_rfa_Nmax", paper="> 0 (RFA better)", source="sample-complexity advantage; " + _SWEEP,
              what="mean over targets of MSE_RF-MLP - MSE_RFA at N = 32, largest n", unit="test MSE / Var",
              bands={_BIG: Band(lo=0.0, reason="card cpu band (ii): RF-MLP worse than RFA at N = 32")}),
        Claim("monotone_violation", paper="error falls with n", source="simulations; card cpu band (iii)",
              what="max over models, N, targets and consecutive n of the relative rise of seed-mean test MSE",
              bands={_BIG: Band(hi=0.05, reason="card cpu band (iii): non-increasing in n, 5 % noise allowed")}),
        Claim("p3_needs_more_n", paper="1 (harder targets need more samples)", source="abstract: 'interplay between the "
              "sample size and the complexity of the target'; card cpu band (iii)",
              what="1 if the best model needs more n to reach test MSE 0.3 on corr_poly_3 than on corr_poly_2",
              bands={_BIG: Band(lo=1.0, reason="card cpu band (iii)")}),
    ),
)
