"""snnk: float64 references for the feature maps, exact quadrature of the URF identity, unbiasedness, layers, bundling."""
import math

import numpy as np
import pytest
import torch
from torch import nn

import paperzoo as pz
from paperzoo.data.synthetic import blobs
from paperzoo.nn import count_params
from paperzoo.papers.snnk import (
    URF,
    BundledRF,
    SNNKAdapter,
    SNNKLinear,
    arccos1_kernel,
    bundle_fit,
    exact_checks,
    init_weight,
    kernel_error_sweep,
    loglog_slope,
    relu_rf,
    snnk_mlp,
    uptrain,
    urf_for_activation,
)
from paperzoo.papers.snnk.features import ACTIVATIONS, URF_FNS, gaussian_matrix

F64 = torch.float64


def _xw(n=4, d=6, r=0.6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, w = torch.randn(n, d, generator=g, dtype=F64), torch.randn(n, d, generator=g, dtype=F64)
    return r * x / x.norm(dim=1, keepdim=True), r * w / w.norm(dim=1, keepdim=True)


# ---------------------------------------------------------------- feature maps vs float64 references written here
def test_cos_urf_features_match_reference():
    u = urf_for_activation("cos", 64, 6, seed=3)
    x, w = _xw()
    b = np.array([0.3, -0.1, 0.7, 0.0])
    G, xi, m = u.G.numpy(), u.xis.numpy(), 64
    assert set(np.round(np.abs(xi) * 2 * np.pi, 12)) == {1.0}
    phi_ref = np.exp(1j * 2 * np.pi * xi * (x.numpy() @ G.T) + (x.numpy() ** 2).sum(1, keepdims=True) / 2) / np.sqrt(m)
    psi_ref = np.exp(1j * 2 * np.pi * xi * b[:, None]) * np.exp(w.numpy() @ G.T - (w.numpy() ** 2).sum(1, keepdims=True) / 2)
    psi_ref /= np.sqrt(m)
    np.testing.assert_allclose(u.phi(x).numpy(), phi_ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(u.psi(w, torch.tensor(b)).numpy(), psi_ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(u.estimate(x, w, torch.tensor(b)).numpy(), (phi_ref * psi_ref).sum(1).real, rtol=1e-12)


def test_gaussian_urf_features_match_reference_and_normalize():
    u = urf_for_activation("gaussian", 32, 6, seed=1)
    x, _ = _xw()
    G, xi = u.G.numpy(), u.xis.numpy()
    a = 1j * 2 * np.pi * xi
    ref = np.exp(a * (x.numpy() @ G.T) - a * a * (x.numpy() ** 2).sum(1, keepdims=True) / 2) / np.sqrt(32)
    np.testing.assert_allclose(u.phi(x).numpy(), ref, rtol=1e-12)
    xn = 0.4 * x / x.norm(dim=1, keepdim=True)
    np.testing.assert_allclose(u.phi(3 * x, normalize=0.4).numpy(), u.phi(xn).numpy(), rtol=1e-12)


def _quadrature_urf(name, x, w, b, n=60):
    """Exact (quadrature) expectation of m Phi_k Psi_k: Gauss-Hermite over g (d = 1) and over xi."""
    g, wg = np.polynomial.hermite_e.hermegauss(n)
    wg = wg / wg.sum()
    if name in ("cos", "sin"):
        xs, wx = np.array([1.0, -1.0]) / (2 * np.pi), np.array([0.5, 0.5])
    elif name == "gaussian":
        z, wx = np.polynomial.hermite_e.hermegauss(n)
        xs, wx = z / (2 * np.pi), wx / wx.sum()
    else:
        xs, wx = np.zeros(1), np.ones(1)
    GG, XI = np.meshgrid(g, xs, indexing="ij")
    W = np.outer(wg, wx).ravel()
    a_fn, weight, B_fn = URF_FNS[name]
    u = URF(name, torch.tensor(XI.ravel()), torch.tensor(GG.ravel()[:, None]), a_fn, weight, B_fn)
    prods = u.phi(torch.tensor([[x]], dtype=F64)) * u.psi(torch.tensor([[w]], dtype=F64), torch.tensor([b], dtype=F64))
    return float((prods[0].numpy() * len(W) * W).sum().real)


@pytest.mark.parametrize("name", ["cos", "sin", "exp", "gaussian"])
def test_urf_identity_is_exact_under_quadrature(name):
    for x, w, b in [(0.5, 0.4, 0.3), (-0.3, 0.6, -0.5), (0.2, -0.1, 1.1)]:
        want = float(ACTIVATIONS[name](torch.tensor(w * x + b, dtype=F64)))
        assert _quadrature_urf(name, x, w, b) == pytest.approx(want, abs=1e-10)


@pytest.mark.parametrize("name", ["cos", "sin", "exp", "gaussian"])
def test_urf_estimator_unbiased_within_five_standard_errors(name):
    m = 100_000
    u = urf_for_activation(name, m, 5, seed=11)
    x, w = _xw(3, 5, r=0.5, seed=2)
    b = torch.tensor([0.2, -0.4, 0.0], dtype=F64)
    terms = (u.phi(x) * u.psi(w, b)).real * m                        # per-feature unbiased terms
    err = (terms.mean(1) - ACTIVATIONS[name]((x * w).sum(1) + b)).abs()
    se = terms.std(1) / math.sqrt(m)
    assert (err < 5 * se).all(), (err, se)
    assert (se < 0.01).all()


def test_relu_rf_reference_and_arccos_kernel():
    G = gaussian_matrix(40, 6, generator=torch.Generator().manual_seed(0), dtype=F64)
    x, w = _xw()
    np.testing.assert_allclose(relu_rf(x, G, floor=-0.2).numpy(), np.maximum(x.numpy() @ G.numpy().T, -0.2) / np.sqrt(40))
    e = torch.tensor([[2.0, 0.0]], dtype=F64)
    for v, want in [([3.0, 0.0], 6 / 2), ([0.0, 3.0], 6 / (2 * math.pi)), ([-3.0, 0.0], 0.0)]:
        assert float(arccos1_kernel(e, torch.tensor([v], dtype=F64))) == pytest.approx(want, abs=1e-12)
    Gm = torch.randn(400_000, 6, generator=torch.Generator().manual_seed(1), dtype=F64)
    t = (Gm @ x[0]).clamp_min(0) * (Gm @ w[0]).clamp_min(0)
    assert abs(float(t.mean() - arccos1_kernel(x[:1], w[:1]))) < 5 * float(t.std()) / math.sqrt(len(t))


def test_orthogonal_matrix_rows_orthogonal_within_block():
    G = gaussian_matrix(8, 8, orthogonal=True, generator=torch.Generator().manual_seed(0), dtype=F64)
    gram = G @ G.T
    assert float((gram - torch.diag(torch.diag(gram))).abs().max()) < 1e-10
    assert gaussian_matrix(20, 8, orthogonal=True).shape == (20, 8)


# ---------------------------------------------------------------- layers
def test_snnk_linear_relu_forward_and_init():
    W0 = torch.randn(5, 7, dtype=torch.float32)
    layer = SNNKLinear(7, 5, 16, init_weight=W0, seed=4)
    G = layer.G.numpy()
    np.testing.assert_allclose(layer.P.detach().numpy(), np.maximum(W0.numpy() @ G.T, 0) / 4, rtol=1e-5, atol=1e-6)
    x = torch.randn(3, 7)
    ref = (np.maximum(x.numpy() @ G.T, 0) / 4) @ layer.P.detach().numpy().T
    np.testing.assert_allclose(layer(x).detach().numpy(), ref, rtol=1e-4, atol=1e-5)
    assert torch.equal(layer(x), layer(x))                           # G is a fixed buffer, not redrawn
    assert [n for n, _ in layer.named_parameters()] == ["P"] and count_params(layer) == 5 * 16


def test_snnk_linear_relu_mean_is_arccos_kernel():
    W0 = torch.randn(4, 6)
    layer = SNNKLinear(6, 4, 200_000, init_weight=W0, seed=0)
    x = torch.randn(2, 6)
    want = arccos1_kernel(x[:, None, :].double(), W0[None].double())
    np.testing.assert_allclose(layer(x).detach().double().numpy(), want.numpy(), rtol=0.03)


def test_snnk_linear_urf_approximates_cos_layer():
    W0, b0 = 0.3 * torch.randn(3, 5), torch.tensor([0.1, -0.3, 0.5])
    layer = SNNKLinear(5, 3, 100_000, kind="urf", activation="cos", init_weight=W0, init_bias=b0, seed=1)
    x = 0.3 * torch.randn(4, 5)
    np.testing.assert_allclose(layer(x).detach().numpy(), torch.cos(x @ W0.T + b0).numpy(), atol=0.03)
    assert {n for n, _ in layer.named_parameters()} == {"P", "P_im"}


def test_adapter_identity_at_init_then_formula():
    ad = SNNKAdapter(12, num_rfs=8, seed=0).double()
    h = torch.randn(5, 12, dtype=F64)
    assert torch.equal(ad(h), h)
    assert count_params(ad) == 12 * 8 + 12
    with torch.no_grad():
        ad.v.copy_(torch.linspace(-1, 1, 12, dtype=F64))
    ref = h.numpy() + (np.maximum(h.numpy() @ ad.G.numpy().T, 0) / np.sqrt(8)) @ ad.P.detach().numpy().T * ad.v.detach().numpy()
    np.testing.assert_allclose(ad(h).detach().numpy(), ref, rtol=1e-12)
    bert, mam = init_weight(64, 64, "bert", torch.Generator().manual_seed(0)), init_weight(64, 64, "mam")
    assert abs(float(bert.std()) - 0.02) < 0.002 and 0.12 < float(mam.abs().max()) <= 0.125     # N(0, .02^2); U(+-1/8)
    with pytest.raises(ValueError, match="init"):
        init_weight(3, 3, "xavier")


def test_uptrain_swaps_linear_activation_pairs():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    W1 = net[0].weight.detach().clone()
    names = uptrain(net, lambda name, lin: lin.in_features == 6, num_rfs=4, seed=2)
    assert names == ["0"] and isinstance(net[0], SNNKLinear) and isinstance(net[1], nn.Identity)
    assert isinstance(net[2], nn.Linear) and isinstance(net[3], nn.ReLU)
    np.testing.assert_allclose(net[0].P.detach().numpy(), np.maximum(W1.numpy() @ net[0].G.numpy().T, 0) / 2, rtol=1e-5)
    assert uptrain(net, num_rfs=4) == ["2"]


def test_bundle_fit_matches_numpy_normal_equations():
    g = torch.Generator().manual_seed(0)
    phi, y = torch.randn(40, 9, generator=g, dtype=F64), torch.randn(40, 2, generator=g, dtype=F64)
    for lam in (0.0, 0.7):
        P, Y = phi.numpy(), y.numpy()
        ref = np.linalg.solve(P.T @ P + lam * np.eye(9), P.T @ Y)
        np.testing.assert_allclose(bundle_fit(phi, y, lam).numpy(), ref, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="ridge"):
        bundle_fit(phi, y, -1.0)


def test_bundled_rf_learns_without_backprop():
    tr, te = blobs(600, 0, dim=10, num_classes=3, shift=4.0), blobs(600, 1, dim=10, num_classes=3, shift=4.0)
    net = BundledRF(10, 3, 256, seed=0)
    assert float((net(te.x).argmax(1) == te.y).double().mean()) < 0.5          # theta = 0 before the fit
    net.fit(tr.x, tr.y, ridge=1e-3)
    assert float((net(te.x).argmax(1) == te.y).double().mean()) > 0.95


def test_snnk_mlp_learns_and_counts():
    model = snnk_mlp(in_dim=10, num_classes=3, width=32, depth=2, num_features=16)
    assert count_params(model) == 2 * 32 * 16 + 33 * 3
    tr, te = blobs(600, 0, dim=10, num_classes=3, shift=4.0), blobs(600, 1, dim=10, num_classes=3, shift=4.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        opt.zero_grad()
        nn.functional.cross_entropy(model(tr.x), tr.y).backward()
        opt.step()
    assert float((model(te.x).argmax(1) == te.y).float().mean()) > 0.95


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="unknown activation"):
        urf_for_activation("tanh", 8, 3)
    with pytest.raises(ValueError, match="last dim"):
        relu_rf(torch.randn(2, 4), torch.randn(8, 3))
    with pytest.raises(ValueError, match="kind"):
        SNNKLinear(3, 2, 4, kind="linear")
    with pytest.raises(ValueError, match="shape"):
        SNNKLinear(3, 2, 4, init_weight=torch.randn(3, 2))


# ---------------------------------------------------------------- experiments and the protocol path
def test_slope_and_small_sweep():
    ms = (16, 64, 256, 1024)
    assert loglog_slope(ms, [3.0 / m for m in ms]) == pytest.approx(-1.0, abs=1e-12)
    rel = kernel_error_sweep(("cos", "relu"), ms, n_pairs=50, repeats=4, seed=0)
    for v in rel.values():
        assert -1.3 < loglog_slope(ms, v) < -0.7


def test_exact_checks_in_card_bands():
    c = exact_checks(0, n_var_seeds=100)
    assert c["cos_urf_err_over_bound"] < 1 and 10 / 1.5 < c["cos_urf_var_ratio"] < 15
    assert c["relu_rf_rel_err"] < 0.02 and c["adapter_init_err"] == 0 and c["bundle_err"] < 1e-10


def test_full_protocol_tiny(tmp_path, require_data):
    require_data("mnist")
    r = pz.reproduce("snnk", "full", out=tmp_path, progress=False, overrides={
        "kernel_ms": (16, 64), "kernel_pairs": 20, "kernel_repeats": 2, "n_train": 512, "n_test": 256, "width": 32,
        "num_rfs": 8, "num_rfs_sweep": (16,), "epochs": 2, "ft_epochs": 1, "bundle_rfs": 32})
    m = r.metrics
    assert m["hidden_param_reduction"] == pytest.approx((784 * 32 + 32) / (32 * 8 + 32))   # P + the copied bias
    assert m["uptrain_dense_acc"] > 15 and m["bundled_acc"] > 50 and m["slope_cos"] < 0 and "uptrain_snnk_acc_m16" in m


# ---------------------------------------------------------------- details: normalisation, batching, seeds, options
def test_normalize_batched_inputs_and_one_dim():
    G = gaussian_matrix(16, 5, generator=torch.Generator().manual_seed(0), dtype=F64)
    x = 0.05 * torch.randn(2, 3, 5, dtype=F64)                       # small norms (< 1), 3-D batch
    xn = x.numpy()
    ref = 0.7 * xn / np.linalg.norm(xn, axis=-1, keepdims=True)
    np.testing.assert_allclose(relu_rf(x, G, normalize=0.7).numpy(), np.maximum(ref @ G.numpy().T, 0) / 4, rtol=1e-12)
    np.testing.assert_allclose(relu_rf(x[0, 0], G).numpy(), relu_rf(x[:1, 0], G)[0].numpy(), rtol=1e-12)
    u = urf_for_activation("sin", 16, 5, seed=2)
    b = torch.tensor([[0.1, 0.2, 0.3], [-0.1, 0.0, 0.4]], dtype=F64)
    w = 0.3 * torch.randn(2, 3, 5, dtype=F64)
    flat = u.estimate(x.reshape(6, 5), w.reshape(6, 5), b.reshape(6))
    np.testing.assert_allclose(u.estimate(x, w, b).reshape(6).numpy(), flat.numpy(), rtol=1e-12)
    np.testing.assert_allclose(u.phi(x, normalize=0.7).numpy(), u.phi(torch.tensor(ref)).numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="xis"):
        URF("cos", torch.zeros(3, dtype=F64), G, *URF_FNS["cos"]).phi(x)
    with pytest.raises(ValueError, match="last dim"):
        relu_rf([1.0, 2.0], G)


def test_seeds_are_reproducible_and_xi_signs_balanced():
    a, b = (urf_for_activation("cos", 4000, 4, seed=5, orthogonal=True) for _ in range(2))
    assert torch.equal(a.G, b.G) and torch.equal(a.xis, b.xis) and a.name == "cos"
    assert not torch.equal(a.G, urf_for_activation("cos", 4000, 4, seed=6).G)
    assert abs(float(torch.sign(a.xis).mean())) < 0.06 and a.G.dtype == F64
    g = urf_for_activation("gaussian", 4000, 4, seed=5)
    assert torch.equal(g.xis, urf_for_activation("gaussian", 4000, 4, seed=5).xis)
    assert abs(float(g.xis.std()) * 2 * math.pi - 1) < 0.05
    gram = a.G[:4] @ a.G[:4].T
    assert float((gram - torch.diag(torch.diag(gram))).abs().max()) < 1e-8
    for make in (lambda: SNNKLinear(6, 3, 8, seed=3), lambda: SNNKLinear(6, 3, 8, kind="urf", activation="gaussian", seed=3),
                 lambda: SNNKAdapter(6, 8, seed=3), lambda: BundledRF(6, 2, 8, seed=3)):
        s1, s2 = make().state_dict(), make().state_dict()
        assert all(torch.equal(s1[k], s2[k]) for k in s1)


def test_orthogonal_rows_have_chi_norms():
    G = gaussian_matrix(4000, 8, orthogonal=True, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert abs(float((G * G).sum(1).mean()) - 8) < 0.3                   # E chi_8^2 = 8
    L = SNNKLinear(8, 2, 8, orthogonal=True, seed=0)
    gram = L.G @ L.G.T
    assert float((gram - torch.diag(torch.diag(gram))).abs().max()) < 1e-4
    A = SNNKAdapter(8, 8, orthogonal=True, seed=0)
    gram = A.G @ A.G.T
    assert float((gram - torch.diag(torch.diag(gram))).abs().max()) < 1e-4
    with pytest.raises(ValueError, match="positive"):
        gaussian_matrix(0, 3)
    with pytest.raises(ValueError, match="positive"):
        gaussian_matrix(3, 0)
    assert gaussian_matrix(1, 1).shape == (1, 1)


def test_arccos_kernel_parallel_vectors_finite():
    x = torch.randn(50, 7, dtype=F64)
    assert torch.isfinite(arccos1_kernel(x, 3 * x)).all() and torch.isfinite(arccos1_kernel(x, -x)).all()
    np.testing.assert_allclose(arccos1_kernel(x, 3 * x).numpy(), 3 * (x * x).sum(1).numpy() / 2, rtol=1e-12)
    np.testing.assert_allclose(arccos1_kernel(x, -x).numpy(), 0.0, atol=1e-12)


def test_snnk_linear_options():
    W0 = torch.randn(3, 6)
    L = SNNKLinear(6, 3, 10, init_weight=W0, floor=-0.5, normalize=2.0, bias=True, seed=1)
    G = L.G.numpy()
    np.testing.assert_allclose(L.P.detach().numpy(), np.maximum(W0.numpy() @ G.T, -0.5) / np.sqrt(10), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        L.bias.copy_(torch.tensor([1.0, -2.0, 3.0]))
    x = torch.randn(4, 6)
    xn = 2.0 * x.numpy() / np.linalg.norm(x.numpy(), axis=1, keepdims=True)
    ref = np.maximum(xn @ G.T, -0.5) / np.sqrt(10) @ L.P.detach().numpy().T + np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(L(x).detach().numpy(), ref, rtol=1e-4, atol=1e-5)
    U = SNNKLinear(6, 3, 10, kind="urf", activation="exp", normalize=0.5, seed=1)
    np.testing.assert_allclose(U.features(x).numpy(), urf_features_ref(U, 0.5 * x / x.norm(dim=1, keepdim=True)), rtol=1e-5)
    assert U(x).shape == (4, 3)
    assert SNNKLinear(3, 2, 4, kind="relu", activation="tanh").P.shape == (2, 4)   # activation only matters for urf
    assert SNNKLinear(1, 1, 1).P.shape == (1, 1)
    for bad in ((0, 2, 4), (3, 0, 4), (3, 2, 0)):
        with pytest.raises(ValueError, match="positive"):
            SNNKLinear(*bad)
    with pytest.raises(ValueError, match="unknown activation"):
        SNNKLinear(3, 2, 4, kind="urf", activation="tanh")
    m0 = init_weight(64, 64, "mam", torch.Generator().manual_seed(0))
    assert abs(float(m0.mean())) < 0.01 and float(m0.min()) < -0.12


def urf_features_ref(layer, x):
    """exp URF in numpy: m^{-1/2} exp(g^T x - |x|^2 / 2)."""
    xn = x.numpy()
    return np.exp(xn @ layer.G.numpy().T - (xn ** 2).sum(1, keepdims=True) / 2) / np.sqrt(layer.num_rfs)


def test_adapter_layer_norm_before():
    ad = SNNKAdapter(6, 4, ln_before=True, seed=0).double()
    with torch.no_grad():
        ad.v.fill_(0.5)
    h = 3 + 2 * torch.randn(5, 6, dtype=F64)
    hn = (h - h.mean(1, keepdim=True)) / torch.sqrt(h.var(1, unbiased=False, keepdim=True) + 1e-5)
    ref = h + 0.5 * (relu_rf(hn, ad.G) @ ad.P.T)
    np.testing.assert_allclose(ad(h).detach().numpy(), ref.detach().numpy(), rtol=1e-10)


def test_uptrain_nested_names_bias_and_kwargs():
    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Linear(4, 4)
            self.body = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2))

    torch.manual_seed(0)
    net = Wrap()
    b = net.body[0].bias.detach().clone()
    seen = []
    names = uptrain(net, lambda name, lin: seen.append(name) or True, num_rfs=3, floor=-1.0, seed=1)
    assert names == ["body.0"] and seen == ["body.0"] and net.body[0].floor == -1.0
    assert torch.equal(net.body[0].bias.detach(), b)
    x = torch.randn(2, 4)
    ref = relu_rf(x, net.body[0].G, -1.0) @ net.body[0].P.T + b
    np.testing.assert_allclose(net.body[0](x).detach().numpy(), ref.detach().numpy(), rtol=1e-6)


def test_bundled_rf_regression_targets_and_shape_errors():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(30, 4, generator=g, dtype=F64), torch.randn(30, generator=g, dtype=F64)
    net = BundledRF(4, 1, 16, seed=0).fit(x, y, ridge=0.5)
    np.testing.assert_allclose(net.theta.numpy(), bundle_fit(relu_rf(x, net.G), y[:, None], 0.5).numpy(), rtol=1e-12)
    lab = torch.randint(0, 3, (30,), generator=g)
    net3 = BundledRF(4, 3, 16, seed=0).fit(x, lab, ridge=0.5)
    onehot = nn.functional.one_hot(lab, 3).double()
    np.testing.assert_allclose(net3.theta.numpy(), bundle_fit(relu_rf(x, net3.G), onehot, 0.5).numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="features must be"):
        bundle_fit(torch.randn(5, 3), torch.randn(4))
    with pytest.raises(ValueError, match="features must be"):
        bundle_fit(torch.randn(5), torch.randn(5))
