"""Convergent Learning: Do different neural networks learn the same representations? (Li et al., ICLR 2016).

>>> from paperzoo.papers.convergent_learning import ActivationStats, bipartite_match, match_summary
>>> stats = layer_stats([net_a, net_b], x, ["relu1"])["relu1"]      # float64, every image and position
>>> match_summary(stats.corr(0, 1))                                  # semi / bipartite mean matched correlation
"""
from paperzoo.papers.convergent_learning.matching import (
    NOTEBOOK_NET1_NET2,
    bipartite_match,
    match_summary,
    matched_curve,
    mi_matrix,
    percentile_bins,
    semi_match,
)
from paperzoo.papers.convergent_learning.models import ConvergentNet, alexnet_cifar, convergent_cnn, permute_hidden_units
from paperzoo.papers.convergent_learning.probe import alignment, default_layers, layer_stats
from paperzoo.papers.convergent_learning.sparse import lasso_fista, sparse_predict, unexplained
from paperzoo.papers.convergent_learning.spectral import group_report, kmeans, spectral_clusters, spectral_groups
from paperzoo.papers.convergent_learning.stats import ActivationStats, correlation, to_units
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["NOTEBOOK_NET1_NET2", "PAPER", "ActivationStats", "ConvergentNet", "alexnet_cifar", "alignment",
           "bipartite_match", "convergent_cnn", "correlation", "default_layers", "group_report", "kmeans", "lasso_fista",
           "layer_stats", "match_summary", "matched_curve", "mi_matrix", "percentile_bins", "permute_hidden_units",
           "semi_match", "sparse_predict", "spectral_clusters", "spectral_groups", "to_units", "unexplained"]

ALL = ("smoke", "cpu", "full")
_NB = "official notebook's stored outputs, Net1 vs Net2 (source-checked, card)"
_NOT_NUMERIC = "reported, not judged: CaffeNet on ImageNet vs our small nets (card: not expected to match numerically)"


def _paper_layer(metric: str, value: float, what: str) -> Claim:
    return Claim(metric, paper=value, source=f"greedy-vs-max-matching figure / {_NB}", what=what + "; " + _NOT_NUMERIC)


