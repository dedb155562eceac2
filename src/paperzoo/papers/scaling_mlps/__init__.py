"""Scaling MLPs: A Tale of Inductive Bias (Bachmann, Anagnostidis, Hofmann, NeurIPS 2023).

>>> from paperzoo.papers import scaling_mlps as sm
>>> net = sm.from_arch_string("B_6-Wi_512", dim_in=3 * 32 * 32, n_classes=10)   # inverted-bottleneck MLP
>>> opt = sm.Lion(net.parameters(), lr=5e-5)                                     # the paper's optimiser
>>> law = sm.fit_power_law(compute, test_error)                                  # error = a C^-b + c
"""
from paperzoo.papers.scaling_mlps.models import (
    BottleneckBlock,
    BottleneckMLP,
    StandardMLP,
    bottleneck_mlp,
    bottleneck_params,
    from_arch_string,
    parse_arch,
    standard_mlp,
    standard_params,
)
from paperzoo.papers.scaling_mlps.scaling import (
    PowerLawFit,
    fit_power_law,
    forward_macs,
    is_decreasing,
    train_flops,
)
from paperzoo.papers.scaling_mlps.training import Lion, flip_crop, make_loss, make_optimizer, mixup
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["BottleneckBlock", "BottleneckMLP", "Lion", "PAPER", "PowerLawFit", "StandardMLP", "bottleneck_mlp",
           "bottleneck_params", "fit_power_law", "flip_crop", "forward_macs", "from_arch_string", "is_decreasing",
           "make_loss", "make_optimizer", "mixup", "parse_arch", "standard_mlp", "standard_params", "train_flops"]

ALL = ("smoke", "cpu", "full")
SCALE = ("cpu", "full")
_CPU = "card cpu ladder (Fashion-MNIST 20k, 8 epochs): "
_FIG1 = "paper Fig. 1 (test error a power law in compute) / "

CLAIMS = (
    Claim("param_count_err", paper=0.0, source="official models/networks.py; card smoke (a)",
          what="|params of B_6-Wi_512 (3072 in, 10 out) - closed form 14,182,922|",
          bands={ALL: Band(hi=0.0, reason="card smoke (a): exact integer identity")}),
    Claim("lion_step_err", paper=0.0, source="LION update (Chen et al. 2023), official utils/optimizer.py; card smoke (b)",
          what="max | |delta theta| - lr | over all weights after one LION step (wd 0, float64)",
          bands={ALL: Band(hi=1e-12, reason="card smoke (b): every weight with a gradient moves by exactly lr")}),
    Claim("fit_recovery_err", paper=0.0, source="fit method (scaling.py); Fig. 1 power law",
          what="max relative error of (a, b, c) fitted to noiseless error = 3e3 C^-0.3 + 4 on 7 points",
          bands={ALL: Band(hi=1e-6, reason="a correct fit recovers a noiseless law exactly (up to the search tolerance)")}),
    Claim("overfit_train_acc", paper=100.0, source="card smoke (c)", unit="%",
          what="B_2-Wi_64, 512 MNIST images, Adam 1e-3, 200 full-batch steps: train accuracy",
          bands={ALL: Band(lo=100.0, reason="card smoke (c): 100 % train accuracy in 200 steps")}),
    Claim("fmnist_bottleneck_acc", paper=None, source="card cpu ladder (no paper number on Fashion-MNIST)", unit="%",
          what="Fashion-MNIST test accuracy (10k) of the bottleneck MLP B_4-Wi_128",
          bands={"cpu": Band(lo=89.0, reason=_CPU + "~89-90 % expected for the bottleneck")}),
    Claim("fmnist_bottleneck_minus_standard", paper="bottleneck > standard", unit="points",
          source="paper Table 1 (qualitative; numbers not retrieved) via card",
          what="Fashion-MNIST: B_4-Wi_128 minus standard MLP 4x512 (twice the parameters) test accuracy",
          bands={SCALE: Band(lo=0.3, reason=_CPU + "bottleneck >= standard at equal or fewer params, >= +0.3 points")}),
    Claim("fmnist_ladder_monotone", paper="error falls with scale", source=_FIG1 + "card cpu ladder",
          what="1 if Fashion-MNIST test error strictly decreases along B_4-Wi_{32,64,128,256}",
          bands={SCALE: Band(lo=1.0, reason=_CPU + "test error decreases monotonically along the ladder")}),
    Claim("fmnist_fit_exponent", paper="power law in compute", source=_FIG1 + "card cpu ladder",
          what="b of error = a C^-b fitted on log-log axes over the Fashion-MNIST ladder",
          bands={SCALE: Band(lo=1e-6, reason=_CPU + "power-law fit in compute gives a negative exponent (b > 0)")}),
    Claim("fmnist_fit_r2", paper="power law in compute", source=_FIG1 + "card cpu ladder",
          what="R^2 (log space) of that fit",
          bands={SCALE: Band(lo=0.8, reason=_CPU + "R^2 >= 0.8")}),
    Claim("cifar_bottleneck_acc", paper=None, unit="%", source="card full setting (Table 1 numbers not retrieved)",
          what="CIFAR-10 from scratch, bottleneck MLP, accuracy on the 1,000-image official test subset",
          bands={"full": Band(65.0, 75.0, reason="card: ~65-75 % literature expectation for an augmented from-scratch "
                                                 "MLP at ~100 epochs; no paper number for this budget")}),
    Claim("cifar_bottleneck_minus_standard", paper="bottleneck > standard", unit="points",
          source="paper Table 1 (qualitative: inverted bottleneck helps a lot; numbers not retrieved) via card",
          what="CIFAR-10 1k-test subset: bottleneck minus standard MLP accuracy (bottleneck at equal or fewer params)",
          bands={SCALE: Band(lo=0.0, reason="card/paper Table 1: the inverted-bottleneck MLP beats the standard MLP "
                                            "(direction only; +-3 points CI on 1,000 images)")}),
    Claim("cifar_ladder_monotone", paper="error falls with scale", source=_FIG1 + "card",
          what="1 if CIFAR-10 subset test error strictly decreases along the bottleneck ladder",
          bands={SCALE: Band(lo=1.0, reason="card: error decreases monotonically along the ladder (Fig. 1 scaling)")}),
    Claim("cifar_fit_exponent", paper="power law in compute", source=_FIG1 + "card",
          what="b of error = a C^-b fitted over the CIFAR-10 ladder",
          bands={SCALE: Band(lo=1e-6, reason="card: power-law fit in compute gives a negative exponent (b > 0)")}),
    Claim("cifar_fit_r2", paper="power law in compute", source=_FIG1 + "card",
          what="R^2 (log space) of that fit",
          bands={SCALE: Band(lo=0.8, reason="card cpu criterion R^2 >= 0.8 (stated for Fashion-MNIST), applied to CIFAR-10")}),
    Claim("cifar10_in21k_tta_acc", paper=95.5, unit="%", source="official README; NeurIPS 2023 abstract (95 %)",
          what="B_12-Wi_1024, ImageNet-21k pre-trained (800 ep) + fine-tuned + test-time augmentation: not run "
               "(no ImageNet-21k here)"),
)

PAPER = Paper(
    slug="scaling-mlps", title="Scaling MLPs: A Tale of Inductive Bias", kind="architecture", arxiv="2306.13575",
    authors="Gregor Bachmann, Sotiris Anagnostidis, Thomas Hofmann", year=2023,
    code="https://github.com/gregorbachmann/scaling_mlps", main_metric="cifar_bottleneck_acc",
    data=("fashion-mnist", "mnist", "cifar10"), claims=CLAIMS,
)
