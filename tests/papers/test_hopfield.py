"""Tests for paperzoo.papers.hopfield: equations, theorems, float64 references written here, layer semantics,
learning effects and bad input. Each reference below is written from the paper / official code, not from ours."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import paperzoo as pz
from paperzoo.papers import hopfield as hf
from paperzoo.papers.hopfield import experiments as ex
from paperzoo.papers.hopfield.data import MILBags, mask_lower_half, sign_patterns, stratified_folds
from paperzoo.papers.hopfield.retrieval import fixed_point_type_name


def _identity_layer(d, beta, **kw):
    """A single-head layer whose projections are the identity and norms off: a pure Hopfield memory."""
    layer = hf.HopfieldAttention(d, beta=beta, norm_stored=False, norm_state=False, norm_proj=False, **kw)
    with torch.no_grad():
        for lin in (layer.w_q, layer.w_k, layer.w_v, layer.w_o):
            lin.weight.copy_(torch.eye(d, dtype=lin.weight.dtype))
            lin.bias.zero_()
    return layer


def _ln(x, m):
    """Affine LayerNorm written out (official default: normalize_*_pattern=True, eps 1e-5); m must exist."""
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + m.eps) * m.weight + m.bias


def _randomise(module, seed=0):
    """Non-trivial LayerNorm affines and biases, so that dropping any of them shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))


def ref_hopfield(layer, Y, R, P, pad=None, norms=(True, True, True)):
    """Float64 reference of hflayers' Hopfield forward, written per head from hopfield_core_forward:
    p = softmax(beta Q K^T); while active: p <- softmax(beta (p K) K^T); a head stops when
    max over the batch of ||p_new - p||_F <= eps or after update_steps_max extra steps; Z = p V W_O."""
    y = _ln(Y, layer.norm_stored) if norms[0] else Y
    r = _ln(R, layer.norm_state) if norms[1] else R
    yp = _ln(P, layer.norm_proj) if norms[2] else P
    dk, dv = layer.d_k, layer.d_v
    limit = math.inf if layer.update_steps_max is None else layer.update_steps_max
    heads = []
    for h in range(layer.num_heads):
        q = r @ layer.w_q.weight[h * dk:(h + 1) * dk].T + layer.w_q.bias[h * dk:(h + 1) * dk]
        k = y @ layer.w_k.weight[h * dk:(h + 1) * dk].T + layer.w_k.bias[h * dk:(h + 1) * dk]
        v = yp @ layer.w_v.weight[h * dv:(h + 1) * dv].T + layer.w_v.bias[h * dv:(h + 1) * dv]
        beta = layer.beta if isinstance(layer.beta, float) else float(layer.beta[h])

        def softmax(logits):
            if pad is not None:
                logits = logits.masked_fill(pad[:, None, :], float("-inf"))
            return torch.softmax(logits, -1)

        p = softmax(beta * q @ k.transpose(1, 2))
        steps = 0
        while steps < limit:
            new = softmax(beta * (p @ k) @ k.transpose(1, 2))
            diff = max(float((new[b] - p[b]).pow(2).sum().sqrt()) for b in range(p.shape[0]))
            p, steps = new, steps + 1
            if diff <= layer.update_eps:
                break
        heads.append(p @ v)
    return torch.cat(heads, -1) @ layer.w_o.weight.T + layer.w_o.bias


# ---------------------------------------------------------------- energy and update
def test_energy_matches_paper_formula_float64():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(7, 5, generator=g, dtype=torch.float64) * torch.linspace(0.5, 2, 7, dtype=torch.float64)[:, None]
    xi = torch.randn(3, 5, generator=g, dtype=torch.float64)
    beta = 0.7
    M = max(float(X[i].norm()) for i in range(7))
    for s in range(3):
        z = X @ xi[s]
        lse = math.log(sum(math.exp(beta * float(v)) for v in z)) / beta
        ref = -lse + 0.5 * float(xi[s] @ xi[s]) + math.log(7) / beta + 0.5 * M * M
        assert abs(float(hf.energy(xi[s], X, beta)) - ref) < 1e-12
        assert abs(float(hf.energy(xi, X, beta)[s]) - ref) < 1e-12
    assert abs(float(hf.energy(xi[0], X, torch.tensor(0.7, dtype=torch.float64))) - float(hf.energy(xi[0], X, 0.7))) < 1e-12


def test_update_equals_paper_formula_and_is_the_energy_gradient_step():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(9, 4, generator=g, dtype=torch.float64)
    xi = torch.randn(4, generator=g, dtype=torch.float64)
    beta = 1.3
    ref = X.T @ torch.softmax(beta * (X @ xi), 0)  # X softmax(beta X^T xi) in the d x N layout
    assert torch.allclose(hf.update(xi, X, beta), ref, atol=1e-14)
    assert torch.allclose(hf.association(xi, X, beta), torch.softmax(beta * (X @ xi), 0), atol=1e-15)
    assert torch.equal(hf.update(xi, X, beta, steps=0), xi)
    assert torch.allclose(hf.update(xi, X, beta, steps=2), X.T @ torch.softmax(beta * (X @ ref), 0), atol=1e-14)
    xi_r = xi.clone().requires_grad_(True)  # CCCP: xi_new = grad of the convex part lse = xi - grad E(xi)
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
    assert r["frac"] >= 0.99 and r["median_cos"] >= 0.99 and r["min_cos"] >= 0.99
    assert 1e-4 < r["small_beta_max_rel"] <= 0.05  # close to the mean, but not exactly it
    r = ex.one_step_retrieval(seed=0, n=200, beta=2.0)  # beta too small for one-step retrieval
    assert r["frac"] < 0.5


def test_retrieval_error_falls_exponentially_in_beta():
    X = sign_patterns(200, 64, seed=4, dtype=torch.float64)
    q = mask_lower_half(X[:20])
    errs = torch.stack([(hf.update(q, X, b) - X[:20]).norm(dim=-1).mean() for b in (20.0, 30.0, 40.0, 50.0)])
    slopes = errs.log().diff()
    assert (slopes < -0.5).all()  # error shrinks by a constant factor per beta increment (log-linear)
    assert float(slopes.max() / slopes.min()) > 0.5


