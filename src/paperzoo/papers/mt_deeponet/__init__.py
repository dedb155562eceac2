"""Synergistic Learning with Multi-Task DeepONet for Efficient PDE Problem Solving (Kumar, Goswami, Kontolati, Shields,
Karniadakis; arXiv 2408.02198, Neural Networks 2025).

One DeepONet learns several tasks at once: a Fisher reaction-diffusion operator whose reaction term comes from three
functional families (the branch reads the term's degree-4 Taylor coefficients next to the initial condition), and Darcy
flow on several geometries (a binary geometry mask is a branch input channel and multiplies the output, so no loss is
spent outside the domain); the multi-task Darcy model is then fine-tuned on a new geometry with 100 samples.
"""
from paperzoo.papers.mt_deeponet.data import (
    FAMILIES,
    GEOMETRIES,
    darcy_geometry_dataset,
    fisher_dataset,
    fisher_family,
    geometry_mask,
    reaction,
    taylor_coeffs,
)
from paperzoo.papers.mt_deeponet.model import (
    DarcyBranchCNN,
    DarcyMTDeepONet,
    FisherBranchMLP,
    MTDeepONet,
    Trunk,
    freeze_for_transfer,
    grid_coords,
    mt_deeponet_darcy,
    mt_deeponet_fisher,
)
from paperzoo.papers.mt_deeponet.training import (
    Standardizer,
    darcy_errors,
    darcy_set,
    masked_mse,
    predict_fisher,
    relative_l2,
    train_darcy_source,
    train_darcy_target,
    train_fisher,
)
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["FAMILIES", "GEOMETRIES", "PAPER", "DarcyBranchCNN", "DarcyMTDeepONet", "FisherBranchMLP", "MTDeepONet",
           "Standardizer", "Trunk", "darcy_errors", "darcy_geometry_dataset", "darcy_set", "fisher_dataset", "fisher_family",
           "freeze_for_transfer", "geometry_mask", "grid_coords", "masked_mse", "mt_deeponet_darcy", "mt_deeponet_fisher",
           "predict_fisher", "reaction", "relative_l2", "taylor_coeffs", "train_darcy_source", "train_darcy_target",
           "train_fisher"]

_ALL = ("smoke", "cpu", "full")
_BIG = ("cpu", "full")
_EXACT = Band(hi=1e-12, reason="card smoke (a): to 1e-12 (float64 identity)")

PAPER = Paper(
    slug="mt-deeponet",
    title="Synergistic Learning with Multi-Task DeepONet for Efficient PDE Problem Solving",
    kind="architecture",
    arxiv="2408.02198",
    authors="Varun Kumar, Somdatta Goswami, Katiana Kontolati, Michael D. Shields, George Em Karniadakis",
    year=2024,
    code="https://github.com/varunsingh88/MT-DeepONet",
    main_metric="fisher_rel_l2",
    data=(),
    claims=(
        Claim("taylor_official_err", paper=0.0, source="official Fisher/dataset.py coefficient map (card, source-checked)",
              what="max |official exp-family coefficients - expansion of a e^-b u(1-u)(1 + b u + b^2 u^2 / 2)|, 100 (a, b)",
              bands={_ALL: _EXACT}),
        Claim("taylor_exact_err", paper=0.0, source="card smoke (a): exact 4th-order Taylor coefficients",
              what="max |exact-mode coefficients - R^(n)(0) / n! by autograd of a u(1-u) exp(-b (1-u))|",
              bands={_ALL: _EXACT}),
        Claim("taylor_mode_gap_err", paper=0.0, source="card smoke (a): the modes differ only in c4, by a e^-b b^3 / 6",
              what="max |(exact - official) - (0, 0, 0, a e^-b b^3 / 6)|", bands={_ALL: _EXACT}),
        Claim("mask_outside_max", paper=0.0, source="card method (B) and smoke (b): the output is multiplied by the mask",
              what="max |prediction| outside the mask (float64)",
              bands={_ALL: Band(hi=0.0, reason="card smoke (b): exactly 0")}),
        Claim("mask_grad_change", paper=0.0, source="card method (B) and smoke (b): no loss is spent outside the domain",
              what="max |grad change| / max |grad| when only the targets outside the mask change (float64)",
              bands={_ALL: Band(hi=0.0, reason="card smoke (b): gradients do not change")}),
        Claim("fisher_over_mean", paper="< 0.5", source="card smoke (c) (learning effect; no paper number)",
              what="Fisher global test relative L2 / that of predicting the training mean field",
              bands={_ALL: Band(hi=0.5, reason="card smoke (c): below 0.5 x the mean-field error")}),
        Claim("fisher_rel_l2", paper="a few % (value not retrieved; unverified)",
              source="paper Sec. 'Fisher equation' error table (values not retrieved; card rows 1, cpu and full rungs)",
              what="one global relative L2 over the decoded Fisher test tensor, 3 reaction families in one model",
              bands={"cpu": Band(hi=0.05, reason="card cpu rung: global relative L2 <= 5 %"),
                     "full": Band(hi=0.03, reason="card full rung: global relative L2 ~1-3 %")}),
        Claim("synergy_ratio", paper="<= 2 (multi-task not worse; unverified)",
              source="paper's synergy claim (values not retrieved); card cpu rung",
              what="max over families of multi-task error / single-task error (same steps and recipe)",
              bands={_BIG: Band(hi=2.0, reason="card cpu rung: each family within 2x of its single-task model")}),
        Claim("darcy_rel_l2", paper="accurate on all geometries (values not retrieved)",
              source="paper Sec. 'Darcy' tables (values not retrieved; card row 2)",
              what="Darcy multi-geometry model: mean over square/disc/triangle of the mean per-sample relative L2",
              bands={}),
        Claim("transfer_gain", paper="transfer beats scratch (values not retrieved)",
              source="paper transfer-learning table (values not retrieved); card cpu rung",
              what="1 - transferred error / scratch error on the cross geometry, 100 target samples, same steps",
              bands={_BIG: Band(lo=0.2, reason="card cpu rung: expect >= 20 % relative improvement over scratch")}),
    ),
)
