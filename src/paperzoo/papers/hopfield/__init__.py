"""Hopfield Networks is All You Need (Ramsauer et al., ICLR 2021): continuous modern Hopfield networks.

>>> from paperzoo.papers import hopfield
>>> xi_new = hopfield.update(xi, X, beta=8.0)          # X softmax(beta X^T xi), X as (N, d) rows
>>> layer = hopfield.HopfieldAttention(d_in=64, num_heads=4)  # = attention after one update
>>> pooled = hopfield.HopfieldPooling(d_in=64, quantity=2)(bags)   # (B, N, 64) -> (B, 2 * 64)
"""
from paperzoo.papers.hopfield import data
from paperzoo.papers.hopfield.data import bit_pattern_set, load_mil_csv, mnist_bags
from paperzoo.papers.hopfield.layers import HopfieldAttention, HopfieldLookup, HopfieldPooling, hopfield_core
from paperzoo.papers.hopfield.models import (
    AttentionPool,
    HopfieldLookupMIL,
    HopfieldMIL,
    HopfieldPoolingMIL,
    MeanPoolMIL,
    MnistBagsMIL,
)
from paperzoo.papers.hopfield.retrieval import (
    association,
    classical_retrieve,
    energy,
    fixed_point_type,
    hebbian_weights,
    separation,
    update,
)
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["AttentionPool", "HopfieldAttention", "HopfieldLookup", "HopfieldLookupMIL", "HopfieldMIL",
           "HopfieldPooling", "HopfieldPoolingMIL", "MeanPoolMIL", "MnistBagsMIL", "PAPER", "association",
           "bit_pattern_set", "classical_retrieve", "data", "energy", "fixed_point_type", "hebbian_weights",
           "hopfield_core", "load_mil_csv", "mnist_bags", "separation", "update"]

ALL, CPU_FULL = ("smoke", "cpu", "full"), ("cpu", "full")
_EST = "card's band (our estimate, not a paper number): "
_DEMO = "~0.84-0.85 after 250 epochs (official bit_pattern demo, adapted settings; read off its plot)"
_BIT = Band(lo=0.95, reason=_EST + "all three Hopfield models >= 0.95 test accuracy (the official demo itself "
                               "ends at ~0.85, see README)")

