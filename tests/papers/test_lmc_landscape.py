"""Tests for paperzoo.papers.lmc_landscape (card: shared/papers/lmc-landscape.md)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

import paperzoo as pz
from paperzoo.model_io import save_model
from paperzoo.papers.lmc_landscape import (
    TOY_PATHS,
    activation_matching,
    apply_permutation,
    barrier,
    directional_grad,
    evaluate,
    fd_curvature,
    geometry,
    hvp_quadratic,
    interpolate,
    layer_groups,
    layerwise_barriers,
    lerp,
    linear_chain,
    lmc,
    lmc_mlp,
    midpoint_excess,
    model_loss,
    params_of,
    path_curve,
    predict_barrier,
    quad_form,
    quadratic,
    sgd_steps,
    spawn_experiment,
    toy_path,
    weight_matching,
)
from paperzoo.papers.lmc_landscape.lmc import barrier_argmax
from paperzoo.papers.lmc_landscape.reproduce import identities
from paperzoo.probe import run_probe


def _mlp(seed, dims=(6, 8, 7, 3), dtype=torch.float64):
    torch.manual_seed(seed)
    return pz.nn.MLP(list(dims), act=nn.Tanh, flatten=False).to(dtype)


def _xy(n=40, d=6, k=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.arange(n) % k


def _ref_ce(model, theta, x, y):
    """Reference: rebuild the network by hand (float64 tanh MLP) and compute mean cross-entropy and error %."""
    h = x
    lin = sorted({k.rsplit(".", 1)[0] for k in theta}, key=int)
    for i, name in enumerate(lin):
        h = h @ theta[f"{name}.weight"].T + theta[f"{name}.bias"]
        if i < len(lin) - 1:
            h = torch.tanh(h)
    logp = h - torch.logsumexp(h, 1, keepdim=True)
    return float(-logp[torch.arange(len(y)), y].mean()), 100.0 * float((h.argmax(1) != y).double().mean())


# ---------------------------------------------------------------- path, barrier, geometry
def test_lerp_ends_are_bit_exact_and_layerwise_touches_only_its_layer():
    a, b = params_of(_mlp(0)), params_of(_mlp(1))
    for k in a:
        assert torch.equal(lerp(a, b, 0.0)[k], a[k]) and torch.equal(lerp(a, b, 1.0)[k], b[k])
        assert torch.allclose(lerp(a, b, 0.3)[k], 0.7 * a[k] + 0.3 * b[k], atol=0, rtol=1e-15)
    mid = lerp(a, b, 0.5, names=["2.weight", "2.bias"])
    for k in a:
        want = (a[k] + b[k]) / 2 if k.startswith("2.") else a[k]
        assert torch.allclose(mid[k], want, rtol=1e-15, atol=0)
    with pytest.raises(KeyError):
        lerp(a, b, 0.5, names=["nope.weight"])
    with pytest.raises(ValueError, match="differ"):
        lerp(a, params_of(_mlp(0, dims=(6, 9, 7, 3))), 0.5)


def test_barrier_is_the_max_excess_over_the_chord():
    curve = {"alpha": [0.0, 0.25, 0.5, 0.75, 1.0], "loss": [1.0, 2.0, 2.2, 2.1, 2.0]}
    chord = [1.0, 1.25, 1.5, 1.75, 2.0]
    excess = [f - c for f, c in zip(curve["loss"], chord)]
    assert barrier(curve) == pytest.approx(max(excess), abs=1e-15)  # 0.75 at alpha = 0.25
    assert barrier_argmax(curve) == 0.25
    assert barrier({"alpha": [0.0, 0.5, 1.0], "loss": [2.0, 0.5, 1.0]}) == 0.0  # below the chord: the ends
    assert barrier({"alpha": [0.0, 0.5, 1.0], "loss": [1.0, 1.0, 3.0], "err": [0, 9, 0]}, "err") == 9
    with pytest.raises(ValueError):
        barrier({"alpha": [0.1, 1.0], "loss": [1.0, 1.0]})


def test_interpolation_matches_a_hand_written_float64_network():
    model, other = _mlp(0), _mlp(1)
    a, b = params_of(model), params_of(other)
    x, y = _xy()
    curve = interpolate(model, a, b, data=(x, y))
    assert curve["alpha"] == pytest.approx([i / 10 for i in range(11)])
    for alpha, loss, err in zip(curve["alpha"], curve["loss"], curve["err"]):
        ref = _ref_ce(model, {k: (1 - alpha) * a[k] + alpha * b[k] for k in a}, x, y)
        assert loss == pytest.approx(ref[0], rel=1e-12) and err == pytest.approx(ref[1], abs=1e-9)
    # endpoints bit-exactly the two networks evaluated on their own (card smoke rung)
    assert (curve["loss"][0], curve["err"][0]) == evaluate(model, a, (x, y))
    assert (curve["loss"][-1], curve["err"][-1]) == evaluate(model, b, (x, y))
    assert torch.equal(params_of(model)["0.weight"], a["0.weight"])  # the caller's model is untouched


def test_layerwise_barriers_interpolate_one_layer_only():
    model, other = _mlp(0), _mlp(1)
    a, b = params_of(model), params_of(other)
    x, y = _xy()
    per = layerwise_barriers(model, a, b, data=(x, y))
    assert list(per) == ["0", "2", "4"] and per["2"]["params"] == ["2.weight", "2.bias"]
    for name, r in per.items():
        refs = [_ref_ce(model, {k: ((1 - t) * a[k] + t * b[k]) if k.startswith(name + ".") else a[k] for k in a}, x, y)
                for t in r["curve"]["alpha"]]
        assert r["curve"]["loss"] == pytest.approx([v[0] for v in refs], rel=1e-12)
        assert r["loss"] == pytest.approx(barrier({"alpha": r["curve"]["alpha"], "loss": [v[0] for v in refs]}), abs=1e-12)
    assert list(layerwise_barriers(model, a, b, data=(x, y), layers=["4"])) == ["4"]
    with pytest.raises(KeyError):
        layer_groups(model, ["7"])
    with pytest.raises(ValueError, match="no parameters"):
        layer_groups(model, ["1"])  # the Tanh


def test_geometry_distance_and_angle_from_the_spawn_point():
    k = {"w": torch.tensor([1.0, 1.0, 5.0])}
    a = {"w": torch.tensor([2.0, 1.0, 5.0])}   # displacement e1
    b = {"w": torch.tensor([1.0, 3.0, 5.0])}   # displacement 2 e2: 90 deg from k (not from 0)
    g = geometry(k, a, b)
    assert g["distance"] == pytest.approx(math.sqrt(5)) and g["angle_deg"] == pytest.approx(90.0)
    c = {"w": torch.tensor([3.0, 3.0, 5.0])}   # displacement (2, 2): 45 deg from (1, 0)
    assert geometry(k, a, c)["angle_deg"] == pytest.approx(45.0)
    assert "angle_deg" not in geometry(None, a, b)
    with pytest.raises(ValueError, match="undefined"):
        geometry(k, k, b)


def test_batchnorm_statistics_are_reestimated_on_the_given_data():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3)).double()
    x, y = _xy(n=50)
    bn_x = 3 + 2 * _xy(n=60, seed=1)[0]
    from paperzoo.papers.lmc_landscape.lmc import _Evaluator

    h = bn_x @ model[0].weight.T + model[0].bias
    ev = _Evaluator(model, (x, y), bn_data=bn_x, batch_size=7)  # 8 batches of 7 and one of 4
    ev(params_of(model))
    assert torch.allclose(ev.work[1].running_mean, h.mean(0), atol=1e-10)
    ev = _Evaluator(model, (x, y), bn_data=bn_x, batch_size=100)
    ev(params_of(model))
    assert torch.allclose(ev.work[1].running_var, h.var(0), atol=1e-10)
    assert ev(params_of(model)) == ev(params_of(model))  # re-estimated from scratch each time
    assert torch.equal(model[1].running_mean, torch.zeros(5))  # the caller's buffers untouched


# ---------------------------------------------------------------- curvature and the exact toys
def test_toy_values_of_the_card():
    r = toy_path(*TOY_PATHS["across_ridge"][:2])
    assert r["barrier"] == pytest.approx(0.31640625, abs=1e-12) and r["mid_excess"] == pytest.approx(0.31640625)
    assert r["P_mid"] == pytest.approx(0.6328125, abs=1e-12) and r["P_end"] == pytest.approx(1.265625, abs=1e-12)
    assert toy_path(*TOY_PATHS["sign_flip"][:2])["barrier"] == pytest.approx(1.0, abs=1e-12)
    assert toy_path(*TOY_PATHS["same_valley"][:2])["barrier"] == pytest.approx(5.165e-6, abs=1e-9)
    ids = identities()
    assert ids["toy_err"] < 1e-12 and ids["quadratic_identity_err"] < 1e-12 and ids["hvp_err"] < 1e-12
    assert ids["hessian_n_params"] == 50


def test_quadratic_midpoint_identity_is_exact():
    g = torch.Generator().manual_seed(3)
    q = torch.randn(7, 7, generator=g, dtype=torch.float64)
    A = q + q.T  # indefinite
    f = quadratic(A)
    a, b = {"w": torch.randn(7, generator=g, dtype=torch.float64)}, {"w": torch.randn(7, generator=g, dtype=torch.float64)}
    d = a["w"] - b["w"]
    exact = -float(d @ A @ d) / 8
    for got in (midpoint_excess(f, a, b), predict_barrier(f, a, b, "mid"), predict_barrier(f, a, b, "end")):
        assert got == pytest.approx(exact, rel=1e-12)
    assert quad_form(f, a, {"w": d}) == pytest.approx(float(d @ A @ d), rel=1e-12)
    assert directional_grad(f, a, {"w": d}) == pytest.approx(float(A @ a["w"] @ d), rel=1e-12)
    with pytest.raises(ValueError):
        predict_barrier(f, a, b, "middle")


def test_predictors_on_a_quartic_match_the_taylor_formulas():
    """f(w) = w^4 on w: 1 -> 2 (not a minimum, so the gradient term of P_end counts)."""
    f = lambda t: (t["w"] ** 4).sum()  # noqa: E731
    a, b = {"w": torch.tensor([1.0], dtype=torch.float64)}, {"w": torch.tensor([2.0], dtype=torch.float64)}
    d = -1.0
    p_mid = -(12 * 1.5 ** 2) * d * d / 8
    p_end = (4 * 2 ** 3 - 4 * 1 ** 3) * d / 4 + (12 * 1 ** 2 + 12 * 2 ** 2) * d * d / 16
    assert predict_barrier(f, a, b, "mid") == pytest.approx(p_mid, rel=1e-12)  # -3.375
    assert predict_barrier(f, a, b, "end") == pytest.approx(p_end, rel=1e-12)  # -3.25
    assert midpoint_excess(f, a, b) == pytest.approx(1.5 ** 4 - 8.5, rel=1e-12)
    # central difference of phi(t) = (1 + t)^4 is exactly phi''(t) + h^2 / 12 * 24 = 12 (1 + t)^2 + 2 h^2
    assert fd_curvature(f, a, b, t=0.5, h=0.05) == pytest.approx(27 + 2 * 0.05 ** 2, rel=1e-9)
    assert fd_curvature(f, a, b, t=0.25, h=0.1) == pytest.approx(12 * 1.25 ** 2 + 2 * 0.1 ** 2, rel=1e-9)
    assert fd_curvature(f, b, a, t=0.5, h=0.05, names=["w"]) == pytest.approx(27 + 2 * 0.05 ** 2, rel=1e-9)
    with pytest.raises(ValueError):
        fd_curvature(f, a, b, t=0.98, h=0.05)


def test_hvp_matches_explicit_hessian_and_layer_block():
    model = _mlp(0, dims=(4, 5, 3))
    x, y = _xy(n=30, d=4)
    theta = params_of(model)
    names, sizes = list(theta), [v.numel() for v in theta.values()]
    floss = model_loss(model, (x, y))

    def flat(v):
        return floss({k: t.reshape(theta[k].shape) for k, t in zip(names, v.split(sizes))})

    v0 = torch.cat([t.flatten() for t in theta.values()])
    H = torch.autograd.functional.hessian(flat, v0)
    g = torch.Generator().manual_seed(0)
    dv = torch.randn(len(v0), generator=g, dtype=torch.float64)
    direction = {k: t.reshape(theta[k].shape) for k, t in zip(names, dv.split(sizes))}
    assert hvp_quadratic(model, theta, direction, (x, y)) == pytest.approx(float(dv @ H @ dv), rel=1e-10)
    # layer-wise: delta restricted to layer "2" <=> the (2, 2) Hessian block
    other = params_of(_mlp(1, dims=(4, 5, 3)))
    mask = torch.cat([torch.full((n,), float(k.startswith("2."))) for k, n in zip(names, sizes)]).double()
    delta = (v0 - torch.cat([t.flatten() for t in other.values()])) * mask
    end = {k: other[k] if k.startswith("2.") else theta[k] for k in theta}
    v_end = torch.cat([t.flatten() for t in end.values()])
    H_end = torch.autograd.functional.hessian(flat, v_end)
    g_a, g_b = (torch.autograd.functional.jacobian(flat, v) for v in (v0, v_end))
    want = float((g_b - g_a) @ delta) / 4 + float(delta @ (H + H_end) @ delta) / 16
    got = predict_barrier(floss, theta, other, "end", names=["2.weight", "2.bias"])
    assert got == pytest.approx(want, rel=1e-10)


# ---------------------------------------------------------------- permutation alignment
def _permuted(model, seed=5):
    chain = linear_chain(model)
    g = torch.Generator().manual_seed(seed)
    perms = [torch.randperm(model[i].out_features, generator=g) for i in range(0, len(model) - 1, 2)]
    return chain, perms, apply_permutation(params_of(model), chain, perms)


def test_permutation_keeps_the_function_and_is_recovered_by_both_matchings():
    model = _mlp(0)
    x, y = _xy()
    chain, perms, tb = _permuted(model)
    assert chain == ["0", "2", "4"]
    assert evaluate(model, tb, (x, y))[0] == pytest.approx(evaluate(model, params_of(model), (x, y))[0], rel=1e-12)
    assert not torch.equal(tb["0.weight"], params_of(model)["0.weight"])
    wm = weight_matching(params_of(model), tb, chain)
    other = _mlp(9)
    with torch.no_grad():
        for k, p in other.named_parameters():
            p.copy_(tb[k])
    am = activation_matching(model, other, x, chain)
    for found in (wm, am):
        back = apply_permutation(tb, chain, found)
        assert all(torch.equal(back[k], v) for k, v in params_of(model).items())


def test_weight_matching_does_not_decrease_the_inner_product():
    a, b = params_of(_mlp(0)), params_of(_mlp(1))
    chain = ["0", "2", "4"]
    dot = lambda p, q: sum(float((p[k] * q[k]).sum()) for k in p)  # noqa: E731
    aligned = apply_permutation(b, chain, weight_matching(a, b, chain))
    assert dot(a, aligned) > dot(a, b)
    assert geometry(None, a, aligned)["distance"] < geometry(None, a, b)["distance"]


def test_linear_chain_rejects_models_it_cannot_permute():
    assert linear_chain(nn.Sequential(nn.Flatten(), nn.Linear(4, 3))) is None
    assert linear_chain(nn.Sequential(nn.Linear(4, 5), nn.LayerNorm(5), nn.Linear(5, 3))) is None
    assert linear_chain(nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(6, 3))) is None
    assert linear_chain(lmc_mlp(width=8)) == ["1", "3", "5"]


# ---------------------------------------------------------------- the probe
class _Residual(nn.Module):
    """A chain of linears by shape, but h + f(h): permuting hidden units is not a symmetry."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(784, 16), nn.Linear(16, 16), nn.Linear(16, 10)

    def forward(self, x):
        h = self.a(x.flatten(1)).relu()
        return self.c(h + self.b(h).relu())


