"""gradient-noise: Eq. 1 exactly, the card's noise statistics, eta = 0 identity, checkpoint/resume
identity inside the kernel's fit, clip-then-noise order, the Table 1 bookkeeping (best vs average,
pooled over learning rates), the inits, the zero-init learning effect, bad input, the full protocol."""
import math
import statistics

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import paperzoo as pz
from paperzoo.data import TensorSet
from paperzoo.papers import gradient_noise as gn
from paperzoo.papers.gradient_noise import AnnealedGaussianGradientNoise, NoisyOptimizer, deep_mlp, sigma2
from paperzoo.train import DivergenceError, RunContext, fit, load_checkpoint, save_checkpoint


def _toy_data(n=256, d=20, k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return TensorSet(torch.randn(n, d, generator=g), torch.randint(0, k, (n,), generator=g))


def _toy_model(seed=3):
    torch.manual_seed(seed)
    return deep_mlp(20, 4, width=16, depth=4, init="he")


def _max_diff(a, b):
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters()))


# --- Eq. 1 ----------------------------------------------------------------------------------------

def test_sigma2_is_eq1_exactly():
    for t in (0, 1, 7, 100, 10_000, 10**9):
        for eta, gamma in ((0.3, 0.55), (0.01, 0.55), (1.0, 1.0), (0.5, 0.0)):
            assert sigma2(t, eta, gamma) == eta / (1 + t) ** gamma
    assert sigma2(0, 0.3, 0.55) == 0.3                                  # t counts from 0: sigma_0^2 = eta
    assert sigma2(99, 1.0, 0.5) == pytest.approx(0.1, rel=1e-15)          # 1 / sqrt(100)
    assert sigma2(5, 0.7, 0.0) == 0.7                                    # gamma = 0: fixed-variance ablation
    assert sigma2(3) == 0.3 / 4 ** 0.55                                  # defaults: the paper's gamma, eta 0.3
    noise = AnnealedGaussianGradientNoise([torch.zeros(1)], eta=0.01)
    assert noise.sigma2(15) == 0.01 / 16 ** 0.55 and (noise.eta, noise.gamma) == (0.01, 0.55)


def test_noisy_step_adds_exactly_sigma_t_times_the_dedicated_normals():
    """With a zero true gradient and plain SGD (lr) the update is -lr * sigma_t * z_t, where z_t is
    the t-th flat draw of torch.Generator(seed): the whole update rule, checked in float64."""
    p = nn.Parameter(torch.zeros(3, 5, dtype=torch.float64))
    q = nn.Parameter(torch.zeros(7, dtype=torch.float64))
    opt = NoisyOptimizer(torch.optim.SGD([p, q], lr=0.5), eta=0.3, gamma=0.55, seed=11)
    gen = torch.Generator().manual_seed(11)
    for t in range(4):
        assert opt.sigma2() == 0.3 / (1 + t) ** 0.55
        before = torch.cat([p.detach().flatten(), q.detach()]).clone()
        p.grad, q.grad = torch.zeros_like(p), torch.zeros_like(q)
        opt.step()
        z = torch.randn(22, generator=gen, dtype=torch.float64)
        after = torch.cat([p.detach().flatten(), q.detach()])
        torch.testing.assert_close(after - before, -0.5 * math.sqrt(0.3 / (1 + t) ** 0.55) * z, rtol=1e-12, atol=0)
    assert opt.t == 4 and opt.eta == 0.3 and opt.gamma == 0.55


