"""Parallel learning by multitasking neural networks (Agliari, Alessandrelli, Barra, Ricci-Tersenghi, 2023).

A Hebbian associative network storing *diluted* patterns (entries in {-1, 0, +1}) retrieves several of them at once:
each pattern fills the sites the earlier ones leave blank, so the Mattis magnetisations fall as a power of the
dilution, ``m_k ~ (1 - d) d^{k-1}`` (hierarchical regime), and level out at strong dilution (parallel regime). The
couplings may be learnt from noisy examples, with a teacher (supervised) or without (unsupervised), with the same
retrieval and thresholds in low storage. Here: the patterns and examples, the three coupling rules in low-rank form,
Glauber dynamics batched over replicas, the T = 0 closed forms, and the ``HebbianLearner`` for streamed examples.
"""
from paperzoo.papers.multitask_hebbian.couplings import HebbianCouplings
from paperzoo.papers.multitask_hebbian.dynamics import glauber, magnetizations, sse_loss, start_state
from paperzoo.papers.multitask_hebbian.learner import HebbianLearner
from paperzoo.papers.multitask_hebbian.patterns import dataset_entropy, dataset_R, make_archetypes, make_examples
from paperzoo.papers.multitask_hebbian.theory import hierarchical_T0, learning_threshold, power_law_slope, symmetric_gap_K2
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["PAPER", "HebbianCouplings", "HebbianLearner", "dataset_R", "dataset_entropy", "glauber",
           "hierarchical_T0", "learning_threshold", "magnetizations", "make_archetypes", "make_examples",
           "power_law_slope", "sse_loss", "start_state", "symmetric_gap_K2"]

_ALL = ("smoke", "cpu", "full")
_BIG = ("cpu", "full")
_SMOKE = "card smoke (T = 0 closed form, our derivation in the card; the paper's text was not retrieved)"

PAPER = Paper(
    slug="multitask-hebbian",
    title="Parallel Learning by Multitasking Neural Networks",
    kind="theory",
    arxiv="2308.04106",
    authors="Elena Agliari, Andrea Alessandrelli, Adriano Barra, Federico Ricci-Tersenghi",
    year=2023,
    main_metric="slope_rel_err_max",
    data=(),
    claims=(
        Claim("smoke_m1", paper=0.8, source=_SMOKE, what="m_1 after 20 T = 0 sweeps from xi^1 (N 10 000, K 3, d 0.2)",
              bands={_ALL: Band(0.79, 0.81, reason="card smoke: m_1 = 0.800 +- 0.01")}),
        Claim("smoke_m2_sorted", paper=0.16, source=_SMOKE, what="larger of the two other |m| (each sign is random)",
              bands={_ALL: Band(0.135, 0.185, reason="card smoke: (1 - d) d = 0.160 +- 0.025 (finite-N noise)")}),
        Claim("smoke_m3_sorted", paper=0.032, source=_SMOKE, what="smaller of the two other |magnetisations|",
              bands={_ALL: Band(0.007, 0.057, reason="card smoke: (1 - d) d^2 = 0.032 +- 0.025")}),
        Claim("energy_rise_max", paper=0.0, source="card smoke: energy never increases during T = 0 sequential updates",
              what="largest energy increase over single-spin T = 0 updates (N 2 000, 3 sweeps, float64)",
              bands={_ALL: Band(hi=1e-9, reason="card smoke: never increases (float64 round-off)")}),
        Claim("sse_identity_err", paper=0.0, source="card: SSE link L_mu = const - m_mu (identity to test)",
              what="max |L_mu - ((1 + (1 - d)_emp) / 2 - m_mu)|, float64",
              bands={_ALL: Band(hi=1e-12, reason="card smoke: holds to 1e-12")}),
        Claim("symmetric_gap_rel_err", paper=0.0, source=_SMOKE + "; K = 2 symmetric state above by N (1 - d)^4 / 4",
              what="|measured energy gap per spin / ((1 - d)^4 / 4) - 1| at N 10 000, d 0.2",
              bands={_ALL: Band(hi=0.1, reason="card: exact in expectation; ours: 10 % for finite-N fluctuations "
                                                "(the gap is ~0.1 per spin, its noise ~1/sqrt(N))")}),
        Claim("slope_rel_err_max", paper="log d (power law)", source="abstract (hierarchical power law); card cpu (a)",
              what="max over d in {0.1, 0.3, 0.5} of |slope of log m_k vs k / log d - 1| (k with signal >= 5/sqrt N)",
              bands={_BIG: Band(hi=0.10, reason="card cpu (a): slope equals log d within +-10 %")}),
        Claim("parallel_ratio_top_d", paper="-> 1 (parallel regime)", source="abstract (parallel regime); card cpu (b)",
              what="m_K / m_1 at d = 0.9, K = 4 (sorted |m|)",
              bands={_BIG: Band(lo=0.7, reason="card cpu (b): >= 0.7 at d = 0.9, K = 4")}),
        Claim("parallel_monotone", paper=1, source="card cpu (b): m_K / m_1 rises toward 1",
              what="1 if m_K / m_1 rises strictly over d = 0.7, 0.8, 0.9",
              bands={_BIG: Band(lo=1, reason="card cpu (b): must rise")}),
        Claim("teacher_max_diff", paper="0 (identical)", source="abstract (source-checked): supervised = unsupervised "
                                                                 "in low storage; card cpu (c)",
              what="max over r, M and k of the difference of sorted |m| (supervised vs unsupervised)",
              bands={_BIG: Band(hi=0.03, reason="card cpu (c): coincide within 0.03 (finite-N noise)")}),
        Claim("threshold_mismatch", paper=0, source="abstract: same learning thresholds; card cpu (c)",
              what="number of r values whose supervised and unsupervised thresholds (first M with m_1 > (1 - d) / 2) "
                   "differ",
              bands={_BIG: Band(hi=0, reason="card cpu (c): the same learning threshold")}),
    ),
)
