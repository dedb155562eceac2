"""S-KAN: basis formulas against float64 references, the KAN layer equation, selection / pruning
identities, the three-phase schedule and a learning effect (T_4 is fitted and Chebyshev chosen)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import special
from scipy.interpolate import BSpline

from paperzoo.nn import count_params
from paperzoo.papers import skan
from paperzoo.papers.skan.bases import cox_de_boor
from paperzoo.papers.skan.data import function_fitting_suite, sample
from paperzoo.papers.skan.experiments import matched_mlp, summarise_fitting
from paperzoo.papers.skan.layers import KANLayer, SelectableKANLayer
from paperzoo.papers.skan.training import phase_steps, rmse, train_skan

D = torch.float64


def _x(n=200, lo=-1.6, hi=1.6, seed=0, cols=1):
    return torch.rand(n, cols, generator=torch.Generator().manual_seed(seed), dtype=D) * (hi - lo) + lo


# ---------------------------------------------------------------- bases
@pytest.mark.parametrize("grid,order,rng", [(5, 3, (-1.0, 1.0)), (4, 2, (-2.0, 1.0)), (3, 1, (0.0, 3.0))])
def test_bspline_matches_scipy_in_float64(grid, order, rng):
    basis = skan.BSplineBasis(grid=grid, order=order, range=rng)
    lo, hi = rng
    x = _x(300, lo - 1.5 * (hi - lo) / grid * order, hi + 1.5 * (hi - lo) / grid * order)
    t = basis.knots.numpy()
    ref = np.stack([np.nan_to_num(BSpline.basis_element(t[i:i + order + 2], extrapolate=False)(x[:, 0].numpy()))
                    for i in range(grid + order)], -1)
    out = basis(x)[:, 0]
    assert out.dtype == D and out.shape == (300, grid + order)
    assert np.abs(out.numpy() - ref).max() < 1e-12


def test_bspline_partition_of_unity_support_and_knots():
    basis = skan.BSplineBasis()
    assert torch.allclose(basis.knots, torch.linspace(-2.2, 2.2, 12, dtype=D))
    x = torch.cat([torch.linspace(-1, 1, 101, dtype=D), _x(100, -1, 1)[:, 0]])[:, None]
    b = basis(x)
    assert (b >= 0).all() and (b.sum(-1) - 1).abs().max() < 1e-13
    assert ((b > 0).sum(-1) <= 4).all()
    out = basis(torch.tensor([[-2.3], [2.2], [5.0]], dtype=D))
    assert out.abs().max() == 0


def test_bspline_custom_backward_is_the_derivative():
    basis = skan.BSplineBasis(grid=4, order=3, range=(-1.0, 2.0))
    x = _x(40, -2.0, 3.0, cols=3).requires_grad_()
    assert torch.autograd.gradcheck(basis, (x,))
    invs = [getattr(basis, f"inv{p}") for p in (1, 2, 3)]
    xr = x.detach().clone().requires_grad_()
    w = torch.randn(40, 3, 7, dtype=D)
    (cox_de_boor(xr, basis.knots, invs)[0] * w).sum().backward()
    (basis(x) * w).sum().backward()
    assert torch.allclose(x.grad, xr.grad, atol=1e-12)


@pytest.mark.parametrize("grid,order", [(5, 3), (4, 0), (3, 1), (6, 2), (2, 4)])
def test_local_uniform_evaluation_equals_full_cox_de_boor(grid, order):
    basis = skan.BSplineBasis(grid=grid, order=order, range=(-0.5, 1.5))
    h = 2.0 / grid
    x = torch.cat([_x(500, -0.5 - (order + 1) * h, 1.5 + (order + 1) * h)[:, 0],
                   basis.knots, torch.tensor([float("inf"), -float("inf"), float("nan"), 1e30], dtype=D)])[:, None]
    invs = [getattr(basis, f"inv{p}") for p in range(1, order + 1)]
    ref = cox_de_boor(x, basis.knots, invs)[0]
    ref = torch.nan_to_num(ref, nan=0.0)
    assert (basis(x) - ref).abs().max() < 1e-12


def test_fused_base_branch_has_the_gradients_of_the_plain_layer():
    torch.manual_seed(0)
    layer = KANLayer(3, 2, basis="bspline").double()
    x = _x(15, -1.4, 1.4, cols=3).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, c, w: torch.func.functional_call(
        layer, {"coef": c, "base_weight": w}, (x,)), (x, layer.coef.detach().clone().requires_grad_(),
                                                     layer.base_weight.detach().clone().requires_grad_()))
    first = torch.randn(15, 3, dtype=D)
    assert torch.equal(layer.basis.with_first(x, first), torch.cat([first[..., None], layer.basis(x)], -1))
    with pytest.raises(ValueError, match="shape"):
        layer.basis.with_first(x, first[:, :2])


@pytest.mark.parametrize("grid,order", [(5, 3), (3, 1), (6, 2), (2, 4), (4, 5)])
def test_closed_form_dense_bspline_equals_cox_de_boor(grid, order):
    """The compile path's symmetric truncated-power form gives the Cox-de Boor values (knots and off-grid points
    included) and, through autograd, the derivative the local form's custom backward gives; both layouts."""
    basis = skan.BSplineBasis(grid=grid, order=order, range=(-0.5, 1.5))
    h = 2.0 / grid
    x = torch.cat([_x(400, -0.5 - (order + 1) * h, 1.5 + (order + 1) * h)[:, 0], basis.knots])
    x = torch.stack([x, x.flip(0)], 1)  # two input columns: the basis-major layout is a real transpose
    invs = [getattr(basis, f"inv{p}") for p in range(1, order + 1)]
    ref = cox_de_boor(x, basis.knots, invs)[0]
    assert (basis.dense(x) - ref).abs().max() < 1e-12
    assert torch.equal(basis.dense(x, basis_dim=-2), basis.dense(x).transpose(-1, -2))
    w = torch.randn(ref.shape, dtype=D, generator=torch.Generator().manual_seed(1))
    xd, xl = x[20:200].clone().requires_grad_(), x[20:200].clone().requires_grad_()  # off the knots (order-1 kinks)
    (basis.dense(xd) * w[20:200]).sum().backward()
    (basis(xl) * w[20:200]).sum().backward()
    assert (xd.grad - xl.grad).abs().max() < 1e-10
    with pytest.raises(ValueError, match="order"):
        skan.bases.dense_uniform_bspline(x, -0.5, h, grid, 0)
    with pytest.raises(ValueError, match="basis_dim"):
        basis.dense(x, basis_dim=0)


