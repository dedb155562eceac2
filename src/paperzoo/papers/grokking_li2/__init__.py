"""Li2 / Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking (Tian, 2025).

A 2-layer net o = V sigma(W [e_a; e_b]) on group arithmetic learns in three stages: (I) lazy: the top layer fits
random hidden features; (II) independent feature learning: with weight decay the backpropagated gradient G_F
carries label information and every hidden node climbs an energy E whose local maxima are the emerging features
(irreducible representations; Fourier modes for Z_M); (III) interactive. Memorisation vs generalisation is
decided by the sample size: the official estimator puts the critical train fraction at 2.7482 ln M / M.

>>> import torch
>>> from paperzoo.papers.grokking_li2 import group_table, dataset, centered_targets, energy_ascent
>>> pairs, labels = dataset(group_table("cyclic", 23))
>>> w, trace = energy_ascent(torch.randn(20, 46, dtype=torch.float64), pairs, centered_targets(labels, 23, torch.float64))
"""
from paperzoo.papers.grokking_li2.energy import energy, energy_ascent, energy_grad, gradient_alignment, node_concentration
from paperzoo.papers.grokking_li2.experiments import transition_multiplier
from paperzoo.papers.grokking_li2.groups import (
    CRITICAL_MULTIPLIER,
    Isotypic,
    check_table,
    critical_fraction,
    dataset,
    fourier_spectrum,
    group_table,
    irrep_spectrum,
    isotypic_components,
    split,
)
from paperzoo.papers.grokking_li2.model import (
    TwoLayerGroupNet,
    centered_mse,
    centered_targets,
    li2_group_net,
    nll,
    ridge_solution,
)
from paperzoo.papers.grokking_li2.optim import Muon, newton_schulz
from paperzoo.papers.grokking_li2.train import History, TrainSpec, stage_monitor, train_group_net
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["CRITICAL_MULTIPLIER", "History", "Isotypic", "Muon", "PAPER", "TrainSpec", "TwoLayerGroupNet",
           "centered_mse", "centered_targets", "check_table", "critical_fraction", "dataset", "energy", "energy_ascent",
           "energy_grad", "fourier_spectrum", "gradient_alignment", "group_table", "irrep_spectrum",
           "isotypic_components", "li2_group_net", "newton_schulz", "nll", "node_concentration", "ridge_solution",
           "split", "stage_monitor", "train_group_net", "transition_multiplier"]

_ALL = ("smoke", "cpu", "full")
_BIG = ("cpu", "full")
_LADDER = "card cpu ladder (our bands, not paper numbers): "

