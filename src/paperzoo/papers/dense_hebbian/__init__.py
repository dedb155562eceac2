"""Dense Hebbian neural networks, supervised (Agliari, Albanese, Alemanno, Alessandrelli, Barra, Giannotti,
Lotito, Pedreschi; Physica A 2023): P-body Hebbian storage of class-wise example averages, simulated through
its K overlaps (O(N K) memory), never its N^P synaptic tensor.

>>> from paperzoo.papers import dense_hebbian as dh
>>> xi = dh.make_archetypes(10, 2000); eta = dh.make_examples(xi, 50, r=0.2)    # (K, N), (K, M, N)
>>> net = dh.DenseHebbian(4, eta)                                                 # supervised: stores eta_bar
>>> out = dh.monte_carlo(net, xi, sweeps=30)                                      # T = 0 from the archetypes
>>> dh.mattis(out.sigma, xi).diagonal().mean(), dh.theory.m_T0_low_load(0.2, 50)
"""
from paperzoo.papers.dense_hebbian import theory
from paperzoo.papers.dense_hebbian.dynamics import MCResult, monte_carlo
from paperzoo.papers.dense_hebbian.learner import ClassExamples, HebbianLearner, RandomExamples, RetrievalTask
from paperzoo.papers.dense_hebbian.model import (
    DenseHebbian,
    binarize_images,
    hebbian_tensor,
    make_archetypes,
    make_examples,
    mattis,
    tensor_energy,
)
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["ClassExamples", "DenseHebbian", "HebbianLearner", "MCResult", "PAPER", "RandomExamples", "RetrievalTask",
           "binarize_images", "hebbian_tensor", "make_archetypes", "make_examples", "mattis", "monte_carlo",
           "tensor_energy", "theory"]

ALL, CF = ("smoke", "cpu", "full"), ("cpu", "full")
_OURS = "card, 'our derivation' (not a paper number): "

