"""bandlimited-random: float64 parity with a numpy least-squares reference, exact identities, the floor."""
import math

import numpy as np
import pytest
import torch

import paperzoo as pz
from paperzoo.papers.bandlimited_random import (
    TARGETS,
    Gaussian,
    RandomFeatureNet,
    UniformBox,
    UniformBoxAB,
    bump3,
    error_floor_sweep,
    floor_per_lambda,
    fourier_tail,
    regression_data,
    rmse,
    sine,
    spearman,
    suitable_lambda,
)
from paperzoo.papers.bandlimited_random.targets import l2_norm


def _numpy_reference(a, b, x_tr, y_tr, x_te, rcond=1e-10):
    """Step I/II written out in numpy: Phi_ij = 1 / (1 + exp(-(a_j x_i - b_j))), min-norm lstsq."""
    phi = 1.0 / (1.0 + np.exp(-(x_tr @ a.T - b)))
    c = np.linalg.lstsq(phi, y_tr, rcond=rcond)[0]
    return (1.0 / (1.0 + np.exp(-(x_te @ a.T - b)))) @ c


def test_least_squares_matches_numpy_reference_in_float64():
    x_tr, y_tr, x_te, _ = regression_data(bump3, n_train=300, n_test=200)
    net = RandomFeatureNet(30, 1, sampler=UniformBox(8.0), seed=3).fit(x_tr, y_tr)  # well conditioned: unique c
    ref = _numpy_reference(net.a.numpy(), net.b.numpy(), x_tr.numpy(), y_tr.numpy(), x_te.numpy())
    assert np.abs(net.predict(x_te).numpy() - ref).max() < 1e-8
    assert [n for n, _ in net.named_parameters()] == ["c"] and net.a.dtype == torch.float64