def test_compile_path_of_the_layer_equals_the_eager_path(monkeypatch):
    """Under torch.compile a B-spline KANLayer takes the closed-form, basis-major branch: same outputs and the same
    parameter and input gradients as the eager local-form branch (float64). Checked by forcing the branch eagerly,
    and through dynamo + AOT autograd (``aot_eager``: no C++ compiler needed)."""
    torch.manual_seed(0)
    layer = KANLayer(3, 4, basis="bspline", grid=4, order=3).double()
    x = _x(50, -1.3, 1.3, cols=3)

    def run():
        xi = x.clone().requires_grad_()
        layer.zero_grad()
        y = layer(xi)
        (y * torch.arange(1.0, 5.0, dtype=D)).sum().backward()
        return y.detach(), xi.grad, layer.coef.grad.clone(), layer.base_weight.grad.clone()

    eager = run()
    with monkeypatch.context() as m:
        m.setattr(torch.compiler, "is_compiling", lambda: True)
        forced = run()
    for a, b in zip(eager, forced):
        assert (a - b).abs().max() < 1e-12
    torch._dynamo.reset()
    net = skan.KAN([2, 5, 3], grid=5, order=3).double()
    compiled = torch.compile(net, backend="aot_eager")
    xs = _x(64, -1.2, 1.2, cols=2)
    assert (compiled(xs) - net(xs)).abs().max() < 1e-12


def test_bench_compiled_run_follows_the_eager_trajectory():
    """The bench's compiled row warms up (compiles), resets to the initial state and then trains: it must land where
    the eager run lands (same seed, same steps); ``aot_eager`` stands in for inductor (no C++ compiler needed)."""
    from paperzoo.papers.skan import bench

    torch._dynamo.reset()
    data = function_fitting_suite("f2", 64, 64, seed=0)
    eager = bench._ours((2, 3, 1), data, steps=4, lr=1e-2, seed=0)
    comp = bench._ours((2, 3, 1), data, steps=4, lr=1e-2, seed=0, compiled=True, backend="aot_eager", warmup=2)
    assert abs(eager["test_rmse"] - comp["test_rmse"]) < 1e-5 and comp["compile_s"] > 0
    untrained = bench._ours((2, 3, 1), data, steps=1, lr=0.0, seed=0)["test_rmse"]
    assert eager["test_rmse"] < untrained  # four steps at lr 1e-2 do move the model


def test_bench_table_and_a_missing_compiler(tmp_path, monkeypatch):
    """The CSV has a row per implementation and widths with speed-ups against every pykan row; when torch.compile
    fails (no C++ compiler) the compiled row is left out with a warning instead of the run failing. pykan is
    stood in for, so this runs without the optional extra."""
    import csv
    import sys
    import types

    from paperzoo.papers.skan import bench

    monkeypatch.setitem(sys.modules, "kan", types.SimpleNamespace(__version__="0.2.8"))
    monkeypatch.setattr(bench, "WIDTHS", ((2, 3, 1),))
    fake = {"fast": 2.0, "module": 20.0, "fit": 4.0}
    monkeypatch.setattr(bench, "_pykan", lambda widths, data, *, mode, **kw: {
        "ms_per_step": fake[mode], "test_rmse": 1.0, "params": 1})
    monkeypatch.setattr(bench, "_pykan_init", lambda widths, seed: None)  # ours from its own init

    def no_compiler(*a, **k):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(torch, "compile", no_compiler)
    with pytest.warns(UserWarning, match="compiled row is left out"):
        path = bench.run(root=tmp_path, steps=2, repeats=1, curve_steps=0, isolate=False)
    rows = list(csv.DictReader(path.open()))
    assert [r["impl"] for r in rows] == ["paperzoo", "paperzoo-own-init", "pykan-fast", "pykan-module", "pykan-fit"]
    ours = rows[0]
    for base, ms in (("fast", 2.0), ("module", 20.0), ("fit", 4.0)):
        assert float(ours[f"speedup_vs_pykan_{base}"]) == pytest.approx(ms / float(ours["ms_per_step_median"]), abs=0.051)
    with pytest.raises(ValueError, match="pykan"):
        bench.run(against="efficient-kan", root=tmp_path)