def test_separation_matches_its_definition_float64():
    X = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=torch.float64)
    assert torch.allclose(hf.separation(X), torch.tensor([1 - 0.8, 1 - 0.8, 1 - 0.6], dtype=torch.float64))
    g = torch.Generator().manual_seed(5)
    X = torch.randn(9, 4, generator=g, dtype=torch.float64) * torch.linspace(0.2, 3, 9, dtype=torch.float64)[:, None]
    ref = [float(X[i] @ X[i]) - max(float(X[i] @ X[j]) for j in range(9) if j != i) for i in range(9)]
    assert torch.allclose(hf.separation(X), torch.tensor(ref, dtype=torch.float64), atol=1e-12)
    assert min(ref) < 0 < max(ref)  # short patterns are not separated from long ones
    assert torch.allclose(hf.separation(X[:2]), torch.tensor([ref2 for ref2 in (
        float(X[0] @ X[0] - X[0] @ X[1]), float(X[1] @ X[1] - X[1] @ X[0]))], dtype=torch.float64))


# ---------------------------------------------------------------- classical net
def _ref_classical(W, s, max_steps):
    """One query at a time: s <- sgn(W s) (zero field keeps the unit), stop at a fixed point (converged)
    or when the new state equals the one two steps back (2-cycle, not converged)."""
    outs, flags = [], []
    for q in s:
        cur, prev, ok = q.clone(), None, False
        for _ in range(max_steps):
            h = W @ cur
            new = cur.clone()
            for i in range(len(h)):
                if h[i] > 0:
                    new[i] = 1.0
                elif h[i] < 0:
                    new[i] = -1.0
            if torch.equal(new, cur):
                ok = True
                break
            if prev is not None and torch.equal(new, prev):
                cur = new
                break
            prev, cur = cur, new
        outs.append(cur)
        flags.append(ok)
    return torch.stack(outs), torch.tensor(flags)


def test_hebbian_weights_are_the_outer_product_sum_with_zero_diagonal():
    X = torch.sign(torch.randn(5, 7, dtype=torch.float64))
    ref = sum(torch.outer(x, x) for x in X)
    ref.fill_diagonal_(0.0)
    assert torch.equal(hf.hebbian_weights(X), ref)


def test_classical_retrieve_matches_a_per_query_reference():
    g = torch.Generator().manual_seed(6)
    W = torch.randn(12, 12, generator=g, dtype=torch.float64)  # not symmetric: W s, not W^T s
    s = torch.sign(torch.randn(40, 12, generator=g, dtype=torch.float64))
    s[:5, :3] = 0.0  # zero entries are allowed
    for steps in (1, 2, 3, 100):
        out, done = hf.classical_retrieve(W, s, max_steps=steps)
        ref, ref_done = _ref_classical(W, s, steps)
        assert torch.equal(out, ref) and torch.equal(done, ref_done), steps
    assert 0 < int(done.sum()) < len(done)  # both fixed points and cycles occur
    swap = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)  # a clean 2-cycle
    out, done = hf.classical_retrieve(swap, torch.tensor([[1.0, -1.0]], dtype=torch.float64))
    assert not bool(done[0]) and out.shape == (1, 2)
    zero = torch.zeros(3, 3, dtype=torch.float64)  # no field anywhere: the state is kept and is a fixed point
    out, done = hf.classical_retrieve(zero, torch.tensor([[1.0, 0.0, -1.0]], dtype=torch.float64))
    assert torch.equal(out, torch.tensor([[1.0, 0.0, -1.0]], dtype=torch.float64)) and bool(done[0])
    batched, _ = hf.classical_retrieve(W, s.view(4, 10, 12))
    assert torch.equal(batched.view(40, 12), hf.classical_retrieve(W, s)[0])


def test_classical_hebbian_retrieves_below_capacity_and_fails_above():
    X = torch.sign(sign_patterns(10, 200, seed=5))
    s, done = hf.classical_retrieve(hf.hebbian_weights(X), torch.sign(mask_lower_half(X)))
    assert bool(done.all()) and bool((s == X).all())
    t = ex.classical_transition(torch.sign(sign_patterns(120, 300, seed=7)), (10, 20, 30, 40, 50, 60, 80, 120))
    assert t["classical"][0] == 1.0 and t["classical"][-1] == 0.0
    assert 0.08 < t["capacity_per_d"] < 0.2  # paper: C ~= 0.14 d


def test_crossing_interpolates_the_first_drop_below_the_level():
    assert ex.crossing([10, 20, 30, 40], [1.0, 0.9, 0.3, 0.0]) == pytest.approx(20 + 0.4 / 0.6 * 10)
    assert ex.crossing([10, 20, 30], [1.0, 0.5, 0.49]) == pytest.approx(20 + 0.0 / 0.01 * 10)
    assert ex.crossing([1, 2, 3], [1.0, 0.2, 0.9], level=0.25) == pytest.approx(1 + 0.75 / 0.8)
    assert math.isnan(ex.crossing([1, 2], [1.0, 0.9])) and math.isnan(ex.crossing([1, 2], [0.4, 0.1]))


def test_capacity_curve_columns():
    X = sign_patterns(64, 100, seed=8)
    rows = ex.capacity_curve(X, (4, 64), (0.5, 1000.0), chunk=16)
    assert [r["N"] for r in rows] == [4, 64] and rows[1]["queries"] == 64
    assert rows[0]["modern_beta1000"] == 1.0 and rows[1]["modern_beta1000"] == 1.0
    assert rows[1]["modern_beta0.5"] == 0.0  # beta = 0.5: the global average, no retrieval
    assert rows[0]["classical"] == 1.0 and rows[1]["classical"] == 0.0  # 0.64 d is far above 0.14 d


# ---------------------------------------------------------------- fixed-point type
def test_fixed_point_type_regimes():
    g = torch.Generator().manual_seed(0)
    base = torch.eye(6, dtype=torch.float64)[:2] * 3
    X = torch.cat([base[0] + 0.05 * torch.randn(3, 6, generator=g, dtype=torch.float64),
                   base[1] + 0.05 * torch.randn(3, 6, generator=g, dtype=torch.float64)])
    q = X[0] + 0.01
    assert hf.fixed_point_type(X, 1e-3, q)["type"] == "global"
    single = hf.fixed_point_type(X, 1e3, q)
    assert single["type"] == "single" and int(single["k"]) == 1 and bool(single["converged"])
    mid = hf.fixed_point_type(X, 1.0, q)  # within-cluster spread << beta^-1: the 3-pattern cluster
    assert mid["type"] == "metastable(3)" and int(mid["k"]) == 3 and 1 < mid["steps"] < 100
    fp = mid["fixed_point"]
    assert torch.allclose(fp, hf.update(fp, X, 1.0), atol=1e-5)
    assert torch.allclose(mid["weights"], hf.association(fp, X, 1.0))
    batch = hf.fixed_point_type(X, 1e3, X)
    assert batch["type"] == ["single"] * 6
    for beta in (0.3, 0.6, 1.0, 3.0):  # default threshold: half the uniform share, 1/(2N)
        r = hf.fixed_point_type(X, beta, q)
        assert int(r["k"]) == int((r["weights"] > 1 / 12).sum())
    assert int(hf.fixed_point_type(X, 1.0, q, threshold=0.2)["k"]) == 3
    capped = hf.fixed_point_type(X, 1.0, q, max_steps=1)
    assert capped["steps"] == 1 and not bool(capped["converged"])
    assert [fixed_point_type_name(k, 6) for k in (0, 1, 2, 5, 6, 7)] == [
        "single", "single", "metastable(2)", "metastable(5)", "global", "global"]
    assert "fixed_point_type" not in [p.name for p in pz.registry.list_probes()]  # a plain function, not a probe


