"""hierarchical-polynomials: Hermite/target identities against closed forms, the layer-wise stages against
autograd and float64 ridge references, the kernel baseline's closed form, and the feature-learning effect."""
from __future__ import annotations

import math

import pytest
import torch

import paperzoo as pz
from paperzoo.papers.hierarchical_polynomials import (
    HierarchicalPolyTask,
    ThreeLayerNet,
    feature_alignment,
    gauss_hermite,
    hermite,
    hermite_orthonormality_err,
    link,
    link_moments,
    relative_mse,
    rf_ridge_baseline,
    ridge_solve,
    ridge_validated,
)
from paperzoo.papers.hierarchical_polynomials.reproduce import Config, crossing_n, one_run

F64 = torch.float64


def test_hermite_matches_closed_forms():
    t = torch.linspace(-3, 3, 41, dtype=F64)
    ref = {0: torch.ones_like(t), 1: t, 2: (t ** 2 - 1) / math.sqrt(2), 3: (t ** 3 - 3 * t) / math.sqrt(6),
           4: (t ** 4 - 6 * t ** 2 + 3) / math.sqrt(24), 5: (t ** 5 - 10 * t ** 3 + 15 * t) / math.sqrt(120)}
    for j, r in ref.items():
        torch.testing.assert_close(hermite(t, j), r, rtol=0, atol=1e-12)
    torch.testing.assert_close(hermite(t, 3, normalised=False), t ** 3 - 3 * t, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="degree"):
        hermite(t, -1)


def test_quadrature_and_orthonormality():
    z, w = gauss_hermite(20)
    assert abs(float(w.sum()) - 1) < 1e-12 and abs(float((w * z ** 4).sum()) - 3) < 1e-10
    assert abs(float((w * z ** 6).sum()) - 15) < 1e-9
    assert hermite_orthonormality_err() < 1e-10
    g2, gp = link_moments("he1+he3")
    assert abs(g2 - 1) < 1e-12 and abs(gp - 1 / math.sqrt(2)) < 1e-12
    assert abs(link_moments("he3")[1]) < 1e-12 and abs(link_moments("he3")[0] - 1) < 1e-12   # the failing control


@pytest.mark.parametrize("k", [2, 3])
def test_target_is_g_of_p_reference(k):
    d = 5
    task = HierarchicalPolyTask(d, k)
    x, y, p = task.sample(300, generator=torch.Generator().manual_seed(1), dtype=F64)
    he = (x ** 2 - 1) / math.sqrt(2) if k == 2 else (x ** 3 - 3 * x) / math.sqrt(6)
    p_ref = he.sum(1) / math.sqrt(d)
    y_ref = (p_ref + (p_ref ** 3 - 3 * p_ref) / math.sqrt(6)) / math.sqrt(2)
    torch.testing.assert_close(p, p_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-10)
    torch.testing.assert_close(task.h(x), y_ref, rtol=0, atol=1e-10)
    torch.testing.assert_close(link(p_ref, "identity"), p_ref)