def _fake_pykan(widths, G=4, k=3, seed=0, lo=-1.0, hi=1.0):
    """A stand-in with pykan MultKAN's attributes (float64, exact knots), for tests that run without pykan."""
    import types

    g = torch.Generator().manual_seed(seed)
    h = (hi - lo) / G
    grid_row = lo + h * torch.arange(-k, G + k + 1, dtype=D)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers.append(types.SimpleNamespace(
            k=k, grid=grid_row.expand(a, -1).clone(), base_fun=torch.nn.SiLU(),
            coef=torch.randn(a, b, G + k, generator=g, dtype=D), scale_base=torch.randn(a, b, generator=g, dtype=D),
            scale_sp=torch.rand(a, b, generator=g, dtype=D), mask=(torch.rand(a, b, generator=g) > 0.2).to(D)))
    ones = [torch.ones(b, dtype=D) for b in widths[1:]]
    zeros = [torch.zeros(b, dtype=D) for b in widths[1:]]
    return types.SimpleNamespace(width=[[w, 0] for w in widths], act_fun=layers, node_scale=ones, node_bias=zeros,
                                 subnode_scale=[o.clone() for o in ones], subnode_bias=[z.clone() for z in zeros],
                                 symbolic_enabled=True,
                                 symbolic_fun=[types.SimpleNamespace(mask=torch.zeros(b, a))
                                               for a, b in zip(widths[:-1], widths[1:])])


def _pykan_formula(py, x):
    """pykan's KANLayer.forward written out: y_j = sum_i mask (scale_base silu(x_i) + scale_sp sum_m c_m B_m(x_i))."""
    for layer in py.act_fun:
        invs = [1.0 / (layer.grid[0, p:] - layer.grid[0, :-p]) for p in range(1, layer.k + 1)]
        B = cox_de_boor(x, layer.grid[0], invs)[0]  # (N, in, G + k)
        spline = torch.einsum("nim,iom->nio", B, layer.coef)
        x = (layer.mask * (layer.scale_base * F.silu(x)[..., None] + layer.scale_sp * spline)).sum(1)
    return x


def test_from_pykan_computes_pykans_function_and_refuses_what_it_cannot_represent():
    """The bench starts ours from pykan's initial weights; the mapping must give pykan's function exactly (float64,
    against pykan's layer equation written out), and refuse states our uniform-grid KAN cannot hold."""
    from paperzoo.papers.skan import from_pykan

    py = _fake_pykan([2, 4, 3])
    x = _x(300, -1.5, 1.5, cols=2)  # beyond the range too: the extended grid
    ours = from_pykan(py)
    assert ours.widths == [2, 4, 3] and ours[0].basis.grid == 4
    assert (ours(x) - _pykan_formula(py, x)).abs().max() < 1e-12
    py = _fake_pykan([3, 2], G=6, k=2, lo=-0.5, hi=2.0)  # another order and range
    x = _x(300, -1.0, 2.5, cols=3)
    assert (from_pykan(py)(x) - _pykan_formula(py, x)).abs().max() < 1e-12
    for breaks, match in [(lambda p: p.act_fun[1].grid.__setitem__((0, 2), p.act_fun[1].grid[0, 2] + 1e-3),
                           "uniform grid"),
                          (lambda p: p.width.__setitem__(1, [4, 1]), "multiplication"),
                          (lambda p: setattr(p.act_fun[0], "base_fun", torch.nn.Tanh()), "SiLU"),
                          (lambda p: p.node_bias[0].__setitem__(0, 0.5), "identity"),
                          (lambda p: p.symbolic_fun[1].mask.__setitem__((0, 0), 1.0), "symbolic")]:
        bad = _fake_pykan([2, 4, 3])
        breaks(bad)
        with pytest.raises(ValueError, match=match):
            from_pykan(bad)


def test_from_pykan_with_the_real_pykan():
    kan = pytest.importorskip("kan")
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        py = kan.KAN(width=[2, 5, 3], grid=5, k=3, seed=1, auto_save=False, device="cpu")
    py.symbolic_enabled = py.save_act = False
    from paperzoo.papers.skan import from_pykan

    x = torch.rand(200, 2) * 2.4 - 1.2
    with torch.no_grad():
        assert (from_pykan(py)(x) - py(x)).abs().max() < 1e-6