def test_ridge_solves_the_normal_equations_and_exact_targets_are_recovered():
    x_tr, y_tr, _, _ = regression_data(sine(2), n_train=200)
    net = RandomFeatureNet(40, 1, sampler=UniformBox(10.0), seed=1).fit(x_tr, y_tr, ridge=1e-3)
    phi = net.features(x_tr)
    lhs = (phi.T @ phi + 1e-3 * torch.eye(40, dtype=torch.float64)) @ net.c
    assert torch.allclose(lhs, phi.T @ y_tr, atol=1e-9)
    c_true = torch.randn(40, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = RandomFeatureNet(40, 1, sampler=UniformBox(10.0), seed=1).fit(x_tr, phi @ c_true)
    assert rmse(exact.predict(x_tr), phi @ c_true) < 1e-9
    with_bias = RandomFeatureNet(5, 1, bias=True, seed=0).fit(x_tr, torch.full_like(y_tr, 3.0))
    assert torch.allclose(with_bias.predict(x_tr), torch.full((200, 1), 3.0, dtype=torch.float64), atol=1e-9)


def test_samplers_respect_their_boxes():
    g = torch.Generator().manual_seed(0)
    a, b = UniformBox(7.0).sample(20_000, 2, g)
    assert a.abs().max() <= 7.0 and b.abs().max() <= 7.0 and a.abs().max() > 6.9 and b.abs().max() > 6.9
    assert abs(float(a.mean())) < 0.1 and abs(float(a.var()) - 49 / 3) < 0.3  # U[-l, l] has variance l^2 / 3
    a, b = UniformBoxAB(2.0, 30.0).sample(20_000, 1, g)
    assert 1.99 < a.abs().max() <= 2.0 and 29.9 < b.abs().max() <= 30.0
    a, _ = Gaussian(3.0).sample(20_000, 1, g)
    assert abs(float(a.std()) - 3.0) < 0.06
    net = RandomFeatureNet(50, 3, sampler=UniformBox(0.5), seed=4)
    assert net.a.shape == (50, 3) and net.b.shape == (50,) and net.a.abs().max() <= 0.5
    assert torch.equal(net.a, RandomFeatureNet(50, 3, sampler=UniformBox(0.5), seed=4).a)


def test_features_are_sigmoid_of_ax_minus_b():
    net = RandomFeatureNet(3, 1, seed=0)
    x = torch.tensor([[0.25]], dtype=torch.float64)
    want = 1 / (1 + torch.exp(-(0.25 * net.a[:, 0] - net.b)))
    assert torch.allclose(net.features(x)[0], want, atol=1e-15)
    tanh = RandomFeatureNet(3, 1, act="tanh", seed=0)
    assert torch.allclose(tanh.features(x)[0], torch.tanh(0.25 * tanh.a[:, 0] - tanh.b), atol=1e-15)


def test_targets_and_data_grid():
    x = torch.tensor([0.5, 0.25], dtype=torch.float64)
    assert float(bump3(x)[0]) == pytest.approx(0.2 * math.exp(-1) + 0.5 + 0.3 * math.exp(-400), abs=1e-15)
    assert float(bump3(x)[1]) == pytest.approx(0.2 * math.exp(-2.25) + 0.5 * math.exp(-400) + 0.3, abs=1e-15)
    assert float(sine(4)(torch.tensor(0.0625))) == pytest.approx(1.0)
    x_tr, y_tr, x_te, y_te = regression_data(sine(1), n_train=11, n_test=50, seed=2)
    assert torch.allclose(x_tr[:, 0], torch.arange(11, dtype=torch.float64) / 10)
    assert torch.equal(x_te, regression_data(sine(1), n_train=11, n_test=50, seed=2)[2])
    assert 0 <= x_te.min() and x_te.max() <= 1 and torch.allclose(y_te, torch.sin(2 * math.pi * x_te))
    assert l2_norm(sine(3)) == pytest.approx(math.sqrt(0.5), rel=1e-6)


def test_fourier_tail_of_a_gaussian_bump_is_erfc():
    s = 0.03  # f = exp(-(x - 1/2)^2 / (2 s^2)): |f^(w)|^2 ~ exp(-s^2 w^2), tail energy = erfc(s * cutoff)
    f = lambda x: torch.exp(-(x - 0.5) ** 2 / (2 * s * s))
    for cutoff in (10.0, 30.0, 60.0):
        assert fourier_tail(f, cutoff) == pytest.approx(math.sqrt(math.erfc(s * cutoff)), rel=5e-3)  # FFT frequency step 0.1
    assert fourier_tail(f, 0.0) == pytest.approx(1.0) and fourier_tail(sine(16), 1e4) < fourier_tail(sine(16), 10)
    assert fourier_tail(sine(16), 50.0) > fourier_tail(sine(1), 50.0)


def test_sweep_shows_the_floor_and_the_summaries():
    cells = error_floor_sweep(bump3, [1.0, 200.0], [100, 600], [0])
    assert cells[(1.0, 600)][0] > 0.04 and abs(cells[(1.0, 600)][0] / cells[(1.0, 100)][0] - 1) < 0.05
    assert cells[(200.0, 600)][0] < 1e-3
    med = {(1.0, 1000): 0.5, (5.0, 1000): 1e-4, (20.0, 1000): 1e-6, (5.0, 50): 1e-5}
    assert suitable_lambda(med, 1000) == 5.0 and math.isinf(suitable_lambda({(1.0, 1000): 0.5}, 1000))
    assert floor_per_lambda(med) == {1.0: 0.5, 5.0: 1e-5, 20.0: 1e-6}
    from scipy.stats import spearmanr

    x, y = [1, 2, 3, 4, 5], [5.0, 3.0, 3.0, 1.0, 0.5]
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)
    assert spearman(x, [5.0, 4.0, 3.0, 1.0, 2.0]) == -0.9  # one adjacent swap: -(1 - 6 * 2 / 120), exactly
    with pytest.raises(ValueError):
        error_floor_sweep(bump3, [], [10], [0])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="lam"):
        UniformBox(0.0)
    with pytest.raises(ValueError, match="act"):
        RandomFeatureNet(4, 1, act="gelu")
    net = RandomFeatureNet(4, 2)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        net(torch.zeros(3, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN"):
        net(torch.full((3, 2), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="ridge"):
        net.fit(torch.zeros(3, 2), torch.zeros(3), ridge=-1.0)


def test_tiny_full_protocol_through_overrides(tmp_path):
    r = pz.reproduce("bandlimited-random", "full", out=tmp_path, progress=False, overrides={
        "t1_lams": (1.0, 50.0, 200.0), "t1_ds": (200, 1000), "t2_ks": (1, 16), "t2_lams": (1.0, 5.0, 200.0),
        "t2_ds": (200, 1000), "seeds": 1})
    m = r.metrics
    assert m["suitable_lambda_grows"] == 1.0 and m["suitable_lambda_k1"] <= 5.0 and m["suitable_lambda_k16"] == 200.0
    assert m["t1_floor_lambda_spearman"] == pytest.approx(-1.0) and m["floor_rcond_rel_change"] < 0.05
    assert 0.1 <= m["proxy_kappa"] <= 100 and "T1: test RMSE vs width" in r.curves
    assert set(TARGETS) == {"T1", "T2k1", "T2k4", "T2k16"}