PAPER = Paper(
    slug="convergent-learning",
    title="Convergent Learning: Do different neural networks learn the same representations?",
    kind="probe",
    arxiv="1511.07543",
    authors="Yixuan Li, Jason Yosinski, Jeff Clune, Hod Lipson, John Hopcroft",
    year=2016,
    code="https://github.com/YixuanLi/convergent_learning",
    main_metric="conv1_minus_deeper",
    data=("fashion-mnist", "cifar10"),
    claims=(
        Claim("perm_recovered", paper=1.0, source="card smoke rung (a): the matching's ceiling (project check)",
              what="fraction of live units whose permuted copy bipartite matching finds (worst hidden layer)",
              bands={ALL: Band(lo=1.0, reason="card smoke (a): bipartite matching recovers the permutation exactly")}),
        Claim("perm_rho_err", paper=0.0, source="card smoke rung (a)",
              what="max |1 - matched rho| of a unit and its permuted copy (live units, all hidden layers)",
              bands={ALL: Band(hi=1e-6, reason="card smoke (a): all matched rho = 1 +- 1e-6")}),
        Claim("perm_logit_diff", paper=0.0, source="card smoke rung (a)",
              what="max |logit difference| between a net and its unit-permuted copy (float32)",
              bands={ALL: Band(hi=1e-4, reason="card smoke (a): logits unchanged; float32 sums reordered by the "
                                                "permutation differ by rounding only (~1e-6 relative)")}),
        Claim("self_corr_diag_err", paper=0.0, source="card smoke rung (c); definition of rho (Sec. 2)",
              what="max |rho_ii - 1| of every live unit with itself, all nets and layers",
              bands={ALL: Band(hi=1e-9, reason="card smoke (c): a layer's rho with itself has unit diagonal (float64)")}),
        Claim("semi_minus_bipartite_min", paper=">= 0", source="Sec. 3 (semi-matching relaxes the one-to-one constraint);"
              " card smoke (b)", what="min over layers and net pairs of mean semi-matched minus mean bipartite-matched rho",
              bands={ALL: Band(lo=0.0, reason="card smoke (b) / cpu band (iii): semi >= bipartite always")}),
        Claim("conv1_minus_deeper", paper=0.156, source=f"greedy-vs-max-matching figure; {_NB}: conv1 0.663 vs 0.507 "
              "best deeper (conv2)", what="bipartite mean rho of conv1 minus the best deeper layer (net 1 vs net 2)",
              bands={("cpu", "full"): Band(lo=0.0, reason="card cpu band (i) / full rung: conv1 matches best")}),
        Claim("depth_drop_min", paper=-0.043, source=f"{_NB}: conv4 0.342 < conv5 0.385, so not monotone in the paper",
              what="min over consecutive layers of bipartite rho(l) - rho(l+1)",
              bands={"cpu": Band(lo=0.0, reason="card cpu band (i): matched rho decreases with depth in our small "
                                                "net only (the paper's deeper nets are not monotone: no full band)")}),
        Claim("trained_minus_untrained_min", paper="project baseline", source="card 'Baselines to report' (i)",
              what="min over layers after conv1 of bipartite rho (trained vs trained) minus (trained vs untrained)",
              bands={("cpu", "full"): Band(lo=0.1, reason="card cpu band (ii): conv2, conv3, fc exceed the untrained "
                                                          "floor by >= 0.1 (conv1 is reported, not judged)")}),
        Claim("bipartite_min_max", paper="< good match in every layer", source="correlation-matching figures (card row 1)",
              what="max over layers of the worst bipartite-matched rho between live units: every layer has poorly matched units",
              bands={("cpu", "full"): Band(hi=0.5, reason="card cpu band (iv): min matched rho < 0.5 in every layer")}),
        Claim("conv1_over_floor", paper="small (card: ~0.04)", source="card cpu rung",
              what="conv1 bipartite rho trained vs trained minus trained vs untrained; reported, not judged (card: "
                   "random 3x3 filters correlate on smooth images)"),
        _paper_layer("bipartite_conv1", 0.663, "conv1 mean bipartite-matched rho"),
        _paper_layer("semi_conv1", 0.703, "conv1 mean semi-matched rho"),
        _paper_layer("same_partner_conv1", 0.73, "conv1 fraction of units where semi and bipartite agree"),
        _paper_layer("bipartite_conv2", 0.507, "conv2 mean bipartite-matched rho"),
        _paper_layer("bipartite_conv3", 0.446, "conv3 mean bipartite-matched rho"),
        Claim("mi_top_kept", paper=7.0, source="arXiv v2 Fig. S4 (card: source-checked via the notebook markdown)",
              what="of the 8 best correlation-matched conv1 pairs, how many the mutual-information bipartite matching "
                   "keeps (our reading of 'unchanged': reconstructed); reported, the card gives no band"),
        Claim("top_mean_ratio_conv1", paper=1.33, source="mean-activation figure / notebook text (source-checked): "
              "top conv1 unit 98-130 across nets", what="max / min over nets of the top conv1 unit's mean activation; "
              "reported, not judged (similar but not identical)"),
        Claim("sparse_nnz_half_conv2", paper="a handful (conv1: often 1)", source="sparse-prediction figures (card)",
              what="mean non-zero inputs the lasso needs to close half the gap between the best single unit and the "
                   "dense map, conv2 (our summary statistic); reported, not judged"),
        Claim("spectral_units_in_mixed", paper="groups span both nets", source="spectral-clustering figures (card)",
              what="fraction of conv1 units in spectral clusters holding units of both nets; reported, not judged"),
    ),
)