def test_bench_loop_records_the_test_rmse_it_trains_past():
    """The convergence curve is the test RMSE after each step: its last entry is the trained model's test RMSE, and
    recording it does not change the training (same end state as a loop without a curve)."""
    from paperzoo.papers.skan import bench

    data = function_fitting_suite("f2", 64, 64, seed=0)
    runs = []
    for curve in ([], None):
        torch.manual_seed(0)
        model = skan.KAN([2, 3, 1])
        bench._loop(model, model.parameters(), data, steps=3, lr=1e-2, curve=curve)
        runs.append((model, curve))
    (model, curve), (plain, _) = runs
    assert len(curve) == 3 and curve[0] > curve[-1] > 0
    assert curve[-1] == pytest.approx(bench._result(model, data, 1.0, 3)["test_rmse"], rel=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), plain.parameters()))


def test_isolated_timing_runs_in_its_own_process_and_reports_failures():
    from paperzoo.papers.skan import bench

    task = {"impl": "paperzoo-own-init", "widths": [2, 3, 1], "steps": 2, "lr": 1e-2, "seed": 0, "threads": 1}
    res = bench._isolated(task)
    threads = torch.get_num_threads()
    try:
        local = bench._task(task, function_fitting_suite("f2", 1000, 1000, seed=0))
    finally:
        torch.set_num_threads(threads)
    assert res["params"] == local["params"] and res["test_rmse"] == pytest.approx(local["test_rmse"], abs=1e-6)
    with pytest.raises(RuntimeError, match="unknown implementation"):
        bench._isolated({**task, "impl": "nope"})


def test_convergence_rows_with_the_real_pykan():
    pytest.importorskip("kan")
    from paperzoo.papers.skan import bench

    data = function_fitting_suite("f2", 64, 64, seed=0)
    rows = bench.convergence(data, widths=(2, 3, 1), steps=4, seeds=2, at=(1, 4, 9))
    assert [r["impl"] for r in rows] == ["paperzoo", "paperzoo-own-init", "pykan-fast", "pykan-fit"]
    for r in rows:
        assert "rmse_at_9" not in r and r["rmse_at_4_min"] <= r["rmse_at_4"] <= r["rmse_at_4_max"]


def test_rbf_chebyshev_jacobi_against_formulas():
    x = _x(100, -1.5, 1.5)
    rbf = skan.RBFBasis()(x)[:, 0].numpy()
    mu, h = np.linspace(-2, 2, 8), 4 / 7
    assert np.abs(rbf - np.exp(-((x.numpy() - mu) / h) ** 2)).max() < 1e-13
    cheb = skan.ChebyshevBasis(degree=5)(x)[:, 0].numpy()
    xc = np.clip(x.numpy(), -1, 1)
    assert np.abs(cheb - np.cos(np.arange(6) * np.arccos(xc))).max() < 1e-12
    cht = skan.ChebyshevBasis(degree=3, squash="tanh")(x)[:, 0].numpy()
    assert np.abs(cht - np.cos(np.arange(4) * np.arccos(np.tanh(x.numpy())))).max() < 1e-12
    for a, b in ((1.0, 1.0), (0.5, 2.0)):
        jac = skan.JacobiBasis(degree=5, a=a, b=b)(x)[:, 0].numpy()
        ref = np.stack([special.eval_jacobi(k, a, b, np.tanh(x[:, 0].numpy())) for k in range(6)], -1)
        assert np.abs(jac - ref).max() < 1e-11


def test_relu_rswaf_wavelet_against_formulas():
    x = _x(100, -1.5, 1.5)
    g, k = 5, 3
    s = np.arange(-k, g) / g
    e = s + (k + 1) / g
    ref = (4 * g * g / (k + 1) ** 2 * np.maximum(x.numpy() - s, 0) * np.maximum(e - x.numpy(), 0)) ** 2
    assert np.abs(skan.ReLUKANBasis(g, k)(x)[:, 0].numpy() - ref).max() < 1e-12
    peak = skan.ReLUKANBasis(g, k)(torch.tensor([[(s[2] + e[2]) / 2]], dtype=D))[0, 0, 2]
    assert abs(float(peak) - 1.0) < 1e-12
    mu = np.linspace(-1.2, 0.2, 8)
    ref = 1 - np.tanh((x.numpy() - mu) * 0.5) ** 2
    assert np.abs(skan.RSWAFBasis()(x)[:, 0].numpy() - ref).max() < 1e-13
    u = x[:, 0].numpy()
    hat = 2 / (math.sqrt(3) * math.pi ** 0.25) * (u ** 2 - 1) * np.exp(-u ** 2 / 2)
    assert np.abs(skan.WaveletBasis()(x[:, 0]).numpy() - hat).max() < 1e-13
    assert np.abs(skan.WaveletBasis("morlet")(x[:, 0]).numpy() - np.cos(5 * u) * np.exp(-u ** 2 / 2)).max() < 1e-13
    assert np.abs(skan.WaveletBasis("dog")(x[:, 0]).numpy() + u * np.exp(-u ** 2 / 2)).max() < 1e-13


def test_bad_names_and_shapes_raise():
    with pytest.raises(ValueError, match="did you mean 'bspline'"):
        skan.make_basis("bsplin")
    with pytest.raises(ValueError, match="squash"):
        skan.ChebyshevBasis(squash="sigmoid")
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        KANLayer(3, 2)(torch.randn(4, 5))
    with pytest.raises(ValueError, match="topk"):
        SelectableKANLayer(3, 2, topk=5)
    with pytest.raises(ValueError, match="phases"):
        phase_steps(10, (0.5, 0.2))