PAPER = Paper(
    slug="grokking-li2",
    title="Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking (Li2)",
    kind="theory",
    arxiv="2509.21519",
    authors="Yuandong Tian",
    year=2025,
    code="https://github.com/facebookresearch/luckmatters/tree/main/ssl/real-dataset/cogo",
    main_metric="min_acc_gap",
    data=(),
    claims=(
        Claim("dataset_errors", paper=0.0, source="card smoke (c); official `generate_dataset`",
              what="pairs missing, repeated or mislabelled over every group table of the run (Z_M, D_n, S_n, products)",
              bands={_ALL: Band(hi=0.0, reason="card smoke (c): every (a, b) once, label a . b (exact)")}),
        Claim("gradient_cosine_min", paper=1.0, source="abstract (stage II: G_F carries label structure, nodes learn "
              "independently); card 'Energy of stage II' (our transcription, unverified against the paper body)",
              what="min over 64 nodes of cos(-dL/dw_j, dE/dw_j): centred MSE, ridge top layer eta = 1e4, Z_11, float64",
              bands={_ALL: Band(lo=0.99, reason="card smoke (a): cosine >= 0.99 (card: > 0.9999 at M = 11, eta = 1e4)")}),
        Claim("ascent_single_freq_share", paper="local maxima of E are Fourier (single-frequency) features for Z_M",
              source="abstract; card 'Energy of stage II' and smoke (b)",
              what="share of 20 random starts whose energy ascent on Z_23 ends with >= 90 % non-DC energy in one +-k pair",
              bands={_ALL: Band(lo=0.9, reason="card smoke (b): >= 18 of 20 starts single-frequency (card: 20/20)")}),
        Claim("ascent_min_rel_increment", paper="E increases along gradient ascent", source="card smoke (b)",
              what="min over steps and groups of (E_{t+1} - E_t) / E_final along the ascent (float64)",
              bands={_ALL: Band(lo=-1e-12, reason="card smoke (b): E never decreases; -1e-12 = float64 rounding of E")}),
        Claim("ascent_irrep_share", paper="local maxima of E are irreducible-representation features for group arithmetic",
              source="abstract ('group arithmetic tasks'); card 'What the paper claims' row 2 (theorems, not retrieved)",
              what="min over D_6, S_4 (and Z_4 x Z_6 in cpu) of the share of 20 ascent ends with >= 90 % of the "
                   "non-trivial energy in one real isotypic component",
              bands={_ALL: Band(lo=0.9, reason="card's Z_M criterion (>= 18 / 20 ends at >= 90 %) applied to the other "
                                               "groups' irreps (ours: the card gives no number for them)")}),
        Claim("min_acc_gap", paper="generalisation above n_c ~ M log M, memorisation below",
              source="abstract (scaling laws); official estimator p_c = 2.7482 ln M / M (`dyn_madd.yaml`, card)",
              what="min over M of test acc(delta = +1.5) - test acc(delta = -1.5), p = (2.7482 + delta) ln M / M",
              bands={_BIG: Band(lo=0.4, reason=_LADDER + "for every M the gap is >= 0.4")}),
        Claim("min_test_acc_above", paper="generalises above the critical fraction", source="card cpu ladder",
              what="min over M (and seeds) of the final test accuracy at delta = +1.5",
              bands={_BIG: Band(lo=0.9, reason=_LADDER + "test accuracy >= 0.9 above the line")}),
        Claim("max_test_acc_below", paper="memorises below the critical fraction", source="card cpu ladder",
              what="max over M (and seeds) of the final test accuracy at delta = -1.5",
              bands={_BIG: Band(hi=0.3, reason=_LADDER + "test near chance (<= 0.3) below the line")}),
        Claim("min_train_acc_below", paper="train accuracy 1.0 below the line (memorisation)", source="card cpu ladder",
              what="min over M (and seeds) of the final train accuracy at delta = -1.5",
              bands={_BIG: Band(lo=1.0, reason=_LADDER + "train 1.0 below the line")}),
        Claim("min_grok_delay", paper="delayed generalisation (grokking)", source="abstract; card cpu ladder",
              what="min over M at delta = +1.5 of epochs from train acc 1.0 to test acc 0.9 (eval every 100 epochs)",
              bands={_BIG: Band(lo=1.0, reason=_LADDER + "train accuracy hits 1.0 first, test follows after a delay")}),
        Claim("single_freq_share_above", paper="learned hidden nodes are single-frequency (Fourier) features",
              source="abstract (emerging features); card cpu ladder", unit="share of nodes",
              what="mean over M at delta = +1.5 of the share of the K = 512 hidden nodes with >= 90 % of their "
                   "non-DC energy in one +-k pair",
              bands={_BIG: Band(lo=0.5, reason=_LADDER + "'most hidden nodes become single-frequency'")}),
        Claim("single_freq_weight_share_above", paper="learned hidden nodes are single-frequency (Fourier) features",
              source="abstract (emerging features); card cpu ladder", unit="share of ||W||^2",
              what="as single_freq_share_above but each node weighted by ||w_j||^2 (decayed nodes count for little; "
                   "no band: the weighting is ours)"),
        Claim("critical_multiplier_emp", paper=2.7482, source="official `critical_ratio_multiplier` (card, "
              "source-checked; the constant is the code's, not found in the paper text)",
              what="mean over M of c where the test accuracy crosses 0.5 along p = c ln M / M (3000 epochs)",
              bands={_BIG: Band(1.2482, 4.2482, reason=_LADDER + "the transition lies between delta = -1.5 and +1.5")}),
        Claim("critical_multiplier_spread", paper="1 (n_c proportional to M log M: one multiplier for every M)",
              source="abstract (scaling law); official estimator (card)",
              what="max / min over M of the measured multiplier c (no band: the card gives no tolerance)"),
        Claim("muon_minus_adam_freqs", paper="Muon >= Adam in feature diversity (numbers not retrieved)",
              source="abstract (Muon); card cpu ladder",
              what="distinct frequencies among single-frequency nodes, Muon minus Adam (same lr and wd, as the card), "
                   "Z_23 at delta = 0",
              bands={_BIG: Band(lo=0.0, reason="card cpu ladder: paper says Muon >= Adam in feature diversity")}),
    ),
)
