"""How Powerful are Shallow Neural Networks with Bandlimited Random Weights? (Li, Sonoda, Cao, Wang, Liang; ICML 2023).

Random-feature networks g_d(x) = sum_j c_j sigma(a_j . x - b_j) whose hidden weights are drawn from a
bounded box U[-lam, lam] and frozen, with output weights fitted by least squares: their error has a
strictly positive floor whenever the target's spectrum lies outside what the box can synthesise, and
the suitable lam grows with the target's complexity.
"""
from paperzoo.papers.bandlimited_random.features import Gaussian, RandomFeatureNet, UniformBox, UniformBoxAB, rmse
from paperzoo.papers.bandlimited_random.models import random_feature_net
from paperzoo.papers.bandlimited_random.sweep import error_floor_sweep, floor_per_lambda, spearman, suitable_lambda
from paperzoo.papers.bandlimited_random.targets import TARGETS, bump3, fourier_tail, regression_data, sine
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["Gaussian", "PAPER", "RandomFeatureNet", "TARGETS", "UniformBox", "UniformBoxAB", "bump3",
           "error_floor_sweep", "floor_per_lambda", "fourier_tail", "random_feature_net", "regression_data", "rmse",
           "sine", "spearman", "suitable_lambda"]

_ALL = ("smoke", "cpu", "full")
_BIG = ("cpu", "full")
_RQ1 = "paper, simulation section: RQ1 (effect of the bandwidth lam), 1-D toy regression"
_RQ2 = "paper, simulation section: RQ2 (suitable weight range vs target complexity)"

PAPER = Paper(
    slug="bandlimited-random",
    title="How Powerful are Shallow Neural Networks with Bandlimited Random Weights?",
    kind="theory",
    arxiv="2008.08427",
    authors="Ming Li, Sho Sonoda, Feilong Cao, Yu Guang Wang, Jiye Liang",
    year=2023,
    main_metric="t1_lam1_rmse_d1000",
    claims=(
        Claim("t1_lam1_rmse_d1000", paper="> 0 for every d (no universal approximation)",
              source="main theorem (ridgelet lower bound); card smoke rung", unit="RMSE",
              what="T1, a, b ~ U[-1, 1], d = 1000: median test RMSE (the floor)",
              bands={_ALL: Band(lo=0.04, reason="card smoke rung: RMSE >= 0.04 at lam = 1 (card's check: 6.3e-2)")}),
        Claim("t1_lam1_plateau_rel", paper="plateau: no gain from width", source=_RQ1,
              what="T1, lam = 1: |RMSE(d=1000) - RMSE(d=200)| / RMSE(d=200)",
              bands={_ALL: Band(hi=0.05, reason="card smoke rung: d = 1000 within 5% of d = 200 at lam = 1")}),
        Claim("t1_lam200_rmse_d1000", paper="-> 0 for a suitable lam", source=_RQ1, unit="RMSE",
              what="T1, lam = 200, d = 1000: median test RMSE",
              bands={_ALL: Band(hi=1e-4, reason="card smoke rung: <= 1e-4 (card's check: 9.4e-7)")}),
        Claim("t2k16_lam5_min_rmse", paper="floor for a complex target", source=_RQ2, unit="RMSE",
              what="sin(2 pi 16 x), lam = 5: smallest median test RMSE over d <= 2000",
              bands={_ALL: Band(lo=0.3, reason="card smoke rung: >= 0.3 for every d <= 2000 (card's check: 0.70)")}),
        Claim("t2k16_lam200_rmse_d1000", paper="-> 0 for a suitable lam", source=_RQ2, unit="RMSE",
              what="sin(2 pi 16 x), lam = 200, d = 1000: median test RMSE",
              bands={_ALL: Band(hi=1e-3, reason="card smoke rung: <= 1e-3 at d = 1000")}),
        Claim("suitable_lambda_grows", paper="suitable lam grows with target complexity",
              source="paper, abstract take-home (ii) and simulation section RQ2",
              what="1 if the smallest lam in {1, 5, 20, 50, 200} with RMSE < 1e-3 at d = 1000 is non-decreasing "
                   "in k = 1, 4, 16 and larger at 16 than at 1",
              bands={_BIG: Band(lo=1.0, reason="card cpu rung: suitable lam grows with complexity (card got 1, 5, 50)")}),
        Claim("t1_floor_lambda_spearman", paper="floor decreasing in lam", source="main theorem; card cpu rung",
              what="Spearman rank correlation of lam with T1's best median RMSE over d",
              bands={_BIG: Band(hi=-0.9, reason="card cpu rung: floor(lam) decreasing in lam; -0.9 tolerates one "
                                                "adjacent swap among 5 lams (ours: the two largest sit near 1e-9)")}),
        Claim("floor_tail_rank_corr", paper="unverified: proxy is the card's, not the paper's",
              source="ours: Fourier-tail proxy of the paper's ridgelet lower bound (main theorem); not a paper number",
              what="Spearman(floor at d = 1000, tail(kappa lam) ||f||) over (target, lam) cells above 1e-6",
              bands={_BIG: Band(lo=0.9, reason="card cpu rung: the floor tracks the Fourier-tail proxy, rank "
                                               "correlation >= 0.9")}),
        Claim("floor_rcond_rel_change", paper="the floor is not a regularisation artefact",
              source="ours: regularisation check of the paper's Step II least squares; not a paper number",
              what="T1, lam = 1, d = 1000: relative change of the median RMSE from rcond 1e-10 to 1e-13",
              bands={_BIG: Band(hi=0.05, reason="card pitfall: the floor must survive mu -> 0 (5% tolerance ours)")}),
    ),
)