# ---------------------------------------------------------------- layers
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
    else:
        assert p is None
    assert ex.mha_parity(seed=0) <= 1e-5


def test_sequence_first_layout_matches_multihead_attention():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 2)  # (L, B, E) layout
    hop = hf.HopfieldAttention(16, num_heads=2, norm_stored=False, norm_state=False, norm_proj=False,
                               batch_first=False)
    ex.copy_mha_weights(mha, hop)
    r, y = torch.randn(5, 3, 16), torch.randn(7, 3, 16)
    with torch.no_grad():
        assert float((mha(r, y, y)[0] - hop(y, r, y)).abs().max()) <= 1e-5
    pool = hf.HopfieldPooling(16, quantity=2, batch_first=False)
    assert torch.allclose(pool(y), _pool_bf(pool, y), atol=1e-6)
    look = hf.HopfieldLookup(16, 3, batch_first=False)
    out = look(r)
    assert out.shape == (5, 3, 16)
    st = look.stored.unsqueeze(1).expand(-1, 3, -1)
    assert torch.allclose(out, look.hopfield(st, r, st), atol=1e-6)


def _pool_bf(pool, y):
    """The same pooling in the batch-first layout."""
    bf = hf.HopfieldPooling(16, quantity=2)
    bf.load_state_dict(pool.state_dict())
    return bf(y.transpose(0, 1))


@pytest.mark.parametrize("steps", [0, 2, None])
def test_general_layer_matches_a_float64_reference(steps):
    torch.manual_seed(1)
    layer = hf.HopfieldAttention(12, 5, 7, num_heads=3, d_v=4, d_stored=10, d_proj=9, beta=[0.3, 0.9, 2.0],
                                 update_steps_max=steps, update_eps=1e-6).double()
    _randomise(layer)
    Y, R, P = (torch.randn(4, 6, 10, dtype=torch.float64), torch.randn(4, 3, 12, dtype=torch.float64),
               torch.randn(4, 6, 9, dtype=torch.float64))
    pad = torch.zeros(4, 6, dtype=torch.bool)
    pad[1, 4:] = True
    pad[3, 0] = True
    ours, p = layer.associate(Y, R, P, key_padding_mask=pad, need_weights=True)
    assert torch.allclose(ours, ref_hopfield(layer, Y, R, P, pad), atol=1e-10)
    assert torch.allclose(layer(Y, R, P, key_padding_mask=pad), ours, atol=1e-12)
    assert p.shape == (4, 3, 3, 6) and float(p[1, :, :, 4:].detach().abs().max()) == 0.0


def test_default_layer_normalises_all_three_inputs():
    torch.manual_seed(2)
    layer = hf.HopfieldAttention(8, num_heads=2).double()
    _randomise(layer, seed=3)
    Y, R = torch.randn(2, 5, 8, dtype=torch.float64) * 3 + 1, torch.randn(2, 4, 8, dtype=torch.float64) * 5 - 2
    assert torch.allclose(layer(Y, R), ref_hopfield(layer, Y, R, Y), atol=1e-10)
    assert torch.allclose(layer(Y), ref_hopfield(layer, Y, Y, Y), atol=1e-10)  # self-association by default


def test_layer_iterations_are_the_cccp_update():
    X = sign_patterns(30, 16, seed=6, dtype=torch.float64).unsqueeze(0)
    xi = torch.randn(1, 4, 16, dtype=torch.float64)
    for steps in (0, 1, 3):
        layer = _identity_layer(16, 5.0, update_steps_max=steps).double()
        assert torch.allclose(layer(X, xi), hf.update(xi, X[0], 5.0, steps=steps + 1), atol=1e-12)
    conv = _identity_layer(16, 5.0, update_steps_max=None, update_eps=1e-10).double()
    assert torch.allclose(conv(X, xi), hf.update(xi, X[0], 5.0, steps=200), atol=1e-8)


def test_convergence_stops_per_head_on_the_max_over_the_batch():
    """One slow sample keeps its head iterating (max, not mean, over the batch); the other head stops alone."""
    layer = hf.HopfieldAttention(8, 4, num_heads=2, beta=[0.05, 1.0], update_steps_max=None, update_eps=1e-3,
                                 norm_stored=False, norm_state=False, norm_proj=False).double()
    with torch.no_grad():
        for lin in (layer.w_q, layer.w_k, layer.w_v):
            lin.weight.copy_(torch.eye(8, dtype=torch.float64))
            lin.bias.zero_()
        layer.w_o.weight.copy_(torch.eye(8, dtype=torch.float64))
        layer.w_o.bias.zero_()
    g = torch.Generator().manual_seed(4)
    x = torch.randn(8, 6, 8, generator=g, dtype=torch.float64) * 0.05
    x[0] = torch.randn(6, 8, generator=g, dtype=torch.float64) * 1.5  # the slow sample
    ref = ref_hopfield(layer, x, x, x, norms=(False, False, False))
    assert torch.allclose(layer(x), ref, atol=1e-12)
    early = hf.HopfieldAttention(8, 4, num_heads=2, beta=[0.05, 1.0], update_steps_max=1,
                                 norm_stored=False, norm_state=False, norm_proj=False).double()
    early.load_state_dict(layer.state_dict())
    assert float((early(x) - ref)[1:].abs().max()) > 1e-6  # the fast samples still moved after step 1
    per_row = ref_hopfield(layer, x[1:], x[1:], x[1:], norms=(False, False, False))
    assert float((layer(x)[1:] - per_row).abs().max()) > 1e-9  # the slow sample changed the others' stop