def test_noise_is_added_to_the_true_gradient_and_skips_params_without_grad():
    """g + sigma z (not a replacement of g), float32 grads get float32 noise, grad-less params untouched."""
    p, q = torch.ones(4, requires_grad=True), torch.zeros(3, requires_grad=True)
    p.grad = torch.full((4,), 2.0)
    noise = AnnealedGaussianGradientNoise([{"params": [p, q]}], eta=0.5, gamma=0.55, seed=4)
    assert noise.apply(0) == math.sqrt(0.5)
    z = torch.randn(4, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(p.grad, 2.0 + math.sqrt(0.5) * z)
    assert q.grad is None and p.grad.dtype == torch.float32
    half = torch.zeros(5, dtype=torch.bfloat16, requires_grad=True)
    half.grad = torch.zeros(5, dtype=torch.bfloat16)
    AnnealedGaussianGradientNoise([half], eta=1.0, seed=0).apply(0)
    assert half.grad.dtype == torch.bfloat16 and bool((half.grad != 0).all())


def test_noise_statistics_match_card_smoke_thresholds():
    s = gn.noise_statistics(eta=0.3, gamma=0.55, steps=(0, 100, 10_000), n=100_000, seed=0)
    assert s["var_rel_err"] < 0.03 and s["mean_z"] < 3.0 and s["lag1_abs_corr"] < 0.02
    assert [r["t"] for r in s["rows"]] == [0, 100, 10_000] and s["rows"][1]["sigma2"] == 0.3 / 101 ** 0.55
    row = s["rows"][-1]                     # discriminates: a wrong exponent gives another variance
    assert abs(row["var"] / (0.3 / 10_001 ** 0.5) - 1) > 0.3
    assert s["var_rel_err"] == max(r["var_rel_err"] for r in s["rows"]) > 0
    assert s["lag1_abs_corr"] == max(abs(r["lag1_corr"]) for r in s["rows"]) > 0
    assert s["mean_z"] == max(r["mean_z"] for r in s["rows"]) > 0
    assert row["var_rel_err"] == pytest.approx(abs(row["var"] / row["sigma2"] - 1))


# --- identities -----------------------------------------------------------------------------------

def test_eta0_is_bit_identical_to_base_and_eta_positive_is_not():
    ident = gn.eta0_identity(steps=10)
    assert ident["max_abs_diff"] == 0.0 and len(ident["per_optimizer"]) == 5
    m1, m2 = _toy_model(), _toy_model()
    x, y = _toy_data().x[:32], _toy_data().y[:32]
    for m, opt in ((m1, torch.optim.SGD(m1.parameters(), lr=0.1)),
                   (m2, NoisyOptimizer(torch.optim.SGD(m2.parameters(), lr=0.1), eta=0.01, seed=0))):
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()
    assert _max_diff(m1, m2) > 1e-4


def test_same_seed_same_noise_after_checkpoint_roundtrip_and_missing_state_breaks_it(tmp_path):
    r = gn.restore_identity()
    assert r["max_abs_diff"] == 0.0 and set(r["per_optimizer"]) == {"sgd_momentum", "adam"}
    assert gn.restore_identity(steps_before=0, steps_after=3)["max_abs_diff"] == 0.0  # before the RNG exists
    m, d = _toy_model(), _toy_data()
    opt = NoisyOptimizer(torch.optim.SGD(m.parameters(), lr=0.05), eta=0.3, seed=1)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(m(d.x[:32]), d.y[:32]).backward()
        opt.step()
    save_checkpoint(tmp_path, 3, {"optimizer": opt.state_dict()})
    _, st = load_checkpoint(tmp_path)
    gs = st["optimizer"]["gradient_noise"]
    assert gs["rng"].dtype == torch.uint8 and gs["t"] == 3 and gs["seed"] == 1 and gs["rng_device"] == "cpu"
    a = NoisyOptimizer(torch.optim.SGD([nn.Parameter(torch.zeros(50))], lr=1.0), eta=0.3, seed=1)
    b = NoisyOptimizer(torch.optim.SGD([nn.Parameter(torch.zeros(50))], lr=1.0), eta=0.3, seed=1)
    a.load_state_dict(st["optimizer"] | {"state": {}, "param_groups": a.state_dict()["param_groups"]})
    b.t = 3  # same step, but the generator starts from the seed instead of the saved state
    for o in (a, b):
        o.param_groups[0]["params"][0].grad = torch.zeros(50)
        o.step()
    assert not torch.equal(a.param_groups[0]["params"][0], b.param_groups[0]["params"][0])
    fresh = AnnealedGaussianGradientNoise([torch.zeros(2)], eta=0.2, seed=3).state_dict()
    assert fresh["rng"].numel() == 0 and fresh["rng_device"] == "" and fresh["eta"] == 0.2
    pending = AnnealedGaussianGradientNoise([torch.zeros(2)], eta=0.2, seed=3)
    pending.load_state_dict(gs)                    # loaded, generator not yet created: state_dict passes it on
    again = pending.state_dict()
    assert again["rng_device"] == "cpu" and torch.equal(again["rng"], gs["rng"]) and again["seed"] == 1


def test_resume_inside_kernel_fit_is_bit_identical(tmp_path):
    data = _toy_data()

    def make():
        m = _toy_model()
        return m, NoisyOptimizer(torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9), eta=0.3, seed=5)

    kw = dict(epochs=3, batch_size=32, clip_grad_norm=1.0, seed=1, progress=False)
    m1, o1 = make()
    fit(m1, data, optimizer=o1, **kw)

    class Kill(Exception):
        pass

    def kill_at_13(step, loss):
        if step == 13:
            raise Kill

    m2, o2 = make()
    with pytest.raises(Kill):
        fit(m2, data, optimizer=o2, run_dir=tmp_path, ckpt_every=5, on_step=kill_at_13, **kw)
    m3, o3 = make()
    fit(m3, data, optimizer=o3, run_dir=tmp_path, ckpt_every=5, resume=True, **kw)
    assert o3.t == o1.t == 24 and _max_diff(m1, m3) == 0.0
    m4, o4 = make()
    o4.noise.eta = 0.0  # sanity: the noise matters for the final weights
    fit(m4, data, optimizer=o4, **kw)
    assert _max_diff(m1, m4) > 1e-3