def _mnist_batch(n=200):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 28, 28, generator=g), torch.arange(n) % 10


def test_probe_on_a_model_of_another_paper_and_on_a_permuted_copy():
    x, y = _mnist_batch()
    torch.manual_seed(0)
    a = pz.create_model("gradnoise_deep_mlp", width=16, depth=3)
    r = lmc(a, (x, y), other=a)
    assert r["barrier_loss"] == pytest.approx(0.0, abs=1e-6) and r["distance"] == 0.0 and r["alignable"] == 1.0
    assert all(isinstance(v, float) for v in r.values())
    torch.manual_seed(1)
    b = pz.create_model("gradnoise_deep_mlp", width=16, depth=3)
    r = lmc(a, (x, y), other=b)
    assert {f"barrier_loss@{k}" for k in layer_groups(a)} <= set(r) and r["distance"] > 1
    assert r["distance_wm"] < r["distance"]
    # B = a permuted copy of A: after alignment the path is constant (barrier 0, distance 0)
    model = lmc_mlp(width=32)
    chain, perms, tb = _permuted(nn.Sequential(*[model[i] for i in range(1, len(model))]))
    other = lmc_mlp(width=32)
    with torch.no_grad():
        for k, p in other.named_parameters():
            p.copy_(tb[str(int(k.split(".")[0]) - 1) + "." + k.split(".")[1]])
    r = lmc(model, (x, y), other=other)
    assert r["distance"] > 1
    assert r["distance_wm"] == pytest.approx(0.0, abs=1e-5) and r["barrier_loss_wm"] == pytest.approx(0.0, abs=1e-6)
    # activation matching: dead ReLU units of a fresh net tie (any order keeps the function), so only closer
    assert r["distance_am"] < r["distance"] / 2 and r["loss_a"] == pytest.approx(r["loss_b"], rel=1e-5)
    r = lmc(_Residual(), (x, y), other=_Residual())
    assert r["alignable"] == 0.0 and "barrier_loss_wm" not in r