def test_quadratic_form_feature_and_noise():
    task = HierarchicalPolyTask(6, 2, feature="quadratic_form", seed=3)
    A = task.A
    torch.testing.assert_close(A, A.T)
    assert abs(float(A.norm()) - 1 / math.sqrt(2)) < 1e-12
    x = torch.randn(50, 6, dtype=F64)
    torch.testing.assert_close(task.p(x), torch.einsum("ni,ij,nj->n", x, A, x) - torch.trace(A), rtol=0, atol=1e-12)
    _, y, p = task.sample(60000, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert abs(float(p.var()) - 1) < 0.05 and abs(float(p.mean())) < 0.02     # Var(x^T A x) = 2||A||_F^2 = 1
    noisy = HierarchicalPolyTask(6, 2, feature="quadratic_form", seed=3, noise=0.5)
    _, yn, pn = noisy.sample(60000, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert abs(float((yn - link(pn)).std()) - 0.5) < 0.02


def test_bad_inputs_raise():
    for kwargs in ({"feature": "nope"}, {"g": "nope"}, {"noise": -1.0}, {"feature": "quadratic_form", "k": 3}):
        with pytest.raises(ValueError):
            HierarchicalPolyTask(4, **kwargs)
    with pytest.raises(ValueError, match="shape"):
        HierarchicalPolyTask(4).p(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="sigma2"):
        ThreeLayerNet(4, 8, 4, sigma2="tanh")
    net = ThreeLayerNet(4, 8, 4)
    with pytest.raises(ValueError, match="shape"):
        net(torch.zeros(2, 5))
    with pytest.raises(RuntimeError, match="stage1"):
        net.feature(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="lam"):
        ridge_solve(torch.ones(3, 2), torch.ones(3), 0.0)


def test_ridge_closed_form_vs_dual_float64_reference():
    g = torch.Generator().manual_seed(0)
    phi, y = torch.randn(40, 7, generator=g, dtype=F64), torch.randn(40, generator=g, dtype=F64)
    lam = 0.3
    dual = phi.T @ torch.linalg.solve(phi @ phi.T + 40 * lam * torch.eye(40, dtype=F64), y)   # push-through identity
    torch.testing.assert_close(ridge_solve(phi, y, lam), dual, rtol=1e-10, atol=1e-12)
    grad = phi.T @ (phi @ dual - y) * 2 / 40 + 2 * lam * dual                                # first-order condition
    assert float(grad.abs().max()) < 1e-10


def test_ridge_validated_picks_the_best_heldout_lam():
    g = torch.Generator().manual_seed(2)
    phi = torch.randn(50, 30, generator=g, dtype=F64)
    y = phi[:, 0] + 0.8 * torch.randn(50, generator=g, dtype=F64)
    lams = (1e-6, 1e-2, 1.0, 100.0)
    errs = [float(((phi[40:] @ ridge_solve(phi[:40], y[:40], lam) - y[40:]) ** 2).mean()) for lam in lams]
    a, lam = ridge_validated(phi, y, lams)
    assert lam == lams[errs.index(min(errs))]
    torch.testing.assert_close(a, ridge_solve(phi, y, lam))
    assert errs.index(min(errs)) not in (0, 3)          # the choice is interior here: a real selection


@pytest.mark.parametrize("sigma1", ["relu", "cube"])
def test_stage1_is_one_gradient_step_on_W_only(sigma1):
    torch.manual_seed(0)
    d, m2, m1, n = 4, 16, 6, 200
    net = ThreeLayerNet(d, m2, m1, sigma1=sigma1, seed=1, dtype=F64)
    with torch.no_grad():
        net.b.copy_(torch.tensor([1.0, -0.5, 0.7, 1.3, -2.0, 0.4], dtype=F64))   # some dead units for ReLU
    V0, a0, b0 = net.V.clone(), net.a.detach().clone(), net.b.detach().clone()
    x, y = torch.randn(n, d, dtype=F64), torch.randn(n, dtype=F64) + 3.0
    x_cal = torch.randn(300, d, dtype=F64)
    f0 = net(x).detach()
    loss = 0.5 * ((net(x) - f0 - (y - y.mean())) ** 2).mean()     # square loss, centred labels, at W = 0
    (grad,) = torch.autograd.grad(loss, net.W)
    c = net.stage1(x, y, x_cal=x_cal)
    torch.testing.assert_close(net.W.detach(), -net.eta * grad, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(c, net.random_features(x).T @ (y - y.mean()) / n)
    assert torch.equal(net.V, V0) and torch.equal(net.a.detach(), a0) and torch.equal(net.b.detach(), b0)
    assert abs(float(net.feature(x_cal).std()) - 1) < 1e-10                    # eta: unit variance on x_cal
    if sigma1 == "relu":
        assert torch.all(net.W[b0 < 0] == 0) and torch.all(net.W[b0 > 0].abs().sum(1) > 0)
    deriv = (b0 > 0).to(F64) if sigma1 == "relu" else 3 * b0 ** 2                # sigma1'(b_i)
    torch.testing.assert_close(net.W.detach() @ net.random_features(x_cal).T,     # pre-activations = a_i s'(b_i) eta u
                               (a0 * deriv)[:, None] * net.feature(x_cal)[None, :])


def test_stage2_keeps_V_W_centres_biases_and_solves_ridge():
    d, m2, m1 = 4, 32, 12
    net = ThreeLayerNet(d, m2, m1, seed=2, dtype=F64)
    g = torch.Generator().manual_seed(0)
    task = HierarchicalPolyTask(d, 2)
    x1, y1, _ = task.sample(300, generator=g, dtype=F64)
    x2, y2, _ = task.sample(300, generator=g, dtype=F64)
    net.stage1(x1, y1, x_cal=x2)
    V0, W0 = net.V.clone(), net.W.detach().clone()
    net.stage2(x2, y2, lam=1e-3, bias_range=3.0, generator=torch.Generator().manual_seed(5))
    beta = (torch.rand(m1, generator=torch.Generator().manual_seed(5), dtype=F64) * 2 - 1) * 3.0
    assert torch.equal(net.V, V0) and torch.equal(net.W.detach(), W0)
    pre = net.random_features(x2) @ net.W.detach().T + net.b.detach()
    torch.testing.assert_close(pre.mean(0), beta, rtol=0, atol=1e-10)           # biases centred on the feature
    phi = torch.relu(pre)
    ref = torch.linalg.solve(phi.T @ phi / 300 + 1e-3 * torch.eye(m1, dtype=F64), phi.T @ y2 / 300)
    torch.testing.assert_close(net.a.detach(), ref, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(net(x2).detach(), phi @ ref, rtol=1e-8, atol=1e-10)


def test_rf_baseline_closed_form():
    net = ThreeLayerNet(3, 20, 4, seed=0, dtype=F64)
    x, y = torch.randn(100, 3, dtype=F64), torch.randn(100, dtype=F64)
    predict, theta, lam = rf_ridge_baseline(net, x, y, lam=1e-2)
    phi = torch.relu(x @ net.V.T)
    ref = torch.linalg.solve(phi.T @ phi / 100 + 1e-2 * torch.eye(20, dtype=F64), phi.T @ y / 100)
    torch.testing.assert_close(theta, ref, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(predict(x), phi @ ref, rtol=1e-9, atol=1e-12)
    assert lam == 1e-2
    torch.testing.assert_close(net.V.norm(dim=1), torch.ones(20, dtype=F64))


def test_metrics_and_crossing():
    u = torch.randn(500, dtype=F64)
    assert abs(feature_alignment(3 * u + 2, u) - 1) < 1e-12 and abs(feature_alignment(-u, u) + 1) < 1e-12
    y = torch.randn(500, dtype=F64)
    assert abs(relative_mse(torch.full_like(y, float(y.mean())), y) - 1) < 1e-12
    assert crossing_n([1000, 4000], [0.8, 1.0]) == pytest.approx(2000.0)
    assert crossing_n([1000, 4000], [0.95, 1.0]) == 1000.0 and math.isnan(crossing_n([1, 2], [0.1, 0.2]))


def test_feature_learning_effect_beats_kernel_and_shuffled_control():
    out = one_run(8, 6000, 0, Config("test", ns=(6000,), m2=512, m1=150, n_test=2000, lams=(1e-4, 1e-2)))
    assert out["corr"] >= 0.85 and abs(out["corr_shuffled"]) <= 0.3
    assert out["mse3"] < 0.85 and out["mserf"] - out["mse3"] > 0.2     # ours: 0.68 vs 1.05 (kernel)


def test_registered_model_and_tiny_full(tmp_path):
    model = pz.create_model("hierarchical_three_layer")
    assert model(torch.randn(8, 16)).shape == (8,)
    assert "V" in dict(model.named_buffers()) and "V" not in dict(model.named_parameters())
    r = pz.reproduce("hierarchical-polynomials", "full", seed=0, out=tmp_path / "run", progress=False,
                     overrides={"ns": (300, 600), "m2": 64, "m1": 16, "seeds": 1, "n_test": 200, "lams": (1e-3,)})
    assert {"n90_ratio_d24_d16", "gap_growth", "mse3_n600", "corr_n300"} <= set(r.metrics)


def test_stage_defaults_and_shape_checks():
    net = ThreeLayerNet(3, 24, 5, seed=4, dtype=F64)
    x, y = torch.randn(80, 3, dtype=F64), torch.randn(80, dtype=F64)
    with pytest.raises(ValueError, match="stage1"):
        net.stage1(x, y[:-1])
    net.stage1(x, y)                                                   # x_cal defaults to x
    assert abs(float(net.feature(x).std()) - 1) < 1e-10
    with pytest.raises(ValueError, match="stage2"):
        net.stage2(x, y[:-1])
    with pytest.raises(ValueError, match="bias_range"):
        net.stage2(x, y, bias_range=0.0)
    shift = net.gain * net.u_mean
    net.stage2(x, y, bias_range=2.0)                                   # default generator: seed + 1
    beta = (torch.rand(5, generator=torch.Generator().manual_seed(5), dtype=F64) * 2 - 1) * 2.0
    torch.testing.assert_close(net.b.detach(), beta - shift, rtol=0, atol=1e-12)
    assert net.lam == 1e-4
    with pytest.raises(ValueError, match="ridge"):
        ridge_validated(torch.ones(4, 2), torch.ones(4), ())


def test_registered_model_defaults_from_card():
    model = pz.create_model("hierarchical_three_layer")
    assert (model.d, model.m2, model.m1, model.sigma1, model.sigma2) == (16, 2048, 1000, "relu", "relu")
    assert sum(p.numel() for p in model.parameters()) == 1000 * 2048 + 2 * 1000
    assert torch.all(model.W == 0) and torch.all(model.b == 1) and set(model.a.detach().tolist()) == {-1.0, 1.0}


def test_constructor_validation_and_buffers():
    for args in ((0, 8, 4), (3, 0, 4), (3, 8, 0)):
        with pytest.raises(ValueError, match="must be >= 1"):
            ThreeLayerNet(*args)
    with pytest.raises(ValueError, match="sigma1"):
        ThreeLayerNet(3, 8, 4, sigma1="tanh")
    a, b = ThreeLayerNet(3, 8, 4, seed=7), ThreeLayerNet(3, 8, 4, seed=7)
    assert torch.equal(a.V, b.V) and torch.equal(a.a, b.a) and a.V.dtype == torch.float32 and a.seed == 7
    assert not torch.equal(a.V, ThreeLayerNet(3, 8, 4, seed=8).V)
    net = ThreeLayerNet(3, 8, 4, sigma2="cube", dtype=F64)
    x = torch.randn(5, 3, dtype=F64)
    torch.testing.assert_close(net.random_features(x), (x @ net.V.T) ** 3)


def test_task_defaults_and_validation():
    task = HierarchicalPolyTask(4)
    assert (task.d, task.k, task.g, task.feature, task.noise, task.A) == (4, 2, "he1+he3", "sum_hermite", 0.0, None)
    x, y, p = task.sample(10, generator=torch.Generator().manual_seed(0))
    assert x.dtype == y.dtype == p.dtype == torch.float32 and x.shape == (10, 4) and y.shape == p.shape == (10,)
    torch.testing.assert_close(y, link(p))
    x2, _, _ = task.sample(10, generator=torch.Generator().manual_seed(0), dtype=F64)
    torch.testing.assert_close(x, x2.float())
    for args in ((0,), (4, 0)):
        with pytest.raises(ValueError, match="need d >= 1"):
            HierarchicalPolyTask(*args)
    with pytest.raises(ValueError, match="n must be"):
        task.sample(0)
    with pytest.raises(ValueError, match="unknown g"):
        link(torch.zeros(2), "nope")
    assert abs(link_moments()[1] - 1 / math.sqrt(2)) < 1e-12
    assert hermite_orthonormality_err(8, 60) < 1e-9 and hermite_orthonormality_err(3, 3) > 1e-3   # 3 nodes: not exact