def test_dedicated_rng_leaves_global_stream_untouched():
    m = _toy_model()
    opt = NoisyOptimizer(torch.optim.SGD(m.parameters(), lr=0.1), eta=1.0)  # seed=None: read, not drawn
    state = torch.get_rng_state()
    for p in m.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(123)
    s1 = NoisyOptimizer(torch.optim.SGD(m.parameters(), lr=0.1)).noise.seed
    torch.manual_seed(123)
    assert NoisyOptimizer(torch.optim.SGD(m.parameters(), lr=0.1)).noise.seed == s1 != 123
    torch.manual_seed(124)
    assert NoisyOptimizer(torch.optim.SGD(m.parameters(), lr=0.1)).noise.seed != s1
    # The derivation is part of the reproducibility contract (old runs with seed=None must replay).
    assert s1 == (123 * 0x9E3779B1 + 0x6E6F697365) % (2**63 - 1)


def test_noise_is_added_after_clipping_in_fit():
    """fit clips, then calls optimizer.step(): the noise itself is not clipped. With a clip of 1e-12
    the first SGD update is -lr * sigma_0 * z_0 (+ a clipped gradient of norm <= 1e-12)."""
    torch.manual_seed(0)
    m = nn.Linear(20, 4)
    before = torch.cat([p.detach().flatten() for p in m.parameters()]).clone()
    opt = NoisyOptimizer(torch.optim.SGD(m.parameters(), lr=0.1), eta=0.3, seed=9)
    fit(m, _toy_data(n=32), epochs=1, batch_size=32, optimizer=opt, clip_grad_norm=1e-12, progress=False)
    z = torch.randn(84, generator=torch.Generator().manual_seed(9))
    after = torch.cat([p.detach().flatten() for p in m.parameters()])
    torch.testing.assert_close(after - before, -0.1 * math.sqrt(0.3) * z, atol=1e-6, rtol=1e-5)


