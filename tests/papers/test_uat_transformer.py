"""uat-transformer: parity with torch's encoder layer, target formulas, the equivariant floor, the routing
construction (closed form, bound, exact shift FFN, error budget) and learning effects with margins."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import paperzoo as pz
from paperzoo.papers.uat_transformer import (
    TARGETS,
    SingleLayerTransformer,
    build_routing_transformer,
    check_construction,
    equivariance_gap,
    equivariant_floor,
    equivariant_optimum,
    ffn_inputs,
    ffn_lipschitz,
    floors,
    is_permutation_equivariant,
    probe_sup_error,
    routed_closed_form,
    routed_slots,
    routing_bound,
    shift_ffn,
    sinusoidal_encoding,
    train_transformer,
)
from paperzoo.papers.uat_transformer.experiment import construction_sweep, monotone_decreasing


def _x(b=64, n=4, d=1, seed=0, dtype=torch.float64):
    return torch.rand(b, n, d, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 2 - 1


# ------------------------------------------------------------------ the layer
@pytest.mark.parametrize("layernorm", [False, True])
def test_block_matches_torch_encoder_layer_float64(layernorm):
    torch.manual_seed(0)
    m = SingleLayerTransformer(3, 16, 4, 24, 2, max_len=5, layernorm=layernorm).double()
    ref = nn.TransformerEncoderLayer(16, 4, 24, dropout=0.0, activation="relu", batch_first=True, norm_first=False).double()
    with torch.no_grad():
        ref.self_attn.in_proj_weight.copy_(torch.cat([m.attn.q.weight, m.attn.k.weight, m.attn.v.weight]))
        ref.self_attn.in_proj_bias.copy_(torch.cat([m.attn.q.bias, m.attn.k.bias, m.attn.v.bias]))
        ref.self_attn.out_proj.weight.copy_(m.attn.o.weight)
        ref.self_attn.out_proj.bias.copy_(m.attn.o.bias)
        ref.linear1.load_state_dict(m.ff1.state_dict())
        ref.linear2.load_state_dict(m.ff2.state_dict())
        if layernorm:
            for name in ("norm1", "norm2"):   # non-trivial affine parameters
                getattr(m, name).weight.uniform_(0.5, 1.5)
                getattr(m, name).bias.uniform_(-0.5, 0.5)
            ref.norm1.load_state_dict(m.norm1.state_dict())
            ref.norm2.load_state_dict(m.norm2.state_dict())
        else:
            ref.norm1, ref.norm2 = nn.Identity(), nn.Identity()
    h = torch.randn(7, 5, 16, dtype=torch.float64)
    assert torch.allclose(m.block(h), ref(h), atol=1e-12, rtol=0)
    x = torch.randn(7, 5, 3, dtype=torch.float64)
    full = m.readout(ref(m.embed(torch.cat([x, torch.eye(5, dtype=torch.float64).expand(7, 5, 5)], -1))))
    assert torch.allclose(m(x), full, atol=1e-12, rtol=0)


def test_attention_weights_are_row_stochastic_and_scaled_by_sqrt_dk():
    torch.manual_seed(1)
    m = SingleLayerTransformer(1, 8, 2, 4, 1, head_dim=3).double()
    h = torch.randn(2, 4, 8, dtype=torch.float64)
    a = m.attn.weights(h)
    assert a.shape == (2, 2, 4, 4) and torch.allclose(a.sum(-1), torch.ones(2, 2, 4, dtype=torch.float64))
    q = m.attn.q(h).view(2, 4, 2, 3)[:, :, 1]
    k = m.attn.k(h).view(2, 4, 2, 3)[:, :, 1]
    assert torch.allclose(a[:, 1], torch.softmax(q @ k.transpose(1, 2) / math.sqrt(3), -1), atol=1e-14)


def test_sinusoidal_encoding_values():
    p = sinusoidal_encoding(6, 5).double()
    i, k = 4, 1
    assert p.shape == (6, 5)
    assert p[i, 2 * k] == pytest.approx(math.sin(i / 10000 ** (2 * k / 5)), abs=1e-6)
    assert p[i, 2 * k + 1] == pytest.approx(math.cos(i / 10000 ** (2 * k / 5)), abs=1e-6)
    assert p[3, 0] == pytest.approx(math.sin(3.0), abs=1e-6) and p[0, 1] == pytest.approx(1.0)


def test_model_input_errors():
    m = SingleLayerTransformer(2, 8, 2, 4, 1, max_len=4)
    with pytest.raises(ValueError, match="shape"):
        m(torch.zeros(3, 4, 3))
    with pytest.raises(ValueError, match="max_len"):
        m(torch.zeros(3, 5, 2))
    with pytest.raises(ValueError, match="pos_enc"):
        SingleLayerTransformer(pos_enc="learned")
    with pytest.raises(ValueError, match="divisible"):
        SingleLayerTransformer(d_model=10, n_heads=4)
    with pytest.raises(ValueError, match=">= 1"):
        SingleLayerTransformer(d_ff=0)
    assert m(torch.zeros(3, 2, 2)).shape == (3, 2, 1)   # shorter sequences use the first positions


def test_registered_model_and_budget_knob():
    m = pz.create_model("uat_transformer")
    assert m(torch.rand(4, 8, 1) * 2 - 1).shape == (4, 8, 1)
    assert m.ff1.out_features == 256 and m.pos_enc == "onehot"
    big = pz.create_model("uat_transformer", params=60_000)
    assert abs(sum(p.numel() for p in big.parameters()) - 60_000) <= 6_000 and big.ff1.out_features > 256


# ------------------------------------------------------------------ targets and the equivariant floor
def test_target_formulas_against_loops():
    x = _x(3, 5, 2, seed=3)
    b, n, d = x.shape
    for bi in range(b):
        for i in range(n):
            xi = x[bi, i]
            mean = x[bi].mean(0)
            assert TARGETS["mean_interaction"](x)[bi, i, 0] == pytest.approx(math.sin(math.pi * float(xi @ mean)))
            w = torch.softmax(torch.stack([3 * xi @ x[bi, j] for j in range(n)]), 0)
            ref = sum(w[j] * x[bi, j] ** 2 for j in range(n))
            assert torch.allclose(TARGETS["softmax_mix"](x)[bi, i], ref, atol=1e-12)
            assert torch.equal(TARGETS["shift"](x)[bi, i], x[bi, (i + 1) % n])
            assert torch.equal(TARGETS["prefix_max"](x)[bi, i], x[bi, :i + 1].max(0).values)
    assert TARGETS["mean_interaction"].out_dim(2) == 1 and TARGETS["shift"].out_dim(2) == 2


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_equivariance_flag_matches_the_map(name):
    t, x = TARGETS[name], _x(16, 6, 2, seed=4)
    perm = torch.tensor([2, 0, 5, 1, 4, 3])
    gap = (t(x[:, perm]) - t(x)[:, perm]).abs().max()
    assert (gap < 1e-12) == t.equivariant


def test_sample_is_uniform_on_the_cube_and_seeded():
    x, y = TARGETS["shift"].sample(4000, 4, 2, seed=5)
    assert x.shape == (4000, 4, 2) and y.shape == x.shape and x.abs().max() <= 1
    assert abs(float(x.mean())) < 0.02 and float(x.var()) == pytest.approx(1 / 3, abs=0.01)
    assert torch.equal(TARGETS["shift"].sample(10, 4, 2, seed=5)[0], x[:10])
    with pytest.raises(ValueError):
        TARGETS["shift"].sample(0, 4)
    with pytest.raises(KeyError, match="unknown target 'shfit'; did you mean 'shift'.*TARGETS lists them"):
        pz.papers.uat_transformer.get_target("shfit")
    with pytest.raises(ValueError, match="num, n, d must be >= 1"):
        TARGETS["shift"].sample(3, 0)
    assert TARGETS["shift"].sample(5, 3)[0].shape == (5, 3, 1)                       # d defaults to 1
    x64 = TARGETS["shift"].sample(50, 3, 1, seed=5, dtype=torch.float64)[0]
    assert (x64 != x64.float().double()).any()                                      # drawn in float64


def test_equivariant_optimum_of_shift_is_the_mean_of_the_others():
    x = _x(32, 5, 1, seed=6)
    opt = equivariant_optimum("shift", x, perms=4000, seed=1)
    others = (x.sum(1, keepdim=True) - x) / 4
    assert (opt - others).abs().max() < 0.06
    assert torch.allclose(equivariant_optimum("softmax_mix", x, perms=3), TARGETS["softmax_mix"](x), atol=1e-12)


def test_shift_floor_matches_its_closed_form():
    n = 6
    x = _x(4000, n, 1, seed=7)
    floor = floors(["shift"], n, 1, n_test=4000, perms=64)["shift"]
    assert floor == pytest.approx(math.sqrt((n - 2) / (n - 1) / 3), rel=0.03)   # sigma sqrt((n-2)/(n-1))
    few = floors(["shift"], n, 1, n_test=4000, perms=4)["shift"]                  # (1 + 1/K) bias removed
    assert few == pytest.approx(math.sqrt((n - 2) / (n - 1) / 3), rel=0.03)
    assert equivariant_floor("mean_interaction", x[:100], perms=4) < 1e-12
    assert equivariant_floor("prefix_max", x[:500], perms=64) > 0.25


# ------------------------------------------------------------------ equivariance probe
def test_equivariance_without_positions_and_its_violation_with_them():
    torch.manual_seed(2)
    x = _x(32, 6, 2, seed=8, dtype=torch.float32)
    perm = torch.tensor([3, 1, 0, 5, 2, 4])
    nope = SingleLayerTransformer(2, 16, 4, 32, 2, max_len=6, pos_enc=None)
    assert is_permutation_equivariant(nope, x, perm) and equivariance_gap(nope, x, perm) < 1e-5
    for pe in ("onehot", "sinusoidal"):
        model = SingleLayerTransformer(2, 16, 4, 32, 2, max_len=6, pos_enc=pe)
        assert equivariance_gap(model, x, perm) > 1e-2 and not is_permutation_equivariant(model, x, perm)
    assert equivariance_gap(nope, x, torch.arange(6)) == 0.0
    assert is_permutation_equivariant(nope, x, torch.arange(6), tol=0.0)
    with pytest.raises(ValueError, match="permutation"):
        equivariance_gap(nope, x, torch.tensor([0, 0, 1, 2, 3, 4]))
    with pytest.raises(ValueError, match="NaN"):
        equivariance_gap(nope, x.masked_fill(x > 0.9, float("nan")), perm)
    with pytest.raises(ValueError, match="shape"):
        equivariant_optimum("shift", x[0])
    with pytest.raises(ValueError, match="shape"):
        TARGETS["shift"](x[0])


# ------------------------------------------------------------------ the construction
@pytest.mark.parametrize("n,d", [(4, 1), (3, 2)])
def test_routing_slots_equal_closed_form_and_obey_the_bound(n, d):
    x = _x(256, n, d, seed=9)
    errs = []
    for beta in (5.0, 10.0, 20.0):
        with torch.no_grad():
            model = build_routing_transformer(shift_ffn(n, d), n, d, beta, dtype=torch.float64)
            slots = routed_slots(model, x)
        assert slots.shape == (256, n, n, d)
        assert torch.allclose(slots, routed_closed_form(x, beta)[:, None].expand_as(slots), atol=1e-13, rtol=0)
        errs.append(float((slots - x[:, None]).abs().max()))
        assert errs[-1] <= routing_bound(n, beta, float(x.abs().max()))
        assert errs[-1] > 0.2 * routing_bound(n, beta, 1.0)            # the bound is not loose by orders
    assert errs[0] > errs[1] > errs[2]
    assert routing_bound(4, 5.0) == pytest.approx(6 * math.exp(-5))
    assert routing_bound(4, 5.0, xmax=0.5) == pytest.approx(3 * math.exp(-5))


def test_built_model_layout():
    n, d = 3, 2
    m = build_routing_transformer(shift_ffn(n, d), n, d, beta=0.5)      # any beta > 0 is allowed
    assert m.embed.out_features == d + n + n * d + 1 + d and m.embed.in_features == d + n
    assert m.attn.n_heads == n and m.attn.head_dim == d and m.max_len == n and m.pos_enc == "onehot"
    assert m.ff1.out_features == 2 * n * d and m.readout.out_features == d
    assert m.embed.weight.dtype == torch.float32


def test_closed_form_reference():
    x = torch.tensor([[[1.0], [2.0], [-3.0]]], dtype=torch.float64)
    e = math.exp(2.0)
    want = [(e * 1 + 2 - 3) / (e + 2), (e * 2 + 1 - 3) / (e + 2), (-3 * e + 1 + 2) / (e + 2)]
    assert torch.allclose(routed_closed_form(x, 2.0).flatten(), torch.tensor(want, dtype=torch.float64))


def test_shift_ffn_is_exact_on_ideal_inputs_and_the_built_model_reproduces_shift():
    for n, d in ((4, 1), (3, 2)):
        x = _x(128, n, d, seed=10)
        ffn = shift_ffn(n, d).double()
        assert torch.allclose(ffn(ffn_inputs(x)), TARGETS["shift"](x), atol=1e-15)
        with torch.no_grad():
            model = build_routing_transformer(shift_ffn(n, d), n, d, beta=30.0, dtype=torch.float64)
            assert (model(x) - TARGETS["shift"](x)).abs().max() <= routing_bound(n, 30.0)
            assert (model(x) - TARGETS["shift"](x)).abs().max() < 1e-11
    r = check_construction(shift_ffn(4), "shift", 4, beta=10.0)
    assert r["ffn_err"] < 1e-15 and r["err"] <= r["delta"] and r["err"] > 0.1 * r["delta"]
    assert r["err"] == pytest.approx(r["slot_err"], rel=1e-9)           # the gate copies the routed slot


def test_ffn_inputs_and_lipschitz_bound():
    x = torch.tensor([[[0.5], [-0.25], [1.0]]])
    z = ffn_inputs(x)
    assert torch.equal(z[0, 1], torch.tensor([0.5, -0.25, 1.0, 0.0, 1.0, 0.0]))
    ffn = nn.Sequential(nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 2))
    with torch.no_grad():
        ffn[0].weight.copy_(torch.tensor([[1.0, -2.0, 5.0, 5.0], [0.5, 0.5, 0.0, 0.0]]))
        ffn[2].weight.copy_(torch.tensor([[1.0, -4.0], [0.5, 0.0]]))
    assert ffn_lipschitz(ffn, 2, 1) == pytest.approx(max(1 * 3 + 4 * 1, 0.5 * 3))   # x-columns only
    with pytest.raises(ValueError, match=r"n\*d \+ n = 6 \(\[x_1..x_n ; e_i\]\), got 4"):
        build_routing_transformer(ffn, 3, 1)
    with pytest.raises(TypeError, match=r"nn.Sequential\(nn.Linear, nn.ReLU, nn.Linear\) \(a one-hidden-layer ReLU net\)"):
        build_routing_transformer(nn.Sequential(nn.Linear(4, 2), nn.Tanh(), nn.Linear(2, 1)), 2, 1)
    with pytest.raises(TypeError):
        build_routing_transformer(nn.Sequential(nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 2), nn.ReLU()), 2, 1)
    with pytest.raises(ValueError, match="beta"):
        build_routing_transformer(ffn, 2, 1, beta=0.0)


def test_fitted_ffn_learns_and_the_built_model_stays_within_budget():
    rows = construction_sweep(["prefix_max"], 3, 1, [8, 64], beta=12.0, steps=400, seed=0, num=2048)
    for r in rows:
        assert r["err"] <= r["budget"] and r["parity"] <= r["lip"] * r["delta"]
        assert 0.99 * routing_bound(3, 12.0) < r["delta"] <= routing_bound(3, 12.0)   # beta = 12 reached the check
        assert r["parity"] > 1e-3 * r["lip"] * r["delta"] and r["slot_err"] <= r["delta"]
    assert rows[1]["rms"] < 0.6 * rows[0]["rms"]                                    # wider FFN, smaller error
    x, y = TARGETS["prefix_max"].sample(2048, 3, 1, 99)
    untrained = nn.Sequential(nn.Linear(6, 64), nn.ReLU(), nn.Linear(64, 1))
    with torch.no_grad():
        base = float((untrained(ffn_inputs(x)) - y).square().mean().sqrt())
    assert rows[1]["rms"] < 0.3 * base


def test_probe_sup_error_on_the_built_model():
    model = build_routing_transformer(shift_ffn(4), 4, 1, beta=10.0, dtype=torch.float64)
    r = probe_sup_error(model, "shift", 4, num=3000, seed=1, batch=1000)
    assert r["sup"] <= routing_bound(4, 10.0) and r["sup"] > 0.5 * routing_bound(4, 10.0)
    x, y = TARGETS["shift"].sample(3000, 4, 1, 1, dtype=torch.float64)
    with torch.no_grad():
        err = model(x) - y
    assert r["rms"] == pytest.approx(float(err.square().mean().sqrt()), rel=1e-9)
    assert r["sup"] == pytest.approx(float(err.abs().max()), rel=1e-9)


# ------------------------------------------------------------------ learning effects
def test_positions_let_the_transformer_learn_shift_and_their_absence_leaves_the_floor():
    kw = dict(n=4, d=1, d_ff=32, n_heads=2, d_model=16, steps=300, batch=128, lr=3e-3, n_test=1024)
    pe = train_transformer("shift", pos_enc="onehot", seed=0, **kw)
    nope = train_transformer("shift", pos_enc=None, seed=0, **kw)
    floor = floors(["shift"], 4, 1, n_test=1024, perms=128)["shift"]
    assert nope["rms"] >= 0.97 * floor and nope["rms"] < 1.15 * floor
    assert pe["rms"] < 0.5 * floor
    assert pe["std"] == pytest.approx(1 / math.sqrt(3), rel=0.05)


def test_monotone_helper_and_bad_arguments():
    assert monotone_decreasing([3.0, 2.0, 1.0]) == 1.0 and monotone_decreasing([3.0, 3.0]) == 0.0
    assert math.isnan(monotone_decreasing([1.0]))
    for bad in (dict(steps=0), dict(batch=0), dict(n_test=0), dict(lr=0.0)):
        with pytest.raises(ValueError, match="steps, batch, n_test must be >= 1 and lr > 0"):
            train_transformer("shift", **bad)
    out = train_transformer("shift", n=3, d_ff=4, d_model=4, n_heads=1, steps=1, batch=1, n_test=1)
    assert set(out) == {"rms", "sup", "std", "train_loss"} and out["sup"] >= out["rms"] > 0


def test_full_protocol_code_path_tiny(tmp_path):
    over = dict(con_n=3, con_widths=(4, 8), con_steps=5, n=4, widths=(4, 8), heads=(1, 2), steps=3, n_test=32, perms=4,
                nope_width=4, pe_targets=("shift",), nope_targets=("shift", "softmax_mix"), threads=1)
    r = pz.reproduce("uat-transformer", "full", seed=0, out=tmp_path / "run", progress=False, overrides=over)
    m = r.metrics
    assert m["routing_closed_form_err"] < 1e-12 and m["routing_err_over_bound"] <= 1.0
    assert m["equivariance_gap_nope"] < 1e-5 and m["construction_err_over_budget"] <= 1.0
    assert {"pe_rms_max_width_shift", "nope_rms_over_floor_min", "nope_rms_equivariant_max"} <= set(m)
    with pytest.raises(ValueError, match="unknown target"):
        pz.reproduce("uat-transformer", "smoke", out=tmp_path / "bad", progress=False, overrides={"pe_targets": ("foo",)})