CLAIMS = (
    Claim("cccp_max_energy_increase", paper="E(xi_{t+1}) <= E(xi_t) (proved)", source="Thm 1-2",
          what="CCCP update never increases the energy: max increase over 20 random cases x 50 steps",
          bands={ALL: Band(hi=1e-6, reason="card smoke test: E(xi_{t+1}) <= E(xi_t) + 1e-6 for 20 cases, 50 steps")}),
    Claim("one_step_retrieval_frac", paper="retrieval in one update (proved)", source="Thm 4-5", unit="frac",
          what="N=1000 random +-1 patterns, d=64, beta=64, 20% bits flipped: retrieved (argmax, cos >= 0.99)",
          bands={ALL: Band(lo=0.99, reason="card smoke test: >= 99% of queries retrieved after one update")}),
    Claim("small_beta_max_rel_dist", paper="small beta -> global average fixed point", source="Sec. 2 (beta regimes)",
          what="beta=0.01: largest relative distance (over 1000 queries) of the one-step output to the mean pattern",
          bands={ALL: Band(hi=0.05, reason="card smoke test: within 0.05 (relative) of the mean pattern")}),
    Claim("mha_parity_max_abs", paper="one update = transformer attention", source="Sec. 3",
          what="max |HopfieldAttention - nn.MultiheadAttention| (norms off, 1 and 4 heads, copied weights)",
          bands={ALL: Band(hi=1e-5, reason="card smoke test: equals torch.nn.MultiheadAttention to 1e-5")}),
    Claim("random_classical_capacity_per_d", paper=0.14, source="Sec. 1 / official blog Eq. 8 (C ~= 0.14 d)",
          what="classical Hebbian net, random +-1 patterns, d=784: load N/d at which the fraction of half-masked "
               "queries retrieved (cos >= 0.95, <= 2.5% wrong bits) falls through 0.5",
          bands={ALL: Band(0.105, 0.175, reason="paper: C ~= 0.14 d for retrieval with a small percentage of "
                                                "errors (the d -> infinity limit); +-25% for finite d = 784")}),
    Claim("random_modern_b1000_min_acc", paper="exponential capacity (Thm 3)", source="Thm 3 / card CPU (a)",
          what="random +-1 patterns d=784: min over N in {16..4096} (up to 37x the classical 0.14 d) of the "
               "fraction retrieved after one update, beta=1000", unit="frac",
          bands={CPU_FULL: Band(lo=0.99, reason=_EST + "on random patterns the modern net is ~1.0 at every N listed")}),
    Claim("mnist_modern_b1000_acc_n1024", paper="exponential capacity (Thm 3)", source="Thm 3 / card CPU (a)",
          what="binarised MNIST, N=1024 stored, lower half masked: fraction retrieved (cos >= 0.95), beta=1000",
          unit="frac", bands={CPU_FULL: Band(lo=0.7, reason=_EST + "modern with beta=1000 >= 0.7 at N=1024")}),
    Claim("mnist_beta1_global_frac", paper="beta small -> global average", source="Sec. 2 / card CPU (a)",
          what="MNIST N=1024, beta=1: fraction of queries whose fixed point is 'global' (fixed_point_type)",
          unit="frac", bands={CPU_FULL: Band(lo=0.9, reason="card: beta = 1 returns ~ the mean image for every query")}),
    Claim("bitpattern_hopfield_acc", paper=_DEMO, source="official bit_pattern demo / card CPU (b)",
          what="BitPatternSet (2048 bags x 16 x 8 bits), Hopfield self-association model, test accuracy "
               "(mean over seeds)", bands={CPU_FULL: _BIT}),
    Claim("bitpattern_pooling_acc", paper=_DEMO, source="official bit_pattern demo / card CPU (b)",
          what="BitPatternSet, HopfieldPooling model, test accuracy (mean over seeds)", bands={CPU_FULL: _BIT}),
    Claim("bitpattern_lookup_acc", paper=_DEMO, source="official bit_pattern demo / card CPU (b)",
          what="BitPatternSet, HopfieldLookup (HopfieldLayer) model, test accuracy (mean over seeds)",
          bands={CPU_FULL: _BIT}),
    Claim("bitpattern_pooling_minus_mean", paper="mean pooling clearly worse", source="card CPU (b)",
          what="test accuracy of HopfieldPooling minus the same path with uniform (mean) pooling",
          bands={CPU_FULL: Band(lo=0.1, reason="card: mean pooling clearly worse (dilutes 1 signal among 16); "
                                              "'clearly' read as >= 10 points")}),
    Claim("mil_elephant_auc", paper="94.9 +- 0.3 (recalled by the card, NOT verified)", source="Table 1 (NOT verified)",
          what="Elephant, HopfieldPooling (one untuned config), cross-validated ROC-AUC; no band: the paper's "
               "value is unverified"),
    Claim("mnist_bags_hopfield_acc", paper="demo: HopfieldPooling on MNIST-bags", source="official mnist_bags demo / card (c)",
          what="MNIST-bags (200 train bags, length ~N(10, 2^2)), HopfieldPooling, test accuracy (mean over seeds)",
          bands={CPU_FULL: Band(lo=0.85, reason=_EST + "HopfieldPooling test accuracy >= 0.85")}),
)

PAPER = Paper(
    slug="hopfield",
    title="Hopfield Networks is All You Need",
    kind="architecture",
    claims=CLAIMS,
    arxiv="2008.02217",
    authors="Ramsauer, Schäfl, Lehner, Seidl, Widrich, ..., Hochreiter",
    year=2021,
    code="https://github.com/ml-jku/hopfield-layers",
    main_metric="mnist_modern_b1000_acc_n1024",
    data=("mnist", "mil"),
)