def test_works_with_lr_scheduler_and_param_groups_are_shared():
    m = _toy_model()
    base = torch.optim.SGD(m.parameters(), lr=0.1)
    opt = NoisyOptimizer(base, eta=0.1, seed=0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for p in m.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    sched.step()
    assert base.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.05
    opt.load_state_dict(opt.state_dict())  # base rebinds its containers; the wrapper follows
    assert opt.param_groups is base.param_groups and opt.state is base.state and opt.defaults is base.defaults
    extra = nn.Parameter(torch.zeros(3))
    opt.add_param_group({"params": [extra]})
    extra.grad = torch.zeros(3)
    opt.step()
    assert bool((extra != 0).all()) and "eta=0.1" in repr(opt)
    opt.zero_grad()
    assert extra.grad is None


def test_closure_is_evaluated_once_and_its_loss_returned():
    p = nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = NoisyOptimizer(torch.optim.SGD([p], lr=0.1), eta=0.0)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss

    assert float(opt.step(closure).detach()) == 5.0 and len(calls) == 1
    torch.testing.assert_close(p.detach(), torch.tensor([0.8, -1.6]))


# --- bad input ------------------------------------------------------------------------------------

def test_bad_hyperparameters_and_steps_raise_naming_the_argument():
    with pytest.raises(ValueError, match="eta"):
        sigma2(0, -0.1, 0.55)
    with pytest.raises(ValueError, match="gamma"):
        sigma2(0, 0.3, -0.5)
    with pytest.raises(ValueError, match="eta"):
        NoisyOptimizer(torch.optim.SGD(_toy_model().parameters(), lr=0.1), eta=float("nan"))
    with pytest.raises(ValueError, match="gamma"):
        sigma2(0, 0.3, float("inf"))
    with pytest.raises(TypeError, match="gamma"):
        AnnealedGaussianGradientNoise([torch.zeros(2)], gamma=True)
    with pytest.raises(TypeError, match="eta"):
        AnnealedGaussianGradientNoise([torch.zeros(2)], eta="0.3")
    with pytest.raises(ValueError, match="step"):
        sigma2(-1, 0.3, 0.55)
    with pytest.raises(TypeError, match="step"):
        sigma2(1.5, 0.3, 0.55)
    with pytest.raises(TypeError, match="step"):
        sigma2(True, 0.3, 0.55)
    with pytest.raises(ValueError, match="params"):
        AnnealedGaussianGradientNoise([])
    with pytest.raises(TypeError, match="params"):
        AnnealedGaussianGradientNoise(3)
    with pytest.raises(TypeError, match="tensors"):
        AnnealedGaussianGradientNoise([{"params": ["w"]}])
    with pytest.raises(ValueError, match="seed"):
        AnnealedGaussianGradientNoise([torch.zeros(2)], seed=-1)
    assert sigma2(0, 0.0, 0.0) == 0.0 and AnnealedGaussianGradientNoise(torch.zeros(2), seed=0).seed == 0
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.zeros(2, dtype=torch.float32).to_sparse()
    with pytest.raises(TypeError, match="sparse"):
        AnnealedGaussianGradientNoise([p], eta=0.1).apply(0)
    q = torch.zeros(2, dtype=torch.int64)
    q.grad = torch.zeros(2, dtype=torch.int64)
    with pytest.raises(TypeError, match="floating"):
        AnnealedGaussianGradientNoise([q], eta=0.1).apply(0)
    p.grad = torch.zeros(2)
    assert AnnealedGaussianGradientNoise([p], eta=0.0).apply(0) == 0.0 and torch.equal(p.grad, torch.zeros(2))


def test_base_must_be_a_first_order_torch_optimizer():
    m = _toy_model()
    for bad in (m, m.parameters(), "sgd", None):
        with pytest.raises(TypeError, match="base_optimizer"):
            NoisyOptimizer(bad)
    with pytest.raises(TypeError, match="LBFGS"):
        NoisyOptimizer(torch.optim.LBFGS(m.parameters()))
    with pytest.raises(TypeError, match="twice"):
        NoisyOptimizer(NoisyOptimizer(torch.optim.SGD(m.parameters(), lr=0.1)))


def test_bad_state_dicts_raise():
    m = _toy_model()
    opt = NoisyOptimizer(torch.optim.SGD(m.parameters(), lr=0.1))
    with pytest.raises(KeyError, match="gradient_noise"):
        opt.load_state_dict(torch.optim.SGD(m.parameters(), lr=0.1).state_dict())
    sd = opt.state_dict()
    sd["gradient_noise"] = dict(sd["gradient_noise"], rng=torch.zeros(4, dtype=torch.float32))
    with pytest.raises(TypeError, match="'rng' must be a 1-D uint8 tensor"):
        opt.load_state_dict(sd)
    sd["gradient_noise"] = {k: v for k, v in opt.state_dict()["gradient_noise"].items() if k != "seed"}
    with pytest.raises(KeyError, match=r"missing \['seed'\]"):
        opt.load_state_dict(sd)
    with pytest.raises(KeyError, match="not saved by a NoisyOptimizer .load a plain optimizer's state into"):
        opt.load_state_dict(torch.optim.SGD(m.parameters(), lr=0.1).state_dict())
    for p in m.parameters():
        p.grad = torch.zeros_like(p)
    assert opt.step() is None


def test_nan_gradients_pass_through_and_fit_stops_with_divergence_error():
    p = torch.zeros(6, requires_grad=True)
    p.grad = torch.tensor([0.0, float("nan"), 0.0, float("inf"), 0.0, 0.0])
    AnnealedGaussianGradientNoise([p], eta=0.3, seed=0).apply(0)
    assert torch.isnan(p.grad[1]) and torch.isinf(p.grad[3]) and torch.isfinite(p.grad[[0, 2, 4, 5]]).all()
    assert (p.grad[[0, 2, 4, 5]] != 0).all()
    m = _toy_model()
    next(m.parameters()).register_hook(lambda g: g * float("nan"))
    opt = NoisyOptimizer(torch.optim.SGD(m.parameters(), lr=0.1), eta=0.3, seed=0)
    with pytest.raises(DivergenceError, match="step 1"):
        fit(m, _toy_data(), epochs=1, batch_size=32, optimizer=opt, progress=False)


# --- model ----------------------------------------------------------------------------------------

def test_deep_mlp_inits_follow_table1():
    torch.manual_seed(0)
    simple = deep_mlp()
    lins = simple.linears
    assert len(lins) == 21 and [lin.out_features for lin in lins] == [50] * 20 + [10] and lins[0].in_features == 784
    w = torch.cat([lin.weight.detach().flatten() for lin in lins])
    assert abs(float(w.std()) - 0.1) < 0.002 and abs(float(w.mean())) < 0.002
    assert all(float(lin.bias.detach().abs().max()) == 0 for lin in lins)
    zero = deep_mlp(init="zero")
    assert all(float(p.detach().abs().max()) == 0 for p in zero.parameters())
    he = deep_mlp(init="he")
    assert abs(float(he.linears[5].weight.detach().std()) - math.sqrt(2 / 50)) < 0.02
    assert abs(float(he.linears[0].weight.detach().std()) - math.sqrt(2 / 784)) < 0.003
    assert abs(float(deep_mlp(width=400, depth=1, init_std=0.3).linears[0].weight.detach().std()) - 0.3) < 0.003
    torch.manual_seed(0)
    torch_default = deep_mlp(init="torch")
    assert float(torch_default.linears[1].bias.detach().abs().max()) > 0
    out = deep_mlp()(torch.rand(3, 1, 28, 28))                       # flattens its input itself
    assert out.shape == (3, 10)
    assert pz.create_model("gradnoise_deep_mlp", depth=3).linears[0].in_features == 784
    with pytest.raises(ValueError, match="init"):
        deep_mlp(init="xavier")
    with pytest.raises(ValueError, match="depth"):
        deep_mlp(depth=0)
    with pytest.raises(ValueError, match="width"):
        deep_mlp(width=2.5)
    with pytest.raises(ValueError, match="init_std"):
        deep_mlp(init_std=-0.1)
    with pytest.raises(ValueError, match="init"):
        gn.init_deep_mlp(deep_mlp(depth=1), "ones")


def test_zero_init_without_noise_is_a_constant_predictor_and_noise_breaks_the_symmetry():
    """Table 1 Exp 6, exactly: from all-zero weights SGD only ever moves the output bias (every other
    gradient is 0), so predictions are constant; noise moves every parameter. Learning effect with a
    margin on a small zero-init net (depth 3, width 16): noise reaches >= 50% on 4 classes, SGD stays constant."""
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 20, generator=g) * 3
    y = torch.randint(0, 4, (512,), generator=g)
    data = TensorSet(centers[y] + torch.randn(512, 20, generator=g), y)
    accs = {}
    for eta in (0.0, 0.05):
        torch.manual_seed(0)
        m = deep_mlp(20, 4, width=16, depth=3, init="zero")
        opt = NoisyOptimizer(torch.optim.SGD(m.parameters(), lr=0.1), eta=eta, seed=2)
        fit(m, data, epochs=6, batch_size=32, optimizer=opt, clip_grad_norm=10.0, progress=False, seed=1)
        pred = m(data.x).argmax(1)
        accs[eta] = float((pred == data.y).float().mean())
        moved = [float(p.detach().abs().max()) > 0 for p in m.parameters()]
        if eta == 0:
            assert moved == [False] * 7 + [True] and pred.unique().numel() == 1
        else:
            assert all(moved)
    assert accs[0.0] <= 0.35 and accs[0.05] >= 0.5, accs