# ---------------------------------------------------------------- layers
def _reference_layer(layer: KANLayer, x: torch.Tensor) -> torch.Tensor:
    """y_j = sum_i phi_{j,i}(x_i), written edge by edge."""
    y = torch.zeros(x.shape[0], layer.out_dim, dtype=D)
    for j in range(layer.out_dim):
        for i in range(layer.in_dim):
            xi = x[:, i]
            if layer.per_edge:
                u = (xi - layer.translation[j, i]) / layer.scale[j, i]
                y[:, j] += layer.coef[j, i] * layer.basis(u)
            else:
                y[:, j] += layer.basis(xi[:, None])[:, 0] @ layer.coef[j, i]
            if layer.base_activation is not None:
                y[:, j] += layer.base_weight[j, i] * F.silu(xi)
        if hasattr(layer, "base_bias"):
            y[:, j] += layer.base_bias[j]
    return y


@pytest.mark.parametrize("family", ["bspline", "rbf", "chebyshev", "wavelet", "jacobi", "relu", "rswaf"])
def test_kan_layer_is_the_sum_of_edge_functions(family):
    torch.manual_seed(0)
    layer = KANLayer(3, 4, basis=family).double()
    if layer.per_edge:
        with torch.no_grad():
            layer.scale.uniform_(0.5, 2.0)
            layer.translation.uniform_(-0.5, 0.5)
    x = _x(20, cols=3)
    with torch.no_grad():
        assert (layer(x) - _reference_layer(layer, x)).abs().max() < 1e-12
        assert torch.allclose(layer(x.reshape(4, 5, 3)).reshape(20, 4), layer(x))
        idx = torch.tensor([3, 1])
        assert (layer.restrict(idx)(x) - layer(x)[:, idx]).abs().max() < 1e-14


def test_default_base_branches_follow_the_library():
    assert KANLayer(2, 3, basis="chebyshev").base_activation is None
    assert KANLayer(2, 3, basis="bspline").base_activation == "silu"
    assert count_params(KANLayer(2, 3)) == 2 * 3 * (8 + 1)
    assert count_params(KANLayer(2, 3, basis="rbf")) == 2 * 3 * 9 + 3


def _sel(out=5, families=skan.DEFAULT_POOL, **kw):
    torch.manual_seed(1)
    layer = SelectableKANLayer(3, out, families=families, **kw).double()
    return layer, _x(30, cols=3)


def test_selectable_layer_mixes_family_outputs():
    layer, x = _sel()
    with torch.no_grad():
        layer.selection_weights.uniform_(-1, 1)
        a = layer.selection_weights
        ref = sum(a[:, m] * e(x) for m, e in enumerate(layer.experts))
        assert (layer(x) - ref).abs().max() < 1e-13
    assert torch.allclose(SelectableKANLayer(3, 2).selection_weights, torch.full((2, 4), 0.25))


def test_selection_keeps_largest_absolute_weight():
    layer, x = _sel(out=3)
    with torch.no_grad():
        layer.selection_weights.copy_(torch.tensor([[0.1, -0.9, 0.5, 0.3], [0.2, 0.1, -0.05, 0.6],
                                                    [-0.4, 0.3, 0.35, 0.1]], dtype=D))
    mask = layer.select(2)
    assert mask.tolist() == [[False, True, True, False], [True, False, False, True], [True, False, True, False]]
    layer.select(1)
    assert layer.chosen_families() == [("rbf",), ("wavelet",), ("bspline",)]
    with torch.no_grad():
        ref = torch.stack([-0.9 * layer.experts[1](x)[:, 0], 0.6 * layer.experts[3](x)[:, 1],
                           -0.4 * layer.experts[0](x)[:, 2]], -1)
        assert (layer(x) - ref).abs().max() < 1e-13


def test_softmax_selection_renormalises_over_allowed_families():
    layer, x = _sel(out=2, softmax=True)
    with torch.no_grad():
        layer.selection_weights.copy_(torch.tensor([[0.0, 2.0, 1.0, -3.0], [1.0, 0.0, 0.5, 0.2]]))
    layer.select(2)
    w = layer.weights().detach()
    assert torch.allclose(w.sum(-1), torch.ones(2, dtype=D))
    assert w[0, 0] == 0 and w[0, 3] == 0 and abs(w[0, 1].item() - 1 / (1 + math.exp(-1))) < 1e-12
    assert layer.chosen_families() == [("rbf", "chebyshev"), ("bspline", "chebyshev")]


def test_prune_keeps_output_and_drops_unused_parameters():
    layer, x = _sel(out=6)
    with torch.no_grad():
        layer.selection_weights.copy_(torch.tensor([[1.0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0],
                                                    [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 2, 0]]))
    layer.select(1)
    with torch.no_grad():
        before = layer(x)
        layer.prune()
        assert (layer(x) - before).abs().max() < 1e-14
    assert layer.pruned and layer.kept == (0, 2) and len(layer.experts) == 2
    assert [e.out_dim for e in layer.experts] == [3, 3]
    assert count_params(layer) == 3 * 3 * 9 + 3 * 3 * 5 + 6 * 4
    layer(x).sum().backward()
    assert layer.selection_weights.grad[:, 1].abs().sum() == 0 and layer.selection_weights.grad[5, 2] != 0
    with pytest.raises(RuntimeError):
        layer.select(1)