def test_default_beta_init_and_norms():
    layer = hf.HopfieldAttention(64, num_heads=4)
    assert layer.d_k == 16 and layer.d_v == 16 and layer.d_out == 64 and math.isclose(layer.beta, 0.25)
    assert layer.update_steps_max == 0 and layer.update_eps == 1e-4 and layer.dropout == 0.0
    assert all(m is not None and m.eps == 1e-5 and m.elementwise_affine
               for m in (layer.norm_stored, layer.norm_state, layer.norm_proj))
    w = torch.cat([lin.weight.detach().flatten() for lin in (layer.w_q, layer.w_k, layer.w_v, layer.w_o)])
    assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(w.mean())) < 0.002
    assert all(float(lin.bias.abs().max()) == 0.0 for lin in (layer.w_q, layer.w_k, layer.w_v, layer.w_o))
    assert "beta=0.25" in repr(layer) and "heads=4" in repr(layer)
    assert hf.HopfieldAttention(8, bias=False).w_q.bias is None


def test_per_head_beta_equal_values_match_scalar_beta():
    torch.manual_seed(0)
    a = hf.HopfieldAttention(16, num_heads=2, beta=0.3, update_steps_max=2)
    b = hf.HopfieldAttention(16, num_heads=2, beta=[0.3, 0.3], update_steps_max=2)
    b.load_state_dict(a.state_dict(), strict=False)
    x = torch.randn(2, 5, 16)
    assert torch.allclose(a(x), b(x), atol=1e-6)
    c = hf.HopfieldAttention(16, num_heads=2, beta=[0.3, 0.3])  # fused one-step path with per-head beta
    c.load_state_dict(a.state_dict(), strict=False)
    a1 = hf.HopfieldAttention(16, num_heads=2, beta=0.3)
    a1.load_state_dict(a.state_dict())
    assert torch.allclose(a1(x), c(x), atol=1e-6)


def test_dropout_acts_on_the_association_in_training_only():
    torch.manual_seed(0)
    layer = hf.HopfieldAttention(8, dropout=0.5, update_steps_max=1)
    x = torch.randn(2, 5, 8)
    layer.eval()
    plain = hf.HopfieldAttention(8, update_steps_max=1)
    plain.load_state_dict(layer.state_dict())
    assert torch.allclose(layer(x), plain(x), atol=1e-6)
    layer.train()
    assert not torch.allclose(layer(x), plain(x), atol=1e-3)


# ---------------------------------------------------------------- pooling / lookup
def test_pooling_query_is_a_layer_normed_learned_state_pattern():
    torch.manual_seed(0)
    pool = hf.HopfieldPooling(8, quantity=2, num_heads=2, update_steps_max=1).double()
    _randomise(pool, seed=5)
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    state = pool.state.unsqueeze(0).expand(3, -1, -1)
    assert torch.allclose(pool(x), ref_hopfield(pool.hopfield, x, state, x).flatten(1), atol=1e-10)
    padded = torch.cat([x, torch.randn(3, 4, 8, dtype=torch.float64) * 100], 1)
    mask = torch.zeros(3, 9, dtype=torch.bool)
    mask[:, 5:] = True
    assert torch.allclose(pool(padded, key_padding_mask=mask), pool(x), atol=1e-10)
    proj = torch.randn(3, 5, 8, dtype=torch.float64)
    assert torch.allclose(pool(x, proj), ref_hopfield(pool.hopfield, x, state, proj).flatten(1), atol=1e-10)
    fresh = hf.HopfieldPooling(8, quantity=3)
    assert fresh.state.shape == (3, 8) and abs(float(fresh.state.std()) - 0.02) < 0.015
    assert not hf.HopfieldPooling(8, trainable=False).state.requires_grad


def test_lookup_is_attention_over_learned_patterns():
    torch.manual_seed(0)
    look = hf.HopfieldLookup(8, 11, separate_targets=True, targets_trainable=False).double()
    _randomise(look, seed=6)
    x = torch.randn(2, 4, 8, dtype=torch.float64)
    st, tg = look.stored.unsqueeze(0).expand(2, -1, -1), look.targets.unsqueeze(0).expand(2, -1, -1)
    assert torch.allclose(look(x), ref_hopfield(look.hopfield, st, x, tg), atol=1e-10)
    assert not look.targets.requires_grad and look.stored.requires_grad
    shared = hf.HopfieldLookup(8, 5).double()
    st = shared.stored.unsqueeze(0).expand(2, -1, -1)
    assert shared.targets is None and torch.allclose(shared(x), ref_hopfield(shared.hopfield, st, x, st), atol=1e-10)


# ---------------------------------------------------------------- MIL models
def test_pooling_model_learns_a_mil_task_and_mean_pooling_does_not():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, 8, generator=g)
    y = torch.randint(0, 2, (256,), generator=g)
    pos = torch.randint(0, 8, (256,), generator=g)
    x[y == 1, pos[y == 1]] = torch.tensor([2.0, -2, 2, -2, 2, -2, 2, -2])  # one witness instance per positive bag
    accs = {}
    for name, model in (("pool", hf.HopfieldPoolingMIL(8, num_heads=1, beta=None, update_steps_max=0, dropout=0.0)),
                        ("mean", hf.MeanPoolMIL(8))):
        torch.manual_seed(0)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        for _ in range(120):
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(model(x[:192]), y[:192].float()).backward()
            opt.step()
        with torch.no_grad():
            accs[name] = float(((model(x[192:]) > 0).long() == y[192:]).float().mean())
    assert accs["pool"] >= 0.9 and accs["pool"] - accs["mean"] >= 0.1, accs


def test_mil_models_defaults_masks_and_shapes():
    torch.manual_seed(0)
    bags = hf.models.bit_bags(3)
    m = hf.HopfieldMIL()
    assert m.hopfield.d_k == 8 and m.hopfield.num_heads == 8 and m.hopfield.update_steps_max == 3
    assert m.hopfield.beta == 0.25 and m.hopfield.dropout == 0.5  # the demo's adapted settings
    assert m.eval()(bags).shape == (3,)
    pool = hf.HopfieldPoolingMIL(embed_dim=6, quantity=2).eval()
    assert pool.pooling.hopfield.d_in == 6 and pool(bags).shape == (3,)
    mask = torch.ones(3, 16, dtype=torch.bool)
    mask[:, 10:] = False
    assert torch.allclose(pool(bags, mask), pool(bags[:, :10]), atol=1e-6)
    mean = hf.MeanPoolMIL()
    assert torch.allclose(mean(bags, mask), mean(bags[:, :10]), atol=1e-6)
    look = hf.HopfieldLookupMIL(quantity=20).eval()
    assert look.lookup.targets is not None and not look.lookup.targets.requires_grad
    out = look.lookup(bags) * mask.unsqueeze(-1)
    assert torch.allclose(look(bags, mask), look.head(out.flatten(1)).squeeze(-1), atol=1e-6)
    with pytest.raises(ValueError, match=r"bags must be \(B, 16, 8\)"):
        m(torch.randn(3, 15, 8))
    with pytest.raises(ValueError, match="bags must be"):
        pool(torch.randn(3, 4, 7))
    with pytest.raises(ValueError, match="bags must be"):
        look(torch.randn(3, 16))


