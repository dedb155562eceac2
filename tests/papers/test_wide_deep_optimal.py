"""wide-deep-optimal: duals vs Monte Carlo, recursions vs a plain reference and vs a finite float64 network,
the three infinite-depth regimes, the classifiers against independent references."""
import math

import numpy as np
import pytest
import torch

import paperzoo as pz
from paperzoo.papers.wide_deep_optimal import (
    KernelClassifier,
    WideDeepMLP,
    bayes_dirichlet,
    dirichlet_sphere_data,
    empirical_nngp,
    empirical_ntk,
    get_activation,
    hermite,
    hermite_activation,
    infinite_depth_exponent,
    kernel_fn,
    local_slope,
    majority_vote,
    nngp_kernel,
    ntk_kernel,
    ntk_ratio,
    one_nn,
    singular_kernel_classifier,
    sphere,
)
from paperzoo.papers.wide_deep_optimal.experiment import dual_mc_error, one_nn_agreement

PRESETS = ("relu", "erf", "sine_2.676", "opt_3d", "opt_9d", "hermite_2")


def _pts(n, d=5, seed=0):
    return sphere(torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))


# ---------------------------------------------------------------- duals
@pytest.mark.parametrize("act", PRESETS)
def test_dual_closed_form_matches_monte_carlo(act):
    assert dual_mc_error(act, n=1_000_000, seed=1) < 0.008
    assert dual_mc_error(act, n=400_000, seed=2, derivative=True) < 0.03


@pytest.mark.parametrize("act", PRESETS)
def test_normalisation_and_derivative_dual(act):
    a = get_activation(act)
    nodes, w = np.polynomial.hermite_e.hermegauss(200)         # E over N(0, 1) by Gauss-Hermite quadrature
    w = torch.from_numpy(w / w.sum())
    if act not in ("relu",):                                     # smooth: quadrature is exact to 1e-10
        assert abs(float((w * a(torch.from_numpy(nodes)) ** 2).sum()) - 1.0) < 1e-9
    one = torch.ones((), dtype=torch.float64)
    assert abs(float(a.psi(one)) - 1.0) < 1e-12
    xi = torch.linspace(-0.95, 0.95, 39, dtype=torch.float64)
    h = 1e-6
    fd = (a.psi(xi + h) - a.psi(xi - h)) / (2 * h)
    assert torch.allclose(a.dpsi(xi), fd, atol=1e-7)