def test_conv_is_a_kan_layer_on_every_patch():
    torch.manual_seed(0)
    conv = skan.KANConv2d(2, 3, 3, stride=2, padding=1, basis="rbf").double()
    x = torch.rand(2, 2, 7, 6, dtype=D)
    y = conv(x)
    assert y.shape == torch.nn.Conv2d(2, 3, 3, stride=2, padding=1)(x.float()).shape
    xp = F.pad(x, (1, 1, 1, 1))
    for r, c in ((0, 0), (2, 1), (3, 2)):
        patch = xp[:, :, 2 * r:2 * r + 3, 2 * c:2 * c + 3].reshape(2, -1)
        assert (y[:, :, r, c] - conv.dense(patch)).abs().max() < 1e-12
    sc = skan.SConvKAN().double()
    img = torch.rand(2, 1, 28, 28, dtype=D)
    sc.select()
    with torch.no_grad():
        before = sc(img)
        sc.prune()
        assert sc(img).shape == (2, 10) and (sc(img) - before).abs().max() < 1e-12


# ---------------------------------------------------------------- training, models, data
def test_phase_split_and_three_phase_training_prunes():
    assert phase_steps(2000, (0.6, 0.3, 0.1)) == [1200, 600, 200]
    assert phase_steps(11, (0.6, 0.3, 0.1)) == [7, 3, 1]
    x, y, *_ = function_fitting_suite("f3", 64, 8, seed=0)
    model = skan.SKAN([2, 3, 1])
    seen = []
    hist = train_skan(model, x, y, steps=10, phases=(0.6, 0.3, 0.1), on_step=lambda s, v: seen.append(s))
    assert hist["phase_steps"] == [6, 3, 1] and seen == list(range(1, 11)) and len(hist["losses"]) == 10
    assert all(layer.pruned for layer in model) and sum(hist["families"].values()) == 4
    assert all(len(f) == 1 for fams in model.chosen_families() for f in fams)
    kan = skan.KAN([2, 3, 1])
    with pytest.raises(ValueError, match="SelectableKANLayer"):
        train_skan(kan, x, y, steps=5)
    train_skan(kan, x, y, steps=3, phases=(1.0,))


def test_skan_fits_t4_and_selects_chebyshev():
    x, y, xt, yt = function_fitting_suite("cheb4", 500, 500, seed=1)
    torch.manual_seed(1)
    model = skan.SKAN([1, 1], families=("bspline", "chebyshev", "rbf"))
    train_skan(model, x, y, steps=500, lr=1e-2)
    assert model.chosen_families() == [[("chebyshev",)]]
    assert rmse(model, xt, yt) < 0.01


def test_registered_classifiers_and_sizes():
    img = torch.rand(3, 1, 28, 28)
    m = skan.skan_mlp()
    assert m(img).shape == (3, 10) and count_params(m) == 784 * 8 * 27 + 8 + 8 * 4 + 8 * 10 * 27 + 10 + 10 * 4
    assert count_params(skan.kan_chebyshev()) == 784 * 16 * 5 + 16 * 10 * 5
    assert torch.allclose(m[0](torch.tensor([[0.0, 0.5, 1.0]])), torch.tensor([[-1.0, 0.0, 1.0]]))
    assert skan.sconvkan()(img).shape == (3, 10)
    assert abs(count_params(matched_mlp(2, 135)) - 135) <= 15


def test_function_suite_values():
    g = torch.Generator().manual_seed(0)
    x, y = sample("f1", 50, g)
    assert np.abs(y[:, 0].numpy() - special.j0(20 * x[:, 0].numpy())).max() < 1e-5
    x, y = sample("f6", 200, g)
    assert x[:, 1].min() >= 0 and x[:, 0].min() < -0.5 and torch.allclose(y[:, 0], x[:, 0] / (1 + x[:, 1] ** 2))
    x, y = sample("f2", 20, g)
    assert torch.allclose(y[:, 0], torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2))
    a, b = function_fitting_suite("f3", 10, 10, seed=3)[:2], function_fitting_suite("f3", 10, 10, seed=3)[:2]
    assert torch.equal(a[0], b[0]) and torch.allclose(a[1][:, 0], a[0][:, 0] * a[0][:, 1])


def test_fitting_summary_counts():
    fams = ("bspline", "rbf")
    mk = lambda s, b, r, m: {"skan": s, "bspline": b, "rbf": r, "mlp": m, "skan_params": 10, "mlp_params": 11}
    per_fn = {"f1": [mk(1.05, 1.0, 2.0, 0.9)], "f2": [mk(1.15, 3.0, 1.0, 2.0)],
              "f3": [mk(0.5, 0.4, 0.6, 0.6), mk(0.5, 0.8, 0.6, 0.4), mk(0.5, 0.9, 0.9, 0.6)]}
    metrics, rows = summarise_fitting(per_fn, fams)
    assert metrics == {"fit_skan_near_best": 2.0, "fit_skan_beats_mlp": 2.0, "fit_distinct_winners": 2.0,
                       "fit_functions": 3.0}
    assert rows[2]["bspline"] == 0.8 and rows[2]["best_single"] == "rbf"