def test_attention_mil_pooling_is_ilse_et_al():
    torch.manual_seed(0)
    for gated in (False, True):
        ap = hf.AttentionPool(6, 4, gated=gated).double()
        h = torch.randn(2, 5, 6, dtype=torch.float64)
        a = torch.tanh(h @ ap.v.weight.T + ap.v.bias)
        if gated:
            a = a * torch.sigmoid(h @ ap.u.weight.T + ap.u.bias)
        w = torch.softmax((a @ ap.w.weight.T + ap.w.bias).squeeze(-1), -1)
        assert torch.allclose(ap(h), (w.unsqueeze(-1) * h).sum(1), atol=1e-12)
        mask = torch.tensor([[True] * 5, [True] * 2 + [False] * 3])
        assert torch.allclose(ap(h, mask)[1], ap(h[1:, :2])[0], atol=1e-12)


def test_mnist_bags_model_ignores_padding():
    torch.manual_seed(0)
    for kind in ("hopfield", "gated"):
        model = hf.MnistBagsMIL(pooling=kind, width=20).eval()
        x, mask = hf.models.mnist_bag_example()
        assert torch.allclose(model(x, mask)[1], model(x[1:, :3])[0], atol=1e-5)
    with pytest.raises(ValueError, match="pooling"):
        hf.MnistBagsMIL(pooling="max")
    with pytest.raises(ValueError, match=r"\(B, N, 1, 28, 28\)"):
        model(torch.randn(2, 3, 28, 28))


def test_models_are_registered_for_mil_with_budget_knobs():
    names = {e.name: e for e in pz.list_models(task="mil") if e.paper == "hopfield"}
    assert set(names) == {"hopfield_mil", "hopfield_pooling_mil", "hopfield_lookup_mil", "mean_pool_mil",
                          "mnist_bags_mil"}
    assert names["hopfield_lookup_mil"].knob == "quantity" and names["mnist_bags_mil"].knob == "width"
    assert isinstance(pz.create_model("hopfield_pooling_mil", in_dim=8), hf.HopfieldPoolingMIL)


# ---------------------------------------------------------------- data
def test_bit_pattern_set_properties():
    data, signals = hf.bit_pattern_set(64, 16, 8, num_signals_per_bag=2)
    assert signals.shape == (8, 8) and len(torch.unique(signals, dim=0)) == 8 and (signals.sum(1) > 0).all()
    is_sig = (data.x.unsqueeze(2) == signals.float().view(1, 1, 8, 8)).all(-1).any(-1)
    assert (is_sig[data.y == 1].sum(1) == 2).all() and not is_sig[data.y == 0].any()
    assert torch.equal(data.y[:32], torch.ones(32, dtype=torch.long)) and int(data.y.sum()) == 32
    assert (data.x.sum(-1) > 0).all() and set(data.x.unique().tolist()) == {0.0, 1.0}
    again, _ = hf.bit_pattern_set(64, 16, 8, num_signals_per_bag=2)
    assert torch.equal(again.x, data.x)
    third, _ = hf.bit_pattern_set(63, 4, 3, fraction_targets=0.25, num_bits=4)
    assert int(third.y.sum()) == 16  # ceil(0.25 * 63)


def test_patterns_queries_and_folds():
    X = sign_patterns(5, 16, seed=1, dtype=torch.float64)
    assert torch.allclose(X.norm(dim=-1), torch.ones(5, dtype=torch.float64)) and set((X * 4).unique().tolist()) == {-1.0, 1.0}
    q = mask_lower_half(X)
    assert float(q[:, 8:].abs().max()) == 0.0 and torch.allclose(q.norm(dim=-1), X.norm(dim=-1))
    assert torch.allclose(q[:, :8], X[:, :8] * math.sqrt(2))
    img = mask_lower_half(X[:, :12], height=4)  # 4 rows of 3: keep rows 0-1
    assert float(img[:, 6:].abs().max()) == 0.0 and float(img[:, :6].abs().min()) > 0
    y = torch.tensor([0] * 10 + [1] * 5)
    f = stratified_folds(y, 5, seed=0)
    assert all(int((f[y == c] == k).sum()) == (2 if c == 0 else 1) for c in (0, 1) for k in range(5))


def test_mnist_bags(require_data):
    require_data("mnist")
    mnist = pz.data.load_mnist()
    bags = hf.mnist_bags(mnist.test, 40, seed=3)
    lengths = bags.mask.sum(1)
    assert lengths.min() >= 1 and abs(float(lengths.float().mean()) - 10) < 1.5
    assert torch.equal(bags.y, ((bags.instance_labels == 9).any(1)).long())
    assert float(bags.x[~bags.mask].abs().max()) == 0.0
    real = bags.x[bags.mask]
    assert abs(float(real.min()) + 0.1307 / 0.3081) < 1e-4  # standardised with MNIST's mean / std
    x, mask = MILBags.unpack(bags.packed().x, (1, 28, 28))
    assert torch.equal(mask, bags.mask[:, :mask.shape[1]]) and torch.allclose(x, bags.x[:, :x.shape[1]])


def test_mil_csv_bags_match_the_documented_counts(require_data):
    require_data("mil")
    for name, (bags, instances, positive) in {"musk1": (92, 476, 47), "elephant": (200, 1391, 100)}.items():
        b = hf.load_mil_csv(name)
        assert (len(b), int(b.mask.sum()), int(b.y.sum())) == (bags, instances, positive)
        assert float(b.x[~b.mask].abs().max()) == 0.0  # padding is zero
    with pytest.raises(ValueError, match="unknown MIL data set"):
        hf.load_mil_csv("tiger")


