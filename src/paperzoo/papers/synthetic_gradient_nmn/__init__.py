"""Fast & Slow Learning (Fernando et al. 2020), reconstructed: a neural memory network (MANN-style, LRUA
memory) whose controllers take fast within-episode steps on synthetic gradients (DNI) while the slow
weights learn by back-prop through time at the end of each episode.

>>> from paperzoo.papers.synthetic_gradient_nmn import NMN, SyntheticGradients, FastSlowLearner
>>> model = NMN(400, 5); sg = SyntheticGradients(model)
>>> logits = model(x, y, sg=sg, eta_fast=1e-2)        # x (B, T, 400), y (B, T) labels; fast updates inside
"""
from paperzoo.papers.synthetic_gradient_nmn import checks
from paperzoo.papers.synthetic_gradient_nmn.episodes import (
    PRESENTATIONS,
    ClassPool,
    accuracy_by_presentation,
    from_classes,
    mnist_fmnist_pools,
    presentation_index,
    sample_episodes,
)
from paperzoo.papers.synthetic_gradient_nmn.learner import FastSlowLearner, episode_loss, sg_cosine, true_gradients
from paperzoo.papers.synthetic_gradient_nmn.memory import LRUAMemory, MemoryState, cosine_read_weights, least_used
from paperzoo.papers.synthetic_gradient_nmn.model import (
    CONTROLLERS,
    NMN,
    EpisodeTrace,
    FastLinear,
    SyntheticGradient,
    SyntheticGradients,
    sg_nmn,
)
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["CONTROLLERS", "ClassPool", "EpisodeTrace", "FastLinear", "FastSlowLearner", "LRUAMemory", "MemoryState", "NMN",
           "PAPER", "PRESENTATIONS", "SyntheticGradient", "SyntheticGradients", "accuracy_by_presentation", "checks",
           "cosine_read_weights", "episode_loss", "from_classes", "least_used", "mnist_fmnist_pools", "presentation_index",
           "sample_episodes", "sg_cosine", "sg_nmn", "true_gradients"]

_NOT_RETRIEVED = "outperforms prior state of the art (numbers not retrieved)"
_ABSTRACT = "abstract (arXiv 2011.05438; paper text not retrieved, card: unverified)"
_MUCH = ("card cpu estimate (reconstructed): both >> chance (20%) by the 5th presentation; we read >> as at least "
         "1.5x chance")

PAPER = Paper(
    slug="synthetic-gradient-nmn",
    title="Fast & Slow Learning: Incorporating Synthetic Gradients in Neural Memory Controllers",
    kind="learning rule",
    arxiv="2011.05438",
    authors="Tharindu Fernando, Simon Denman, Sridha Sridharan, Clinton Fookes",
    year=2020,
    main_metric="sg_acc_p5",
    data=("mnist", "fashion-mnist"),
    claims=(
        Claim("sg_acc_p5", paper=_NOT_RETRIEVED, unit="%", source=f"{_ABSTRACT}; card 'What the paper claims' (few-shot)",
              what="MANN + SG meta-test accuracy at the 5th presentation of a class, 5-way 10-per-class episodes of "
                   "unseen MNIST / F-MNIST classes (the paper: Omniglot)",
              bands={("cpu", "full"): Band(lo=30.0, reason=_MUCH)}),
        Claim("mann_acc_p5", paper="baseline (no value retrieved)", unit="%", source="card cpu ladder (reconstructed)",
              what="MANN (same NMN, back-prop only) meta-test accuracy at the 5th presentation, same episodes",
              bands={("cpu", "full"): Band(lo=30.0, reason=_MUCH)}),
        Claim("sg_minus_mann_p2", paper="> 0 (SG controllers incorporate new samples faster; qualitative)", unit="points",
              source=f"{_ABSTRACT}; card cpu estimate", what="MANN + SG minus MANN meta-test accuracy at the 2nd "
              "presentation (same seeds, same test episodes)",
              bands={("cpu", "full"): Band(lo=0.0, reason="card cpu estimate (reconstructed): MANN + SG at least as "
                                                          "good as MANN at the 2nd presentation")}),
        Claim("sg_minus_mann_train_curve", paper="> 0 (faster learning; qualitative)", unit="points",
              source=f"{_ABSTRACT}; card cpu estimate",
              what="MANN + SG minus MANN training accuracy averaged over the training curve (epoch means)",
              bands={("cpu", "full"): Band(lo=0.0, reason="card cpu estimate (reconstructed): faster training-curve "
                                                          "rise with SG")}),
        Claim("eta0_max_diff", paper=0.0, source="card smoke test (a)",
              what="max |outputs of NMN + S at eta_fast = 0 - outputs of the plain MANN|",
              bands={"smoke": Band(hi=0.0, reason="card smoke (a): with eta_fast = 0 it is exactly a MANN")}),
        Claim("zero_init_fast_update", paper=0.0, source="card smoke test (b); DNI zero-initialised last layer",
              what="max |fast increment| after step 0 with zero-initialised S modules",
              bands={"smoke": Band(hi=0.0, reason="card smoke (b): exactly zero")}),
        Claim("toy_sg_cos", paper="> 0.9", source="card smoke test (c)",
              what="cosine of S's prediction with the true gradient of a fixed linear toy controller (quadratic loss) "
                   "after 200 regression steps",
              bands={"smoke": Band(lo=0.9, reason="card smoke (c): cosine > 0.9 after 200 steps")}),
        Claim("lrua_least_used_ok", paper=1.0, source="card smoke test (d); MANN Eq. 7-8 (LRUA)",
              what="1 if, with sigma(alpha) = 0, every write goes to the least-used slots and the least-used slot "
                   "is zeroed first",
              bands={"smoke": Band(lo=1.0, reason="card smoke (d): exact index check")}),
        Claim("fast_step_vjp_err", paper=0.0, source="card 'fast update' theta <- theta - eta (du/dtheta)^T g_hat",
              what="max relative error of the closed-form fast step against autograd (float64)",
              bands={"smoke": Band(hi=1e-12, reason="exact identity in float64 (round-off only)")}),
    ),
)
