"""Universal Approximation Theorem for a Single-Layer Transformer (Gumaan, 2025; arXiv 2507.10581).

Claim: one multi-head self-attention layer + a position-wise ReLU FFN approximates any continuous
sequence-to-sequence map on a compact domain to any accuracy (the paper's proof was not readable: the
statement's exact conditions are unverified, card). Here, as numerically checked pieces: the single-layer
Transformer, a hand-built construction (one-hot positions, n hard-routing heads, an FFN that is a classical
one-hidden-layer ReLU approximator) with its error budget, the positional-encoding limit (without positions
the model is permutation-equivariant and cannot beat an explicit error floor), and a trained width sweep.
"""
from paperzoo.papers.uat_transformer.construction import (
    build_routing_transformer,
    check_construction,
    ffn_inputs,
    ffn_lipschitz,
    fit_ffn,
    routed_closed_form,
    routed_slots,
    routing_bound,
    shift_ffn,
)
from paperzoo.papers.uat_transformer.experiment import construction_sweep, floors, train_transformer
from paperzoo.papers.uat_transformer.model import (
    MultiHeadSelfAttention,
    SingleLayerTransformer,
    sinusoidal_encoding,
    uat_transformer,
)
from paperzoo.papers.uat_transformer.targets import (
    TARGETS,
    Target,
    equivariance_gap,
    equivariant_floor,
    equivariant_optimum,
    get_target,
    is_permutation_equivariant,
    probe_sup_error,
)
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["PAPER", "TARGETS", "MultiHeadSelfAttention", "SingleLayerTransformer", "Target", "build_routing_transformer",
           "check_construction", "construction_sweep", "equivariance_gap", "equivariant_floor", "equivariant_optimum",
           "ffn_inputs", "ffn_lipschitz", "fit_ffn", "floors", "get_target", "is_permutation_equivariant",
           "probe_sup_error", "routed_closed_form", "routed_slots", "routing_bound", "shift_ffn", "sinusoidal_encoding",
           "train_transformer", "uat_transformer"]

_ALL = ("smoke", "cpu", "full")
_BIG = ("cpu", "full")
_UAT = "main theorem (statement from the abstract; proof unverified, card)"
_CON = "card 'Constructive proof' (our construction, reconstructed: not the paper's proof)"
_CPU = "card cpu rung (expectation derived by the card from the theorem, no paper number)"