# ---------------------------------------------------------------- bad input
def test_bad_inputs_to_retrieval():
    X = torch.randn(5, 4)
    with pytest.raises(ValueError, match="xi.*d=3.*d=4"):
        hf.update(torch.randn(3), X, 1.0)
    with pytest.raises(TypeError, match="xi.*floating"):
        hf.energy(torch.ones(4, dtype=torch.long), X, 1.0)
    with pytest.raises(TypeError, match="X.*floating"):
        hf.update(torch.randn(4), torch.ones(5, 4, dtype=torch.int32), 1.0)
    with pytest.raises(TypeError, match="one dtype"):
        hf.update(torch.randn(4, dtype=torch.float64), X, 1.0)
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="beta"):
            hf.update(torch.randn(4), X, bad)
    with pytest.raises(TypeError, match="beta"):
        hf.update(torch.randn(4), X, True)
    with pytest.raises(ValueError, match="beta.*scalar"):
        hf.update(torch.randn(4), X, torch.ones(2))
    with pytest.raises(TypeError, match="beta.*floating"):
        hf.update(torch.randn(4), X, torch.tensor(2))
    with pytest.raises(ValueError, match="xi.*NaN"):
        hf.update(torch.tensor([1.0, float("nan"), 0, 0]), X, 1.0)
    with pytest.raises(ValueError, match="X.*NaN"):
        hf.energy(torch.randn(4), torch.full((2, 4), float("inf")), 1.0)
    with pytest.raises(ValueError, match=r"X.*\(N, d\)"):
        hf.update(torch.randn(4), torch.randn(2, 5, 4), 1.0)
    with pytest.raises(ValueError, match="at least one pattern"):
        hf.update(torch.randn(4), torch.randn(0, 4), 1.0)
    with pytest.raises(ValueError, match="steps"):
        hf.update(torch.randn(4), X, 1.0, steps=-1)
    with pytest.raises(ValueError, match="threshold"):
        hf.fixed_point_type(X, 1.0, torch.randn(4), threshold=2.0)
    with pytest.raises(ValueError, match="max_steps"):
        hf.fixed_point_type(X, 1.0, torch.randn(4), max_steps=0)
    with pytest.raises(ValueError, match="xi must be"):
        hf.fixed_point_type(X, 1.0, torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="N >= 2"):
        hf.separation(torch.randn(1, 4))
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        hf.hebbian_weights(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"W must be \(d, d\)"):
        hf.classical_retrieve(torch.randn(3, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="max_steps"):
        hf.classical_retrieve(torch.randn(4, 4), torch.randn(2, 4), max_steps=0)
    with pytest.raises(TypeError, match="torch.Tensor"):
        hf.separation([[1.0, 2.0]])


def test_bad_inputs_to_layers_and_data():
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
    with pytest.raises(ValueError, match="d_proj"):
        hf.HopfieldAttention(8, d_proj=4)(torch.randn(1, 3, 8), torch.randn(1, 2, 8))
    with pytest.raises(ValueError, match="d_in=8 != d_stored=6"):
        hf.HopfieldAttention(8, d_stored=6)(torch.randn(1, 3, 6))
    for kwargs, msg in (({"num_heads": 3}, "divisible"), ({"beta": 0.0}, "beta"), ({"beta": [1.0, -1.0]}, "beta"),
                        ({"update_steps_max": -1}, "update_steps_max"), ({"update_eps": 0.0}, "update_eps"),
                        ({"dropout": 1.0}, "dropout"), ({"d_k": 0}, "d_k"), ({"num_heads": 0}, "num_heads")):
        with pytest.raises(ValueError, match=msg):
            hf.HopfieldAttention(10, **kwargs)
    with pytest.raises(ValueError, match="state.*features"):
        hf.HopfieldLookup(8, 4)(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="quantity"):
        hf.HopfieldPooling(8, quantity=0)
    with pytest.raises(ValueError, match="quantity"):
        hf.HopfieldLookup(8, 0)
    with pytest.raises(ValueError, match="num_bits"):
        hf.bit_pattern_set(10, 4, 300, num_bits=8)
    with pytest.raises(ValueError, match="fraction_targets"):
        hf.bit_pattern_set(10, 4, 3, fraction_targets=1.0)
    with pytest.raises(ValueError, match="num_signals_per_bag"):
        hf.bit_pattern_set(10, 4, 3, num_signals_per_bag=5)
    with pytest.raises(TypeError, match="TensorSet"):
        hf.mnist_bags(torch.randn(3, 1, 28, 28), 2)


# ---------------------------------------------------------------- protocols and benchmark
def test_tiny_full_protocol_through_overrides(tmp_path, require_data):
    require_data("mnist")
    require_data("mil")
    tiny = {"capacity_sizes": (16, 64), "capacity_betas": (1.0, 1000.0), "transition_sizes": (16, 64, 128, 256),
            "census_queries": 8, "bit_bags": 64, "bit_epochs": 1, "bit_seeds": 2, "bags_train": 4, "bags_test": 6,
            "bags_lengths": (3,), "bags_seeds": 2, "bags_epochs": 1, "mil_sets": ("musk1",), "mil_folds": 2,
            "mil_epochs": 1}
    r = pz.reproduce("hopfield", "full", overrides=tiny, out=tmp_path, progress=False)
    m = r.metrics
    assert r.config["bit_epochs"] == 1 and r.config["about"].startswith("cpu +")
    for kind in ("hopfield", "attention", "gated"):
        assert 0.0 <= m[f"mnist_bags_{kind}_acc_len3"] <= 1.0
    assert "mnist_bags_gated_auc_len3_std" in m and "bitpattern_pooling_acc_std" in m
    assert 0.0 <= m["mil_musk1_auc"] <= 1.0 and m["random_modern_b1000_min_acc"] == 1.0
    assert 0.105 <= m["random_classical_capacity_per_d"] <= 0.175
    assert {"capacity_random", "capacity_mnist", "classical_transition", "bit_patterns_learning"} <= set(r.curves)
    assert {"fixed_point_census", "bit_patterns", "mnist_bags", "mil_benchmarks"} <= set(r.tables)
    assert {v.metric: v.verdict for v in r.verdicts}["mil_elephant_auc"] == "no band"


def test_bench_writes_the_csv_against_multihead_attention(tmp_path, monkeypatch):
    from paperzoo.papers.hopfield import bench

    monkeypatch.setattr(bench, "CONFIGS", [(2, 5, 16, 2)])
    path = bench.run(root=tmp_path, repeats=1, rounds=1)
    assert path == tmp_path / "results" / "bench" / "hopfield_attention-cpu.csv"
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and float(lines[1].split(",")[4]) <= 1e-5
    with pytest.raises(ValueError, match="hflayers"):
        bench.run(against="hflayers", root=tmp_path)


# ---------------------------------------------------------------- exact error messages and remaining semantics
def test_error_messages_name_the_argument_and_shape():
    X, W4, s4 = torch.randn(5, 4), torch.randn(4, 4), torch.randn(2, 4)
    cases = [
        (lambda: hf.update(torch.randn(4), torch.ones(5, 4, dtype=torch.int32), 1.0), TypeError,
         r"^X \(stored patterns\) must be a floating-point tensor \(float32/float64\), got dtype torch.int32"),
        (lambda: hf.update(torch.ones(4, dtype=torch.long), X, 1.0), TypeError, r"^xi \(state\) must be a floating-point"),
        (lambda: hf.update(torch.randn(4), torch.randn(4), 1.0), ValueError,
         r"^X \(stored patterns\) must have at least 2 dims, got shape \(4,\)$"),
        (lambda: hf.update(torch.randn(()), X, 1.0), ValueError, r"^xi \(state\) must have at least 1 dims, got shape \(\)$"),
        (lambda: hf.update(torch.randn(3), X, 1.0), ValueError,
         r"^xi \(state\) has d=3 but X \(stored patterns\) has d=4; X is \(N, d\)"),
        (lambda: hf.update(torch.randn(4), torch.randn(0, 4), 1.0), ValueError,
         r"^X \(stored patterns\) must hold at least one pattern \(N >= 1\)$"),
        (lambda: hf.update(torch.randn(4), torch.randn(2, 2, 4), 1.0), ValueError,
         r"^X \(stored patterns\) must have shape \(N, d\), got \(2, 2, 4\)$"),
        (lambda: hf.update(torch.randn(4), X, "1"), TypeError, r"^beta must be a positive float, got str$"),
        (lambda: hf.update(torch.randn(4), X, torch.ones(2)), ValueError,
         r"^beta must be a positive scalar, got a tensor of shape \(2,\)$"),
        (lambda: hf.update(torch.randn(4), X, torch.tensor(2)), TypeError,
         r"^beta must be a floating-point scalar, got dtype torch.int64$"),
        (lambda: hf.update(torch.randn(4), X, -1.0), ValueError,
         r"^beta must be positive and finite \(inverse temperature\), got -1.0$"),
        (lambda: hf.update(torch.randn(4), X, 1.0, steps=True), ValueError, r"^steps must be a non-negative int, got True$"),
        (lambda: hf.update(torch.randn(4), X, 1.0, steps=1.5), ValueError, r"^steps must be a non-negative int"),
        (lambda: hf.separation(torch.randn(1, 4)), ValueError,
         r"^X \(stored patterns\) must be \(N, d\) with N >= 2, got \(1, 4\)$"),
        (lambda: hf.separation(torch.ones(3, 4, dtype=torch.long)), TypeError, r"^X \(stored patterns\) must be a float"),
        (lambda: hf.separation(torch.randn(4)), ValueError, r"^X \(stored patterns\) must have at least 2 dims"),
        (lambda: hf.hebbian_weights(torch.ones(3, 4, dtype=torch.long)), TypeError, r"^X \(stored patterns\) must be a float"),
        (lambda: hf.hebbian_weights(torch.randn(4)), ValueError, r"^X \(stored patterns\) must have at least 2 dims"),
        (lambda: hf.hebbian_weights(torch.randn(2, 3, 4)), ValueError,
         r"^X \(stored patterns\) must have shape \(N, d\), got \(2, 3, 4\)$"),
        (lambda: hf.classical_retrieve(torch.ones(4, 4, dtype=torch.long), s4), TypeError, r"^W \(weights\) must be a float"),
        (lambda: hf.classical_retrieve(torch.randn(4), s4), ValueError, r"^W \(weights\) must have at least 2 dims"),
        (lambda: hf.classical_retrieve(W4, torch.ones(2, 4, dtype=torch.long)), TypeError, r"^s \(state\) must be a float"),
        (lambda: hf.classical_retrieve(W4, torch.randn(())), ValueError, r"^s \(state\) must have at least 1 dims"),
        (lambda: hf.classical_retrieve(torch.randn(3, 4), s4[:, :3]), ValueError,
         r"^W must be \(d, d\) and s \(\.\.\., d\); got W \(3, 4\), s \(2, 3\)$"),
        (lambda: hf.classical_retrieve(torch.randn(4, 3), s4), ValueError, r"^W must be \(d, d\)"),
        (lambda: hf.classical_retrieve(torch.randn(4, 4, 4), s4), ValueError, r"^W must be \(d, d\)"),
        (lambda: hf.classical_retrieve(W4, torch.randn(2, 3)), ValueError, r"^W must be \(d, d\)"),
        (lambda: hf.classical_retrieve(W4, s4, max_steps=True), ValueError, r"^max_steps must be a positive int, got True$"),
        (lambda: hf.classical_retrieve(W4, s4, max_steps=2.0), ValueError, r"^max_steps must be a positive int"),
        (lambda: hf.fixed_point_type(X, 1.0, torch.randn(4), max_steps=2.0), ValueError,
         r"^max_steps must be a positive int, got 2.0$"),
        (lambda: hf.fixed_point_type(X, 1.0, torch.randn(4), threshold=0.0), ValueError,
         r"^threshold must be in \(0, 1\), got 0.0$"),
        (lambda: hf.fixed_point_type(X, 1.0, torch.randn(4), threshold=1.0), ValueError, r"^threshold must be in"),
        (lambda: hf.fixed_point_type(X, 1.0, torch.randn(2, 3, 4)), ValueError,
         r"^xi must be \(d,\) or \(S, d\), got shape \(2, 3, 4\)$"),
        (lambda: hf.fixed_point_type(X, 0.0, torch.randn(4)), ValueError, r"^beta must be positive"),
    ]
    for fn, err, msg in cases:
        with pytest.raises(err, match=msg):
            fn()


def test_beta_may_be_a_learnable_tensor():
    X, xi = torch.randn(6, 3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    beta = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    hf.energy(xi, X, beta).backward()
    z = X @ xi  # d/dbeta of -lse(beta, z) + log(N)/beta
    p = torch.softmax(1.5 * z, 0)
    ref = (torch.logsumexp(1.5 * z, 0) / 1.5 ** 2 - (p * z).sum() / 1.5) - math.log(6) / 1.5 ** 2
    assert beta.grad is not None and abs(float(beta.grad) - float(ref)) < 1e-10
    assert torch.allclose(hf.update(xi, X, beta), hf.update(xi, X, 1.5), atol=1e-14)


def test_layer_error_messages_and_layouts():
    layer = hf.HopfieldAttention(8, num_heads=2)
    for x, msg in ((torch.randn(3, 8), r"^stored must be 3-D \(batch, length, features\), got shape \(3, 8\)$"),
                   (torch.ones(2, 3, 8, dtype=torch.long), r"^stored must be a floating-point tensor, got dtype torch.int64$"),
                   (torch.randn(2, 3, 7), r"^stored has 7 features, expected 8$"),
                   (torch.full((2, 3, 8), float("inf")), r"^stored contains NaN or inf$")):
        with pytest.raises((ValueError, TypeError), match=msg):
            layer(x)
    with pytest.raises(TypeError, match=r"^stored must be a torch.Tensor, got list$"):
        layer([1.0])
    with pytest.raises(ValueError, match=r"^state must be 3-D \(length, batch, features\)"):
        hf.HopfieldAttention(8, batch_first=False)(torch.randn(3, 2, 8), torch.randn(3, 8))
    with pytest.raises(ValueError, match=r"^proj has 5 features, expected 8$"):
        layer(torch.randn(2, 3, 8), torch.randn(2, 1, 8), torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"^stored has 5 features, expected 8$"):
        hf.HopfieldPooling(8)(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"^state has 5 features, expected 8$"):
        hf.HopfieldLookup(8, 4)(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"^state must be 3-D \(length, batch, features\)"):
        hf.HopfieldLookup(8, 4, batch_first=False)(torch.randn(3, 8))
    with pytest.raises(ValueError, match=r"^stored must be 3-D \(length, batch, features\)"):
        hf.HopfieldPooling(8, batch_first=False)(torch.randn(3, 8))
    with pytest.raises(ValueError, match=r"^quantity must be a positive int, got 0$"):
        hf.HopfieldLookup(8, 0)
    with pytest.raises(ValueError, match=r"^quantity must be a positive int, got 2.0$"):
        hf.HopfieldPooling(8, 2.0)


def test_pooling_and_lookup_constructor_arguments_and_init():
    torch.manual_seed(0)
    pool = hf.HopfieldPooling(8, 3, d_k=5, d_out=6)
    h = pool.hopfield
    assert (h.num_heads, h.d_k, h.d_out, pool.quantity) == (1, 5, 6, 3) and pool(torch.randn(2, 4, 8)).shape == (2, 18)
    big = hf.HopfieldPooling(8, 4000)
    assert abs(float(big.state.mean())) < 0.002 and abs(float(big.state.std()) - 0.02) < 0.002
    _, p = pool.associate(torch.randn(2, 4, 8))
    assert p is None
    _, p = pool.associate(torch.randn(2, 4, 8), need_weights=True)
    assert p.shape == (2, 1, 3, 4) and torch.allclose(p.sum(-1), torch.ones(2, 1, 3))
    look = hf.HopfieldLookup(8, 1, d_k=5, d_out=6)
    assert (look.hopfield.num_heads, look.hopfield.d_k, look.hopfield.d_out, look.quantity) == (1, 5, 6, 1)
    big = hf.HopfieldLookup(8, 4000, separate_targets=True)
    for w in (big.stored, big.targets):
        assert abs(float(w.mean())) < 0.002 and abs(float(w.std()) - 0.02) < 0.002
    assert big.targets.requires_grad and not hf.HopfieldLookup(8, 3, trainable=False).stored.requires_grad


def test_hopfield_core_defaults_and_weights():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64), torch.randn(2, 3, 6, 5, generator=g,
               dtype=torch.float64), torch.randn(2, 3, 6, 2, generator=g, dtype=torch.float64))
    z, p = hf.hopfield_core(q, k, v, 0.7)
    ref = torch.softmax(0.7 * q @ k.transpose(-2, -1), -1)
    assert p is None and torch.allclose(z, ref @ v, atol=1e-12)
    z, p = hf.hopfield_core(q, k, v, 0.7, need_weights=True)
    assert torch.allclose(p, ref, atol=1e-12) and torch.allclose(z, ref @ v, atol=1e-12)
    z2, p2 = hf.hopfield_core(q, k, v, 0.7, update_steps_max=2)
    assert p2 is None and not torch.allclose(z2, z, atol=1e-6)
    layer = hf.HopfieldAttention(8, update_steps_max=2)
    assert layer.associate(torch.randn(1, 3, 8))[1] is None