def test_probe_errors_are_clear():
    x, y = _mnist_batch(20)
    a = lmc_mlp(width=16)
    with pytest.raises(ValueError, match="differ"):
        lmc(a, (x, y), other=lmc_mlp(width=8))
    with pytest.raises(KeyError, match="no submodule"):
        lmc(a, (x, y), other=lmc_mlp(width=16), layers=["fc9"])
    with pytest.raises(ValueError, match="shape"):
        lmc(a, (torch.rand(20, 3, 32, 32), y), other=lmc_mlp(width=16))
    with pytest.raises(ValueError, match="labels"):
        lmc(a, x, other=lmc_mlp(width=16))
    with pytest.raises(ValueError, match="align"):
        lmc(a, (x, y), other=lmc_mlp(width=16), align="rebasin")


def test_probe_through_run_probe_with_saved_checkpoints(tmp_path):
    x, y = _mnist_batch(100)
    torch.manual_seed(0)
    a, b = lmc_mlp(width=24), lmc_mlp(width=24)
    save_model(tmp_path / "a", a, name="lmc_mlp", kwargs={"width": 24})
    save_model(tmp_path / "b", b, name="lmc_mlp", kwargs={"width": 24})
    rec = run_probe("lmc", str(tmp_path / "a"), (x, y), other=str(tmp_path / "b"), out=tmp_path / "out")
    direct = lmc(a, (x, y), other=b)
    assert rec["metrics"] == pytest.approx(direct, rel=1e-6, abs=1e-9)
    assert (tmp_path / "out").is_dir()
    with pytest.raises(ValueError, match="--other"):
        run_probe("lmc", str(tmp_path / "a"), (x, y))