def _tiny_full(tmp_path, **over):
    import paperzoo as pz

    return pz.reproduce("skan", "full", out=tmp_path / "run", progress=False, overrides={
        "functions": ("f3",), "seeds": 1, "steps": 6, "cheb_seeds": 1, "cheb_steps": 6, **over})


def test_tiny_full_protocol_runs(tmp_path):
    r = _tiny_full(tmp_path, image_sets=())
    assert r.metrics["prune_identity_err"] < 1e-6 and r.metrics["fit_functions"] == 1
    assert r.tables["function_fitting"]["rows"][0][0].startswith("f3")


@pytest.mark.slow
def test_tiny_full_protocol_with_images(tmp_path):
    r = _tiny_full(tmp_path, image_sets=("mnist",), image_train=40, image_test=40, image_batch=20, image_epochs=1)
    assert 0 <= r.metrics["mnist_sconvkan_acc"] <= 100 and r.metrics["mnist_sconvkan_gap"] >= -100


# ---------------------------------------------------------------- inits, errors, small paths
def test_inits_follow_the_library():
    torch.manual_seed(0)
    i, o = 120, 100
    std = lambda fam, **kw: float(KANLayer(i, o, basis=fam, **kw).coef.detach().std())
    assert abs(std("bspline") - 0.1) < 0.003 and abs(std("rbf") - 0.1 * 0.98) < 0.004
    assert abs(std("chebyshev") - 1 / (i * 5)) < 3e-5 and abs(std("jacobi", degree=3) - 1 / (i * 4)) < 3e-5
    relu = KANLayer(i, o, basis="relu").coef.abs().max()
    assert 0.95 / math.sqrt(i * 8) < relu <= 1 / math.sqrt(i * 8)
    rsw = KANLayer(i, o, basis="rswaf").coef.abs().max()
    assert 0.95 * math.sqrt(6 / (i * 8 + o)) < rsw <= math.sqrt(6 / (i * 8 + o))
    wav = KANLayer(i, o, basis="wavelet")
    for w in (wav.coef, wav.base_weight):
        assert 0.95 / math.sqrt(i) < w.abs().max() <= 1 / math.sqrt(i)
    assert (wav.scale == 1).all() and (wav.translation == 0).all()
    rbf = KANLayer(i, o, basis="rbf")
    assert 0.9 / math.sqrt(i) < rbf.base_bias.abs().max() <= 1 / math.sqrt(i)
    assert "basis='rbf'" in repr(rbf) and "base_activation='silu'" in repr(rbf)


@pytest.mark.parametrize("build", [
    lambda: skan.BSplineBasis(grid=0), lambda: skan.BSplineBasis(order=-1), lambda: skan.BSplineBasis(range=(1, 1)),
    lambda: skan.RBFBasis(n=1), lambda: skan.ChebyshevBasis(degree=-1), lambda: skan.JacobiBasis(degree=-1),
    lambda: skan.ReLUKANBasis(g=0), lambda: skan.ReLUKANBasis(k=-1), lambda: skan.RSWAFBasis(n=0),
    lambda: skan.WaveletBasis("meyer"), lambda: skan.make_basis(skan.RBFBasis(), n=3), lambda: KANLayer(0, 2),
    lambda: KANLayer(2, 0), lambda: KANLayer(2, 2, base_activation="swish"), lambda: SelectableKANLayer(2, 2, families=()),
    lambda: SelectableKANLayer(2, 2, families=("rbf", "rbf")), lambda: SelectableKANLayer(2, 2, topk=0),
    lambda: SelectableKANLayer(2, 2, family_kwargs={"jacobi": {}}), lambda: skan.KANConv2d(1, 2, 0),
    lambda: skan.KANConv2d(1, 2, 3, stride=0), lambda: skan.KANConv2d(1, 2, 3, padding=-1),
    lambda: skan.SKAN([3]), lambda: skan.KAN([2, 0, 1]), lambda: skan.SConvKAN(image_size=12),
])
def test_bad_configurations_raise(build):
    with pytest.raises(ValueError):
        build()


ALL_BASES = (skan.BSplineBasis(), skan.RBFBasis(), skan.ChebyshevBasis(), skan.WaveletBasis(), skan.JacobiBasis(),
             skan.ReLUKANBasis(), skan.RSWAFBasis())


def test_bases_keep_the_input_dtype_and_smallest_sizes_work():
    x = torch.rand(5, 3) * 2 - 1
    for basis in ALL_BASES:
        assert basis(x).dtype == torch.float32 and basis(x.double()).dtype == D
        assert torch.allclose(basis(x).double(), basis(x.double()), atol=1e-6)
    for basis in (skan.RSWAFBasis(n=1), skan.RBFBasis(n=2), skan.BSplineBasis(grid=1, order=0), skan.ReLUKANBasis(1, 0)):
        assert basis(x).shape == (5, 3, basis.n_basis) and torch.isfinite(basis(x)).all()
    assert skan.RSWAFBasis(n=1).n_basis == 1 and skan.ReLUKANBasis(1, 0).n_basis == 1