# --- Table 1 bookkeeping --------------------------------------------------------------------------

def _run(init, clip, eta, lr, seed, acc):
    return {"init": init, "clip": clip, "eta": eta, "lr": lr, "seed": seed, "test_acc": acc}


def test_table1_cells_pool_lrs_and_seeds_and_the_headline_is_mean_not_best():
    runs = [_run("simple", None, 0.0, 0.1, 0, 89.0), _run("simple", None, 0.0, 0.01, 0, 11.35),
            _run("simple", None, 0.0, 0.1, 1, 11.35), _run("simple", None, 0.0, 0.01, 1, 11.35),
            _run("simple", None, 0.01, 0.1, 0, 96.0), _run("simple", None, 0.01, 0.01, 0, 60.0),
            _run("simple", None, 0.01, 0.1, 1, 94.0), _run("simple", None, 0.01, 0.01, 1, 11.35),
            _run("zero", 10.0, 0.0, 0.1, 0, 11.35), _run("zero", 10.0, 0.01, 0.1, 0, 90.0),
            _run("zero", 10.0, 0.01, 0.01, 0, 90.0),
            _run("simple", 100.0, 0.3, 0.05, 0, 99.0)]     # sweep-like run of another row: ignored
    m = gn.table1_metrics(runs[:-1])
    assert m["simple_noclip_plain_best"] == 89.0 and m["simple_noclip_noise_best"] == 96.0
    assert m["simple_noclip_plain_mean"] == pytest.approx(statistics.fmean([89.0, 11.35, 11.35, 11.35]))
    assert m["simple_noclip_noise_mean"] == pytest.approx(statistics.fmean([96.0, 60.0, 94.0, 11.35]))
    assert m["simple_noclip_gain_mean"] == pytest.approx(m["simple_noclip_noise_mean"] - m["simple_noclip_plain_mean"])
    assert m["simple_noclip_gain_mean"] == pytest.approx(65.3375 - 30.7625)           # 34.575, not best gain 7.0
    assert m["simple_noclip_gain_best"] == pytest.approx(7.0)
    assert m["zero_clip10_gain_mean"] == pytest.approx(78.65) and m["zero_clip10_plain_mean"] == 11.35
    assert m["zero_clip10_noise_mean"] == 90.0 and m["zero_clip10_plain_best"] == 11.35
    assert not any(k.startswith(("simple_clip100", "he_")) for k in m)
    with pytest.raises(ValueError, match="simple_clip100"):
        gn.table1_metrics(runs)                         # a row needs both halves
    rows = gn.table1_rows(runs[:-1])
    assert len(rows) == 8 and [r["experiment"] for r in rows] == [1] * 4 + [6] * 4
    first = {(r["noise"], r["stat"]): r for r in rows if r["experiment"] == 1}
    assert first[("no", "best")]["paper"] == 89.9 and first[("yes", "mean")]["paper"] == 52.7
    assert first[("yes", "mean")]["ours"] == round(m["simple_noclip_noise_mean"], 2) and first[("no", "mean")]["runs"] == 4
    assert rows[4]["clip"] == 10.0 and rows[0]["clip"] == "none" and [r["runs"] for r in rows[4:]] == [1, 1, 2, 2]
    assert list(rows[0]) == ["experiment", "init", "clip", "noise", "stat", "runs", "ours", "paper"]
    assert [(r["init"], r["noise"], r["stat"]) for r in rows[4:]] == [
        ("zero", "no", "best"), ("zero", "no", "mean"), ("zero", "yes", "best"), ("zero", "yes", "mean")]