def test_hermite_polynomials_are_orthonormal_and_duals_are_squared_coefficients():
    nodes, w = np.polynomial.hermite_e.hermegauss(60)
    x, w = torch.from_numpy(nodes), torch.from_numpy(w / w.sum())
    gram = torch.stack([torch.stack([(w * hermite(x, j) * hermite(x, k)).sum() for k in range(7)]) for j in range(7)])
    assert torch.allclose(gram, torch.eye(7, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(hermite(x, 3), (x**3 - 3 * x) / math.sqrt(6))
    a = hermite_activation([0.0, 2.0, 0.0, 2.0])                # normalised to (h_1 + h_3) / sqrt 2 = opt_3d
    xi = torch.tensor([-0.3, 0.2, 0.7], dtype=torch.float64)
    assert torch.allclose(a.psi(xi), xi**3 / 2 + xi / 2) and torch.allclose(a.dpsi(xi), 1.5 * xi**2 + 0.5)
    assert torch.allclose(a.psi(xi), get_activation("opt_3d").psi(xi))
    assert torch.allclose(get_activation("opt_9d").psi(xi), xi**3 / 16 + 7 * xi**2 / 8 + xi / 16)
    assert torch.allclose(get_activation("opt_5d").psi(xi), xi**3 / 4 + xi**2 / 2 + xi / 4)
    assert torch.allclose(get_activation("opt_2d").psi(xi), xi**7 / 2 + xi / 2)


def test_relu_and_erf_closed_forms():
    xi = torch.tensor([-0.9, -0.2, 0.0, 0.4, 1.0], dtype=torch.float64)
    relu = get_activation("relu")
    ref = (xi * (math.pi - torch.arccos(xi)) + torch.sqrt(1 - xi**2)) / math.pi
    assert torch.allclose(relu.psi(xi), ref)
    assert abs(float(relu.psi(torch.tensor(0.0, dtype=torch.float64))) - 1 / math.pi) < 1e-15
    erf = get_activation("erf")
    assert abs(float(erf.dpsi(torch.tensor(0.0, dtype=torch.float64))) - 0.9136) < 1e-4   # card: psi'(0) = 0.914
    assert abs(float(erf.dpsi(torch.tensor(1.0, dtype=torch.float64))) - 1.2257) < 1e-4   # card: psi'(1) = 1.226
    s = get_activation("sine_3")
    assert torch.allclose(s.dpsi(xi), 3 * torch.cosh(3 * xi) / math.sinh(3))            # a enters psi' (card pitfall)


# ---------------------------------------------------------------- recursions
def _reference(xi, depth, a):
    """The official-style recursion without rescaling: K = psi(xi) + K psi'(xi), xi = psi(xi)."""
    k = xi.clone()
    for _ in range(depth):
        k = a.psi(xi) + k * a.dpsi(xi)
        xi = a.psi(xi).clamp(-1, 1)
    return k, xi


@pytest.mark.parametrize("act", ["relu", "erf", "opt_3d", "sine_2.676"])
def test_rescaled_recursion_matches_plain_reference(act):
    x, z = _pts(6, seed=1), _pts(4, seed=2)
    a = get_activation(act)
    for depth in (0, 1, 3, 7):
        k, log_c = ntk_kernel(x, z, depth, act, log_scale=True)
        ref_k, ref_xi = _reference((x @ z.T).clamp(-1, 1), depth, a)
        c_ref, _ = _reference(torch.ones((), dtype=torch.float64), depth, a)
        assert abs(log_c - math.log(float(c_ref))) < 1e-12
        assert torch.allclose(k * math.exp(log_c), ref_k, rtol=1e-12, atol=1e-12)
        assert torch.allclose(nngp_kernel(x, z, depth, act), ref_xi, atol=1e-14)
    gram = ntk_kernel(x, None, 5, act)
    assert torch.allclose(gram.diagonal(), torch.ones(6, dtype=torch.float64), atol=1e-12)


def test_finite_network_ntk_matches_recursion():
    """The heart: the empirical NTK of finite float64 nets (mean of 3 inits) against the recursion."""
    x = _pts(4, seed=3)
    for act in ("relu", "erf"):
        k, log_c = ntk_kernel(x, x, 2, act, log_scale=True)
        emp = []
        for s in range(3):
            torch.manual_seed(s)
            emp.append(empirical_ntk(WideDeepMLP(5, 1, width=1024, depth=2, act=act).double(), x))
        emp = torch.stack(emp).mean(0) / math.exp(log_c)
        assert (emp - k).abs().max() < 0.1
        a = get_activation(act)
        no_deriv = _reference_wrong(x @ x.T, 2, a)               # a recursion without the psi' factor
        assert (emp * math.exp(log_c) - no_deriv).abs().max() > 0.3


def _reference_wrong(xi, depth, a):
    k = xi.clone()
    for _ in range(depth):
        k = a.psi(xi) + k
        xi = a.psi(xi)
    return k


def test_finite_network_nngp_matches_recursion():
    x = _pts(4, seed=4)
    for act, depth in (("erf", 2), ("relu", 2), ("sine_2.676", 2)):   # bounded-variance activations
        emp = []
        for s in range(6):
            torch.manual_seed(s)
            emp.append(empirical_nngp(WideDeepMLP(5, 1, width=4096, depth=depth, act=act).double(), x))
        err = (torch.stack(emp).detach().mean(0) - nngp_kernel(x, x, depth, act)).abs().max()
        assert err < 0.06, (act, float(err))


# ---------------------------------------------------------------- infinite-depth regimes
def test_exponents_and_slopes():
    for n, (nngp, ntk) in {2: (1, 3), 3: (2, 4), 5: (4, 6), 9: (8, 10)}.items():
        assert infinite_depth_exponent(f"opt_{n}d", "nngp") == pytest.approx(nngp, abs=1e-12)
        assert infinite_depth_exponent(f"opt_{n}d", "ntk") == pytest.approx(ntk, abs=1e-12)
    assert infinite_depth_exponent("erf") == pytest.approx(2.888, abs=1e-3)
    assert infinite_depth_exponent("sine_2.676", "nngp") == pytest.approx(2.0, abs=1e-3)
    assert infinite_depth_exponent("hermite_3") == math.inf and infinite_depth_exponent("relu") is None
    for act in ("opt_3d", "opt_5d", "opt_9d"):
        assert local_slope("ntk", 60, act) == pytest.approx(-infinite_depth_exponent(act) / 2, abs=0.01)
        assert local_slope("nngp", 60, act) == pytest.approx(-infinite_depth_exponent(act, "nngp") / 2, abs=0.01)
    assert abs(local_slope("ntk", 3, "opt_3d") + 2.0) > 0.1    # the power law is a depth limit


def test_one_nn_regime():
    assert one_nn_agreement("hermite_3", 8) >= 0.98
    assert one_nn_agreement("hermite_3", 3) < 0.8               # card: depth 3 gives only ~60 %
    from sklearn.neighbors import KNeighborsClassifier  # anchor for the 1-NN classifier
    x, y, _ = dirichlet_sphere_data(500, (1, 2, 1), (2, 1, 1), 0.4, seed=3)
    ref = KNeighborsClassifier(n_neighbors=1).fit(x[:300].numpy(), y[:300].numpy()).predict(x[300:].numpy())
    assert np.array_equal(one_nn(x[:300], y[:300], x[300:]).numpy(), ref)


def test_majority_vote_regime():
    r = ntk_ratio(torch.tensor([0.0, 0.5]), 1000, "relu")
    assert (r - 0.25).abs().max() < 0.01 and (ntk_ratio(torch.tensor([0.0, 0.5]), 10, "relu") - 0.25).abs().min() > 0.05
    assert abs(float(ntk_ratio(0.3, 10_000, "relu")) - 0.25) < 1e-3
    x, y, _ = dirichlet_sphere_data(300, (1, 2, 1), (2, 1, 1), 0.4, seed=1)   # the limit Gram (1/4) 11^T + (3/4) I
    limit = KernelClassifier(lambda a, b: torch.full((len(a), len(b)), 0.25, dtype=torch.float64)
                             + 0.75 * (a @ b.T > 1 - 1e-15).double())
    pred = limit.fit(x[:200], y[:200]).predict(x[200:])
    assert torch.equal(pred, majority_vote(x[:200], y[:200], x[200:])) and float(pred[0]) == -1.0


def test_singular_regime_nngp_matches_devroye():
    x, y, _ = dirichlet_sphere_data(1300, (0.5, 0.5, 2.5), (2.5, 0.1, 0.5), 0.4, seed=5)
    xtr, ytr, xte = x[:300], y[:300], x[300:]
    pred = KernelClassifier(kernel_fn("nngp", 100, "opt_3d")).fit(xtr, ytr).predict(xte)
    dev = singular_kernel_classifier(2.0)(xtr, ytr, xte)
    assert (pred == dev).double().mean() >= 0.99
    d = torch.cdist(xte, xtr)                                   # direct reference of the Devroye rule
    ref = torch.sign((ytr / d**2).sum(1))
    assert torch.equal(dev, ref)
    assert not torch.equal(singular_kernel_classifier(8.0)(xtr, ytr, xte), dev)


# ---------------------------------------------------------------- classifiers and data
def test_kernel_classifier_interpolates_and_bayes_matches_scipy():
    from scipy.stats import dirichlet
    xo = _pts(100, 3, seed=9).abs()
    yo = torch.where(xo[:, 0] > xo[:, 1], 1.0, -1.0).double()
    clf = KernelClassifier(kernel_fn("ntk", 3, "erf")).fit(xo, yo)
    assert torch.allclose(clf.decision(xo), yo, atol=1e-8)
    x, y, s = dirichlet_sphere_data(200, (0.5, 0.5, 2.5), (2.5, 0.1, 0.5), 0.4, seed=2)
    assert int((y == 1).sum()) == 80 and torch.allclose(x.norm(dim=1), torch.ones(200, dtype=torch.float64))
    assert torch.allclose(s.sum(1), torch.ones(200, dtype=torch.float64)) and torch.allclose(x * s.norm(dim=1, keepdim=True), s)
    s = s.clamp_min(1e-12)
    s = s / s.sum(1, keepdim=True)
    l1 = np.array([dirichlet.logpdf(r, (0.5, 0.5, 2.5)) for r in s.numpy()])
    l2 = np.array([dirichlet.logpdf(r, (2.5, 0.1, 0.5)) for r in s.numpy()])
    ref = np.where(math.log(0.4) + l1 >= math.log(0.6) + l2, 1.0, -1.0)
    assert np.array_equal(bayes_dirichlet((0.5, 0.5, 2.5), (2.5, 0.1, 0.5), 0.4)(s).numpy(), ref)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="unit sphere"):
        ntk_kernel(torch.ones(3, 2, dtype=torch.float64), None, 2, "relu")
    with pytest.raises(ValueError, match="did you mean"):
        get_activation("rleu")
    with pytest.raises(ValueError, match=r"\+1 / -1"):
        KernelClassifier(kernel_fn("nngp", 2, "relu")).fit(_pts(3), torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="p1"):
        dirichlet_sphere_data(10, (1, 1), (1, 1), p1=1.5)
    with pytest.raises(ValueError, match="kernel"):
        infinite_depth_exponent("relu", "gp")


# ---------------------------------------------------------------- model and protocol
def test_registered_model_and_tiny_full_protocol(tmp_path):
    m = pz.create_model("wide_deep_mlp", width=64)
    assert m(torch.randn(4, 16)).shape == (4, 1)
    x = torch.randn(3, 16)
    assert torch.allclose(m(x), m(7.0 * x), atol=1e-5)          # inputs are projected onto the sphere
    r = pz.reproduce("wide-deep-optimal", "full", seed=0, out=tmp_path / "run", progress=False,
                     overrides={"n_trains": (60, 120), "n_test": 200, "seeds": 1, "bayes_samples": 20_000,
                                "mc_pairs": 100_000, "threads": 1})
    assert 0.5 < r.metrics["bayes_acc"] <= 1.0 and 0.5 < r.metrics["majority_acc"] < 0.7
    assert r.metrics["opt3d_devroye_agreement"] > 0.9


def test_clipping_diagonal_dtype_and_kernel_kinds():
    from paperzoo.papers.wide_deep_optimal.kernels import gram_input, nngp_from_corr, ntk_from_corr
    twice = hermite_activation([0.0, math.sqrt(2.0)], normalise=False)      # psi = 2 xi: leaves [-1, 1]
    xi = torch.tensor([-0.9, -0.3, 0.3, 0.9], dtype=torch.float64)
    assert torch.allclose(nngp_from_corr(xi, 1, twice), torch.tensor([-1.0, -0.6, 0.6, 1.0], dtype=torch.float64))
    assert torch.allclose(nngp_from_corr(xi, 2, twice), torch.tensor([-1.0, -1.0, 1.0, 1.0], dtype=torch.float64))
    k = ntk_from_corr(xi, 2, twice)                    # K_2 / K_2(1) = (2 clip(2 xi) + 8 xi) / 7: psi sees clipped xi_1
    assert torch.allclose(k, (2 * (2 * xi).clamp(-1, 1) + 8 * xi) / 7, atol=1e-12)
    out = nngp_from_corr(torch.tensor([1.5, -1.5]), 0, "relu")
    assert out.dtype == torch.float64 and torch.equal(out, torch.tensor([1.0, -1.0], dtype=torch.float64))
    assert torch.equal(ntk_from_corr(torch.tensor([1.5, -1.5]), 0, "relu"), torch.tensor([1.0, -1.0], dtype=torch.float64))
    assert ntk_ratio([0.25, 0.5], 2).dtype == torch.float64
    assert float(ntk_ratio(0.1, 3)) == float(ntk_from_corr(torch.tensor(0.1, dtype=torch.float64), 3, "relu"))
    x = _pts(7, seed=11)
    for depth in (60, 100):                            # the diagonal is exactly 1 and stays 1
        assert torch.equal(gram_input(x).diagonal(), torch.ones(7, dtype=torch.float64))
        assert torch.equal(nngp_kernel(x, None, depth, "opt_3d").diagonal(), torch.ones(7, dtype=torch.float64))
        assert torch.equal(nngp_kernel(x, x, depth, "opt_3d").diagonal(), torch.ones(7, dtype=torch.float64))
    z = _pts(3, seed=12)
    assert torch.equal(kernel_fn("ntk", 4, "erf")(x, z), ntk_kernel(x, z, 4, "erf"))
    assert torch.equal(kernel_fn("nngp", 4, "erf")(x, z), nngp_kernel(x, z, 4, "erf"))
    assert torch.allclose(sphere(torch.tensor([[3.0, 4.0]])), torch.tensor([[0.6, 0.8]], dtype=torch.float64))


def test_kernel_input_errors():
    x = _pts(3)
    with pytest.raises(ValueError, match="depth"):
        ntk_kernel(x, None, -1, "relu")
    with pytest.raises(ValueError, match="depth"):
        nngp_kernel(x, None, -1, "relu")
    with pytest.raises(ValueError, match="features"):
        nngp_kernel(x, _pts(2, d=4), 1, "relu")
    with pytest.raises(ValueError, match="NaN"):
        nngp_kernel(torch.full((2, 5), float("nan"), dtype=torch.float64), None, 1, "relu")
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        nngp_kernel(x[0], None, 1, "relu")
    with pytest.raises(ValueError, match="kind"):
        kernel_fn("gp", 2, "relu")
    with pytest.raises(ValueError, match="kind"):
        local_slope("gp", 2, "relu")
    nngp_kernel(x * (1 + 5e-7), None, 1, "relu")          # within the 1e-6 tolerance: accepted