def test_bad_inputs_raise():
    for basis in ALL_BASES:
        with pytest.raises(TypeError, match=type(basis).__name__):
            basis(torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="expected"):
        skan.KANConv2d(2, 3, 3)(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="smaller"):
        skan.KANConv2d(1, 3, 5)(torch.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match="SelectableKANLayer"):
        SelectableKANLayer(3, 2)(torch.rand(4, 2))


def test_small_degrees_order_zero_and_custom_width():
    x = _x(10)
    assert skan.ChebyshevBasis(degree=0)(x).shape == (10, 1, 1) and skan.ChebyshevBasis(degree=1)(x).shape[-1] == 2
    assert skan.JacobiBasis(degree=0)(x).shape[-1] == 1 and skan.JacobiBasis(degree=1)(x).shape[-1] == 2
    assert torch.allclose(skan.JacobiBasis(degree=1, a=0.5, b=2.0)(x)[..., 1], (-1.5 + 4.5 * torch.tanh(x)) / 2)
    rb = skan.RBFBasis(n=3, range=(-1, 1), h=0.3)(x)
    assert torch.allclose(rb[:, 0, 1], torch.exp(-(x[:, 0] / 0.3) ** 2))
    b0 = skan.BSplineBasis(grid=4, order=0)
    xr = _x(10, -0.9, 0.9).requires_grad_()
    out = b0(xr)
    assert out.shape == (10, 1, 4) and torch.allclose(out.sum(-1), torch.ones(10, 1, dtype=D))
    (out * torch.arange(4.0, dtype=D)).sum().backward()
    assert xr.grad is None or xr.grad.abs().max() == 0
    assert skan.BSplineBasis(grid=3, order=2).n_basis == 5


def test_selection_api_edges():
    layer, x = _sel(out=3, families=("bspline", "rbf", "chebyshev"), topk=2)
    layer.select()
    assert all(len(f) == 2 for f in layer.chosen_families())
    with pytest.raises(ValueError, match="k must be"):
        layer.select(3)
    layer.select(1)
    with torch.no_grad():
        before = layer(x)
        layer.prune()
        layer.prune()
        assert (layer(x) - before).abs().max() < 1e-14
    assert "pruned to" in repr(layer)
    with pytest.raises(RuntimeError):
        layer.candidates(x)
    conv = skan.SelectableKANConv2d(1, 2, 3, families=("rbf", "chebyshev"), topk=2)
    with torch.no_grad():
        conv.dense.selection_weights.copy_(torch.tensor([[0.1, 0.9], [0.8, -0.2]]))
    assert conv.select(1).tolist() == [[False, True], [True, False]]
    assert conv.prune() is conv and conv.chosen_families() == [("chebyshev",), ("rbf",)] and conv.dense.pruned
    with pytest.raises(ValueError, match="no SelectableKANLayer"):
        skan.select(skan.KAN([2, 2]))


def test_training_options_and_guards():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=g)
    y = (x[:, 0] > 0).long()
    model = skan.SKAN([2, 2], families=("bspline", "rbf", "chebyshev"))
    hist = train_skan(model, x, y, steps=10, lr=3e-2, loss="ce", batch_size=16, topk=2,
                      generator=torch.Generator().manual_seed(1))
    assert all(len(f) == 2 for f in model.chosen_families()[0]) and hist["losses"][-1] < hist["losses"][0]
    model.train()
    rmse(model, x, torch.zeros(64, 2))
    assert model.training
    model.eval()
    rmse(model, x, torch.zeros(64, 2))
    assert not model.training
    kan = skan.KAN([2, 1])
    with pytest.raises(FloatingPointError):
        train_skan(kan, x, torch.full((64, 1), float("inf")), steps=2, phases=(1.0,))
    for bad in ({"loss": "l1"}, {"batch_size": 0}, {"batch_size": 65}):
        with pytest.raises(ValueError):
            train_skan(kan, x, torch.zeros(64, 1), steps=2, phases=(1.0,), **bad)
    with pytest.raises(ValueError):
        train_skan(kan, x, torch.zeros(63, 1), steps=2, phases=(1.0,))
    with pytest.raises(ValueError):
        phase_steps(-1, (1.0,))
    assert phase_steps(5, (1.0,)) == [5]


def test_phase_validation_edges():
    assert phase_steps(0, (1.0,)) == [0] and phase_steps(10, (0.5, 0.5, 0.0)) == [5, 5, 0]
    for bad in ((1.2, -0.1, -0.1), (0.5, 0.3, 0.1), (0.5, 0.5), (0.6, 0.3, 0.1 + 1e-4)):
        with pytest.raises(ValueError, match="phases"):
            phase_steps(10, bad)
    with pytest.raises(ValueError, match="steps"):
        phase_steps(-1, (1.0,))