# ---------------------------------------------------------------- training and the spawning experiment
def test_sgd_is_deterministic_learns_and_snapshots_match():
    model = _mlp(0, dims=(6, 16, 3), dtype=torch.float32)
    x, y = _xy(n=96, dtype=torch.float32)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    t0 = params_of(model)
    kw = dict(lr=0.1, momentum=0.9, batch_size=16)
    t1, snaps = sgd_steps(model, t0, (x, y), steps=30, seed=1, snapshots=(0, 10), **kw)
    t1b, _ = sgd_steps(model, t0, (x, y), steps=30, seed=1, **kw)
    t10, _ = sgd_steps(model, t0, (x, y), steps=10, seed=1, **kw)
    t2, _ = sgd_steps(model, t0, (x, y), steps=30, seed=2, **kw)
    assert all(torch.equal(t1[k], t1b[k]) and torch.equal(snaps[10][k], t10[k]) for k in t0)
    assert all(torch.equal(snaps[0][k], t0[k]) for k in t0)
    assert not torch.equal(t1["0.weight"], t2["0.weight"])
    assert evaluate(model, t1, (x, y))[0] < 0.7 * evaluate(model, t0, (x, y))[0]


def test_spawn_experiment_children_share_the_parent():
    x, y = _xy(n=128, dtype=torch.float32)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    make = lambda: pz.nn.MLP([6, 12, 3], flatten=False)  # noqa: E731
    recs = spawn_experiment(make, (x, y), (x[:64], y[:64]), k_list=(0, 8), child_steps=6, lr=0.1, batch_size=16,
                            hvp_n=64, train_eval_n=64, layer_k=(8,), align=True)
    assert [r["k"] for r in recs] == [0, 8] and "layers" in recs[1] and "layers" not in recs[0]
    assert set(recs[1]["layers"]) == {"0", "2"} and recs[0]["barrier_wm"] <= recs[0]["barrier"] + 1.0
    for r in recs:
        assert r["distance"] > 0 and 0 < r["angle_deg"] < 180 and r["curve"]["alpha"][5] == 0.5
    with pytest.raises(ValueError, match="different data-order seeds"):
        spawn_experiment(make, (x, y), (x, y), k_list=(0,), child_steps=1, seeds=(1, 2, 2))


