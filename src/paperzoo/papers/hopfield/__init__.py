"""Hopfield Networks is All You Need (Ramsauer et al., ICLR 2021): continuous modern Hopfield networks.

>>> from paperzoo.papers import hopfield
>>> xi_new = hopfield.update(xi, X, beta=8.0)          # X softmax(beta X^T xi), X as (N, d) rows
>>> layer = hopfield.HopfieldAttention(d_in=64, num_heads=4)  # = attention after one update
>>> pooled = hopfield.HopfieldPooling(d_in=64, quantity=2)(bags)   # (B, N, 64) -> (B, 2 * 64)
"""
from paperzoo.papers.hopfield import data, probes
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
from paperzoo.papers.hopfield.probes import fixed_point_type
from paperzoo.papers.hopfield.retrieval import (
    association,
    classical_retrieve,
    energy,
    hebbian_weights,
    separation,
    update,
)
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["AttentionPool", "HopfieldAttention", "HopfieldLookup", "HopfieldLookupMIL", "HopfieldMIL",
           "HopfieldPooling", "HopfieldPoolingMIL", "MeanPoolMIL", "MnistBagsMIL", "PAPER", "association",
           "bit_pattern_set", "classical_retrieve", "data", "energy", "fixed_point_type", "hebbian_weights",
           "hopfield_core", "load_mil_csv", "mnist_bags", "probes", "separation", "update"]


def _all(lo=None, hi=None, reason=""):
    return {p: Band(lo=lo, hi=hi, reason=reason) for p in ("smoke", "cpu", "full")}


def _cpu_full(lo=None, hi=None, reason=""):
    return {p: Band(lo=lo, hi=hi, reason=reason) for p in ("cpu", "full")}


