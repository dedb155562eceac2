"""NALSM: liquid wiring statistics, the LIF/STDP/astrocyte step against a float64 reference written here, the two
STDP kernels, the card's smoke checks, the branching factor against a loop reference, bit-identical resume of the
initialisation Learner, the readout, a tiny `full` through overrides, bad input."""
import math

import pytest
import torch

import paperzoo
from paperzoo.papers.nalsm import (
    AstroSTDP,
    LIFLiquidSim,
    LinearReadout,
    LiquidInitLearner,
    PlainSTDP,
    astro_ode_error,
    branching_factor,
    build_liquid,
    encode_rates,
    extract_features,
    rate_scale,
    regulation_check,
    stdp_pair_errors,
    synthetic_digits,
)
from paperzoo.train.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def small():
    return build_liquid((4, 4, 3), 30, seed=1)


def test_liquid_wiring_follows_the_card():
    lq = build_liquid((10, 10, 10), 784, seed=0)
    n = lq.n_res
    assert lq.counts()["input"] == round(0.15 * 784 * n)
    assert int(lq.is_exc.sum()) == 800
    pairs = lq.post * lq.n_all + lq.pre
    assert pairs.unique().numel() == lq.n_syn and not (lq.pre == lq.post).any()
    assert torch.all(pairs[1:] > pairs[:-1])  # CSR order
    res = lq.kind > 0
    assert torch.equal(lq.kind[res] == 1, lq.is_exc[lq.pre[res] - lq.n_inputs])
    assert (lq.pre[~res] < lq.n_inputs).all() and (lq.post >= lq.n_inputs).all()
    assert torch.equal(lq.w0[lq.kind == 1], torch.full_like(lq.w0[lq.kind == 1], 3.0))
    assert torch.equal(lq.w0[lq.kind == 2], torch.full_like(lq.w0[lq.kind == 2], -3.0))
    win = lq.w0[lq.kind == 0]
    assert win.abs().eq(3).all() and abs(float((win > 0).double().mean()) - 0.5) < 0.01
    # per (pre type, post type): realised count vs sum of C exp(-(D/3)^2) over pairs, within 5 binomial sd
    pos, t = lq.positions.double(), (~lq.is_exc).long()
    p = torch.exp(-torch.cdist(pos, pos).square() / 9.0)
    p.fill_diagonal_(0)
    pre_r, post_r = lq.recurrent()
    for (a, b), c in zip(((0, 0), (0, 1), (1, 0), (1, 1)), (0.2, 0.1, 0.3, 0.05)):
        m = (t[:, None] == b) & (t[None, :] == a)  # p[post, pre]
        expect = float((c * p)[m].sum())
        got = int(((t[pre_r] == a) & (t[post_r] == b)).sum())
        assert abs(got - expect) < 5 * math.sqrt(expect), ((a, b), got, expect)
    assert torch.equal(build_liquid((10, 10, 10), 784, seed=0).pre, lq.pre)
    assert not torch.equal(build_liquid((10, 10, 10), 784, seed=1).pre[:5000], lq.pre[:5000])