def test_tiny_full_protocol_through_overrides(tmp_path):
    r = pz.reproduce("lmc-landscape", "full", seed=0, out=tmp_path / "run", progress=False,
                     overrides={"n_train": 256, "n_test": 64, "width": 4, "depth": 1, "k_list": (0, 2), "child_steps": 2,
                                "hvp_n": 32, "train_eval_n": 64, "bn_n": 64, "layer_k": (0,), "batch_size": 32})
    assert np.isfinite(r.metrics["k0_barrier"]) and "layer_spearman_p_mid" in r.metrics
    assert r.metrics["endpoint_err"] == 0.0 and r.metrics["toy_err"] < 1e-6


# ---------------------------------------------------------------- sharper checks (mutation testing)
def test_layerwise_paths_of_the_scalar_toy_move_only_the_named_parameter():
    f = lambda t: (t["u"] * t["v"] - 1) ** 2  # noqa: E731
    a = {"u": torch.tensor(2.0, dtype=torch.float64), "v": torch.tensor(0.5, dtype=torch.float64)}
    b = {"u": torch.tensor(0.5, dtype=torch.float64), "v": torch.tensor(2.0, dtype=torch.float64)}
    phi = lambda t: ((2 - 1.5 * t) * 0.5 - 1) ** 2  # only u moves: u(t) = 2 - 1.5 t, v = 0.5  # noqa: E731
    assert midpoint_excess(f, a, b, names=["u"]) == pytest.approx(phi(0.5) - (phi(0) + phi(1)) / 2, abs=1e-14)
    assert path_curve(f, a, b, names=["u"])["loss"] == pytest.approx([phi(i / 10) for i in range(11)], abs=1e-14)
    # phi is quadratic in t: the central difference is exact, phi'' = 2 (1.5 * 0.5)^2
    assert fd_curvature(f, a, b, names=["u"]) == pytest.approx(2 * 0.75 ** 2, rel=1e-9)
    assert fd_curvature(f, a, b, t=0.5, h=0.5, names=["u"]) == pytest.approx(2 * 0.75 ** 2, rel=1e-9)  # ends allowed
    assert predict_barrier(f, a, b, "mid", names=["u"]) == pytest.approx(-2 * 0.75 ** 2 / 8, rel=1e-12)
    with pytest.raises(ValueError, match="need 0 < h"):
        fd_curvature(f, a, b, h=0.0)
    with pytest.raises(ValueError, match="square"):
        quadratic(torch.ones(2, 3))
    with pytest.raises(ValueError, match="square"):
        quadratic(torch.ones(3))
    assert toy_path(*TOY_PATHS["same_valley"][:2])["barrier"] == pytest.approx(1 / 440 ** 2, rel=1e-9)  # float64


