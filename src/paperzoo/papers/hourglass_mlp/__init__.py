"""Hourglass MLP: wide-narrow-wide residual blocks on a frozen random lift (Chen et al., 2025).

>>> import paperzoo as pz
>>> model = pz.create_model("hourglass_mlp")                 # MNIST classifier, W_in frozen
>>> net = pz.papers.hourglass_mlp.HourglassMLP(784, 784, d_z=2048, d_h=128, n_blocks=4)
"""
from paperzoo.papers.hourglass_mlp.layers import HourglassBlock, ResidualBlock, ResidualMLPBlock, random_projection
from paperzoo.papers.hourglass_mlp.model import (
    ConventionalResMLP,
    HourglassMLP,
    conventional_params,
    count_trainable,
    frozen_drift,
    hourglass_mlp,
    hourglass_mlp_regressor,
    hourglass_params,
    jl_ratios,
    residual_identity_error,
    residual_mlp,
    residual_mlp_regressor,
)
from paperzoo.papers.hourglass_mlp.sweep import (
    Arch,
    budget_points,
    compare_frontiers,
    conventional_grid,
    frontier_at,
    hourglass_grid,
    pareto_frontier,
)
from paperzoo.papers.hourglass_mlp.tasks import ClassifyTask, DenoiseTask, SuperResTask, make_task, psnr
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

_FRONTIER = "abstract (source-checked): Hourglass 'consistently achieve[s] superior Pareto frontiers'; numbers not retrieved"
_EXACT = ("smoke", "cpu", "full")

PAPER = Paper(
    slug="hourglass-mlp", title="Rethinking the shape convention of an MLP (Hourglass MLP)", kind="architecture",
    arxiv="2510.01796", authors="Meng-Hsi Chen, Yu-Ang Lee, Feng-Ting Liao, Da-shan Shiu", year=2025, code="",
    main_metric="frontier_gap_db", data=("mnist",),
    claims=(
        Claim("frontier_gap_db", paper="Hourglass frontier above the conventional one", source=_FRONTIER, unit="dB",
              what="MNIST denoising (sigma 0.5): mean PSNR gap, Hourglass - conventional frontier, at 3 shared budgets",
              bands={("cpu", "full"): Band(lo=0.3, reason="card cpu ladder: a ~0.3 dB or larger gap is the plausible "
                                                         "band; smaller counts as not reproduced at this scale")}),
        Claim("frontier_wins", paper="at every budget", source=_FRONTIER, unit="of 3",
              what="budgets (of 3) where the Hourglass frontier's PSNR >= the conventional frontier's (+-15 % match)",
              bands={("cpu", "full"): Band(lo=2, reason="card cpu ladder: Hourglass >= conventional at >= 2 of 3 "
                                                       "budget points")}),
        Claim("frozen_minus_trained_db", paper="comparable (frozen is enough)", unit="dB",
              source="abstract: W_in 'can remain fixed at random initialization'; ablation numbers not retrieved "
                     "(unverified)",
              what="PSNR of the smallest Hourglass with W_in frozen minus the same shape with W_in trained",
              bands={("cpu", "full"): Band(lo=-0.3, reason="card: frozen is 'comparable' to trained; a deficit below "
                                                          "the card's 0.3 dB effect size counts as comparable")}),
        Claim("scaling_score", paper="deeper, wider d_z, narrower d_h", unit="of 3 trends",
              source="abstract (source-checked): optimal Hourglass configurations favor deeper networks with wider "
                     "skip connections and narrower bottlenecks as budgets increase",
              what="trends (L up, d_z up, d_h down; non-strict) from the smallest to the largest budget's best Hourglass",
              bands={"full": Band(lo=3, reason="abstract: all three trends hold as the budget grows (card full step)")}),
        Claim("sr_frontier_gap_db", paper="Hourglass frontier above the conventional one", source=_FRONTIER, unit="dB",
              what="MNIST 4x super-resolution: mean PSNR gap of the frontiers at 3 shared budgets",
              bands={"full": Band(lo=0.3, reason="card: the same ~0.3 dB effect size as for denoising (PSNR task)")}),
        Claim("cls_frontier_gap_pct", paper="Hourglass frontier above the conventional one", source=_FRONTIER,
              unit="% acc", what="MNIST classification (stand-in for 'generative classification', reconstructed): "
                                 "mean accuracy gap of the frontiers",
              bands={"full": Band(lo=0.0, reason="abstract: superior frontier; no effect size known for this "
                                                 "stand-in task, so any non-negative gap")}),
        Claim("w_in_drift", paper=0.0, source="abstract (W_in fixed at random init); card smoke (a)+(b)",
              what="max |W_in after training - W_in regenerated from its seed| over every trained Hourglass",
              bands={_EXACT: Band(hi=0.0, reason="frozen and seed-generated: bit-identical (card smoke (a), (b))")}),
        Claim("residual_identity_err", paper=0.0, source="Fig. 1 / card smoke (c)",
              what="float64: zero W_up -> the network is exactly W_out W_in x + b",
              bands={_EXACT: Band(hi=1e-12, reason="exact identity in float64 (card smoke (c))")}),
        Claim("jl_ratio_min", paper=0.8, source="card smoke (d) (N(0, 1/d_z) projection: card, unverified)",
              what="min over 100 MNIST test pairs of ||W_in(x-y)|| / ||x-y||, d_z = 2048",
              bands={_EXACT: Band(lo=0.8, reason="card smoke (d): ratios within [0.8, 1.2] at d_z = 2048")}),
        Claim("jl_ratio_max", paper=1.2, source="card smoke (d) (N(0, 1/d_z) projection: card, unverified)",
              what="max over 100 MNIST test pairs of ||W_in(x-y)|| / ||x-y||, d_z = 2048",
              bands={_EXACT: Band(hi=1.2, reason="card smoke (d): ratios within [0.8, 1.2] at d_z = 2048")}),
        Claim("count_err", paper=0.0, source="card: trainable count L(2 d_z d_h + d_z + d_h + 2 d_z) + d_out(d_z + 1)",
              what="sum over every trained model of |trainable parameters - closed form|",
              bands={_EXACT: Band(hi=0.0, reason="exact count (card smoke (e))")}),
    ),
)

__all__ = [
    "PAPER", "Arch", "ClassifyTask", "ConventionalResMLP", "DenoiseTask", "HourglassBlock", "HourglassMLP",
    "ResidualBlock", "ResidualMLPBlock", "SuperResTask", "budget_points", "compare_frontiers", "conventional_grid",
    "conventional_params", "count_trainable", "frontier_at", "frozen_drift", "hourglass_grid", "hourglass_mlp",
    "hourglass_mlp_regressor", "hourglass_params", "jl_ratios", "make_task", "pareto_frontier", "psnr",
    "random_projection", "residual_identity_error", "residual_mlp", "residual_mlp_regressor",
]