def test_paper_cells_and_bands():
    assert gn.TABLE1["simple_noclip"] == (89.9, 43.1, 96.7, 52.7) and gn.TABLE1["zero_clip10"] == (11.4, 10.1, 94.5, 49.7)
    assert gn.ROWS["zero_clip10"] == (6, "zero", 10.0) and gn.ROWS["simple_noclip"] == (1, "simple", None)
    claims = {c.metric: c for c in gn.PAPER.claims}
    assert claims["simple_noclip_gain_mean"].paper == 9.6 and gn.PAPER.main_metric == "simple_noclip_gain_mean"
    assert claims["zero_clip10_plain_best"].band("cpu").contains(11.35)
    assert not claims["zero_clip10_plain_best"].band("cpu").contains(11.5)
    assert not claims["simple_noclip_gain_mean"].band("cpu").contains(0.0)


def test_summarise_best_and_mean_per_cell():
    runs = [_run("simple", 100.0, 0.1, 0.05, s, a) for s, a in enumerate((90.0, 95.0))]
    runs.append(_run("simple", 100.0, 0.0, 0.05, 0, 11.35))
    cells = {(c["eta"], c["lr"]): c for c in gn.summarise(runs)}
    assert cells[(0.1, 0.05)]["best"] == 95.0 and cells[(0.1, 0.05)]["mean"] == 92.5 and cells[(0.1, 0.05)]["n"] == 2
    assert cells[(0.0, 0.05)]["n"] == 1
    assert gn.summarise(runs, by=("init",))[0]["mean"] == pytest.approx((90 + 95 + 11.35) / 3)