def test_model_loss_leaves_the_callers_model_alone_and_needs_labels():
    model = _mlp(0)
    model.train()
    f = model_loss(model, _xy())
    assert all(m.training for m in model.modules())
    assert float(f(params_of(model))) == pytest.approx(_ref_ce(model, params_of(model), *_xy())[0], rel=1e-12)
    with pytest.raises(ValueError, match="needs labels"):
        model_loss(model, _xy()[0])


def test_barrier_argmax_uses_the_chord_between_the_ends():
    curve = {"alpha": [0.0, 0.25, 0.5, 0.75, 1.0], "loss": [3.0, 2.5, 2.4, 2.2, 1.0]}  # excess 0, 0, .4, .7, 0
    assert barrier_argmax(curve) == 0.75 and barrier(curve) == pytest.approx(0.7, abs=1e-12)


def test_evaluate_passes_batchnorm_data_through():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3)).double()
    x, y = _xy(n=50)
    bn_x = 3 + 2 * _xy(n=60, seed=1)[0]
    theta = params_of(model)
    assert evaluate(model, theta, (x, y), bn_data=bn_x) != evaluate(model, theta, (x, y))


def _wm_objective(a, b, chain):
    return sum(float((a[k] * b[k]).sum()) for k in a)


def test_weight_matching_reaches_a_coordinatewise_optimum_with_biases():
    """Two hidden layers of 4 units: every layer's permutation is the best of all 24 given the other one."""
    import itertools

    torch.manual_seed(0)
    a, b = params_of(_mlp(0, dims=(5, 4, 4, 3))), params_of(_mlp(1, dims=(5, 4, 4, 3)))
    for k in ("0.bias", "2.bias"):  # large biases: the bias term must count, with the right sign
        a[k], b[k] = 3 * a[k] + 2, 3 * b[k] + 2
    chain = ["0", "2", "4"]
    perms = weight_matching(a, b, chain)
    best = _wm_objective(a, apply_permutation(b, chain, perms), chain)
    for layer in range(2):
        for p in itertools.permutations(range(4)):
            trial = list(perms)
            trial[layer] = torch.tensor(p)
            assert _wm_objective(a, apply_permutation(b, chain, trial), chain) <= best + 1e-9
    with pytest.raises(ValueError, match="need 2 permutations"):
        apply_permutation(b, chain, perms[:1])


