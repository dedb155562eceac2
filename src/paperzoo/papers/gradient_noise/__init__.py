"""Adding Gradient Noise Improves Learning for Very Deep Networks (Neelakantan et al., 2015).

Annealed Gaussian gradient noise ``g_t <- g_t + N(0, eta / (1 + t)^gamma)`` as a wrapper around
any torch optimizer (``NoisyOptimizer``), the bare noise source (``AnnealedGaussianGradientNoise``),
and the paper's 20 x 50 ReLU MLP / MNIST grid experiment (``deep_mlp``, ``grid``).
"""
from paperzoo.papers.gradient_noise.checks import eta0_identity, noise_statistics, restore_identity
from paperzoo.papers.gradient_noise.experiment import deep_mlp, format_table, grid, prepare_data, summarise, train_run
from paperzoo.papers.gradient_noise.noise import AnnealedGaussianGradientNoise, NoisyOptimizer, sigma2
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["AnnealedGaussianGradientNoise", "NoisyOptimizer", "PAPER", "deep_mlp", "eta0_identity", "format_table",
           "grid", "noise_statistics", "prepare_data", "restore_identity", "sigma2", "summarise", "train_run"]

_EQ = "N(0, eta/(1+t)^gamma)"
_STATS = "card, smoke ladder (a): 100k elements at t = 0, 100, 10000"


def _all(lo=None, hi=None, reason=""):
    return {p: Band(lo=lo, hi=hi, reason=reason) for p in ("smoke", "cpu", "full")}


PAPER = Paper(
    slug="gradient-noise",
    title="Adding Gradient Noise Improves Learning for Very Deep Networks",
    kind="learning rule",
    package=__name__,
    arxiv="1511.06807",
    authors="Neelakantan, Vilnis, Le, Sutskever, Kaiser, Kurach, Martens",
    year=2015,
    main_metric="best_noisy_cell_mean_acc",
    data=("mnist",),
    protocols={
        "smoke": "noise statistics vs Eq. 1, eta=0 bit-identity, checkpoint round trip; a 2-run grid on 512 MNIST "
                 "images (code path only, no learning claim)",
        "cpu": "card main protocol: 60k MNIST, 20x50 ReLU MLP, N(0, 0.1^2) init, SGD batch 128, clip 100, 20 epochs; "
               "grid eta {0, 0.05, 0.1, 0.3} x lr {0.05, 0.1} x 2 seeds (16 runs), 10k test",
        "full": "card full protocol: 60k MNIST, 20 epochs, eta {0, 0.01, 0.3, 1.0} x lr {0.01, 0.05, 0.1} x 10 seeds "
                "x clip {10, 100} from N(0, 0.1^2) init, plus a He-init control (clip 100)",
    },
    claims=(
        Claim("no_noise_max_acc", paper="~11 (chance)",
              source="Table 1 (card)", unit="%",
              what="best final test accuracy over every eta = 0 run from the N(0, 0.1^2) init (paper: "
                   "without noise training fails, ~chance)",
              bands={p: Band(hi=12.0, reason="card: all eta = 0 runs <= 12% (no-noise runs stay at chance, 11.35%)")
                     for p in ("cpu", "full")}),
        Claim("best_noisy_cell_mean_acc", paper="mid-90s", source="Table 1 (card)", unit="%",
              what="best (eta > 0, lr) cell's mean final test accuracy over seeds",
              bands={"cpu": Band(lo=90.0, reason="card: at least one noisy (eta, lr) cell with mean >= 90% "
                                                 "(card measured 94.4-94.9% at eta 0.1, lr 0.05)")}),
        Claim("best_noisy_run_acc", paper="mid-90s", source="Table 1 (card)", unit="%",
              what="best final test accuracy over every eta > 0 run from the N(0, 0.1^2) init",
              bands={"full": Band(lo=90.0, reason="card: with noise the best runs reach the mid-90s (%)")}),
        Claim("he_noise_minus_no_noise", paper="not worse", source="card (full ladder)",
              unit="pp", what="He init: best noisy cell mean minus best eta = 0 cell mean (test accuracy)",
              bands={"full": Band(lo=-1.0, reason="card: He-init control where noise should not hurt "
                                                  "(the 1 pp allowance for seed noise is ours)")}),
        Claim("noise_var_rel_err", paper=_EQ, source="Sec. 2, Eq. 1", what="max |sample var / sigma_t^2 - 1| (Eq. 1: i.i.d. N(0, sigma_t^2) per element)",
              bands=_all(hi=0.03, reason=f"{_STATS}: variance within 3% of eta / (1 + t)^gamma")),
        Claim("noise_mean_z", paper=_EQ, source="Sec. 2, Eq. 1", what="max |mean| in standard errors",
              bands=_all(hi=3.0, reason=f"{_STATS}: mean within 3 standard errors of 0")),
        Claim("noise_lag1_abs_corr", paper=_EQ, source="Sec. 2, Eq. 1",
              what="max |corr(noise_t, noise_t+1)|", bands=_all(hi=0.02, reason=f"{_STATS}: |corr| < 0.02")),
        Claim("eta0_max_abs_diff", paper="identical", source="card, smoke ladder (b)",
              what="max |param difference| vs the bare optimizer (SGD, SGD+Nesterov, Adam, AdamW, RMSprop)",
              bands=_all(lo=0.0, hi=0.0, reason="card: eta = 0 is bit-identical to the base optimizer")),
        Claim("restore_max_abs_diff", paper="identical", source="card, smoke ladder (c)",
              what="max |param difference| live vs restored-from-checkpoint run",
              bands=_all(lo=0.0, hi=0.0, reason="card: same seed => same noise after save/restore")),
    ),
)
