"""Layer-wise Regularized Adversarial Training using Layers Sustainability Analysis (Khalooei et al. 2022).

>>> from paperzoo.papers.lsa_atlr import ATLRLoss, make_attack, most_vulnerable_layers, lsa_profile, moon_mlp
>>> prof = lsa_profile(model, x, y, make_attack("fgsm", 0.1, clip=None))   # (batches, probes) relative errors
>>> loss = ATLRLoss(model, make_attack("pgd", 0.1, clip=None), mvl=most_vulnerable_layers(prof), gamma=1.0)
"""
from paperzoo.papers.lsa_atlr.attacks import ATTACKS, fgsm, make_attack, noise, pgd
from paperzoo.papers.lsa_atlr.lsa import (
    PROBE_TYPES,
    ATLRLoss,
    capture,
    lsa_profile,
    most_vulnerable_layers,
    probe_activations,
    probe_modules,
    relative_error,
    relative_error_profile,
)
from paperzoo.papers.lsa_atlr.models import LSACNN, lsa_cnn, moon_mlp
from paperzoo.papers.lsa_atlr.probe import default_layers, layer_sustainability, lsa_layers
from paperzoo.papers.lsa_atlr.training import accuracy, pair_run, robustness_curve, train
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["ATTACKS", "ATLRLoss", "LSACNN", "PAPER", "PROBE_TYPES", "accuracy", "capture", "default_layers", "fgsm",
           "layer_sustainability", "lsa_cnn", "lsa_layers", "lsa_profile", "make_attack", "moon_mlp",
           "most_vulnerable_layers", "noise", "pair_run", "pgd", "probe_activations", "probe_modules", "relative_error",
           "relative_error_profile", "robustness_curve", "train"]

_ABSTRACT = "arXiv abstract (card: eps, attack and points-vs-relative reading unverified)"
_MOON_CPU = "card cpu rung (i): mean gain >= 3 points at eps 0.3 and 0.4 (PGD-10 AT, >= 3 seeds)"
_MNIST_CPU = "card cpu rung (ii): AT-LR >= AT at the two largest eps (unverified at this scale)"
_MNIST_FULL = "card full rung: target the sign of the paper's delta at the largest eps (per-eps values unknown)"
_LSA = ("card 'What the paper claims' (LSA figures): adversarial (PGD > FGSM) perturbations give larger layer-wise "
        "relative error than statistical noise")

PAPER = Paper(
    slug="lsa-atlr",
    title="Layer-wise Regularized Adversarial Training using Layers Sustainability Analysis (LSA) framework",
    kind="probe",
    arxiv="2202.02626",
    authors="Mohammad Khalooei, Mohammad Mehdi Homayounpour, Maryam Amirmazlaghani",
    year=2022,
    code="https://github.com/khalooei/LSA",
    main_metric="mnist_gain_e04",
    data=("mnist",),
    claims=(
        Claim("cm_identity_err", paper=0.0, source="CM definition, official layersustainabilityanalysis.py (card)",
              what="max of |CM(x, x)| and |CM(x, c x) - |c - 1|| (bias-free ReLU MLP, c in {0.25, 0.9, 1.5, 3}), float64",
              bands={("smoke", "cpu", "full"): Band(hi=1e-6, reason="card smoke rung (a): CM(x, x) = 0 exactly and "
                                                                    "CM = |c - 1| to 1e-6 for a homogeneous net")}),
        Claim("moon_clean_min", paper="clean accuracy kept (not quantified)", source="card smoke rung (c)", unit="%",
              what="Moon: lowest clean test accuracy over seeds of base AT and AT-LR",
              bands={"smoke": Band(lo=95.0, reason="card smoke rung (c): both >= 95 % clean accuracy"),
                     ("cpu", "full"): Band(lo=95.0, reason="card smoke rung (c) threshold (the card's PGD check "
                                                           "saw 99.8-99.9 % for both)")}),
        Claim("moon_mvl_cm_ratio", paper="AT-LR lowers the MVL relative error (not quantified)",
              source="card smoke rung (c); paper: AT-LR regularises the MVL",
              what="Moon: CM of the MVL probes under FGSM at eps_train, base AT / AT-LR (test set, mean over seeds)",
              bands={"smoke": Band(lo=3.0, reason="card smoke rung (c): AT-LR's CM on the MVL >= 3x lower "
                                                  "(card check 0.22 -> 0.02)"),
                     ("cpu", "full"): Band(lo=3.0, reason="card smoke rung (c) threshold, here with PGD-10 "
                                                          "training")}),
        Claim("moon_gain_e03", paper=16.35, source=_ABSTRACT, unit="points",
              what="Moon: robust accuracy AT-LR - base AT under PGD-20 at eps 0.3 (eps_train 0.1), mean over seeds",
              bands={("cpu", "full"): Band(lo=3.0, reason=_MOON_CPU)}),
        Claim("moon_gain_e04", paper=16.35, source=_ABSTRACT, unit="points",
              what="Moon: as moon_gain_e03 at eps 0.4",
              bands={("cpu", "full"): Band(lo=3.0, reason=_MOON_CPU)}),
        Claim("mnist_gain_e035", paper=21.79, source=_ABSTRACT, unit="points",
              what="MNIST CNN: robust accuracy AT-LR - base AT under PGD-20 at eps 0.35 (eps_train 0.3)",
              bands={"cpu": Band(lo=0.0, reason=_MNIST_CPU), "full": Band(lo=0.0, reason=_MNIST_FULL)}),
        Claim("mnist_gain_e04", paper=21.79, source=_ABSTRACT, unit="points",
              what="MNIST CNN: as mnist_gain_e035 at eps 0.4",
              bands={"cpu": Band(lo=0.0, reason=_MNIST_CPU), "full": Band(lo=0.0, reason=_MNIST_FULL)}),
        Claim("mnist_clean_gap", paper="not stated", source="card cpu rung (ii)", unit="points",
              what="MNIST CNN: |clean accuracy of base AT - clean accuracy of AT-LR|",
              bands={"cpu": Band(hi=2.0, reason="card cpu rung (ii): clean accuracy within 2 points")}),
        Claim("mnist_fgsm_over_noise", paper="> 1", source="LSA figures (card; figure values not retrieved)",
              what="MNIST base-AT CNN: smallest per-probe ratio CM(FGSM) / CM(random-sign noise of the same size), "
                   "eps_train, test inputs",
              bands={("cpu", "full"): Band(lo=1.0, reason=_LSA)}),
        Claim("mnist_pgd_over_fgsm", paper="> 1", source="LSA figures (card; figure values not retrieved)",
              what="MNIST base-AT CNN: smallest per-probe ratio CM(PGD-20) / CM(FGSM) at eps_train, test inputs",
              bands={("cpu", "full"): Band(lo=1.0, reason=_LSA)}),
    ),
)