PAPER = Paper(
    slug="dense-hebbian",
    title="Dense Hebbian neural networks: a replica symmetric picture of supervised learning",
    kind="learning rule",
    arxiv="2212.00606",
    authors="E. Agliari, L. Albanese, F. Alemanno, A. Alessandrelli, A. Barra, F. Giannotti, D. Lotito, D. Pedreschi",
    year=2023,
    main_metric="capacity_p4_success_K1000",
    data=("mnist", "fashion-mnist"),
    claims=(
        Claim("overlap_vs_tensor_max_err", paper="0 (the overlap cost is the P-index Hebbian tensor, summed)",
              source="card: 'Equivalent tensor form'; abstract (the paper avoids evaluating the synaptic tensor)",
              what="max |overlap form - explicit tensor form| of H and of every flip cost, N=8, P=4, float64, "
                   "supervised and unsupervised",
              bands={ALL: Band(hi=1e-10, reason="exact identity in float64")}),
        Claim("delta_energy_max_err", paper="0 (exact)", source="card smoke test (a)",
              what="max |dH from the overlaps - (H(sigma') - H(sigma))| over 50 random flips, N=60, P=4, K=5",
              bands={ALL: Band(hi=1e-9, reason="card smoke test (a): to 1e-9")}),
        Claim("hopfield_limit_fixed_frac", paper=1.0, unit="frac", source="card smoke test (b)",
              what="P=2, M=1, r=1 (Hopfield): fraction of the K=3 archetypes (N=500) that are T=0 fixed points",
              bands={ALL: Band(lo=1.0, reason="card smoke test (b): the archetype is a T=0 fixed point")}),
        Claim("low_load_gap_majority", paper=0.0, source="card smoke test (c) (" + _OURS.rstrip(": ") + ")",
              what="N=2000, K=3, P=4, r=0.2, M=100, T=0 from each archetype, 3 seeds: max |m - mean_i xi_i "
                   "sign(eta_bar_i)|",
              bands={ALL: Band(hi=0.01, reason="card smoke test (c): within 0.01 of the majority-vote overlap")}),
        Claim("low_load_gap_binomial", paper="m = 0.956 (binomial, r=0.2, M=100)",
              source="card smoke test (c) (" + _OURS.rstrip(": ") + ")",
              what="same runs: |mean m - sum_k Binom(k; M, (1+r)/2) sign(2k-M)|",
              bands={ALL: Band(hi=0.02, reason="card smoke test (c): the binomial formula (0.956) within 0.02")}),
        Claim("capacity_p4_success_K1000", paper="ultra-storage: K can grow like N^(P-1)", unit="frac",
              source="abstract (arXiv v1: 'ultra-storage'); N^(P-1) is the card's reading; card cpu (a)",
              what="N=100, r=1, M=1, P=4, K=1000 (alpha=10): fraction of 20 starts retrieved (m >= 0.95) at T=0",
              bands={CF: Band(lo=0.95, reason="card cpu (a): P=4 still >= 0.95 at K=1000 (capacity estimate "
                                              "~N^3/(2*15 ln N) ~ 7000)")}),
        Claim("capacity_p2_success_K10", paper="alpha_c ~ 0.138 for P=2", unit="frac", source="card cpu (a)",
              what="same, P=2, K=10 (alpha=0.1 < 0.138): fraction of the 10 starts retrieved",
              bands={CF: Band(lo=0.95, reason="card cpu (a): below alpha_c N ~ 14 the shallow net retrieves "
                                              "(card's numpy check: 1.0)")}),
        Claim("capacity_p2_success_K50", paper="alpha_c ~ 0.138 for P=2", unit="frac", source="card cpu (a)",
              what="same, P=2, K=50 (alpha=0.5): fraction of 20 starts retrieved",
              bands={CF: Band(hi=0.05, reason="card cpu (a): P=2 fails beyond K ~ 14 (card's numpy check: 0.0)")}),
        Claim("lc_max_dev_high_snr", paper="m(M) = binomial T=0 value at large S/N", source="card cpu (b) ("
              + _OURS.rstrip(": ") + ")",
              what="N=2000, K=10, P in {2,4}, r in {0.1,0.2,0.4}, M=1..400, T=0 from the archetypes: max |m - "
                   "binomial| over the points with S/N >= 10",
              bands={CF: Band(hi=0.02, reason="card cpu (b): must match the binomial formula when S/N is large, "
                                              "for both P (tolerance of card smoke (c): 0.02; 'large' = S/N >= 10, "
                                              "our choice)")}),
        Claim("detect_p4_min_overlap", paper="ultra-detection", source="abstract (arXiv v1: 'ultra-detection'); "
              "card cpu (c)",
              what="N=1000, K=100, r=0.3, M in {1,2,5,10}, P=4: min over M of the overlap of the T=0 state with "
                   "sign(eta_bar) (untied sites), started there",
              bands={CF: Band(lo=0.9, reason="card cpu (c): P=4 stays >= 0.9 for all M")}),
        Claim("detect_p2_min_overlap", paper="shallow nets fail at these S/N", source="abstract; card cpu (c)",
              what="same, P=2: min over M",
              bands={CF: Band(hi=0.9, reason="card cpu (c): P=2 degrades at small M (large rho); we read "
                                             "'degrades' as falling below P=4's 0.9 floor")}),
        Claim("mnist_acc_p4_top", paper="qualitative agreement with the random theory (numbers not transcribed)",
              unit="frac", source="card cpu (d) (our estimate, not a paper number); paper's numerical section",
              what="MNIST binarised (pixel > 0.5), M=1000 per class, P=4, T=0 from 1000 test images: attractor "
                   "accuracy (chance 0.1)",
              bands={CF: Band(lo=0.6, reason="card cpu (d) estimate: both P >= 0.6 at M=1000")}),
        Claim("mnist_acc_p2_top", paper="(not transcribed)", unit="frac", source="card cpu (d) (our estimate)",
              what="same, P=2",
              bands={CF: Band(lo=0.6, reason="card cpu (d) estimate: both P >= 0.6 at M=1000")}),
        Claim("mnist_p4_minus_p2", paper="(not transcribed)", source="card cpu (d) (our estimate)",
              what="MNIST attractor accuracy P=4 minus P=2 at the largest M",
              bands={CF: Band(lo=0.0, reason="card cpu (d) estimate: P=4 >= P=2")}),
        Claim("fashionmnist_acc_p4_top", paper="(not transcribed)", unit="frac", source="card cpu (d): 'report "
              "F-MNIST likewise'", what="Fashion-MNIST, same protocol, P=4, largest M (reported, no band)"),
    ),
)
