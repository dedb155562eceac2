"""Learning Hierarchical Polynomials with Three-Layer Neural Networks (Wang, Nichani, Lee; ICLR 2024).

Targets h = g o p (p of degree k, g of degree q) on Gaussian inputs: a three-layer net trained layer by layer
first learns a feature proportional to p (one gradient step through frozen random features), then fits the
link g, with O~(d^k) samples, while rotation-invariant kernels need Theta~(d^{kq}). Here: the target, the
card's layer-wise net (a reconstruction of Algorithm 1) and the random-feature ridge baseline, with the
sample-complexity sweep.
"""
from paperzoo.papers.hierarchical_polynomials.model import (
    ThreeLayerNet,
    feature_alignment,
    hierarchical_three_layer,
    relative_mse,
    rf_ridge_baseline,
    ridge_solve,
    ridge_validated,
)
from paperzoo.papers.hierarchical_polynomials.target import (
    HierarchicalPolyTask,
    gauss_hermite,
    hermite,
    hermite_orthonormality_err,
    link,
    link_moments,
)
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["PAPER", "HierarchicalPolyTask", "ThreeLayerNet", "feature_alignment", "gauss_hermite", "hermite",
           "hermite_orthonormality_err", "hierarchical_three_layer", "link", "link_moments", "relative_mse",
           "rf_ridge_baseline", "ridge_solve", "ridge_validated"]

_ALL = ("smoke", "cpu", "full")
_BIG = ("cpu", "full")

PAPER = Paper(
    slug="hierarchical-polynomials",
    title="Learning Hierarchical Polynomials with Three-Layer Neural Networks",
    kind="theory",
    arxiv="2311.13774",
    authors="Zihao Wang, Eshaan Nichani, Jason D. Lee",
    year=2024,
    main_metric="mse3_n16000",
    claims=(
        Claim("hermite_orthonormality_err", paper=0.0, source="target definition (card: normalised Hermite He_j/sqrt(j!))",
              what="max |E[He_i He_j] - delta_ij| over i, j <= 6 by Gauss-Hermite quadrature",
              bands={_ALL: Band(hi=1e-10, reason="exact identity in float64")}),
        Claim("link_variance_err", paper=0.0, source="card: g = (z + He_3/sqrt 6)/sqrt 2 has unit variance",
              what="|E[g(Z)^2] - 1|, Z ~ N(0, 1), by quadrature",
              bands={_ALL: Band(hi=1e-10, reason="exact identity in float64")}),
        Claim("link_linear_coef", paper=1 / 2 ** 0.5, source="card pitfall: stage 1 needs E[g'(Z)] != 0",
              what="E[g'(Z)] = E[Z g(Z)] (Stein) of the default link",
              bands={_ALL: Band(0.7071067811, 0.7071067812, reason="exact value 1/sqrt 2 of the card's link")}),
        Claim("corr_n8000", paper="hidden pre-activations become ~ proportional to p (feature learning)",
              source="proof sketch (card); card smoke rung", what="d = 8, k = 2, n = 8000, m2 = 1024: corr(u, p) on 4000 "
              "test points", bands={"smoke": Band(lo=0.85, reason="card smoke rung: >= 0.85 (card saw 0.91-0.97)")}),
        Claim("corr_shuffled_n8000", paper="no feature without signal", source="card smoke rung (shuffled-label control)",
              what="the same with shuffled stage-1 labels",
              bands={"smoke": Band(hi=0.3, reason="card smoke rung: <= 0.3 when labels are shuffled")}),
        Claim("corr_n4000", paper="feature learning with O~(d^k) samples", source="main theorem; card cpu rung",
              what="d = 16, k = 2, n = 4000 per stage: corr(u, p), mean of 3 seeds",
              bands={_BIG: Band(lo=0.9, reason="card cpu rung: corr(u, p) >= 0.9 for n >= 4k")}),
        Claim("mse3_n16000", paper="vanishing test error with O~(d^k) samples (k = 2: O~(d^2))",
              source="main theorem / corollary (abstract, source-checked); card cpu rung", unit="MSE/Var(y)",
              what="d = 16, n = 16000 per stage: three-layer layer-wise net, relative test MSE (3 seeds)",
              bands={_BIG: Band(hi=0.35, reason="card cpu rung: three-layer relative test MSE <= 0.35 at n = 16k")}),
        Claim("mserf_n16000", paper="kernels need Theta~(d^{kq}) samples", source="kernel lower bound (abstract); card cpu "
              "rung", unit="MSE/Var(y)", what="d = 16: RF ridge on sigma2(Vx) with 2 x 16000 samples, relative test MSE",
              bands={_BIG: Band(lo=0.6, reason="card cpu rung: the RF baseline stays >= 0.6 at n = 16k")}),
        Claim("gap_growth", paper="the gap grows with n", source="card cpu rung", unit="MSE/Var(y)",
              what="(RF - three-layer) relative MSE at the largest n minus at the smallest n",
              bands={_BIG: Band(lo=0.0, reason="card cpu rung: the gap grows with n")}),
        Claim("n90_ratio_d24_d16", paper="n ~ d^k = d^2 (unverified: card's reconstruction)",
              source="main theorem; card cpu rung (optional d = 24 curve)",
              what="n where corr(u, p) crosses 0.9 at d = 24 over that at d = 16",
              bands={"full": Band(1.5, 3.5, reason="card: ~ (24/16)^2 = 2.25x; tolerance ours, set before any run")}),
    ),
)