PAPER = Paper(
    slug="uat-transformer",
    title="Universal Approximation Theorem for a Single-Layer Transformer",
    kind="theory",
    arxiv="2507.10581",
    authors="Esmail Gumaan",
    year=2025,
    main_metric="pe_rms_max_width_mean_interaction",
    data=(),
    claims=(
        Claim("routing_err_over_bound", paper="<= 1 (error -> 0 as beta -> inf)", source=f"{_CON}, step 2",
              what="max over beta in {5, 10, 20} of max |A_h - x_h| / (2 max|x| (n-1) e^-beta), n = 4, float64",
              bands={_ALL: Band(hi=1.0, reason="card smoke (a): the slot error must stay within 2(n-1)e^-beta")}),
        Claim("routing_err_decreases", paper=1.0, source=f"{_CON}, step 2",
              what="1 if the max slot error falls strictly from beta = 5 to 10 to 20",
              bands={_ALL: Band(lo=1.0, reason="card smoke (a): the measured error must shrink with beta")}),
        Claim("routing_closed_form_err", paper=0.0, source=f"{_CON}, step 2 (closed form ours)",
              what="max |A_h - (e^beta x_h + sum_{j != h} x_j) / (e^beta + n - 1)| over beta, float64",
              bands={_ALL: Band(hi=1e-12, reason="exact identity in float64 (softmax of logits beta [j = h])")}),
        Claim("equivariance_gap_nope", paper=0.0, source="card 'Necessary caveat' (equivariance without positions)",
              what="max |T(pi X) - pi T(X)|, no positional encoding, random weights, 8 permutations, float32",
              bands={_ALL: Band(hi=1e-5, reason="card smoke (b): T(pi X) = pi T(X) to 1e-5")}),
        Claim("equivariance_gap_pe", paper="> 0 (positions break equivariance)", source="card 'Necessary caveat'",
              what="min over one-hot / sinusoidal encodings of max |T(pi X) - pi T(X)|, random weights",
              bands={_ALL: Band(lo=1e-3, reason="card smoke (b): 'the version with positional encodings must violate "
                                                "it'; threshold ours, 100x the 1e-5 tolerance")}),
        Claim("shift_construction_err_over_bound", paper="<= 1", source=f"{_CON}, step 5 with an exact FFN (eps_FFN = 0)",
              what="sup |T(X) - shift(X)| / (2 max|x| (n-1) e^-beta) of the built Transformer, beta = 20, float64",
              bands={_ALL: Band(hi=1.0, reason="card step 5: total error <= modulus(routing error) + eps_FFN; "
                                               "the gated FFN copies (modulus 1, eps_FFN = 0)")}),
        Claim("construction_err_over_budget", paper="<= 1 (it reproduces F to the stated accuracy)", source=f"{_CON}, step 5",
              what="max over fitted FFNs g of sup |T - F| / (sup |g - F| + L_g delta), beta = 20, float64",
              bands={_ALL: Band(hi=1.0, reason="card step 5: error budget eps_FFN(r) + modulus of g at the routing error")}),
        Claim("construction_parity_over_bound", paper="<= 1 (T = g up to the routing error)", source=f"{_CON}, steps 3-5",
              what="max over fitted FFNs g of sup |T(X) - g([x_1..x_n ; e_i])| / (L_g delta), beta = 20, float64",
              bands={_ALL: Band(hi=1.0, reason="card steps 3-5: the FFN sees the sequence up to the routing error delta, "
                                               "so T differs from g by at most L_g delta")}),
        Claim("construction_rms_decreases", paper="1 (eps_FFN(r) -> 0 as r -> inf)", source=f"{_CON}, step 5 (classical UAT)",
              what="1 if the built Transformer's test RMS error falls strictly with the fitted FFN's width r, every target",
              bands={_BIG: Band(lo=1.0, reason="card step 5: eps_FFN(r) -> 0 as r -> inf")}),
        Claim("pe_rms_max_width_mean_interaction", paper="< eps for every eps (existence)", source=f"{_UAT}; {_CPU}",
              what="test RMS error, mean_interaction, one-hot positions, largest d_ff, n = 8, d = 1", unit="RMS",
              bands={"cpu": Band(hi=0.05, reason="card cpu rung (i): the largest width <= 0.05 on mean_interaction")}),
        Claim("pe_rms_max_width_shift", paper="< eps for every eps (existence)", source=f"{_UAT}; {_CPU}",
              what="test RMS error, shift (not equivariant), one-hot positions, largest d_ff", unit="RMS",
              bands={"cpu": Band(hi=0.05, reason="card cpu rung (i): the largest width <= 0.05 on shift")}),
        Claim("pe_rms_monotone", paper="1 (error falls with width)", source=f"{_UAT}; {_CPU}",
              what="1 if the test RMS error falls strictly with d_ff for every target and head count (one-hot positions)",
              bands={_BIG: Band(lo=1.0, reason="card cpu rung (i): RMS error falls monotonically with d_ff")}),
        Claim("nope_rms_shift", paper="error floor (statement needs positions)", source=f"card 'Necessary caveat'; {_CPU}",
              what="test RMS error on shift without positional encoding, n = 8", unit="RMS",
              bands={"cpu": Band(lo=0.3, reason="card cpu rung (ii): stays at a floor ~ the target's std (>= 0.3)")}),
        Claim("nope_rms_prefix_max", paper="error floor (statement needs positions)", source=f"card 'Necessary caveat'; {_CPU}",
              what="test RMS error on prefix_max without positional encoding, n = 8", unit="RMS",
              bands={"cpu": Band(lo=0.3, reason="card cpu rung (ii): stays at a floor ~ the target's std (>= 0.3)")}),
        Claim("nope_rms_over_floor_min", paper=">= 1 (no equivariant map beats the floor)",
              source="card 'Necessary caveat'; floor = best equivariant predictor (ours, targets.equivariant_optimum)",
              what="min over non-equivariant targets of no-position test RMS / equivariant floor on the same test set",
              bands={_BIG: Band(lo=0.97, reason="the floor bounds every permutation-equivariant predictor in expectation; "
                                                "0.97 allows for the finite test set (ours)")}),
        Claim("nope_rms_equivariant_max", paper="learned (equivariant targets need no positions)",
              source=f"card 'Necessary caveat'; {_CPU}",
              what="max over equivariant targets of test RMS without positional encoding", unit="RMS",
              bands={"cpu": Band(hi=0.05, reason="card cpu rung (ii): equivariant targets 'are still learned'; "
                                                 "held to the card's learned threshold of (i), 0.05")}),
    ),
)