def test_train_run_pairs_noise_and_no_noise_on_the_same_init_and_batches(tmp_path):
    """eta = 0 through train_run is exactly fit with bare SGD from the same seeded init; eta > 0 differs."""
    data = _toy_data(n=128)
    kw = dict(init="simple", clip=0.05, lr=0.05, epochs=2, batch_size=32, depth=3, width=8)
    plain = gn.train_run(RunContext("cpu", seed=4, out=tmp_path / "a"), data, data, eta=0.0, **kw)
    noisy = gn.train_run(RunContext("cpu", seed=4, out=tmp_path / "b"), data, data, eta=0.5, **kw)
    torch.manual_seed(4)
    ref = deep_mlp(20, 4, width=8, depth=3)
    res = fit(ref, data, epochs=2, batch_size=32, optimizer=torch.optim.SGD(ref.parameters(), lr=0.05),
              clip_grad_norm=0.05, seed=4, progress=False)
    assert plain["final_loss"] == res.last_loss and noisy["final_loss"] != res.last_loss
    acc = 100.0 * pz.train.accuracy(ref, data)
    assert plain["test_acc"] == round(acc, 2) and len(plain["curve"]) == 2 and plain["diverged"] is False
    assert (plain["eta"], plain["lr"], plain["clip"], plain["seed"], plain["init"]) == (0.0, 0.05, 0.05, 4, "simple")
    # The noisy run is exactly fit + NoisyOptimizer(SGD, eta, gamma, seed derived from the run seed), clip first.
    torch.manual_seed(4)
    ref = deep_mlp(20, 4, width=8, depth=3)
    opt = NoisyOptimizer(torch.optim.SGD(ref.parameters(), lr=0.05), eta=0.5, gamma=0.55, seed=1_000_003 * 4 + 777_767)
    res = fit(ref, data, epochs=2, batch_size=32, optimizer=opt, clip_grad_norm=0.05, seed=4, progress=False)
    assert noisy["final_loss"] == res.last_loss and opt.t == 8
    odd = TensorSet(data.x[:7], data.y[:7])                         # 7 test images: accuracies like 42.857...%
    r = gn.train_run(RunContext("cpu", seed=4, out=tmp_path / "c"), data, odd, eta=0.5, gamma=0.0, **kw)
    assert r["final_loss"] != noisy["final_loss"]                    # gamma reaches the noise
    unclipped = gn.train_run(RunContext("cpu", seed=4, out=tmp_path / "e"), data, data, eta=0.0, **(kw | {"clip": None}))
    assert unclipped["final_loss"] != plain["final_loss"]             # the clip (active at 0.05) reaches fit
    assert all(a == round(100 * round(a * 7 / 100) / 7, 2) for a in r["curve"])      # k/7 in %, 2 decimals
    defaults = gn.train_run(RunContext("cpu", seed=4, out=tmp_path / "d"), data, data, init="simple", clip=None,
                            eta=0.0, lr=0.05, epochs=1)
    torch.manual_seed(4)
    ref = deep_mlp(20, 4)                                               # 20 x 50, batch 128: the paper's net
    res = fit(ref, data, epochs=1, batch_size=128, optimizer=torch.optim.SGD(ref.parameters(), lr=0.05), seed=4,
              progress=False)
    assert defaults["final_loss"] == res.last_loss and res.steps == 1


