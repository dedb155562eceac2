"""Tests for paperzoo.papers.neural_collapse (card: shared/papers/neural-collapse.md)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

import paperzoo as pz
from paperzoo.nn import collect_features
from paperzoo.papers.neural_collapse import (
    MLPWithLinearHead,
    UFMDeepLinear,
    deep_linear_nc_metrics,
    fit_sgd_stacked,
    imbalanced_mse_optimum,
    model_nc_metrics,
    nc_metrics,
    solve_x,
    stacked_loss_and_grads,
    target_matrix,
)
from paperzoo.papers.neural_collapse.reproduce import run as run_protocol
from paperzoo.papers.neural_collapse.reproduce import tiny_full

N_IMB = [200, 100, 50, 50]


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny matrices: intra-op threads only add contention on a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


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
    # a tiny minority class with strong decay has no root: x = 0 (collapse), majority classes survive
    opt = imbalanced_mse_optimum([1000, 1000, 1], 3, 5e-3, 5e-3)
    assert opt.x[2] == 0 and (opt.x[:2] > 0).all() and opt.collapsed.tolist() == [False, False, True]
    assert opt.HTH[2] == 0 and opt.WWT[2] == 0


# ---------------------------------------------------------------- metrics
@pytest.mark.parametrize("D", [3, 20])
def test_nc1_equals_direct_numpy_pinv_float64(D):
    g = np.random.default_rng(0)
    y = np.repeat(np.arange(5), [40, 20, 10, 7, 3])
    h = g.normal(size=(len(y), D)) + 3 * g.normal(size=(5, D))[y]
    got = nc_metrics(torch.from_numpy(h).float(), torch.from_numpy(y))["NC1"]
    assert got == pytest.approx(numpy_nc1(h.astype(np.float32), y, 5), rel=1e-9)


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


def test_probe_runs_on_features_collected_from_any_model_with_kernel_hooks():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 16, bias=False),
                          nn.Linear(16, 3))
    x = torch.randn(300, 10)
    y = torch.arange(300) % 3
    feats = collect_features(model, x, ["4", "5"], which="input")
    probe = pz.registry.get_probe("nc_metrics")
    assert probe.paper == "neural-collapse" and probe.fn is nc_metrics
    got = probe.fn(feats["4"], y, model[5].weight @ model[4].weight)
    assert got["NC1"] == pytest.approx(numpy_nc1(feats["4"].numpy(), y.numpy(), 3), rel=1e-9)
    per = model_nc_metrics(model, x, y, head=["4", "5"])  # per layer: W5 W4 with h4, W5 with h5
    assert per[0]["NC1"] == pytest.approx(got["NC1"], rel=1e-12)
    assert per[1]["NC1"] == pytest.approx(numpy_nc1(feats["5"].numpy(), y.numpy(), 3), rel=1e-9)
    assert per[0]["NC3"] == pytest.approx(per[1]["NC3"], rel=1e-6)  # (W5 W4) H4 = W5 H5 for a linear layer


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
    fit_sgd_stacked(ms, steps=150, lr=0.1, momentum=0.9, every=50)
    for r, m in zip(refs, ms):
        r.fit(steps=150, lr=0.1, momentum=0.9, every=50)
        for a, b in zip(r.parameters(), m.parameters()):
            assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)


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


# ---------------------------------------------------------------- MLP
def test_mlp_head_is_the_product_of_bias_free_layers():
    model = pz.create_model("mlp_linear_head", depth_relu=2, depth_linear=3, width=12, bias=False, in_dim=20,
                            num_classes=4)
    assert isinstance(model, MLPWithLinearHead) and "mlp_linear_head" in [m.name for m in pz.list_models("mnist")]
    assert all(model.fc[i].bias is None for i in range(3))
    x = torch.randn(7, 20)
    h = model.features(x)
    W = model.fc[2].weight @ model.fc[1].weight @ model.fc[0].weight
    assert torch.allclose(model(x), h @ W.T, atol=1e-5)
    big = MLPWithLinearHead.for_budget(100_000, depth_relu=3, depth_linear=2)
    wider = MLPWithLinearHead(3, 2, big.width + 1, bias=False)
    assert sum(p.numel() for p in big.parameters()) <= 100_000 < sum(p.numel() for p in wider.parameters())


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


# ---------------------------------------------------------------- protocols
def test_smoke_protocol_verdicts(tmp_path, require_data):
    require_data("mnist")
    r = pz.reproduce("neural-collapse", "smoke", out=tmp_path, progress=False)
    assert all(v.verdict != "not shown" for v in r.verdicts)
    assert sum(v.verdict == "effect shown" for v in r.verdicts) == 4
    assert r.metrics["synthetic_imbalanced_max"] < 1e-3 and r.metrics["synthetic_nc1_max"] < 1e-6


def test_full_protocol_runs_at_tiny_size(tmp_path, require_data):
    require_data("cifar10")
    ctx = pz.train.RunContext(protocol="full", out=tmp_path, show_progress=False)
    m = run_protocol(ctx, tiny_full())
    assert {"synthetic_imbalanced_max", "net_train_acc", "net_nc1_drop", "net_of_max",
            "net_imbalanced_of_over_cf"} <= set(m)
    assert all(math.isfinite(v) for v in m.values())
    assert len(ctx.details["network_curves"]["balanced_M2"]) == 2  # init + 1 epoch


def test_readme_tables_are_the_recorded_result():
    from pathlib import Path

    from paperzoo.papers.neural_collapse.reproduce import results_markdown

    root = Path(__file__).resolve().parents[2]
    record = root / "results" / "neural-collapse" / "cpu-cpu.json"
    if not record.is_file():
        pytest.skip("no cpu record")
    readme = (root / "src" / "paperzoo" / "papers" / "neural_collapse" / "README.md").read_text()
    for table in results_markdown(record).split("\n\n"):
        assert table in readme
