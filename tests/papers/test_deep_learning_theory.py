"""deep-learning-theory: quadrature, recursions, criticality, the 1/n vertex, the finite-width simulator, the
critical MLP and the ``criticality`` probe (identities, float64 references written here, simulation margins)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import paperzoo as pz
from paperzoo.papers.deep_learning_theory import (
    CriticalMLP,
    a1_coefficient,
    arccos_kernel,
    critical_init_,
    criticality,
    exact_kurtosis_scale_invariant,
    excess_kurtosis,
    find_criticality,
    four_point_vertex,
    gaussian_expect,
    gaussian_expect2,
    get_activation,
    kernel_flow,
    nngp_recursion,
    ntk_recursion,
    predicted_kurtosis,
    random_preactivations,
    scale_invariant,
    susceptibilities,
    unit_input,
    universality_class,
)
from paperzoo.papers.deep_learning_theory.criticality import fixed_point
from paperzoo.papers.deep_learning_theory.finite_width import fit_slope_through_origin
from paperzoo.papers.deep_learning_theory.gaussian import derivative, gauss_legendre, std_normal_rule, taylor
from paperzoo.papers.deep_learning_theory.probe import _perturb, criticality_layers

F64 = torch.float64


# ----------------------------------------------------------------------------------------- quadrature
def test_gauss_legendre_exact_for_polynomials():
    x, w = gauss_legendre(7)
    assert float(w.sum()) == pytest.approx(2.0, abs=1e-14)
    for k in range(14):
        exact = 0.0 if k % 2 else 2.0 / (k + 1)
        assert float((w * x ** k).sum()) == pytest.approx(exact, abs=1e-13)


def test_std_normal_rule_moments():
    u, w = std_normal_rule()
    for k, m in enumerate([1, 0, 1, 0, 3, 0, 15, 0, 105]):
        assert float((w * u ** k).sum()) == pytest.approx(m, abs=1e-11)
    assert float((w * u.abs() ** 3).sum()) == pytest.approx(2 * math.sqrt(2 / math.pi), abs=1e-13)
    assert float(gaussian_expect(lambda z: z.clamp_min(0) ** 2, 1.7)) == pytest.approx(0.85, abs=1e-14)


def test_gaussian_expect2_identities():
    Kaa, Kab, Kbb = torch.tensor([1.0, 2.0, 0.5], dtype=F64), torch.tensor([0.3, -1.2, 0.5], dtype=F64), \
        torch.tensor([2.0, 1.5, 0.5], dtype=F64)
    lin = lambda z: z  # noqa: E731
    sq = lambda z: z * z  # noqa: E731
    torch.testing.assert_close(gaussian_expect2(lin, lin, Kaa, Kab, Kbb), Kab, atol=1e-10, rtol=0)
    torch.testing.assert_close(gaussian_expect2(sq, sq, Kaa, Kab, Kbb), Kaa * Kbb + 2 * Kab ** 2, atol=1e-9, rtol=0)
    relu = get_activation("relu")
    torch.testing.assert_close(gaussian_expect2(relu, lin, Kaa, Kab, Kbb), Kab / 2, atol=1e-10, rtol=0)
    # ReLU pair: float64 arc-cosine reference written here
    r = (Kaa * Kbb).sqrt()
    t = torch.arccos(Kab / r)
    ref = r / (2 * math.pi) * (torch.sin(t) + (math.pi - t) * torch.cos(t))
    torch.testing.assert_close(gaussian_expect2(relu, relu, Kaa, Kab, Kbb), ref, atol=1e-9, rtol=0)
    with pytest.raises(ValueError, match="positive semi-definite"):
        gaussian_expect2(lin, lin, 1.0, 2.0, 1.0)
    with pytest.raises(ValueError, match=">= 0"):
        gaussian_expect(lin, -1.0)


def test_derivatives_and_taylor():
    z = torch.linspace(-2, 2, 9, dtype=F64)
    torch.testing.assert_close(derivative("tanh", z), 1 - torch.tanh(z) ** 2)
    torch.testing.assert_close(derivative("tanh", z, 2), -2 * torch.tanh(z) * (1 - torch.tanh(z) ** 2))
    assert taylor("tanh") == pytest.approx((0, 1, 0, -2), abs=1e-12)
    assert taylor("sin") == pytest.approx((0, 1, 0, -1), abs=1e-12)
    assert taylor("gelu")[2] == pytest.approx(math.sqrt(2 / math.pi), abs=1e-12)
    assert a1_coefficient("tanh") == pytest.approx(-2.0)
    assert a1_coefficient("sin") == pytest.approx(-1.0)
    assert a1_coefficient(lambda x: x + 0.5 * x * x - x ** 3 / 3) == pytest.approx(-2.0 + 0.75)
    with pytest.raises(KeyError, match="did you mean"):
        get_activation("tanhh")


# ----------------------------------------------------------------------------------------- criticality
def test_susceptibilities_relu_and_definition():
    for K in (0.3, 5.0):
        cp, cq = susceptibilities("relu", K, 1.7)
        assert float(cp) == pytest.approx(0.85, abs=1e-13) and float(cq) == pytest.approx(0.85, abs=1e-13)
    # chi_par = C_W d<sigma^2>_K/dK (central difference), chi_perp = C_W <sigma'^2> (Gauss-Hermite reference)
    C_W, K, h = 1.3, 0.7, 1e-5
    m2 = lambda k: float(gaussian_expect(lambda z: torch.tanh(z) ** 2, k))  # noqa: E731
    cp, cq = susceptibilities("tanh", K, C_W)
    assert float(cp) == pytest.approx(C_W * (m2(K + h) - m2(K - h)) / (2 * h), rel=1e-8)
    import numpy as np

    x, w = np.polynomial.hermite_e.hermegauss(200)
    ref = C_W * float((w * (1 - np.tanh(math.sqrt(K) * x) ** 2) ** 2).sum() / math.sqrt(2 * math.pi))
    assert float(cq) == pytest.approx(ref, rel=1e-12)
    with pytest.raises(ValueError):
        susceptibilities("tanh", 0.0, 1.0)


def test_find_criticality_closed_forms():
    assert find_criticality("relu")[:2] == (0.0, 2.0) and math.isnan(find_criticality("relu")[2])
    assert find_criticality("linear")[:2] == (0.0, 1.0)
    assert find_criticality("leaky_relu")[1] == pytest.approx(2 / 1.01, abs=1e-15)
    assert find_criticality(scale_invariant(2.0, -0.5))[1] == pytest.approx(2 / 4.25)
    assert find_criticality("tanh") == (0.0, 1.0, 0.0)
    assert find_criticality(lambda z: torch.tanh(2 * z)) == (0.0, 0.25, 0.0)
    assert universality_class("relu")[0] == "scale-invariant"
    assert universality_class(lambda z: 3 * z.clamp_min(0)) == ("scale-invariant", pytest.approx(math.nan, nan_ok=True))
    assert universality_class("tanh") == ("K*=0", pytest.approx(-2.0))
    assert universality_class("gelu")[0] == "none" and universality_class("gelu")[1] > 0
    with pytest.raises(ValueError, match="no critical point"):
        find_criticality("sigmoid")


def test_find_criticality_root_gelu():
    cb, cw, K = find_criticality("gelu")
    assert cb > 0 and K > 0
    cp, cq = susceptibilities("gelu", K, cw)
    assert float(cp) == pytest.approx(1, abs=1e-9) and float(cq) == pytest.approx(1, abs=1e-9)
    f = get_activation("gelu")
    assert cb + cw * float(gaussian_expect(lambda z: f(z) ** 2, K)) == pytest.approx(K, rel=1e-10)


def _arccos_ref(K, C_b, C_W):
    d = torch.diagonal(K)
    r = (d[:, None] * d[None, :]).sqrt()
    t = torch.arccos((K / r).clamp(-1, 1))
    return C_b + C_W / (2 * math.pi) * r * (torch.sin(t) + (math.pi - t) * torch.cos(t)), (math.pi - t) / (2 * math.pi)


def test_nngp_and_ntk_recursions_match_relu_closed_forms():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(5, 7, generator=g, dtype=F64)
    C_b, C_W, lb, lw = 0.3, 1.7, 0.4, 1.3
    Ks, Th = nngp_recursion(X, 4, "relu", C_b, C_W), ntk_recursion(X, 4, "relu", C_b, C_W, lb, lw)
    K, T = C_b + C_W * X @ X.T / 7, lb + lw * X @ X.T / 7
    for l in range(4):
        torch.testing.assert_close(Ks[l], K, atol=1e-9, rtol=0)
        torch.testing.assert_close(Th[l], T, atol=1e-8, rtol=0)
        ss, dd = _arccos_ref(K, 0.0, 1.0)
        K, T = C_b + C_W * ss, lb + lw * ss + C_W * dd * T
    torch.testing.assert_close(arccos_kernel(Ks[2].diagonal()[:, None], Ks[2], Ks[2].diagonal()[None], C_b, C_W),
                               _arccos_ref(Ks[2], C_b, C_W)[0])
    with pytest.raises(ValueError):
        nngp_recursion(X[0], 3, "relu", 0, 2)


def test_tanh_flow_and_decay_card_numbers():
    K = kernel_flow("tanh", 1.0, 200, 0.0, 1.0)
    assert float(K[8]) == pytest.approx(0.0652, abs=5e-5)          # card correction: 0.0652
    assert float(K[199]) == pytest.approx(0.002534, abs=5e-7)      # card: K^(200) = 0.002534
    assert fixed_point("relu", 0.0, 1.0) < 1e-12                    # chi < 1: flows to 0
    assert fixed_point("tanh", 0.5, 1.0) == pytest.approx(0.5 + float(gaussian_expect(
        lambda z: torch.tanh(z) ** 2, fixed_point("tanh", 0.5, 1.0))), abs=1e-12)


def test_four_point_vertex_closed_forms():
    V, K = four_point_vertex("relu", 6, 0.0, 2.0, K1=1.7)
    torch.testing.assert_close(K, torch.full((6,), 1.7, dtype=F64))
    torch.testing.assert_close(V, 5 * torch.arange(6, dtype=F64) * 1.7 ** 2, atol=1e-12, rtol=1e-12)
    V, _ = four_point_vertex("linear", 4, 0.0, 1.0)
    torch.testing.assert_close(V, 2 * torch.arange(4, dtype=F64), atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(predicted_kurtosis("relu", 4, 32, 0.0, 2.0), 15 * torch.arange(4, dtype=F64) / 32)
    V, K = four_point_vertex("tanh", 9, 0.0, 1.0)
    assert float(V[8] / K[8] ** 2) == pytest.approx(4.89, abs=0.005)   # card: 4.89
    V2, _ = four_point_vertex("relu", 3, 0.0, 2.4)                     # off criticality: chi_par = 1.2
    assert float(V2[1]) == pytest.approx(2.4 ** 2 * 1.25, rel=1e-12)            # C_W^2 (3/2 - 1/4) K^2, K = 1
    assert float(V2[2]) == pytest.approx(2.4 ** 2 * 1.25 * 1.2 ** 2 + 1.2 ** 2 * float(V2[1]), rel=1e-12)


# ----------------------------------------------------------------------------------------- finite width
def test_random_preactivations_match_an_explicit_loop():
    x = unit_input(5, torch.Generator().manual_seed(0))
    assert float(x.square().mean()) == pytest.approx(1.0)
    C_b, C_W = 0.2, 1.5
    z = random_preactivations("tanh", x, 3, 4, 6, C_b, C_W, generator=torch.Generator().manual_seed(3), dtype=F64)
    g = torch.Generator().manual_seed(3)
    W1 = torch.randn(6, 4, 5, generator=g, dtype=F64)
    b1 = torch.randn(6, 4, generator=g, dtype=F64)
    ref = [torch.stack([W1[i] @ x * math.sqrt(C_W / 5) + b1[i] * math.sqrt(C_b) for i in range(6)])]
    for _ in range(2):
        W = torch.randn(6, 4, 4, generator=g, dtype=F64)
        b = torch.randn(6, 4, generator=g, dtype=F64)
        ref.append(torch.stack([W[i] @ torch.tanh(ref[-1][i]) * math.sqrt(C_W / 4) + b[i] * math.sqrt(C_b)
                                for i in range(6)]))
    torch.testing.assert_close(z, torch.stack(ref))
    with pytest.raises(ValueError):
        random_preactivations("relu", x[None], 2, 4, 3, 0.0, 2.0)


def test_excess_kurtosis_estimator():
    z = torch.tensor([[1.0, -1.0], [2.0, -2.0]])[None]           # m2 = 2.5, m4 = 8.5
    assert float(excess_kurtosis(z)) == pytest.approx(8.5 / 6.25 - 3)
    g = torch.Generator().manual_seed(0)
    assert abs(float(excess_kurtosis(torch.randn(1, 400, 500, generator=g)))) < 0.03


def test_exact_finite_width_kurtosis():
    # its 1/n term is the book's leading order
    for act, cw in (("relu", 2.0), ("linear", 1.0), ("leaky_relu", 2 / 1.01)):
        n = 10 ** 7
        torch.testing.assert_close(exact_kurtosis_scale_invariant(act, 6, n) * n,
                                   predicted_kurtosis(act, 6, n, 0.0, cw) * n, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(exact_kurtosis_scale_invariant("relu", 3, 16),
                               3 * ((1 + 5 / 16) ** torch.arange(3, dtype=F64) - 1))
    with pytest.raises(ValueError):
        exact_kurtosis_scale_invariant("tanh", 3, 16)


def test_simulated_kurtosis_tracks_exact_and_leading_order():
    g = torch.Generator().manual_seed(0)
    z = random_preactivations("relu", unit_input(16, g), 3, 16, 4000, 0.0, 2.0, generator=g)
    sim = excess_kurtosis(z)
    exact = exact_kurtosis_scale_invariant("relu", 3, 16)
    assert abs(float(sim[0])) < 0.1                                   # layer 1 is exactly Gaussian
    assert float(sim[2]) == pytest.approx(float(exact[2]), rel=0.2)   # 2.17
    z = random_preactivations("tanh", unit_input(32, g), 9, 32, 2000, 0.0, 1.0, generator=g)
    assert float(z[8].double().square().mean()) == pytest.approx(0.0652, rel=0.1)
    assert fit_slope_through_origin([1.0, 2.0], [2.0, 4.0]) == pytest.approx(2.0)


# ----------------------------------------------------------------------------------------- model
def test_critical_init_statistics():
    torch.manual_seed(0)
    lin, conv = nn.Linear(500, 2000), nn.Conv2d(3, 400, 5)
    critical_init_(nn.Sequential(lin, conv), 0.3, 2.0)
    assert float(lin.weight.detach().var()) == pytest.approx(2.0 / 500, rel=0.01)
    assert float(lin.bias.detach().var()) == pytest.approx(0.3, rel=0.1)
    assert float(conv.weight.detach().var()) == pytest.approx(2.0 / 75, rel=0.02)
    with pytest.raises(ValueError):
        critical_init_(lin, 0.0, 0.0)
    with pytest.raises(ValueError):
        critical_init_(nn.ReLU(), 0.0, 2.0)


def test_critical_mlp_defaults_and_kernel():
    torch.manual_seed(0)
    m = CriticalMLP(64, 3, width=1000, depth=3)
    assert (m.C_b, m.C_W) == (0.0, 2.0) and CriticalMLP(depth=2, act="tanh").C_W == 1.0
    x = torch.stack([unit_input(64, torch.Generator().manual_seed(i)) for i in range(50)]).float()
    zs = m.preactivations(x)
    assert len(zs) == 4 and zs[-1].shape == (50, 3)
    # ReLU at (0, 2): K^(l) = C_W |x|^2 / n0 = 2 at every hidden layer (up to O(1/sqrt(n)) fluctuations)
    for z in zs[:3]:
        assert float(z.detach().square().mean()) == pytest.approx(2.0, rel=0.1)
    with pytest.raises(ValueError, match="no critical point"):
        CriticalMLP(depth=2, act="sigmoid")
    assert CriticalMLP(depth=2, act="sigmoid", C_b=0.1, C_W=1.0).C_W == 1.0
    with pytest.raises(ValueError, match="values per sample"):
        m(torch.randn(2, 10))
    with pytest.raises(ValueError):
        CriticalMLP(width=0)


# ----------------------------------------------------------------------------------------- probe
def _gauss_inputs(n=400, d=64, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("C_W", [1.6, 2.0, 2.4])
def test_probe_measures_relu_chi(C_W):
    torch.manual_seed(0)
    model = CriticalMLP(64, 10, width=256, depth=8, C_W=C_W, C_b=0.0)
    out = criticality(model, (_gauss_inputs(), torch.zeros(400, dtype=torch.long)))
    # ReLU: chi_perp = chi_par = C_W / 2 at every layer (the readout included)
    assert out["mean_log_chi"] == pytest.approx(math.log(C_W / 2), abs=0.04)
    assert out["mean_log_var_ratio"] == pytest.approx(math.log(C_W / 2), abs=0.04)
    assert out["log_chi_total"] == pytest.approx(8 * math.log(C_W / 2), abs=0.3)
    assert out["n_layers"] == 9.0 and out["max_abs_log_chi"] >= abs(out["mean_log_chi"])
    assert out["chi@hidden.3"] == pytest.approx(C_W / 2, rel=0.15)
    assert "K@hidden.0" in out and "chi@hidden.0" not in out and "var_ratio@readout" in out


def test_probe_finite_difference_matches_exact_jvp():
    torch.manual_seed(1)
    model = CriticalMLP(20, 5, width=30, depth=3, act="tanh", C_b=0.1, C_W=1.5).double()
    x = _gauss_inputs(50, 20).double()
    dx = _perturb(x, 1e-3, torch.Generator().manual_seed(0)) - x
    assert float((dx * x).sum(1).abs().max()) < 1e-12                           # perpendicular to each input
    torch.testing.assert_close(dx.norm(dim=1), 1e-3 * x.norm(dim=1))
    _, tangents = torch.func.jvp(lambda v: tuple(model.preactivations(v)), (x,), (dx,))
    D = [float(t.detach().square().mean()) for t in tangents]
    out = criticality(model, x, seed=0)
    for i, name in enumerate(criticality_layers(model)[1:], start=1):
        assert out[f"chi@{name}"] == pytest.approx(D[i] / D[i - 1], rel=1e-3)
    zs = model.preactivations(x)
    assert out["K@hidden.1"] == pytest.approx(float(zs[1].detach().square().mean()), rel=1e-12)


def test_probe_on_other_papers_models_and_checkpoint(tmp_path):
    from paperzoo.model_io import save_model
    from paperzoo.probe import run_probe

    names = [m.name for m in pz.registry.list_models(task="mnist") if m.paper != "deep-learning-theory"]
    other = "standard_mlp" if "standard_mlp" in names else names[0]
    torch.manual_seed(0)
    x, y = torch.rand(64, 1, 28, 28), torch.arange(64) % 10
    out = criticality(pz.create_model(other), (x, y))
    assert out and all(isinstance(v, float) for v in out.values()) and math.isfinite(out["mean_log_chi"])
    model = pz.create_model("critical_mlp", depth=5, width=64)
    save_model(tmp_path / "m", model, name="critical_mlp", kwargs={"depth": 5, "width": 64})
    rec = run_probe("criticality", str(tmp_path / "m"), (x, y), out=tmp_path / "out")
    assert rec["metrics"] == pytest.approx(criticality(model.eval(), (x, y)))
    assert rec["metrics"]["n_layers"] == 6.0


def test_probe_bad_input():
    model = CriticalMLP(64, 10, width=32, depth=3)
    x = _gauss_inputs(20)
    with pytest.raises(KeyError, match="no submodule"):
        criticality(model, x, layers=["hidden.0", "nope"])
    with pytest.raises(ValueError, match="at least two"):
        criticality(model, x, layers="hidden.0")
    with pytest.raises(ValueError, match="float tensor"):
        criticality(model, x[0])
    with pytest.raises(ValueError, match="float tensor"):
        criticality(model, x.long())
    with pytest.raises(ValueError, match="NaN"):
        criticality(model, torch.full((4, 64), math.nan))
    with pytest.raises(ValueError, match="values per sample"):
        criticality(model, torch.randn(5, 10))
    with pytest.raises(ValueError, match="at least two"):
        criticality(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), x)
    with pytest.raises(TypeError, match="TensorSet"):
        criticality(model, "mnist")
    shared = nn.Linear(64, 64)
    with pytest.raises(ValueError, match="times per input"):
        criticality(nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(64, 3)), x)


# ----------------------------------------------------------------------------------------- protocols
def test_tiny_full_protocol_runs(tmp_path, monkeypatch):
    from paperzoo.data import TensorSet
    from paperzoo.papers.deep_learning_theory import reproduce

    g = torch.Generator().manual_seed(0)
    fake = TensorSet(torch.rand(300, 1, 28, 28, generator=g), torch.arange(300) % 10)
    monkeypatch.setattr(reproduce, "_data", lambda cfg: (fake, fake))
    r = pz.reproduce("deep-learning-theory", "full", seed=0, out=tmp_path / "run", progress=False, overrides=dict(
        acts=("relu", "tanh", "gelu"), flow_depth=4, arccos_inputs=3, arccos_depth=2, n_nets=300, sweep_widths=(16,),
        sweep_depth=3, depths=(2, 3), claim_depth=3, width=16, epochs=1, threads=1))
    m = r.metrics
    assert m["crit_card_err"] == 0.0 and m["relu_arccos_err"] < 1e-8 and m["relu_ntk_slope"] == pytest.approx(2.0)
    assert m["crit_gelu_C_W"] == pytest.approx(1.983, abs=1e-3)
    assert {"relu_kurtosis_slope", "linear_kurtosis_slope", "critical_margin", "probe_log_chi_err"} <= set(m)
    assert m["probe_log_chi_err"] == m["probe_log_chi_err_L3"] < 0.5 and "margin_L2" in m
    assert m["relu_kurtosis_slope_exact"] > m["relu_kurtosis_slope_lead"] == pytest.approx(15.0)
    with pytest.raises(ValueError, match="claim_depth"):
        pz.reproduce("deep-learning-theory", "smoke", out=tmp_path / "bad", progress=False, overrides={"claim_depth": 7})


# ----------------------------------------------------------------------------------------- edges (mutation-guided)
def test_activation_construction_and_names():
    import functools

    si = scale_invariant(2.0, 0.5)
    z = torch.tensor([-2.0, -0.0, 0.0, 3.0], dtype=F64)
    torch.testing.assert_close(si(z), torch.tensor([-1.0, 0.0, 0.0, 6.0], dtype=F64))
    assert si.name == "scale_invariant(2,0.5)" and (si.a_plus, si.a_minus) == (2.0, 0.5)
    assert scale_invariant(1, 0, "r").name == "r"
    A2 = (4 + 0.25) / 2
    assert float(gaussian_expect(lambda v: si(v) ** 2, 1.3)) == pytest.approx(A2 * 1.3, rel=1e-13)
    assert get_activation(torch.tanh).name == "tanh"
    assert get_activation(functools.partial(torch.clamp, min=0)).name == "custom"
    with pytest.raises(TypeError, match="got int"):
        get_activation(3)
    assert isinstance(get_activation("tanh").module(torch.zeros(2)), torch.Tensor)


def test_quadrature_edges():
    x, w = gauss_legendre(1)
    assert float(x) == pytest.approx(0.0, abs=1e-15) and float(w) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        gauss_legendre(0)
    relu = get_activation("relu")
    # scalars, 2-D batches, a degenerate (rho = 1) and a zero-variance block
    assert float(gaussian_expect2(relu, relu, 1.0, 0.5, 1.0)) == pytest.approx(float(arccos_kernel(1.0, 0.5, 1.0, 0, 1)))
    K = torch.tensor([[1.0, 2.0, 0.3], [0.5, 1.5, 2.5]], dtype=F64)
    out = gaussian_expect2(lambda v: v, lambda v: v, K, 0.5 * K, K)
    assert out.shape == (2, 3)
    torch.testing.assert_close(out, 0.5 * K, atol=1e-10, rtol=0)
    assert float(gaussian_expect2(lambda v: v, lambda v: v, 0.7, 0.7, 0.7)) == pytest.approx(0.7, abs=1e-9)
    v = gaussian_expect2(lambda v: v + 1, lambda v: v * v, 0.0, 0.0, 2.0)
    assert float(v) == pytest.approx(2.0, abs=1e-12)                      # E[(0 + 1) z_b^2] = K_bb
    assert float(arccos_kernel(1.0, 1.0 + 1e-16, 1.0)) == pytest.approx(1.0)   # defaults (0, 2): ReLU keeps K
    assert math.isfinite(float(arccos_kernel(1.0, -1.0 - 1e-15, 1.0)))
    with pytest.raises(ValueError, match="K > 0"):
        susceptibilities("relu", -1.0, 2.0)


def test_universality_and_a1_edges():
    sig = lambda z: 2 * z + 1.5 * z * z - z ** 3  # noqa: E731     sigma_1 = 2, sigma_2 = 3, sigma_3 = -6
    assert a1_coefficient(sig) == pytest.approx(-3 + 0.75 * 1.5 ** 2)
    with pytest.raises(ValueError, match="sigma_1"):
        a1_coefficient(lambda z: z * z)
    cls, a1 = universality_class(lambda z: z * z)
    assert cls == "none" and math.isnan(a1)
    assert universality_class(lambda z: z + z * z / 2 - 0.75 * z ** 3 / 6)[0] == "none"   # a_1 = 0: not K* = 0
    assert universality_class("swish") == ("none", pytest.approx(0.75))
    assert find_criticality(lambda z: 3 * z.clamp_min(0))[1] == pytest.approx(2 / 9)
    assert find_criticality(lambda z: torch.where(z > 0, z, 0.5 * z))[1] == pytest.approx(2 / 1.25)
    assert find_criticality("swish")[0] > 0


def test_recursion_argument_checks():
    assert kernel_flow("relu", 1.3, 1, 0.0, 2.0).tolist() == [1.3]
    assert nngp_recursion(torch.ones(2, 3), 1, "relu", 0.0, 2.0).shape == (1, 2, 2)
    for bad in (lambda: kernel_flow("relu", 1.0, 0, 0, 2), lambda: nngp_recursion(torch.ones(2, 3), 0, "relu", 0, 2),
                lambda: nngp_recursion(torch.zeros(0, 3), 2, "relu", 0, 2),
                lambda: predicted_kurtosis("relu", 3, 0, 0.0, 2.0)):
        with pytest.raises(ValueError, match="must be >= 1|X must be"):
            bad()
    assert float(predicted_kurtosis("relu", 3, 1, 0.0, 2.0)[2]) == pytest.approx(30.0)
    V, K = four_point_vertex("tanh", 5, 0.1, 1.2, K1=0.7)
    torch.testing.assert_close(predicted_kurtosis("tanh", 5, 16, 0.1, 1.2, K1=0.7), 3 * V / (16 * K * K))
    assert float(predicted_kurtosis("tanh", 9, 32, 0.0, 1.0)[8]) == pytest.approx(3 * 4.89 / 32, abs=0.002)
    partial = fixed_point("tanh", 0.5, 1.0, steps=2)
    assert isinstance(partial, float) and abs(partial - fixed_point("tanh", 0.5, 1.0)) > 1e-6


def test_finite_width_argument_checks():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    torch.testing.assert_close(unit_input(7, g1), unit_input(7, g2))
    x = unit_input(4)
    z = random_preactivations("relu", x, 2, 3, 5, 0.0, 2.0, chunk=2)
    assert z.shape == (2, 5, 3)
    for kw in ({"depth": 0}, {"width": 0}, {"n_nets": 0}, {"chunk": 0}, {"C_W": 0.0}, {"C_b": -1.0}):
        args = {"depth": 2, "width": 3, "n_nets": 5, "C_b": 0.0, "C_W": 2.0, "chunk": 2} | kw
        with pytest.raises(ValueError, match="must be >= 1|need C_W"):
            random_preactivations("relu", x, args.pop("depth"), args.pop("width"), args.pop("n_nets"), args.pop("C_b"),
                                  args.pop("C_W"), **args)
    zz = torch.stack([torch.randn(1, 50, 40, generator=g1)[0], 3 * torch.randn(1, 50, 40, generator=g1)[0] ** 3])
    k = excess_kurtosis(zz)
    assert k.shape == (2,) and float(k[1]) > 10 > abs(float(k[0]))
    si = scale_invariant(2.0, 0.5)
    n = 10 ** 7
    torch.testing.assert_close(exact_kurtosis_scale_invariant(si, 4, n) * n,
                               predicted_kurtosis(si, 4, n, 0.0, 1 / 2.125) * n, rtol=1e-5, atol=1e-9)
    for bad in (([1.0], [1.0, 2.0]), ([], []), ([0.0, 0.0], [1.0, 2.0])):
        with pytest.raises(ValueError, match="fit_slope_through_origin needs"):
            fit_slope_through_origin(*bad)


def test_model_edges():
    m = CriticalMLP()
    assert (m.in_dim, m.width, m.depth, len(m.hidden), m.readout.out_features) == (784, 128, 30, 30, 10)
    tiny = CriticalMLP(3, 2, width=1, depth=1)
    out = tiny(torch.randn(1, 3))
    assert out.shape == (1, 2)                                                     # a batch of one
    m2 = CriticalMLP(4, 3, width=5, depth=2, C_b=0.3)
    assert (m2.C_b, m2.C_W) == (0.3, 2.0) and CriticalMLP(4, 3, width=5, depth=2, C_W=1.5).C_b == 0.0
    for name in ("in_dim", "num_classes", "width", "depth"):
        with pytest.raises(ValueError, match=f"{name} must be an int >= 1"):
            CriticalMLP(**{"in_dim": 4, "num_classes": 3, "width": 5, "depth": 2, name: 0})
    with pytest.raises(TypeError, match="got function"):
        CriticalMLP(act=lambda z: z)
    x = torch.randn(6, 4)
    torch.testing.assert_close(m2(x), m2.preactivations(x)[-1])


def test_probe_internals_and_messages():
    from paperzoo.papers.deep_learning_theory.probe import _log_ratio, layer_statistics

    assert _log_ratio(2.0, 1.0) == pytest.approx(math.log(2)) and math.isnan(_log_ratio(0.0, 0.0))
    assert _log_ratio(1.0, 0.0) == math.inf and _log_ratio(0.0, 1.0) == -math.inf
    x = torch.cat([torch.zeros(1, 16), 1e-3 * torch.randn(3, 16, generator=torch.Generator().manual_seed(2))])
    d = _perturb(x, 0.1, torch.Generator().manual_seed(0)) - x
    assert float(d[0].norm()) == pytest.approx(0.1 * 4.0, rel=1e-6)                # |x| = 0: eps sqrt(d)
    assert float((d[1:] * x[1:]).sum(1).abs().max()) < 1e-12
    torch.manual_seed(0)
    model = CriticalMLP(16, 4, width=8, depth=2)
    x = torch.randn(30, 16)
    st = layer_statistics(model, x, ["hidden.0", "hidden.1"])
    dx = _perturb(x, 1e-3, torch.Generator().manual_seed(0)) - x
    assert st[0]["D"] == pytest.approx(float((dx @ model.hidden[0].weight.detach().T).square().mean()), rel=1e-3)
    out = criticality(model, x, max_samples=10)
    assert out == criticality(model, x[:10], max_samples=None)
    assert out["var_ratio@hidden.1"] == pytest.approx(out["K@hidden.1"] / out["K@hidden.0"])
    assert criticality(model, x[:2])["n_layers"] == 3.0
    for bad, msg in ((x[:1], r"float tensor \(N >= 2, \.\.\.\), got torch.float32 of shape \(1, 16\)"),
                     (x.long(), "got torch.int64 of shape"), (torch.full((3, 16), math.inf), "data contains NaN or inf")):
        with pytest.raises(ValueError, match=msg):
            criticality(model, bad)
    for eps in (0.0, 1.0):
        with pytest.raises(ValueError, match=r"eps must be in \(0, 1\)"):
            criticality(model, x, eps=eps)
    shared = nn.Linear(16, 16)
    with pytest.raises(ValueError, match="ran 2 times per input"):
        criticality(nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(16, 3)), x)
    with pytest.raises(TypeError, match="got str"):
        criticality_layers("model")
    with pytest.raises(ValueError, match="Sequential has 1 nn.Linear"):
        criticality_layers(nn.Sequential(nn.Linear(2, 2)))