def test_prepare_data_flattens_and_scales():
    from paperzoo.data import Splits

    sp = Splits("toy", TensorSet(torch.rand(10, 1, 2, 2), torch.arange(10) % 3, "toy-train"),
                TensorSet(torch.rand(6, 1, 2, 2), torch.arange(6) % 3, "toy-test"))
    tr, te = gn.prepare_data(sp, 4, 5, scale=255.0)
    assert tr.x.shape == (4, 4) and te.x.shape == (5, 4)
    torch.testing.assert_close(tr.x, sp.train.x[:4].reshape(4, 4) * 255.0)
    tr, te = gn.prepare_data(sp)
    assert len(tr) == 10 and len(te) == 6 and torch.equal(tr.x, sp.train.x.reshape(10, 4))
    with pytest.raises(ValueError, match="scale"):
        gn.prepare_data(sp, scale=0)
    with pytest.raises(ValueError, match="11"):
        gn.prepare_data(sp, 11)
    with pytest.raises(ValueError, match="asked for 0"):
        gn.prepare_data(sp, 0)
    tr, te = gn.prepare_data(sp, 1, 6)
    assert len(tr) == 1 and len(te) == 6 and (tr.name, te.name) == ("toy-train", "toy-test")


# --- protocols ------------------------------------------------------------------------------------

def test_tiny_full_protocol_runs_every_row_and_the_sweep_and_resumes(tmp_path, require_data, monkeypatch):
    require_data("mnist")
    tiny = dict(seeds=1, lrs=(0.1,), epochs=1, n_train=256, n_test=200, sweep_etas=(0.1,), sweep_lrs=(0.05,),
                sweep_seeds=1)
    r = pz.reproduce("gradient-noise", "full", out=tmp_path, progress=False, overrides=tiny)
    assert list(r.config["rows"]) == list(gn.ROWS) and r.config["seeds"] == 1
    assert len(r.details["runs"]) == 2 * len(gn.ROWS) and len(r.details["sweep_runs"]) == 1
    table = r.tables["table1"]
    assert len(table["rows"]) == 4 * len(gn.ROWS) and "paper" in table["columns"]
    assert set(r.tables) >= {"table1", "sweep", "noise_statistics"} and set(r.curves) == set(gn.ROWS)
    assert all(v.verdict != "not measured" for v in r.verdicts)
    for row in gn.ROWS:
        a = [x["test_acc"] for x in r.details["runs"] if (x["init"], x["clip"]) == gn.ROWS[row][1:]]
        assert r.metrics[f"{row}_gain_mean"] == pytest.approx(a[1] - a[0])
    from paperzoo.papers.gradient_noise import reproduce as rep

    def no_training(*a, **k):
        raise AssertionError("a cached run was retrained on --resume")

    monkeypatch.setattr(rep, "train_run", no_training)
    r2 = pz.reproduce("gradient-noise", "full", out=tmp_path, progress=False, overrides=tiny, resume=True)
    assert r2.details["runs"] == r.details["runs"] and r2.metrics == r.metrics
    with pytest.raises(ValueError, match="rows"):
        pz.reproduce("gradient-noise", "smoke", out=tmp_path / "bad", progress=False, overrides={"rows": ("nope",)})


def test_a_diverged_run_counts_as_what_its_weights_predict(tmp_path, monkeypatch):
    data = TensorSet(_toy_data(n=64).x * 1e4, _toy_data(n=64).y)
    r = gn.train_run(RunContext("cpu", seed=0, out=tmp_path), data, data, init="he", clip=None, eta=0.0, lr=50.0,
                     epochs=3, batch_size=16, depth=3, width=8)
    assert r["diverged"] and math.isnan(r["final_loss"]) and len(r["curve"]) == 3 and 0 <= r["test_acc"] <= 100
    from paperzoo.papers.gradient_noise import experiment

    def diverge_in_epoch_2(model, train, *, eval_fn, **kw):      # epoch 1 evaluated, then NaN weights
        eval_fn(model, 1)
        with torch.no_grad():
            model.linears[-1].bias[2] = float("nan")
        raise DivergenceError("loss is nan at step 9")

    monkeypatch.setattr(experiment, "fit", diverge_in_epoch_2)
    r = gn.train_run(RunContext("cpu", seed=0, out=tmp_path / "b"), data, data, init="he", clip=None, eta=0.0, lr=0.1,
                     epochs=4, batch_size=16, depth=3, width=8)
    nan_acc = round(100 * float((data.y == 2).float().mean()), 2)       # a NaN logit wins the argmax
    assert r["diverged"] and len(r["curve"]) == 4 and r["curve"][1:] == [nan_acc] * 3 and r["test_acc"] == nan_acc