def test_linear_chain_checks_every_pair_of_neighbours():
    assert linear_chain(nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 6), nn.ReLU(), nn.Linear(7, 3))) is None


def test_evaluator_rejects_bad_data_with_clear_errors():
    model, (x, y) = _mlp(0), _xy()
    theta = params_of(model)
    with pytest.raises(ValueError, match="needs labels"):
        evaluate(model, theta, x)
    with pytest.raises(ValueError, match="40 inputs and 39 labels"):
        evaluate(model, theta, (x, y[:-1]))
    with pytest.raises(ValueError, match="non-zero"):
        evaluate(model, theta, (x[:0], y[:0]))
    assert evaluate(model, theta, (x[:1], y[:1]))[1] in (0.0, 100.0)  # one sample is fine
    with pytest.raises(KeyError, match="no parameters named"):
        lerp(theta, theta, 0.5, names=["9.weight"])


def test_interpolate_reuses_given_ends_and_checks_alphas_and_labels():
    model, other, (x, y) = _mlp(0), _mlp(1), _xy()
    a, b = params_of(model), params_of(other)
    plain = interpolate(model, a, b, data=(x, y))
    same = interpolate(model, a, b, data=(x, y), ends=(evaluate(model, a, (x, y)), evaluate(model, b, (x, y))))
    assert same == plain
    tagged = interpolate(model, a, b, (0.0, 0.5, 1.0), data=(x, y), ends=((-1.0, -2.0), (-3.0, -4.0)))
    assert (tagged["loss"][0], tagged["err"][0], tagged["loss"][2], tagged["err"][2]) == (-1.0, -2.0, -3.0, -4.0)
    assert tagged["loss"][1] == plain["loss"][5]
    for bad in ((0.0, 1.5), (0.5, 0.0, 1.0), ()):
        with pytest.raises(ValueError, match="alphas"):
            interpolate(model, a, b, bad, data=(x, y))
    with pytest.raises(ValueError, match="covering label 3"):
        evaluate(model, a, (x, y + 1))  # labels 1..3, the model has 3 outputs


def test_default_layer_groups_are_linear_and_conv_layers_else_parametrised_modules():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3, bias=False))
    assert layer_groups(net) == {"0": ["0.weight", "0.bias"], "3": ["3.weight"]}
    assert layer_groups(net, [net[1]]) == {"1": ["1.weight", "1.bias"]}
    norm = nn.Sequential(nn.LayerNorm(4), nn.Sequential(nn.LayerNorm(4)))
    assert layer_groups(norm) == {"0": ["0.weight", "0.bias"], "1.0": ["1.0.weight", "1.0.bias"]}
    with pytest.raises(ValueError, match="not part of the model"):
        layer_groups(net, [nn.Linear(2, 2)])
