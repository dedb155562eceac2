"""Tests for paperzoo.papers.neural_collapse (card: shared/papers/neural-collapse.md)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

import paperzoo as pz
from paperzoo.data import TensorSet
from paperzoo.nn import collect_features
from paperzoo.papers.neural_collapse import (
    MLPWithLinearHead,
    UFMDeepLinear,
    deep_linear_nc_metrics,
    fit_sgd_stacked,
    head_mse_loss,
    imbalanced_mse_optimum,
    nc1,
    nc_metrics,
    neural_collapse,
    solve_x,
    stacked_loss_and_grads,
    target_matrix,
)
from paperzoo.papers.neural_collapse.experiments import network_run, synthetic_suite, worst

N_IMB = [200, 100, 50, 50]


def numpy_nc1(h: np.ndarray, y: np.ndarray, K: int) -> float:
    """Direct float64 reference: tr(Sigma_W pinv(Sigma_B)) / K, sample-weighted mu_G, 1/K in Sigma_B."""
    h = h.astype(np.float64)
    mu = np.stack([h[y == k].mean(0) for k in range(K)])
    mu_g = h.mean(0)
    c = h - mu[y]
    sw = c.T @ c / len(h)
    sb = sum(np.outer(mu[k] - mu_g, mu[k] - mu_g) for k in range(K)) / K
    return float(np.trace(sw @ np.linalg.pinv(sb, rcond=max(sb.shape) * np.finfo(np.float64).eps)) / K)


def _errs(per_layer):
    return max(d[k] for d in per_layer for k in ("NC2_W", "NC2_H", "NC3"))


# ---------------------------------------------------------------- closed form
@pytest.mark.parametrize("M,x_ref", [(1, [69.711, 49.0, 34.355, 34.355]), (2, [13.025, 10.314, 8.156, 8.156]),
                                     (3, [6.418, 5.390, 4.523, 4.523])])
def test_closed_form_matches_card_reference_values(M, x_ref):
    opt = imbalanced_mse_optimum(N_IMB, M, 5e-4, 5e-4)
    assert opt.x.tolist() == pytest.approx(x_ref, abs=1e-3)
    # every x_k solves b/n_k = M x^(M-1) / (x^M + 1)^2 to machine precision
    rhs = M * opt.x ** (M - 1) / (opt.x ** M + 1) ** 2
    assert torch.allclose(rhs, opt.b / torch.tensor(N_IMB, dtype=torch.float64), rtol=1e-12)
    assert torch.allclose(opt.s ** (2 * M), sum(N_IMB) * 5e-4 * opt.x ** M, rtol=1e-12)


def test_closed_form_with_unequal_decays_and_default_layer():
    lw, lh, M, N = 2e-3, 7e-4, 2, sum(N_IMB)
    opt = imbalanced_mse_optimum(N_IMB, M, lw, lh)
    assert opt.b == pytest.approx(M * N * (N * lw ** M * lh) ** (1 / M), rel=1e-14)
    rhs = M * opt.x ** (M - 1) / (opt.x ** M + 1) ** 2
    assert torch.allclose(rhs, opt.b / torch.tensor(N_IMB, dtype=torch.float64), rtol=1e-12)
    assert torch.allclose(opt.s ** (2 * M), N * lh * opt.x ** M, rtol=1e-12)
    assert UFMDeepLinear(N_IMB, 4, M, lambda_w=lw, lambda_h=lh).optimum().x.tolist() == opt.x.tolist()
    t = opt.targets()
    assert all(torch.equal(t[k], getattr(opt, k)) for k in ("WWT", "HTH", "WH"))  # layer 1 = end-to-end


def test_closed_form_m3_gram_diagonal_and_m1_analytic_root():
    opt = imbalanced_mse_optimum(N_IMB, 3, 5e-4, 5e-4)
    assert opt.HTH.tolist() == pytest.approx([0.2252, 0.3783, 0.6349, 0.6349], abs=1e-4)
    b = imbalanced_mse_optimum(N_IMB, 1).b  # M = 1: 1/(x+1)^2 = b/n  =>  x = sqrt(n/b) - 1
    assert imbalanced_mse_optimum(N_IMB, 1).x.tolist() == pytest.approx([math.sqrt(n / b) - 1 for n in N_IMB],
                                                                        rel=1e-13)


def test_root_is_the_largest_and_minority_collapse_gives_zero():
    for M in (2, 3, 6, 9):
        for c in (1e-4, 1e-2, 0.3):
            x = solve_x(c, M)
            g = lambda t: M * t ** (M - 1) / (t ** M + 1) ** 2  # noqa: E731
            assert g(x) == pytest.approx(c, rel=1e-10)
            assert all(g(x * f) < c for f in (1.01, 1.5, 3.0, 100.0))  # nothing larger solves it
    for M in (2, 3, 6):  # near and at the maximum of the right-hand side, at x* = ((M-1)/(M+1))^(1/M)
        xs = ((M - 1) / (M + 1)) ** (1.0 / M)
        top = M * xs ** (M - 1) / (xs ** M + 1.0) ** 2
        assert solve_x(top, M) == pytest.approx(xs, rel=1e-6)  # the double root, not "no root"
        x = solve_x(0.9999 * top, M)
        assert x > xs and M * x ** (M - 1) / (x ** M + 1) ** 2 == pytest.approx(0.9999 * top, rel=1e-10)
        assert solve_x(1.0001 * top, M) == 0.0
    # a tiny minority class with strong decay has no root: x = 0 (collapse), majority classes survive
    opt = imbalanced_mse_optimum([1000, 1000, 1], 3, 5e-3, 5e-3)
    assert opt.x[2] == 0 and (opt.x[:2] > 0).all() and opt.collapsed.tolist() == [False, False, True]
    assert opt.HTH[2] == 0 and opt.WWT[2] == 0
    every = imbalanced_mse_optimum([1, 1], 3, 0.5, 0.5)  # every class collapses: zero targets, not NaN
    assert every.collapsed.all() and torch.equal(every.WWT, torch.zeros(2, dtype=torch.float64))
    assert torch.equal(every.targets(2)["HTH"], torch.zeros(2, dtype=torch.float64))


# ---------------------------------------------------------------- metrics
@pytest.mark.parametrize("D", [3, 20])
def test_nc1_equals_direct_numpy_pinv_float64(D):
    g = np.random.default_rng(0)
    y = np.repeat(np.arange(5), [40, 20, 10, 7, 3])
    h = g.normal(size=(len(y), D)) + 3 * g.normal(size=(5, D))[y]
    got = nc_metrics(torch.from_numpy(h).float(), torch.from_numpy(y))["NC1"]
    assert got == pytest.approx(numpy_nc1(h.astype(np.float32), y, 5), rel=1e-9)


def test_nc1_function_and_degenerate_means():
    g = np.random.default_rng(1)
    y = np.repeat(np.arange(3), [30, 20, 10])
    h = g.normal(size=(60, 4)) + 2 * g.normal(size=(3, 4))[y]
    assert nc1(torch.from_numpy(h), torch.from_numpy(y)) == pytest.approx(numpy_nc1(h, y, 3), rel=1e-10)
    assert nc1(h, y) == pytest.approx(numpy_nc1(h, y, 3), rel=1e-10)  # numpy arrays are accepted too
    # a rank-deficient Sigma_B: two classes share a mean -> the pseudo-inverse drops that direction
    y2 = np.array([0, 1, 2] * 20)
    h2 = g.normal(size=(60, 5)) * 0.1 + np.array([[1.0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0], [0, 1.0, 0, 0, 0]])[y2]
    assert nc1(h2, y2) == pytest.approx(numpy_nc1(h2, y2, 3), rel=1e-8)
    assert math.isinf(nc1(np.ones((6, 2)), np.arange(6) % 2))  # all class means equal: no between-class scatter
    with pytest.raises(ValueError, match="need at least 2 classes"):
        nc1(h, np.zeros(60, dtype=np.int64))
    with pytest.raises(ValueError, match=r"class\(es\) \[3\] have no samples"):
        nc1(h, y, num_classes=4)
    with pytest.raises(ValueError, match="labels must be >= 0"):
        nc1(h, y - 1)
    with pytest.raises(TypeError, match="features must be a torch tensor or numpy array, got list"):
        nc1(h.tolist(), y)
    with pytest.raises(TypeError, match="features must be floating point"):
        nc1(torch.ones(60, 4, dtype=torch.long), y)


def test_nc_metrics_are_zero_on_exact_geometries_and_match_formulas():
    K, D = 4, 6
    y = torch.repeat_interleave(torch.arange(K), torch.tensor(N_IMB))
    Q, _ = torch.linalg.qr(torch.randn(D, K, dtype=torch.float64))
    # orthogonal frame: means = 2 Q, W = 3 Q^T
    r = nc_metrics(2 * Q.T[y], y, 3 * Q.T, target="orthogonal")
    assert max(r.values()) < 1e-13
    # simplex ETF after centring (balanced labels: any offset of the means is removed by mu_G)
    E = Q @ (torch.eye(K, dtype=torch.float64) - 1 / K)
    yb = torch.arange(400) % K
    r = nc_metrics((E.T + torch.randn(D, dtype=torch.float64))[yb], yb, E.T, target="etf")
    assert max(r.values()) < 1e-13
    # with imbalance mu_G is the sample-weighted mean (official code): an ETF of means is then off-centre
    assert nc_metrics(E.T[y], y, E.T, target="etf")["NC2_H"] > 0.1
    # closed form: columns scaled by sqrt of the predicted diagonals
    opt = imbalanced_mse_optimum(N_IMB, 2)
    t = opt.targets(1)
    r = nc_metrics((Q * t["HTH"].sqrt()).T[y], y, (Q * t["WWT"].sqrt()).T, target="imbalanced", predicted=opt)
    assert max(r.values()) < 1e-13
    # a generic configuration: each metric equals its formula
    h, W = torch.randn(len(y), D, dtype=torch.float64), torch.randn(K, D, dtype=torch.float64)
    mu = torch.stack([h[y == k].mean(0) for k in range(K)]).T
    nrm = lambda A: A / torch.linalg.matrix_norm(A)  # noqa: E731
    T = torch.eye(K, dtype=torch.float64) / 2
    r = nc_metrics(h, y, W)
    assert r["NC2_W"] == pytest.approx(float(torch.linalg.matrix_norm(nrm(W @ W.T) - T)), rel=1e-12)
    assert r["NC2_H"] == pytest.approx(float(torch.linalg.matrix_norm(nrm(mu.T @ mu) - T)), rel=1e-12)
    assert r["NC3"] == pytest.approx(float(torch.linalg.matrix_norm(nrm(W @ mu) - T)), rel=1e-12)
    etf = target_matrix("etf", K)
    assert float(torch.linalg.matrix_norm(etf)) == pytest.approx(1.0) and etf.sum(1).abs().max() < 1e-15


def _head_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 16, bias=False),
                         nn.Linear(16, 3))


def test_probe_on_any_model_is_nc_metrics_of_the_hooked_features():
    model = _head_model()
    x, y = torch.randn(300, 10), torch.arange(300) % 3
    feats = collect_features(model, x, ["4", "5"], which="input")
    probe = pz.registry.get_probe("neural-collapse")
    assert probe.fn is neural_collapse and probe.kinds == ("classification",) and not probe.pair
    got = probe.fn(model, (x, y))  # default: the last Linear; it has a bias -> simplex ETF target
    W4, W5 = model[4].weight.detach(), model[5].weight.detach()
    assert got == pytest.approx(nc_metrics(feats["5"], y, W5, target="etf"), rel=1e-12)
    assert got["NC1"] == pytest.approx(numpy_nc1(feats["5"].numpy(), y.numpy(), 3), rel=1e-9)
    assert got != pytest.approx(nc_metrics(feats["5"], y, W5, target="orthogonal"), rel=1e-3)
    # a deep linear head W_1 = fc "4", W_2 = fc "5": layer 1 uses the features entering "4" and W5 W4
    per = probe.fn(model, TensorSet(x, y), layers=["4", model[5]])
    ref1 = nc_metrics(feats["4"], y, W5.double() @ W4.double(), target="etf")  # the product is formed in float64
    assert {k: per[k] for k in ref1} == pytest.approx(ref1, rel=1e-9)
    assert {k: per[f"{k}@4"] for k in ref1} == pytest.approx(ref1, rel=1e-9)
    assert {k: per[f"{k}@5"] for k in ref1} == pytest.approx(got, rel=1e-9)
    assert per["NC3@4"] == pytest.approx(per["NC3@5"], rel=1e-5)  # (W5 W4) H4 = W5 H5: "4" is linear, bias-free
    # a bias-free classifier gets the orthogonal frame; the input is flattened by the model itself
    flat = nn.Sequential(nn.Flatten(), nn.Linear(12, 4, bias=False))
    xi, yi = torch.randn(40, 3, 4), torch.arange(40) % 4
    assert probe.fn(flat, (xi, yi)) == pytest.approx(nc_metrics(xi.flatten(1), yi, flat[1].weight, target="orthogonal"),
                                                     rel=1e-9)


def test_probe_rejects_what_it_cannot_measure():
    model, x, y = _head_model(), torch.randn(30, 10), torch.arange(30) % 3
    with pytest.raises(ValueError, match="Sequential has no nn.Linear layer"):
        neural_collapse(nn.Sequential(nn.Flatten(), nn.Tanh()), (x, y))
    with pytest.raises(ValueError, match="^neural-collapse probe needs labels"):
        neural_collapse(model, x)
    with pytest.raises(ValueError, match=r"class\(es\) \[1, 2\] have no samples"):
        neural_collapse(model, (x, torch.zeros(30, dtype=torch.long)))  # one class only
    with pytest.raises(ValueError, match="labels hold class 5 but num_classes=3"):
        neural_collapse(model, (x, torch.arange(30) % 6))
    with pytest.raises(TypeError, match="'3' is a ReLU, not an nn.Linear"):
        neural_collapse(model, (x, y), layers=["3", "5"])
    with pytest.raises(ValueError, match="a Linear module that is not part of the model"):
        neural_collapse(model, (x, y), layers=[nn.Linear(16, 3)])
    with pytest.raises(KeyError, match=r"no submodule 'fc' \(its nn.Linear layers: \['0', '2', '4', '5'\]\)"):
        neural_collapse(model, (x, y), layers=["fc"])
    with pytest.raises(ValueError, match="cannot follow"):
        neural_collapse(model, (x, y), layers=["0", "5"])
    with pytest.raises(ValueError, match="non-empty list"):
        neural_collapse(model, (x, y), layers="5")
    with pytest.raises(TypeError, match="must be an nn.Module, got function"):
        neural_collapse(lambda t: t, (x, y))

# ---------------------------------------------------------------- UFM
def test_ufm_loss_is_exactly_the_official_objective():
    torch.set_default_dtype(torch.float64)
    m = UFMDeepLinear(N_IMB, d=5, depth=3, bias=True, lambda_w=1e-2, lambda_h=3e-3)
    with torch.no_grad():
        m.bias.normal_()
    H = m.H.detach().numpy()
    Ws = [w.detach().numpy() for w in m.weights]
    Y = np.eye(4)[:, np.repeat(np.arange(4), N_IMB)]
    out = Ws[2] @ Ws[1] @ Ws[0] @ H + m.bias.detach().numpy()[:, None]
    ref = (np.sum((out - Y) ** 2) / (2 * 400) + 1e-2 / 2 * sum(np.sum(w ** 2) for w in Ws)
           + 3e-3 / 2 * np.sum(H ** 2))
    assert float(m.loss().detach()) == pytest.approx(ref, rel=1e-13)


def test_stacked_sgd_equals_autograd_sgd_float64():
    torch.set_default_dtype(torch.float64)
    ms = [UFMDeepLinear([30] * 3, 6, 3), UFMDeepLinear([50, 30, 10], 6, 3, bias=True, lambda_w=1e-3)]
    with torch.no_grad():
        ms[1].bias.normal_()  # a non-zero starting bias must be carried into the stacked run
    refs = [UFMDeepLinear(m.n_per_class, 6, 3, bias=m.bias is not None, lambda_w=m.lambda_w) for m in ms]
    for r, m in zip(refs, ms):
        r.load_state_dict(m.state_dict())
    # analytic gradients == autograd gradients
    m = ms[1]
    loss, gH, gW, gb = stacked_loss_and_grads(m.H[None], [w[None] for w in m.weights], m.bias[None, :, None],
                                              m.Y[None], torch.tensor([m.lambda_w]), torch.tensor([m.lambda_h]))
    auto = torch.autograd.grad(m.loss(), [m.H, *m.weights, m.bias])
    assert float(loss.detach()) == pytest.approx(float(m.loss().detach()), rel=1e-13)
    for a, b in zip(auto, [gH[0], *[g[0] for g in gW], gb[0, :, 0]]):
        assert torch.allclose(a, b, rtol=1e-11, atol=1e-14)
    hist = fit_sgd_stacked(ms, steps=150, lr=0.1, momentum=0.9, every=50)
    for i, (r, m) in enumerate(zip(refs, ms)):
        ref_hist = r.fit(steps=150, lr=0.1, momentum=0.9, every=50)
        assert [h[i] for h in hist] == pytest.approx(ref_hist, rel=1e-9)  # each model's own loss
        for a, b in zip(r.parameters(), m.parameters()):
            assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def test_one_stacked_step_is_exactly_one_sgd_step_float64():
    torch.set_default_dtype(torch.float64)
    m = UFMDeepLinear([7, 5, 3], 4, 2, bias=True, lambda_w=0.0123, lambda_h=0.0371)  # decays not exact in float32
    ref = UFMDeepLinear([7, 5, 3], 4, 2, bias=True, lambda_w=0.0123, lambda_h=0.0371)
    with torch.no_grad():
        m.bias.normal_()
    ref.load_state_dict(m.state_dict())
    assert fit_sgd_stacked([m], steps=0) == [] and torch.equal(m.H, ref.H)
    fit_sgd_stacked([m], steps=1, lr=0.3, momentum=0.5)
    grads = torch.autograd.grad(ref.loss(), list(ref.parameters()))
    for p, q, g in zip(m.parameters(), ref.parameters(), grads):
        assert torch.allclose(p, q - 0.3 * g, rtol=1e-13, atol=1e-15)


def test_smoke_lbfgs_reaches_closed_form_and_orthogonal_frame():
    torch.manual_seed(0)
    imb = UFMDeepLinear(N_IMB, d=16, depth=3)  # (the smoke protocol runs d = 32, M = 2)
    imb.fit_lbfgs()
    per = imb.metrics("imbalanced")  # per-layer closed-form targets, every layer
    assert max(d["NC1"] for d in per) < 1e-6 and _errs(per) < 1e-3
    assert _errs(imb.metrics("orthogonal")) > 0.1  # the balanced target is clearly wrong here
    bal = UFMDeepLinear([100] * 4, d=16, depth=3)
    bal.fit_lbfgs()
    per = bal.metrics("orthogonal")
    assert max(d["NC1"] for d in per) < 1e-6 and _errs(per) < 1e-3


def test_ufm_autograd_fit_official_defaults_history_and_divergence():
    import inspect

    sig = inspect.signature(UFMDeepLinear.fit).parameters  # official: 30,000 iterations, lr 0.1, momentum 0.9
    assert (sig["steps"].default, sig["lr"].default, sig["momentum"].default) == (30_000, 0.1, 0.9)
    sig = inspect.signature(UFMDeepLinear).parameters  # official --weight_decay / --feature_decay 5e-4, init std 0.1
    assert (sig["lambda_w"].default, sig["lambda_h"].default, sig["init_std"].default) == (5e-4, 5e-4, 0.1)
    torch.manual_seed(0)
    m = UFMDeepLinear([20] * 3, d=6, depth=2)
    assert float(m.H.std()) == pytest.approx(0.1, rel=0.15) and float(m.weights[0].std()) == pytest.approx(0.1, rel=0.3)
    start = float(m.loss().detach())
    seen = []
    hist = m.fit(steps=25, lr=0.1, momentum=0.9, every=10, callback=lambda s, v: seen.append((s, v)))
    assert [s for s, _ in seen] == [10, 20, 25] and [v for _, v in seen] == hist
    assert hist[-1] < hist[0] < start
    assert hist[-1] == pytest.approx(float(m.loss().detach()), rel=0.05)
    with pytest.raises(FloatingPointError, match="lower lr"):
        UFMDeepLinear([20] * 3, d=6, depth=2).fit(steps=200, lr=50.0, every=100)
    m.fit(steps=2, momentum=0.0)  # plain gradient descent is allowed
    fit_sgd_stacked([m], steps=2, momentum=0.0)
    for kw in ({"steps": -1}, {"lr": 0.0}, {"momentum": 1.0}):
        with pytest.raises(ValueError, match="need steps >= 0"):
            m.fit(**kw)
        with pytest.raises(ValueError, match="need steps >= 0"):
            fit_sgd_stacked([m], **kw)


class _NoOneOverN(UFMDeepLinear):
    def loss(self):  # MSE without the 1/N (sum / 2)
        return ((self() - self.Y).square().sum() / 2 + self.lambda_w / 2 * sum(W.square().sum() for W in self.weights)
                + self.lambda_h / 2 * self.H.square().sum())


class _FeatureDecayOverN(UFMDeepLinear):
    def loss(self):  # a spurious 1/N on the feature decay
        return ((self() - self.Y).square().sum() / (2 * self.N) + self.lambda_w / 2 * sum(
            W.square().sum() for W in self.weights) + self.lambda_h / (2 * self.N) * self.H.square().sum())


@pytest.mark.parametrize("cls", [_NoOneOverN, _FeatureDecayOverN])
def test_wrong_loss_scaling_breaks_the_closed_form_match(cls):
    torch.manual_seed(0)
    m = cls(N_IMB, d=16, depth=2)
    m.fit_lbfgs()
    assert _errs(m.metrics("imbalanced")) > 1e-3  # the smoke tolerance; ~5e-7 with the right scaling


# ---------------------------------------------------------------- network
def test_mlp_follows_the_official_layout_and_its_head_is_a_product():
    model = pz.create_model("mlp_linear_head", in_dim=20, num_classes=4, width=12, depth=2, depth_linear=3, bias=False)
    assert isinstance(model, MLPWithLinearHead) and model.head == ["fc.0", "fc.1", "fc.2"]
    assert [type(m).__name__ for m in model.backbone] == ["Flatten", "Linear", "ReLU", "BatchNorm1d", "Linear", "ReLU",
                                                          "BatchNorm1d", "BatchNorm1d"]
    plain = MLPWithLinearHead(20, 4, width=12, depth=2, batchnorm=False)
    assert [type(m).__name__ for m in plain.backbone] == ["Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert plain.fc[0].bias is not None and all(model.fc[i].bias is None for i in range(3))
    for lin in [m for m in model.modules() if isinstance(m, nn.Linear)]:  # orthogonal init (official)
        W = lin.weight.detach().double()
        G = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
        assert torch.allclose(G, torch.eye(len(G), dtype=torch.float64), atol=1e-5)
    model.eval()
    x = torch.randn(7, 4, 5)  # flattened inside
    W = model.fc[2].weight @ model.fc[1].weight @ model.fc[0].weight
    assert torch.allclose(model(x), model.features(x) @ W.T, atol=1e-5)
    with pytest.raises(ValueError, match="width must be an int >= 1"):
        MLPWithLinearHead(20, 4, width=0)
    with pytest.raises(ValueError, match="20 values per sample"):
        model(torch.randn(3, 21))
    with pytest.raises(TypeError):
        MLPWithLinearHead(20, 4, 12)  # keyword-only after the leading sizes


def test_head_mse_loss_is_the_ufm_objective_with_the_n_over_b_feature_factor():
    g = torch.Generator().manual_seed(0)
    N, B, K, D = 12, 4, 3, 5
    F_, H = torch.randn(N, K, generator=g, dtype=torch.float64), torch.randn(N, D, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 2, 1, 0, 0, 0, 1, 2, 1, 1])
    Ws = [torch.randn(D, D, generator=g, dtype=torch.float64), torch.randn(K, D, generator=g, dtype=torch.float64)]
    lw, lh = 0.03, 0.007
    Y = np.eye(K)[y.numpy()]
    f, h, w = F_.numpy(), H.numpy(), [W.numpy() for W in Ws]
    ref = (((f[:B] - Y[:B]) ** 2).sum() / (2 * B) + lw / 2 * sum((v ** 2).sum() for v in w)
           + lh / 2 * (N / B) * (h[:B] ** 2).sum())
    got = head_mse_loss(F_[:B], H[:B], y[:B], Ws, lambda_w=lw, lambda_h=lh, n_total=N)
    assert float(got) == pytest.approx(ref, rel=1e-13)
    # over the N/B batches of an epoch: (N/B) x the UFM objective on all N features
    epoch = sum(head_mse_loss(F_[i:i + B], H[i:i + B], y[i:i + B], Ws, lambda_w=lw, lambda_h=lh, n_total=N)
                for i in range(0, N, B))
    ufm = ((f - Y) ** 2).sum() / (2 * N) + lw / 2 * sum((v ** 2).sum() for v in w) + lh / 2 * (h ** 2).sum()
    assert float(epoch) == pytest.approx(N / B * ufm, rel=1e-13)


def _blobs(counts, D=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    return TensorSet(torch.randn(len(y), D, generator=g) + 0.6 * torch.randn(len(counts), D, generator=g)[y], y)


def test_network_run_collapses_a_small_mlp(tmp_path):
    ctx = pz.train.RunContext(protocol="cpu", out=tmp_path, show_progress=False)
    r = network_run(ctx.sub("bal"), _blobs([40] * 4), depth=1, depth_linear=2, width=32, batchnorm=False,
                    epochs=60, batch_size=40, lr=3e-3, lambda_w=1e-3, lambda_h=1e-3, eval_every=20)
    assert [h["epoch"] for h in r["history"]] == [0, 20, 40, 60] and "cf_final" not in r
    assert r["train_acc"] == 100.0 and r["nc1_drop"] > 6  # measured: 25 % -> 100 %, NC1 0.73 -> 0.062
    assert r["of_final"]["NC2_H"] < 0.4 * r["of_init"]["NC2_H"] and r["of_final"]["NC3"] < 0.1 * r["of_init"]["NC3"]
    imb = network_run(ctx.sub("imb"), _blobs([80, 40, 20, 20]), depth=1, depth_linear=1, width=32, epochs=1,
                      batch_size=40, lambda_w=1e-3, lambda_h=2e-3, eval_every=1)
    assert imb["counts"] == [80, 40, 20, 20] and set(imb["cf_final"]) >= {"NC1", "NC2_W", "NC2_H", "NC3"}
    assert imb["cf_final"]["NC2_W"] != pytest.approx(imb["of_final"]["NC2_W"], rel=1e-3)

# ---------------------------------------------------------------- bad input
def test_bad_inputs_raise_clear_errors():
    h, y = torch.randn(12, 5), torch.arange(12) % 3
    with pytest.raises(ValueError, match="12 rows but labels has 11"):
        nc_metrics(h, y[:11])
    with pytest.raises(TypeError, match="labels must be an integer"):
        nc_metrics(h, y.float())
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have no samples"):
        nc_metrics(h, y * (y != 1))
    with pytest.raises(ValueError, match=r"class\(es\) \[3\] have no samples"):
        nc_metrics(h, y, num_classes=4)
    bad = h.clone()
    bad[4, 2] = float("nan")
    with pytest.raises(ValueError, match=r"features contain NaN/inf \(first bad rows \[4\]\)"):
        nc_metrics(bad, y)
    with pytest.raises(ValueError, match=r"classifier_weight must have shape \(K, D\) = \(3, 5\)"):
        nc_metrics(h, y, torch.randn(5, 3))
    with pytest.raises(ValueError, match="features must be 2-D"):
        nc_metrics(h[:, None], y)
    with pytest.raises(ValueError, match="target must be one of"):
        nc_metrics(h, y, target="simplex")
    with pytest.raises(ValueError, match="needs predicted="):
        nc_metrics(h, y, target="imbalanced")
    with pytest.raises(ValueError, match=r"predicted\['HTH'\] must have shape \(3,\)"):
        nc_metrics(h, y, target="imbalanced", predicted={"HTH": [1.0, 2.0], "WWT": [1, 1, 1], "WH": [1, 1, 1]})
    with pytest.raises(ValueError, match="cannot follow"):
        deep_linear_nc_metrics([h, h], [torch.randn(4, 5), torch.randn(3, 5)], y)
    with pytest.raises(ValueError, match="n_per_class"):
        UFMDeepLinear([10], d=4, depth=2)
    with pytest.raises(ValueError, match="depth must be an int >= 1"):
        imbalanced_mse_optimum(N_IMB, 0)
    with pytest.raises(ValueError, match="lambda_h must be a positive"):
        imbalanced_mse_optimum(N_IMB, 2, 5e-4, -1.0)
    with pytest.raises(ValueError, match="lambda_w must be a positive"):
        imbalanced_mse_optimum(N_IMB, 2, float("nan"))
    with pytest.raises(ValueError, match="n_per_class must hold >= 2 positive integer counts"):
        imbalanced_mse_optimum([200, 0, 50], 2)
    with pytest.raises(ValueError, match="n_per_class must hold >= 2 positive integer counts"):
        imbalanced_mse_optimum([200, 2.5], 2)
    with pytest.raises(ValueError, match="depth M must be an int >= 1"):
        solve_x(0.1, 0)
    with pytest.raises(ValueError, match="b / n_k must be a positive finite number"):
        solve_x(0.0, 2)
    with pytest.raises(ValueError, match=r"layer must be an int in \[1, 3\]"):
        imbalanced_mse_optimum(N_IMB, 3).targets(4)
    with pytest.raises(ValueError, match=r"layer must be an int in \[1, 3\]"):
        imbalanced_mse_optimum(N_IMB, 3).targets(0)
    UFMDeepLinear([1, 3], d=1, depth=1, lambda_w=0.0, lambda_h=0.0)  # the boundaries are valid
    with pytest.raises(ValueError, match="n_per_class must hold"):
        UFMDeepLinear([3, 0], d=2, depth=1)
    with pytest.raises(ValueError, match="lambda_w must be a finite number >= 0"):
        UFMDeepLinear(N_IMB, d=4, depth=1, lambda_w=float("inf"))
    with pytest.raises(ValueError, match="d must be a positive int"):
        UFMDeepLinear(N_IMB, d=0, depth=2)
    with pytest.raises(ValueError, match="depth must be an int >= 1"):
        UFMDeepLinear(N_IMB, d=4, depth=0)
    with pytest.raises(ValueError, match="lambda_h must be a finite number >= 0"):
        UFMDeepLinear(N_IMB, d=4, depth=1, lambda_h=-1e-3)
    with pytest.raises(ValueError, match="n_per_class must hold"):
        UFMDeepLinear([10, 2.5], d=4, depth=1)
    with pytest.raises(ValueError, match="models is empty"):
        fit_sgd_stacked([])
    with pytest.raises(ValueError, match=r"must share \(depth, d, K, N\)"):
        fit_sgd_stacked([UFMDeepLinear([5, 5], 3, 2), UFMDeepLinear([5, 5], 3, 1)], steps=1)
    with pytest.raises(ValueError, match="predicted is the optimum for depth 3, the head has 2 layers"):
        deep_linear_nc_metrics([h, h], [torch.randn(5, 5), torch.randn(3, 5)], y, target="imbalanced",
                               predicted=imbalanced_mse_optimum([4, 4, 4], 3))
    with pytest.raises(ValueError, match="predicted: need 2 per-layer mappings, got 1"):
        deep_linear_nc_metrics([h, h], [torch.randn(5, 5), torch.randn(3, 5)], y, target="imbalanced", predicted=[{}])
    with pytest.raises(ValueError, match="need one feature matrix per layer: got 1"):
        deep_linear_nc_metrics([h], [torch.randn(5, 5), torch.randn(3, 5)], y)


# ---------------------------------------------------------------- protocols
def test_synthetic_suite_sgd_records_curves_for_all_variants():
    r = synthetic_suite(2, d=8, steps=40, every=20, seed=1)
    assert set(r) == {"balanced", "balanced_bias", "imbalanced"}
    assert [r[v]["target"] for v in ("balanced", "balanced_bias", "imbalanced")] == ["orthogonal", "etf", "imbalanced"]
    assert [c["step"] for c in r["balanced"]["curve"]] == [0, 20, 40] and r["imbalanced"]["n_per_class"] == N_IMB
    assert r["balanced"]["curve"][-1]["loss"] < r["balanced"]["curve"][0]["loss"]
    per = r["imbalanced"]["final"]
    assert r["imbalanced"]["worst"] == worst(per) == max(d[k] for d in per for k in ("NC1", "NC2_W", "NC2_H", "NC3"))
    assert r["imbalanced"]["worst_nc1"] == max(d["NC1"] for d in per)
    with pytest.raises(ValueError, match="solver must be"):
        synthetic_suite(1, solver="adam")


def test_ufm_part_alone_through_overrides(tmp_path):
    r = pz.reproduce("neural-collapse", "smoke", overrides={"network": False, "syn_d": 16}, out=tmp_path,
                     progress=False)
    assert not any(k.startswith("net_") for k in r.metrics) and r.config["network"] is False
    by = {v.metric: v.verdict for v in r.verdicts}
    assert by["synthetic_imbalanced_max"] == "effect shown" and by["synthetic_nc1_max"] == "effect shown"
    assert r.tables["ufm"]["columns"] == ["variant", "target", "M=2"]
    with pytest.raises(ValueError, match="nothing to run"):
        pz.reproduce("neural-collapse", "smoke", overrides={"network": False, "ufm": False}, out=tmp_path)


def test_tiny_full_protocol_through_overrides(tmp_path, require_data):
    require_data("cifar10")
    tiny = {"syn_depths": (1, 2), "syn_steps": 20, "syn_every": 10, "per_class": 8, "imb_groups": ((3, 12), (3, 8), (4, 4)),
            "depth": 1, "width": 16, "net_depths": (1, 2), "imb_depths": (2,), "epochs": 1, "batch_size": 32,
            "test_size": 50}
    r = pz.reproduce("neural-collapse", "full", overrides=tiny, out=tmp_path, progress=False)
    assert r.config["dataset"] == "cifar10" and r.config["batchnorm"] and r.config["width"] == 16
    assert {"synthetic_imbalanced_max", "net_train_acc", "net_nc1_drop", "net_of_max",
            "net_imbalanced_of_over_cf"} <= set(r.metrics)
    assert all(math.isfinite(v) for v in r.metrics.values())
    assert [row[0] for row in r.tables["network"]["rows"]] == ["balanced_M1", "balanced_M2", "imbalanced_M2"]
    assert r.curves["network_NC1"]["x"] == [0, 1] and r.curves["ufm"]["x"] == [0, 10, 20]
    assert r.metrics["net_of_max"] == max(r.metrics[f"net_balanced_M{M}_of_{k}"] for M in (1, 2) for k in ("NC2_H", "NC3"))