_EST = "card's band (our estimate, not a paper number): "
CLAIMS = (
    Claim("cccp_max_energy_increase", "E(xi_{t+1}) <= E(xi_t) (proved)", "Thm 1-2",
          "CCCP update never increases the energy: max increase over 20 random cases x 50 steps",
          _all(hi=1e-6, reason="card smoke test: E(xi_{t+1}) <= E(xi_t) + 1e-6 for 20 cases, 50 iterations")),
    Claim("one_step_retrieval_frac", "retrieval in one update (proved)", "Thm 4-5",
          "N=1000 random +-1 patterns, d=64, beta=64, 20% bits flipped: retrieved (argmax, cos >= 0.99)",
          _all(lo=0.99, reason="card smoke test: >= 99% of queries retrieved after one update, cos >= 0.99")),
    Claim("small_beta_mean_rel_dist", "small beta -> global average fixed point", "Sec. 2 (beta regimes)",
          "beta=0.01: max relative distance of the one-step output to the mean pattern",
          _all(hi=0.05, reason="card smoke test: within 0.05 (relative) of the mean pattern")),
    Claim("mha_parity_max_abs", "one update = transformer attention", "Sec. 3",
          "max |HopfieldAttention - nn.MultiheadAttention| (norms off, 1 and 4 heads, copied weights)",
          _all(hi=1e-5, reason="card smoke test: equals torch.nn.MultiheadAttention to 1e-5")),
    Claim("mnist_modern_b1000_acc_n1024", "exponential capacity (Thm 3)", "Thm 3 / card CPU (a)",
          "binarised MNIST, N=1024 stored, lower half masked: fraction retrieved (cos >= 0.95), beta=1000",
          _cpu_full(lo=0.7, reason=_EST + "modern with beta=1000 >= 0.7 at N=1024"), unit="frac"),
    Claim("mnist_classical_acc_n1024", "classical capacity ~0.14 d", "card CPU (a)",
          "same queries, classical Hebbian net with synchronous sign updates to convergence",
          _cpu_full(hi=0.2, reason=_EST + "classical collapses beyond ~0.14 d ~ 110 (<= 0.2 at N=1024)"),
          unit="frac"),
    Claim("random_modern_b1000_min_acc", "exponential capacity (Thm 3)", "Thm 3 / card CPU (a)",
          "random +-1 patterns d=784: min over N in {16..4096} of the fraction retrieved, beta=1000",
          _cpu_full(lo=0.99, reason=_EST + "on random patterns the modern net is ~1.0 at every N listed"),
          unit="frac"),
    Claim("random_classical_acc_n256", "classical capacity ~0.14 d", "card CPU (a)",
          "random +-1 patterns d=784, N=256 > 0.14 d: classical net's fraction retrieved",
          _cpu_full(hi=0.2, reason=_EST + "classical collapses once N exceeds ~0.14 d ~ 110"), unit="frac"),
    Claim("mnist_beta1_global_frac", "beta small -> global average", "Sec. 2 / card CPU (a)",
          "MNIST N=1024, beta=1: fraction of queries whose fixed point is 'global' (probe fixed_point_type)",
          _cpu_full(lo=0.9, reason="card: beta = 1 returns ~ the mean image (global fixed point) for every query"),
          unit="frac"),
    Claim("bitpattern_hopfield_acc", "demo: solves the task", "official bit_pattern demo / card CPU (b)",
          "BitPatternSet (2048 bags x 16 x 8 bits), Hopfield self-association model, test accuracy",
          _cpu_full(lo=0.95, reason=_EST + "all three Hopfield models >= 0.95 test accuracy")),
    Claim("bitpattern_pooling_acc", "demo: solves the task", "official bit_pattern demo / card CPU (b)",
          "BitPatternSet, HopfieldPooling model, test accuracy",
          _cpu_full(lo=0.95, reason=_EST + "all three Hopfield models >= 0.95 test accuracy")),
    Claim("bitpattern_lookup_acc", "demo: solves the task", "official bit_pattern demo / card CPU (b)",
          "BitPatternSet, HopfieldLookup (HopfieldLayer) model, test accuracy",
          _cpu_full(lo=0.95, reason=_EST + "all three Hopfield models >= 0.95 test accuracy")),
    Claim("bitpattern_pooling_minus_mean", "mean pooling clearly worse", "card CPU (b)",
          "test accuracy of HopfieldPooling minus the same model with uniform (mean) pooling",
          _cpu_full(lo=0.1, reason="card: mean pooling clearly worse (dilutes 1 signal among 16); "
                                   "'clearly' read as >= 10 points")),
    Claim("mil_elephant_auc", "94.9 ± 0.3 (recalled by the card, NOT verified)", "Table 1 (NOT verified)",
          "Elephant, HopfieldPooling (one untuned config), 5-fold CV ROC-AUC; no band: the paper's value "
          "is unverified"),
    Claim("mnist_bags_hopfield_acc", "demo: HopfieldPooling on MNIST-bags", "official mnist_bags demo / card (c)",
          "MNIST-bags (200 train bags, length ~N(10, 2^2)), HopfieldPooling, test accuracy (mean over seeds)",
          _cpu_full(lo=0.85, reason=_EST + "HopfieldPooling test accuracy >= 0.85")),
)

PAPER = Paper(
    slug="hopfield",
    title="Hopfield Networks is All You Need",
    kind="architecture",
    package=__name__,
    claims=CLAIMS,
    protocols={
        "smoke": "theorem checks (energy descent, one-step retrieval, beta->0 average), attention parity, "
                 "small random-pattern capacity curve, 3 epochs of bit-pattern MIL (seconds)",
        "cpu": "capacity curves on binarised MNIST and random +-1 patterns (N 16..4096, beta 1..1000, vs "
               "classical Hebbian), BitPatternSet MIL (3 Hopfield models vs mean pooling, 100 epochs), "
               "MNIST-bags HopfieldPooling vs attention-MIL (20 epochs, 1 bag/step); bonus: 5-fold CV ROC-AUC on "
               "Musk1/Musk2/Elephant",
        "full": "cpu protocol + MNIST-bags at mean bag length 10/50/100, 5 seeds, HopfieldPooling vs attention "
                "vs gated attention, ROC-AUC on 1000 test bags; MIL sets with 10-fold CV (one GPU)",
    },
    arxiv="2008.02217",
    authors="Ramsauer, Schäfl, Lehner, Seidl, Widrich, ..., Hochreiter",
    year=2021,
    main_metric="mnist_modern_b1000_acc_n1024",
    data=("mnist",),
)