def test_encode_rates_sum_then_set_max():
    x = torch.tensor([[1.0, 3.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    r = encode_rates(x)
    assert torch.allclose(r, torch.tensor([[1 / 3, 1.0, 0, 0], [1 / 3, 1 / 3, 1 / 3, 1 / 3]]))
    assert rate_scale(x) == pytest.approx(0.75)
    assert torch.allclose(encode_rates(x[1:], scale=rate_scale(x)), r[1:])
    with pytest.raises(ValueError, match="blank"):
        encode_rates(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="scale"):
        encode_rates(x, scale=0.1)


def reference(lq, events, steps, w, rule=None, decay=1.0):
    """Float64 dense re-statement of the card's step order (W[post, pre] matrix, loops over time only)."""
    n_in, n_all = lq.n_inputs, lq.n_all
    wm = torch.zeros(n_all, n_all, dtype=torch.float64)
    wm[lq.post, lq.pre] = w.double()
    mask = wm != 0
    inh = torch.zeros(n_all, dtype=torch.bool)
    inh[n_in:] = ~lq.is_exc
    lo = torch.where(inh[None, :], -lq.w_max, torch.where(torch.arange(n_all)[None, :] < n_in, -lq.w_max, 0.0))
    hi = torch.where(inh[None, :], 0.0, lq.w_max)
    v, ref, timer, x = (torch.zeros(n_all, dtype=torch.float64) for _ in range(4))
    timer += 100
    a = eta = b_a = rule.eta_plus if rule else 0.0
    wa = rule.w_astro if rule else 0.0
    raster = []
    for t in range(steps):
        s = ((v >= 20) & (ref <= 0)).double()
        v = v * (1 - s)
        timer = timer * (1 - s)
        drive = torch.zeros(n_all, dtype=torch.float64)
        drive[:n_in] = 100.0 * events[t].double()
        v = v + wm @ torch.exp(-timer) + drive - v / 64.0
        timer = torch.clamp(timer + 1, max=100)
        ref = torch.where(s > 0, 2.0, ref - 1)
        raster.append(s[n_in:].clone())
        if rule:
            pot = torch.outer(s, x)  # S_post x_pre
            dep = torch.outer(x, s)  # x_post S_pre
            dw = torch.where(inh[None, :], -a * pot + eta * dep, eta * pot - a * dep)
            wm = torch.where(mask, torch.minimum(torch.maximum(wm + dw, lo), hi), wm)
            x = math.exp(-0.1) * (x + 0.1 * s)
            a = a + (wa * (s[n_in:].sum() - s[:n_in].sum()) + b_a - a) / 100.0
            eta, wa, b_a, a = eta * decay, wa * decay, b_a * decay, a * decay
    return torch.stack(raster), wm[lq.post, lq.pre]


@pytest.mark.parametrize("stdp", ["event", "dense"])
@pytest.mark.parametrize("rule,decay", [(None, 1.0), (AstroSTDP(w_astro=0.05), 0.99), (PlainSTDP(), 1.0)])
def test_simulator_matches_float64_reference(small, stdp, rule, decay):
    w = small.with_magnitude(2.5)
    events = torch.rand(80, 1, 30, generator=torch.Generator().manual_seed(2)) < 0.3
    plast = None if rule is None else AstroSTDP(eta_plus=rule.eta_plus, w_astro=rule.w_astro, decay=decay)
    out = LIFLiquidSim(small, stdp=stdp).run(torch.zeros(1, 30), 80, weights=w, plasticity=plast, events=events,
                                             record=True)
    r_ref, w_ref = reference(small, events[:, 0], 80, w, plast, decay)
    assert r_ref.sum() > 50  # the liquid is active
    assert torch.equal(out["raster"][0].double(), r_ref)
    assert torch.equal(out["counts"][0].double(), r_ref.sum(0))
    if plast is not None:
        assert torch.allclose(out["weights"][0].double(), w_ref, atol=1e-5)
        assert (out["weights"][0] - w).abs().max() > 1e-2  # plasticity did something


def test_stdp_kernels_agree_on_a_batch_and_leave_w_init_alone():
    lq = build_liquid((5, 5, 5), 100, seed=3)
    w0 = lq.w0.clone()
    p = torch.rand(3, 100, generator=torch.Generator().manual_seed(0)) * 0.2
    outs = [LIFLiquidSim(lq, stdp=k).run(p, 40, plasticity=AstroSTDP(decay=0.99), generator=torch.Generator().manual_seed(5))
            for k in ("event", "dense")]
    assert torch.equal(outs[0]["counts"], outs[1]["counts"])
    assert torch.allclose(outs[0]["weights"], outs[1]["weights"], atol=1e-5)
    assert torch.equal(lq.w0, w0)
    assert not torch.equal(outs[0]["weights"][0], outs[0]["weights"][1])  # each sample its own copy
    astro = LIFLiquidSim(lq).run(p, 30, plasticity=PlainSTDP(decay=0.99), generator=torch.Generator())["astro"]
    assert torch.allclose(astro[:, 0].double(), 0.15 * 0.99 ** torch.arange(30).double(), rtol=1e-5)


def test_refractory_and_input_timing():
    lq = build_liquid((2, 2, 2), 4, seed=0)
    out = LIFLiquidSim(lq).run(torch.ones(1, 4), 12, weights=torch.zeros(lq.n_syn), generator=torch.Generator())
    assert out["input_counts"].eq(4).all()  # spikes at 1, 4, 7, 10 (event -> fire next step, then 2 ms refractory)
    ev = torch.zeros(12, 1, 4, dtype=torch.bool)
    ev[3, 0, 0] = True
    out = LIFLiquidSim(lq).run(torch.zeros(1, 4), 12, weights=torch.zeros(lq.n_syn), events=ev)
    assert out["input_counts"][0].tolist() == [1, 0, 0, 0]


def test_card_smoke_checks():
    assert astro_ode_error()["astro_ode_err_100"] < 1e-12
    assert astro_ode_error()["astro_fixed_point_err"] < 1e-4
    for kernel in ("event", "dense"):
        r = stdp_pair_errors(kernel)
        assert r["stdp_pair_err"] < 1e-6
        assert r["dw_exc_pre_first"] > 0 > r["dw_exc_post_first"] and r["dw_inh_pre_first"] < 0 < r["dw_inh_post_first"]
    reg = regulation_check()
    assert reg["regulation_D"] > 0 and reg["regulation_dw_exc"] < -0.1 and reg["regulation_sign_ok"] == 1.0


def bf_loop(raster, lq, window=4, buffer=25):
    pre, post = lq.recurrent()
    out = []
    for r in raster:
        vals = []
        for n in range(lq.n_res):
            ins, outs = pre[post == n], post[pre == n]
            ratios = [float(r[t + 1:t + 1 + window][:, outs].sum()) / max(1.0, float(r[t - window:t][:, ins].sum()))
                      for t in range(buffer, r.shape[0] - buffer) if r[t, n]]
            vals.append(sum(ratios) / len(ratios) if ratios else float("nan"))
        v = torch.tensor(vals, dtype=torch.float64)
        out.append(float(v[~v.isnan()].mean()))
    return sum(out) / len(out)


def test_branching_factor_matches_loop_reference(small):
    raster = torch.rand(2, 70, small.n_res, generator=torch.Generator().manual_seed(0)) < 0.1
    assert branching_factor(raster, small) == pytest.approx(bf_loop(raster, small), rel=1e-12)
    assert branching_factor(raster, small, window=2, buffer=10) == pytest.approx(bf_loop(raster, small, 2, 10))
    with pytest.raises(ValueError, match="steps"):
        branching_factor(raster[:, :40], small)


def test_init_learner_resume_is_bit_identical(tmp_path, small):
    rates = torch.rand(2, 6, 30, generator=torch.Generator().manual_seed(0)) * 0.4  # 2 chunks (epochs) of 6

    def learner():
        return LiquidInitLearner(LIFLiquidSim(small), AstroSTDP(w_astro=0.05), ms_per_image=15)

    full = learner()
    h_full = full.fit(rates, epochs=4, run_dir=tmp_path / "a", seed=3, progress=False)
    first = learner()
    first.fit(rates, epochs=2, run_dir=tmp_path / "b", seed=3, progress=False)
    resumed = learner()
    h_res = resumed.fit(rates, epochs=4, run_dir=tmp_path / "b", resume=True, seed=3, progress=False)
    assert torch.equal(full.w, resumed.w) and not torch.equal(full.w, small.w0)
    assert [r["w_mean_input"] for r in h_full] == [r["w_mean_input"] for r in h_res]
    assert load_checkpoint(tmp_path / "b")[0] == 4
    other = learner()
    other.fit(rates, epochs=4, seed=4, progress=False)
    assert not torch.equal(other.w, full.w)
    with pytest.raises(TypeError):
        LiquidInitLearner(LIFLiquidSim(small), "stdp")


def test_readout_soft_targets_and_learning():
    ro = LinearReadout(4, 3)
    x, y = torch.rand(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    tgt = torch.nn.functional.one_hot(y, 3).float().softmax(1)
    assert tgt[0, 0] == pytest.approx(math.e / (math.e + 2))
    assert ro.loss(x, y).item() == pytest.approx(math.log(3))  # zero-initialised: uniform prediction
    ro.lin.weight.data.normal_()
    z = ro.lin(x / x.max())
    want = -(tgt * z.log_softmax(1)).sum(1).mean() + 5e-10 * 0.5 * ro.lin.weight.square().sum()
    assert ro.loss(x, y).item() == pytest.approx(want.item(), rel=1e-6)
    data = synthetic_digits(600, seed=0)
    feats = data.x.flatten(1)
    sets = [(feats[a:b], data.y[a:b]) for a, b in ((0, 400), (400, 500), (500, 600))]
    fit = LinearReadout(784, batch_size=50).fit(*sets, epochs=20, generator=torch.Generator().manual_seed(0))
    assert fit["test_acc"] > 90 and fit["best_epoch"] >= 1
    assert fit["test_acc"] == fit["test_acc_curve"][fit["best_epoch"] - 1]


def test_extract_features_records_and_validates(small):
    rates = torch.rand(5, 30, generator=torch.Generator().manual_seed(0)) * 0.3
    out = extract_features(LIFLiquidSim(small), small.w0, rates, steps=30, batch_size=2,
                           plasticity=AstroSTDP(decay=0.99), generator=torch.Generator().manual_seed(0), record=3)
    assert out["counts"].shape == (5, small.n_res) and out["raster"].shape == (3, 30, small.n_res)
    assert torch.equal(out["raster"].sum(1).float(), out["counts"][:3])
    with pytest.raises(ValueError):
        extract_features(LIFLiquidSim(small), small.w0, rates[:0], generator=torch.Generator())


def test_tiny_full_protocol_through_overrides(tmp_path):
    r = paperzoo.reproduce("nalsm", "full", seed=0, out=tmp_path / "f", progress=False,
                           overrides={"data": "synthetic", "dims": (3, 3, 3), "n_init": 4, "init_epochs": 2,
                                      "steps": 55, "n_train": 40, "n_val": 10, "n_test": 20, "batch_size": 20,
                                      "readout_epochs": 3, "readout_batch": 20, "bf_samples": 4})
    assert r.config["n_init"] == 4
    for k in ("test_acc", "stdp_test_acc", "gap_vs_stdp", "bf", "bf_gap", "ridge_test_acc"):
        assert math.isfinite(r.metrics[k]), k
    assert r.metrics["gap_vs_stdp"] == pytest.approx(r.metrics["test_acc"] - r.metrics["stdp_test_acc"])


def test_bad_input():
    with pytest.raises(ValueError, match="dims"):
        build_liquid((10, 10))
    with pytest.raises(ValueError, match="c must"):
        build_liquid(c=(0.2, 0.1, 0.3))
    lq = build_liquid((2, 2, 2), 4)
    sim = LIFLiquidSim(lq)
    with pytest.raises(ValueError, match="rates"):
        sim.run(torch.zeros(1, 5), 3)
    with pytest.raises(ValueError, match="probabilities"):
        sim.run(torch.full((1, 4), 1.5), 3)
    with pytest.raises(ValueError, match="events"):
        sim.run(torch.zeros(1, 4), 3, events=torch.zeros(2, 1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="weights"):
        sim.run(torch.zeros(1, 4), 3, weights=torch.zeros(3))
    with pytest.raises(ValueError, match="matmul"):
        LIFLiquidSim(lq, stdp="fast")
    with pytest.raises(ValueError):
        AstroSTDP(decay=1.5)
    with pytest.raises(ValueError, match="models"):
        paperzoo.reproduce("nalsm", "smoke", overrides={"models": ("lsm",)}, progress=False)
    with pytest.raises(ValueError, match="chunks"):
        paperzoo.reproduce("nalsm", "smoke", overrides={"init_epochs": 3}, progress=False)


def test_window_sums_and_bf_edges(small):
    from paperzoo.papers.nalsm.criticality import _window_sums

    r = torch.rand(2, 9, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for start, width in ((-4, 4), (1, 4), (-2, 3)):
        want = torch.stack([r[:, max(0, t + start):max(0, min(9, t + start + width))].sum(1) for t in range(9)], 1)
        assert torch.allclose(_window_sums(r, start, width), want)
    raster = torch.rand(3, 60, small.n_res, generator=torch.Generator().manual_seed(2)) < 0.15
    per = branching_factor(raster, small, window=1, buffer=20, per_sample=True)
    assert per.shape == (3,)
    assert [pytest.approx(float(v)) for v in per] == [bf_loop(raster[i:i + 1], small, 1, 20) for i in range(3)]
    with pytest.raises(ValueError, match="steps"):
        branching_factor(raster[:, :50], small)  # exactly 2 * buffer
    with pytest.raises(ValueError, match="raster"):
        branching_factor(raster[0], small)
    with pytest.raises(ValueError, match="window"):
        branching_factor(raster, small, window=0)


def test_liquid_helpers_and_shared_matmul_kernels(small):
    assert PlainSTDP(0.2).eta_plus == 0.2 and PlainSTDP(0.2).w_astro == 0.0
    c = small.counts()
    assert c["exc"] + c["inh"] == small.recurrent()[0].numel() and c["exc"] == int((small.kind == 1).sum())
    assert c["inh"] == int((small.kind == 2).sum()) > 0
    w = small.with_magnitude(0.7)
    assert torch.equal(w.abs(), torch.full_like(w, 0.7)) and torch.equal(w.sign(), small.w0.sign())
    with pytest.raises(ValueError, match="magnitude"):
        small.with_magnitude(0.0)
    p = torch.rand(4, 30, generator=torch.Generator().manual_seed(0)) * 0.3
    w = small.with_magnitude(2.0)
    runs = [LIFLiquidSim(small, matmul=m).run(p, 50, weights=w, generator=torch.Generator().manual_seed(1))
            for m in ("sparse", "dense")]
    assert torch.equal(runs[0]["counts"], runs[1]["counts"]) and runs[0]["counts"].sum() > 0


def test_synthetic_digits_and_input_checks():
    d = synthetic_digits(400, seed=3)
    assert d.x.shape == (400, 1, 28, 28) and set(d.x.unique().tolist()) <= {0.0, 1.0}
    assert set(d.y.tolist()) == set(range(10)) and (d.x.flatten(1).sum(1) > 0).all()
    assert torch.equal(synthetic_digits(400, seed=3).x, d.x) and not torch.equal(synthetic_digits(400, seed=4).x, d.x)
    x = d.x.flatten(1)
    on = x.mean(1).mean()  # density 0.15 * keep 0.8 + 0.85 * noise 0.02 = 0.137
    assert abs(float(on) - 0.137) < 0.01
    proto = torch.stack([x[d.y == k].mean(0) for k in range(10)])  # class means: ~0.8 on the prototype, ~0.02 off
    assert ((proto > 0.5).float().mean(1) - 0.15).abs().max() < 0.05
    assert float(proto[proto > 0.5].mean()) == pytest.approx(0.8, abs=0.05)
    assert float(proto[proto < 0.5].mean()) == pytest.approx(0.02, abs=0.01)
    with pytest.raises(ValueError, match="non-negative"):
        encode_rates(-torch.ones(2, 3))
    with pytest.raises(ValueError, match="non-negative"):
        encode_rates(torch.full((2, 3), float("nan")))
    with pytest.raises(ValueError, match="non-empty"):
        encode_rates(torch.ones(3))
    with pytest.raises(ValueError, match="non-empty"):
        rate_scale([[1.0]])