@pytest.mark.parametrize("steps", [0, 2])
def test_dropout_zeroes_and_rescales_association_weights(steps):
    """Output = dropout(p) V with V the identity: every entry is 0 or p / (1 - 0.5), in training only."""
    layer = _identity_layer(6, 1.0, dropout=0.5, update_steps_max=steps).double()
    x = torch.randn(3, 6, 6, dtype=torch.float64)
    layer.eval()
    out_eval, p = layer.associate(x, need_weights=True)
    assert torch.allclose(out_eval, p[:, 0] @ x, atol=1e-12)
    eye = torch.eye(6, dtype=torch.float64).expand(3, 6, 6)
    layer.eval()
    base = layer(eye, x, eye)  # values = identity: the output row is the association row
    layer.train()
    torch.manual_seed(1)
    drop = layer(eye, x, eye)
    zero, kept = drop.abs() < 1e-15, (drop - 2 * base).abs() < 1e-12
    assert bool((zero | kept).all()) and 0.2 < float(zero.double().mean()) < 0.8


def test_each_head_stops_on_its_own_convergence():
    """Head h of a multi-head layer is the same head iterated alone: a slow head does not keep a converged
    one iterating (the stop is per head, max over the batch only)."""
    layer = hf.HopfieldAttention(8, num_heads=2, beta=[0.3, 4.0], update_steps_max=None, update_eps=1e-3,
                                 norm_stored=False, norm_state=False, norm_proj=False).double()
    with torch.no_grad():
        for lin in (layer.w_q, layer.w_k, layer.w_v, layer.w_o):
            lin.weight.copy_(torch.eye(8, dtype=torch.float64))
            lin.bias.zero_()
    x = torch.randn(4, 6, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 1.5
    out = layer(x)
    for h, beta in enumerate((0.3, 4.0)):
        alone = _identity_layer(4, beta, update_steps_max=None, update_eps=1e-3).double()
        xs = x[..., 4 * h:4 * h + 4]
        assert torch.allclose(out[..., 4 * h:4 * h + 4], alone(xs), atol=1e-12)
    slow = _identity_layer(4, 0.3, update_steps_max=40, update_eps=1e-12).double()  # head 0 kept iterating
    assert float((slow(x[..., :4]) - out[..., :4]).abs().max()) > 1e-6
