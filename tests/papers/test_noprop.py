"""NoProp-DT: schedule values and identities, the inference chain against a float64 reference, Eq. 8 by
hand, locality, the back-prop baseline (uses every class), learning on blobs (smoke), a tiny `full`
(MNIST + CIFAR-10 code path) through overrides, checkpoint/resume, the paper's defaults, bad input."""
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import paperzoo
import paperzoo.papers.noprop.learner as learner_mod
import paperzoo.papers.noprop.reproduce as reproduce_mod
from paperzoo.data import Splits, TensorSet
from paperzoo.data.synthetic import blobs
from paperzoo.nn import count_params
from paperzoo.papers.noprop import (
    BackpropBaseline,
    DenoiseBlockCNN,
    DenoiseBlockMLP,
    NoPropDT,
    NoPropLearner,
    chain_metrics,
    class_prototypes,
    noprop_chain_cnn,
    schedules,
    train_backprop_baseline,
)
from paperzoo.results import load_results
from paperzoo.train import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _mlp_model(T=3, C=2, emb="onehot", cls=NoPropDT, **kw):
    d = kw.get("emb_dim") or C
    return cls(lambda: DenoiseBlockMLP(10, C, d, fc=(16, 16)), T=T, num_classes=C, emb=emb, **kw)


def _ref_coefficients(T):
    """a_t, b_t, c_t of Eq. 3 written out from the card's cosine schedule (float64, lists)."""
    f = lambda r: math.cos(math.pi / 2 * (r + 0.008) / 1.008) ** 2 / math.cos(math.pi / 2 * 0.008 / 1.008) ** 2  # noqa: E731
    ab = [min(max(f(1 - t / T), 1e-4), 0.999) for t in range(T + 1)]
    out = []
    for t in range(1, T + 1):
        al = ab[t - 1] / ab[t]
        out.append((math.sqrt(ab[t]) * (1 - al) / (1 - ab[t - 1]), math.sqrt(al) * (1 - ab[t]) / (1 - ab[t - 1]),
                    (1 - ab[t]) * (1 - al) / (1 - ab[t - 1])))
    return ab, out


# ---- schedule ---------------------------------------------------------------------------------------------------

def test_cosine_schedule_matches_card_regression_values():
    card = [0.0001, 0.0241, 0.0940, 0.2031, 0.3408, 0.4938, 0.6475, 0.7869, 0.8987, 0.9721, 0.999]
    ab = schedules.cosine_alpha_bar(10)
    assert ab.dtype == torch.float64 and ab.shape == (11,)
    assert torch.allclose(ab, torch.tensor(card, dtype=torch.float64), atol=5e-5)
    assert torch.allclose(ab, torch.tensor(_ref_coefficients(10)[0], dtype=torch.float64), rtol=1e-12, atol=0)
    assert math.isclose(float(schedules.snr(ab)[-1]), 999.0, rel_tol=1e-12)  # the clip keeps SNR(T) finite
    assert torch.equal(schedules.snr(ab), ab / (1 - ab))
    other = schedules.cosine_alpha_bar(4, s=0.0, clip=(0.2, 0.9))
    assert float(other[0]) == 0.2 and float(other[-1]) == 0.9 and math.isclose(float(other[2]), 0.5, rel_tol=1e-12)


@pytest.mark.parametrize("T", [1, 2, 10, 50])
def test_dt_coefficients_exact_identities_float64(T):
    ab = schedules.cosine_alpha_bar(T)
    a, b, c = schedules.dt_coefficients(ab)
    assert (a + b * ab[:-1].sqrt() - ab[1:].sqrt()).abs().max() < 1e-13
    assert (b ** 2 * (1 - ab[:-1]) + c - (1 - ab[1:])).abs().max() < 1e-13
    ref = torch.tensor(_ref_coefficients(T)[1], dtype=torch.float64)
    assert torch.allclose(torch.stack([a, b, c], 1), ref, rtol=1e-10, atol=1e-14)


def test_oracle_chain_marginals_monte_carlo_and_the_check_can_fail(monkeypatch):
    # card smoke (a): z_0 ~ q(z_0|y), u_hat = u_y  =>  z_t ~ N(sqrt(abar_t) u_y, (1 - abar_t) I) for every t
    dev = schedules.oracle_chain_deviation(schedules.cosine_alpha_bar(10), n_chains=100_000)
    assert dev["max_dev"] < 0.02 and dev["max_dev"] == max(dev["mean_dev"], dev["var_dev"])
    ab = schedules.cosine_alpha_bar(10)
    same = schedules.oracle_chain_deviation(ab, n_chains=2_000)  # deterministic: the default generator is seed 0
    assert same == schedules.oracle_chain_deviation(ab, n_chains=2_000, generator=torch.Generator().manual_seed(0))
    assert same != schedules.oracle_chain_deviation(ab, n_chains=2_000, generator=torch.Generator().manual_seed(1))
    good = schedules.dt_coefficients
    monkeypatch.setattr(schedules, "dt_coefficients", lambda ab: (good(ab)[0] * 2.0, *good(ab)[1:]))
    assert schedules.oracle_chain_deviation(schedules.cosine_alpha_bar(10), n_chains=20_000)["mean_dev"] > 0.05
    monkeypatch.setattr(schedules, "dt_coefficients", lambda ab: (*good(ab)[:2], good(ab)[2] * 1.3))
    bad = schedules.oracle_chain_deviation(schedules.cosine_alpha_bar(10), n_chains=20_000)
    assert bad["var_dev"] > 0.05 and bad["mean_dev"] < 0.05


class _Oracle(torch.nn.Module):
    """Block that knows the label: x is one-hot(y), so softmax(50 x) @ I = u_y (to 1e-21)."""

    def forward(self, x, z):
        return 50.0 * x


def test_sample_path_has_q_marginals_with_oracle_blocks():
    C, n = 10, 100_000
    model = NoPropDT(_Oracle, T=10, num_classes=C).double()
    y = torch.randint(0, C, (n,), generator=torch.Generator().manual_seed(1))
    u = F.one_hot(y, C).double()
    path = model.sample_path(u, generator=torch.Generator().manual_seed(2))
    ab = torch.tensor(_ref_coefficients(10)[0], dtype=torch.float64)
    assert abs(float(path[0].var()) - 1) < 0.01 and float(path[0].mean().abs()) < 0.01  # z_0 ~ N(0, I)
    for t in range(1, 11):  # z_0 ~ N(0, I) instead of q(z_0|y): a gap of sqrt(abar_0) = 0.01, damped by b_1
        r = path[t] - ab[t].sqrt() * u
        assert r.mean(0).abs().max() < 0.02
        assert abs(float(r.var(0).mean() / (1 - ab[t])) - 1) < 0.02


def _reference_chain(model, x, seed, stochastic=True):
    """Eq. 3 written out in float64 with the test's own coefficients; the same noise draws as the model."""
    _, coef = _ref_coefficients(model.T)
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(x.shape[0], model.emb_dim, generator=g, dtype=torch.float64) if stochastic else \
        torch.zeros(x.shape[0], model.emb_dim, dtype=torch.float64)
    path = [z]
    for t, (a, b, c) in enumerate(coef, start=1):
        logits = model.blocks[t - 1](x, z)
        z = a * (torch.softmax(logits, 1) @ model.W_embed) + b * z
        if stochastic:
            z = z + math.sqrt(c) * torch.randn(z.shape, generator=g, dtype=torch.float64)
        path.append(z)
    return path, logits


@pytest.mark.parametrize("stochastic", [True, False])
def test_chain_matches_float64_reference(stochastic):
    torch.manual_seed(0)
    model = _mlp_model(T=4, C=3, emb="learned", emb_dim=5).double().eval()
    base = _mlp_model(T=4, C=3, emb="learned", emb_dim=5, cls=BackpropBaseline).double().eval()
    base.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("classifier")})
    x = torch.randn(6, 10, dtype=torch.float64)
    with torch.no_grad():
        ref, last = _reference_chain(model, x, 7, stochastic)
        path = model.sample_path(x, stochastic, torch.Generator().manual_seed(7))
        logits = model.predict(x, stochastic, torch.Generator().manual_seed(7))
        blogits = base.predict(x, stochastic, torch.Generator().manual_seed(7))
    assert len(path) == 5
    for got, want in zip(path, ref):
        assert torch.allclose(got, want, rtol=1e-6, atol=1e-7)
    assert torch.allclose(logits, model.classifier(ref[-1]), rtol=1e-6, atol=1e-7)  # NoProp: W_out z_T + b
    assert torch.allclose(blogits, last, rtol=1e-6, atol=1e-7)  # baseline: the last block's class logits


def test_predict_switches_to_eval_mode_itself_and_restores_it():
    torch.manual_seed(0)
    model = NoPropDT(lambda: DenoiseBlockCNN(1, 10, 10, widths=(4,), fc=(8, 8), dropout=0.5), T=2, num_classes=10)
    x = torch.randn(8, 1, 28, 28)
    model.train()
    p1 = model.predict(x, stochastic=False)
    assert model.training and not p1.requires_grad
    model.eval()
    want = model(x, stochastic=False)
    assert torch.equal(p1, want.detach()) and not model.training  # eval mode: no dropout, BN running stats
    assert torch.equal(model.sample_path(x, False)[-1], model.chain(x, False)[0][-1].detach())
    model.train()
    assert not torch.equal(model(x, stochastic=False), want)  # in train mode forward is different (dropout, BN)


# ---- Eq. 8 and locality -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("t", [1, 3])
def test_block_loss_equals_eq8_by_hand_learned_embedding(t):
    torch.manual_seed(0)
    model = _mlp_model(T=4, C=3, emb="learned", emb_dim=5, eta=0.3).double().eval()
    x, y = torch.randn(7, 10, dtype=torch.float64), torch.tensor([0, 1, 2, 2, 1, 0, 1])
    torch.manual_seed(11)
    parts = model.block_loss(t, x, y, return_parts=True)
    torch.manual_seed(11)  # same draws in the same order: z_T, then z_{t-1}
    ab, _ = _ref_coefficients(4)
    s = [a / (1 - a) for a in ab]
    W = model.W_embed
    u = W[y]
    z_T = math.sqrt(ab[4]) * u + math.sqrt(1 - ab[4]) * torch.randn_like(u)
    z_prev = math.sqrt(ab[t - 1]) * u + math.sqrt(1 - ab[t - 1]) * torch.randn_like(u)
    ce = -torch.log_softmax(model.classifier(z_T), 1)[torch.arange(7), y].mean()
    var = 1 - ab[0]  # KL(N(sqrt(abar_0) u, var I) || N(0, I)), the Gaussian formula, d = 5
    kl = 0.5 * (5 * var + ab[0] * (u ** 2).sum(1) - 5 - 5 * math.log(var)).mean()
    u_hat = torch.softmax(model.blocks[t - 1](x, z_prev), 1) @ W
    mse = ((u_hat - u) ** 2).sum(1).mean()
    weight = 4 / 2 * 0.3 * (s[t] - s[t - 1])
    assert torch.allclose(parts["ce"], ce, rtol=1e-6) and torch.allclose(parts["kl"], kl, rtol=1e-6)
    assert torch.allclose(parts["mse"], mse, rtol=1e-6) and math.isclose(float(parts["weight"]), weight, rel_tol=1e-6)
    assert torch.allclose(parts["loss"], ce + kl + weight * mse, rtol=1e-6)
    torch.manual_seed(11)
    assert torch.allclose(model.block_loss(t, x, y), parts["loss"], rtol=1e-12)


@pytest.mark.parametrize("emb", ["onehot", "learned"])
def test_block_loss_is_local(emb):
    model = _mlp_model(T=4, C=3, emb=emb, emb_dim=6 if emb == "learned" else None)
    x, y = torch.randn(8, 10), torch.randint(0, 3, (8,))
    for t in range(1, 5):
        model.zero_grad(set_to_none=True)
        model.block_loss(t, x, y).backward()
        for s, blk in enumerate(model.blocks, start=1):
            grads = [p.grad for p in blk.parameters()]
            if s == t:
                assert all(g is not None and g.abs().sum() > 0 for g in grads[:2])
            else:
                assert all(g is None for g in grads), f"block {s} got gradient from block_loss({t})"
        assert model.classifier.weight.grad is not None
        assert (model.W_embed.grad is not None) == (emb == "learned")


# ---- the back-prop baseline ---------------------------------------------------------------------------------------

def test_backprop_baseline_gradient_reaches_every_block():
    torch.manual_seed(0)
    base = _mlp_model(T=4, C=3, cls=BackpropBaseline)
    F.cross_entropy(base(torch.randn(8, 10)), torch.randint(0, 3, (8,))).backward()
    assert all(blk.head.net[-1].weight.grad.abs().sum() > 0 for blk in base.blocks)
    assert all(blk.label_path.stage1[0].weight.grad.abs().sum() > 0 for blk in base.blocks)  # through the z chain
    assert not hasattr(base, "classifier")


def test_backprop_baseline_learns_and_uses_every_one_of_10_classes(tmp_path):
    # the earlier free classifier on z_T sent 10 MNIST classes to 6 embedding vertices (60.6%)
    # (Bayes ~98% on these 10-class blobs)
    train, test = blobs(1_280, 0, num_classes=10, shift=4.0), blobs(1_000, 1, num_classes=10, shift=4.0)
    torch.manual_seed(0)
    base = BackpropBaseline(lambda: DenoiseBlockMLP(10, 10, 10, fc=(32, 32)), T=3, num_classes=10)
    hist = train_backprop_baseline(base, train, epochs=3, batch_size=64, lr=1e-2, eval_data=test)
    m = chain_metrics(base, test, seeds=(0, 1))
    assert m["classes_used"] == 10 and m["acc"] > 93 and m["acc_det"] > 93, m
    assert hist[-1]["loss"] < hist[0]["loss"] and [r["epoch"] for r in hist] == [1, 2, 3]


def test_backprop_baseline_uses_the_papers_optimizer_and_the_last_blocks_logits(monkeypatch):
    seen = {}

    def fake_fit(model, data, **kw):
        seen.update(kw)
        return type("R", (), {"history": [{"epoch": 1}]})()

    monkeypatch.setattr(learner_mod, "fit", fake_fit)
    base = _mlp_model(T=2, C=2, cls=BackpropBaseline)
    train_backprop_baseline(base, blobs(256, 0), epochs=2)
    assert seen["epochs"] == 2 and seen["batch_size"] == 128
    opt = seen["optimizer"](base.parameters())
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["lr"] == 1e-3 and opt.defaults["weight_decay"] == 1e-3
    x, y = torch.randn(4, 10), torch.tensor([0, 1, 1, 0])
    torch.manual_seed(1)
    loss = seen["loss_fn"](base, x, y)
    torch.manual_seed(1)
    assert torch.allclose(loss, F.cross_entropy(base.chain(x)[1], y))
    assert seen["eval_fn"](base, 1) == {}
    with pytest.raises(TypeError, match="BackpropBaseline"):
        train_backprop_baseline(_mlp_model(), blobs(256, 0), epochs=1)


# ---- learning, via the smoke protocol, and a tiny full -----------------------------------------------------------

@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    return paperzoo.reproduce("noprop", "smoke", out=tmp_path_factory.mktemp("noprop"), progress=False)


def test_smoke_learns_two_blobs_above_95_percent(smoke):
    # card smoke (c): 2,000 train / 1,000 test, MLP blocks, T = 10, one-hot, 5 epochs; chance is 50%
    assert smoke.metrics["test_acc"] > 95.0 and smoke.metrics["test_acc_det"] > 95.0
    assert smoke.metrics["backprop_test_acc"] > 95.0 and smoke.metrics["backprop_classes_used"] == 2
    assert len(smoke.curves["blobs-learning"]["ys"]["noprop (stochastic)"]) == 5
    assert smoke.metrics["test_acc"] == pytest.approx(sum(smoke.metrics[f"test_acc_seed{s}"] for s in (0, 1, 2)) / 3)
    assert smoke.metrics["gap_vs_backprop"] == pytest.approx(abs(smoke.metrics["test_acc"]
                                                                 - smoke.metrics["backprop_test_acc"]))
    rows = smoke.tables["blobs-final"]["rows"]
    assert len(rows) == 2 and rows[0][1] == pytest.approx(smoke.metrics["test_acc"])


def _tiny_images(n, chans, size, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = torch.rand(n, chans, size, size, generator=g) * 0.2
    x[torch.arange(n), :, y, :] += 0.8  # the label is a bright row: learnable in one epoch
    return TensorSet(x, y, f"tiny{chans}")


def test_tiny_full_runs_mnist_and_cifar10_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(reproduce_mod, "load_mnist",
                        lambda: Splits("mnist", _tiny_images(256, 1, 28, 0), _tiny_images(100, 1, 28, 1)))
    monkeypatch.setattr(reproduce_mod, "load_cifar10",
                        lambda: Splits("cifar10", _tiny_images(256, 3, 32, 2), _tiny_images(100, 3, 32, 3), note="tiny"))
    tiny = {"epochs": 1, "cifar10_epochs": 2, "T": 2, "widths": (4, 4, 4), "fc": (8, 8), "batch_size": 64,
            "sampling_seeds": (0, 1)}
    r = paperzoo.reproduce("noprop", "full", overrides=tiny, out=tmp_path, progress=False)
    assert r.config["data"] == ["mnist", "cifar10"] or r.config["data"] == ("mnist", "cifar10")
    for k in ("test_acc", "backprop_test_acc", "cifar10_test_acc", "cifar10_backprop_test_acc", "cifar10_gap_vs_backprop"):
        assert 0 <= r.metrics[k] <= 100
    assert r.metrics["cifar10_ci95_lo"] <= r.metrics["cifar10_test_acc"] <= r.metrics["cifar10_ci95_hi"]
    assert len(r.curves["cifar10-learning"]["x"]) == 2 and len(r.curves["mnist-learning"]["x"]) == 1
    assert any("CIFAR-10: tiny" in n for n in r.notes)
    with pytest.raises(ValueError, match="data must name"):
        paperzoo.reproduce("noprop", "smoke", overrides={"data": ("svhn",)}, out=tmp_path / "bad", progress=False)


# ---- Learner ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("order", ["blockwise", "fused"])
def test_resume_through_learner_fit_is_bit_identical(tmp_path, order):
    data, test = blobs(384, 0), blobs(100, 1)

    def learner():
        torch.manual_seed(3)
        return NoPropLearner(_mlp_model(T=3), batch_size=64, order=order)

    full = learner()
    h_full = full.fit(data, epochs=2, eval_data=test, run_dir=tmp_path / "a", seed=5, progress=False)
    assert learner().steps_per_epoch(data) == (18 if order == "blockwise" else 6)
    first = learner()
    first.fit(data, epochs=1, eval_data=test, run_dir=tmp_path / "b", seed=5, progress=False)
    resumed = learner()  # a fresh process would start like this
    h_res = resumed.fit(data, epochs=2, eval_data=test, run_dir=tmp_path / "b", resume=True, seed=5, progress=False)
    a, b = full.state_dict(), resumed.state_dict()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert torch.equal(a["block_opts"][1]["state"][0]["exp_avg"], b["block_opts"][1]["state"][0]["exp_avg"])
    assert [r["loss"] for r in h_full] == [r["loss"] for r in h_res] and h_full[1]["acc"] == h_res[1]["acc"]
    row = h_full[0]
    assert len(row["block_loss"]) == 3 and row["loss"] == pytest.approx(sum(row["block_loss"]) / 3)
    assert all(0 < m < 10 for m in row["block_mse"]) and row["classes_used"] <= 2
    step, state = load_checkpoint(tmp_path / "b")
    assert step == 2 and set(state["learner"]) == {"model", "block_opts", "shared_opt"}


def test_learner_epoch_loss_is_the_mean_of_the_block_losses_it_stepped_on(monkeypatch):
    model = _mlp_model(T=2)
    lrn = NoPropLearner(model, batch_size=50, order="blockwise")
    seen = []
    real = model.block_loss

    def spy(t, x, y, return_parts=False):
        parts = real(t, x, y, return_parts=True)
        seen.append((t, float(parts["loss"].detach()), float(parts["mse"].detach())))
        return parts

    monkeypatch.setattr(model, "block_loss", spy)
    prog = type("P", (), {"advance": lambda self, **k: None})()
    row = lrn.train_epoch(blobs(120, 0), epoch=0, generator=torch.Generator().manual_seed(0), progress=prog)
    assert [t for t, *_ in seen] == [1, 1, 2, 2]  # Algorithm 1: block 1's pass, then block 2's
    assert row["block_loss"] == pytest.approx([(seen[0][1] + seen[1][1]) / 2, (seen[2][1] + seen[3][1]) / 2])
    assert row["block_mse"] == pytest.approx([(seen[0][2] + seen[1][2]) / 2, (seen[2][2] + seen[3][2]) / 2])


def test_fused_step_gives_each_block_its_own_gradient():
    # one backward of sum_t L_t: block t's gradient equals grad L_t (same noise draws)
    model = _mlp_model(T=3).double()
    x, y = torch.randn(16, 10, dtype=torch.float64), torch.randint(0, 2, (16,))
    torch.manual_seed(4)
    torch.stack([model.block_loss(t, x, y) for t in (1, 2, 3)]).sum().backward()
    fused = [p.grad.clone() for p in model.blocks[1].parameters()]
    model.zero_grad(set_to_none=True)
    torch.manual_seed(4)
    model.block_loss(1, x, y)  # consume block 1's draws
    model.block_loss(2, x, y).backward()
    assert all(torch.allclose(f, p.grad, rtol=1e-10, atol=1e-14) for f, p in zip(fused, model.blocks[1].parameters()))


def test_defaults_are_the_papers():
    model = _mlp_model()
    assert model.eta == 0.1 and NoPropDT(lambda: DenoiseBlockMLP(10, 2, 2), num_classes=2).T == 10
    lrn = NoPropLearner(model)
    assert lrn.batch_size == 128 and lrn.order == "blockwise"
    for opt in lrn.block_opts + [lrn.shared_opt]:
        assert isinstance(opt, torch.optim.AdamW) and opt.defaults["lr"] == 1e-3 and opt.defaults["weight_decay"] == 1e-3
    shared = {id(p) for g in lrn.shared_opt.param_groups for p in g["params"]}
    assert shared == {id(p) for p in model.classifier.parameters()}  # one-hot W_embed is a fixed buffer
    assert [len(o.param_groups[0]["params"]) for o in lrn.block_opts] == [len(list(b.parameters())) for b in model.blocks]
    sgd = NoPropLearner(model, optimizer=lambda p: torch.optim.SGD(p, lr=0.5))
    assert isinstance(sgd.shared_opt, torch.optim.SGD)
    blk = DenoiseBlockCNN()
    assert [m.p for m in blk.modules() if isinstance(m, torch.nn.Dropout)] == [0.2, 0.2, 0.2]
    cfg = reproduce_mod.PROTOCOLS["full"]
    assert (cfg.epochs, cfg.cifar10_epochs, cfg.T, cfg.eta, cfg.batch_size, cfg.lr, cfg.weight_decay) == \
        (100, 150, 10, 0.1, 128, 1e-3, 1e-3)


# ---- pieces -------------------------------------------------------------------------------------------------------

def test_model_construction_details():
    torch.manual_seed(0)
    one = _mlp_model(T=1)
    assert len(one.blocks) == 1 and one.coef_a.shape == (1,)
    learned = NoPropDT(lambda: DenoiseBlockMLP(10, 50, 400, fc=(4, 4)), T=1, num_classes=50, emb="learned", emb_dim=400)
    assert learned.W_embed.shape == (50, 400) and abs(float(learned.W_embed.detach().var()) * 400 - 1) < 0.05  # N(0, 1/d)
    ab = torch.tensor([0.05, 0.5, 0.9], dtype=torch.float64)
    custom = _mlp_model(T=2, alpha_bar=ab)
    assert torch.allclose(custom.alpha_bar.double(), ab) and torch.allclose(custom.snr_gap.double(), torch.tensor([
        0.5 / 0.5 - 0.05 / 0.95, 0.9 / 0.1 - 0.5 / 0.5], dtype=torch.float64))
    y32 = torch.tensor([0, 1, 1, 0], dtype=torch.int32)
    assert torch.isfinite(custom.block_loss(2, torch.randn(4, 10), y32))
    entry = paperzoo.registry.get_model("noprop_chain_cnn")
    assert entry.knob == "width" and [t.name for t in entry.tasks] == ["mnist", "cifar10"] and entry.paper == "noprop"


def test_cnn_block_parameter_count_is_fig6():
    # conv 1->32->64->128 (3x3), FC 128*3*3 -> 256 + BN; label path 10->256 (+BN), 256->256 (+BN);
    # head 512->256 (+BN), 256->128 (+BN), 128->10
    want = (9 * 32 + 32) + (9 * 32 * 64 + 64) + (9 * 64 * 128 + 128) + (1152 * 256 + 256) + 512 \
        + (10 * 256 + 256) + 512 + (256 * 256 + 256) + 512 + (512 * 256 + 256) + 512 + (256 * 128 + 128) + 256 + 1290
    assert count_params(DenoiseBlockCNN()) == want
    assert count_params(noprop_chain_cnn()) == 10 * want
    assert DenoiseBlockCNN(3, image_size=32)(torch.randn(2, 3, 32, 32), torch.randn(2, 10)).shape == (2, 10)
    assert count_params(DenoiseBlockMLP(10, 2, 2, fc=(64, 64))) == \
        (10 * 64 + 64) + (2 * 64 + 64) + 128 + (64 * 64 + 64) + 128 + (128 * 64 + 64) + 128 + (64 * 64 + 64) + 128 + 130
    torch.manual_seed(0)
    chain = noprop_chain_cnn()
    assert chain(torch.rand(2, 1, 28, 28)).shape == (2, 10) and chain.T == 10 and chain.emb == "onehot"
    assert [m.p for m in chain.modules() if isinstance(m, torch.nn.Dropout)] == [0.2] * 30
    big = noprop_chain_cnn(width=64)
    assert [m.out_channels for m in big.blocks[0].image_path if isinstance(m, torch.nn.Conv2d)] == [64, 128, 256]


def test_prototypes_pick_the_sample_nearest_the_class_mean():
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [3.0, 3.0], [10.0, 0.0], [12.0, 0.0], [11.2, 0.0]])
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    assert torch.equal(class_prototypes(x, y, 2), torch.tensor([[1.0, 1.0], [11.2, 0.0]]))
    with pytest.raises(ValueError, match="class 2 has no sample"):
        class_prototypes(x, y, 3)
    imgs = torch.rand(20, 1, 8, 8)
    yy = torch.arange(20) % 2
    model = NoPropDT(lambda: DenoiseBlockCNN(1, 2, 64, widths=(4,), fc=(8, 8), image_size=8, z_image=True), T=2,
                     num_classes=2, emb="prototype", prototypes=class_prototypes(imgs, yy, 2))
    assert model.emb_dim == 64 and torch.equal(model.W_embed.data, class_prototypes(imgs, yy, 2).flatten(1))
    model.block_loss(1, imgs, yy).backward()
    assert model.W_embed.grad is not None and model.blocks[0].label_path[0].weight.grad is not None


# ---- bad input ---------------------------------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="T .number of blocks. must be an int >= 1, got 0"):
        schedules.cosine_alpha_bar(0)
    with pytest.raises(ValueError, match=r"s \(cosine offset\) must be in \[0, 1\)"):
        schedules.cosine_alpha_bar(3, s=1.0)
    with pytest.raises(ValueError, match="clip must satisfy"):
        schedules.cosine_alpha_bar(3, clip=(0.0, 0.5))
    with pytest.raises(ValueError, match="T .number of blocks. must be an int >= 1"):
        _mlp_model(T=0)
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        _mlp_model(C=1)
    with pytest.raises(ValueError, match="unknown embedding kind"):
        _mlp_model(emb="gaussian")
    with pytest.raises(ValueError, match="emb='learned' needs emb_dim"):
        _mlp_model(emb="learned")
    with pytest.raises(ValueError, match="emb='prototype' needs prototypes"):
        _mlp_model(emb="prototype")
    with pytest.raises(ValueError, match="eta must be a positive finite number"):
        _mlp_model(eta=0.0)
    with pytest.raises(ValueError, match="eta must be a positive finite number"):
        _mlp_model(eta=math.inf)
    with pytest.raises(ValueError, match=r"alpha_bar must have shape \(T \+ 1,\) = \(4,\)"):
        _mlp_model(alpha_bar=torch.tensor([0.1, 0.5, 0.9]))
    model = _mlp_model(T=3, C=2)
    x = torch.randn(4, 10)
    with pytest.raises(ValueError, match="labels y must lie in 0..1"):
        model.block_loss(1, x, torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="labels y must lie in 0..1"):
        model.block_loss(1, x, torch.tensor([0, -1, 1, 0]))
    with pytest.raises(ValueError, match="y must be an integer tensor"):
        model.block_loss(1, x, torch.zeros(4))
    with pytest.raises(ValueError, match=r"t must be an int in 1..T = 1..3, got 4"):
        model.block_loss(4, x, torch.tensor([0, 1, 1, 0]))
    with pytest.raises(ValueError, match=r"t must be an int in 1..T"):
        model.u_hat(0, x, torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"t must be an int in 1..T"):
        model.block_loss(True, x, torch.tensor([0, 1, 1, 0]))
    with pytest.raises(ValueError, match=r"T .number of blocks. must be an int >= 1"):
        _mlp_model(T=True)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 10\)"):
        model.block_loss(1, torch.randn(4, 9), torch.tensor([0, 1, 1, 0]))
    with pytest.raises(ValueError, match="NaN"):
        model.block_loss(1, torch.full((4, 10), float("nan")), torch.tensor([0, 1, 1, 0]))
    with pytest.raises(ValueError, match="x must be a float tensor"):
        model.predict(torch.ones(4, 10, dtype=torch.int64))
    cnn = DenoiseBlockCNN(1, 10, 10, widths=(4, 4), fc=(8, 8))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 28, 28\)"):
        cnn(torch.randn(2, 3, 32, 32), torch.randn(2, 10))
    with pytest.raises(ValueError, match=r"z must have shape \(B, emb_dim\) = \(2, 10\)"):
        cnn(torch.randn(2, 1, 28, 28), torch.randn(2, 7))
    with pytest.raises(ValueError, match="fc must hold 2 widths"):
        DenoiseBlockCNN(fc=(8,))
    with pytest.raises(ValueError, match="too small"):
        DenoiseBlockCNN(widths=(4, 4, 4), image_size=4)
    with pytest.raises(ValueError, match="emb_dim == in_chans"):
        DenoiseBlockCNN(1, 2, 10, image_size=8, z_image=True)
    with pytest.raises(ValueError, match="emb_dim must be a positive int"):
        DenoiseBlockMLP(10, 2, 0)
    with pytest.raises(ValueError, match="block 1 has emb_dim=3, but the model needs 2"):
        NoPropDT(lambda: DenoiseBlockMLP(10, 2, 3), T=2, num_classes=2)
    with pytest.raises(ValueError, match="order must be one of"):
        NoPropLearner(model, order="random")
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        NoPropLearner(model, batch_size=0)
    with pytest.raises(ValueError, match="optimizer must be 'adamw'"):
        NoPropLearner(model, optimizer="sgd")
    with pytest.raises(TypeError, match="model must be a NoPropDT"):
        NoPropLearner(_mlp_model(cls=BackpropBaseline))
    with pytest.raises(ValueError, match="no full batch of 128"):
        NoPropLearner(model).steps_per_epoch(blobs(100, 0))
    with pytest.raises(TypeError, match="TensorSet"):
        NoPropLearner(model).steps_per_epoch([1, 2])
    with pytest.raises(ValueError, match="strictly increasing"):
        schedules.dt_coefficients(torch.tensor([0.5, 0.4, 0.9], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"open interval \(0, 1\)"):
        schedules.snr(torch.tensor([0.5, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="1-D tensor of length T"):
        schedules.snr(torch.tensor([0.5], dtype=torch.float64))


def test_readme_times_match_the_records():
    """Every "<protocol> record ... N min" the README states is the record's own wall time."""
    readme = (ROOT / "src" / "paperzoo" / "papers" / "noprop" / "README.md").read_text()
    records = {r.protocol: r for r in load_results(ROOT / "results", "noprop")} if (ROOT / "results").is_dir() else {}
    if not records:
        pytest.skip("no noprop records in this checkout (e.g. a mutation-testing copy)")
    stated = re.findall(r"`(smoke|cpu)` record[^.]*?([\d.]+) (s|min)\b", readme)
    assert stated, "the README should state the recorded wall times"
    for proto, value, unit in stated:
        secs = records[proto].wall_seconds
        assert value == (f"{secs / 60:.1f}" if unit == "min" else f"{secs:.0f}"), (proto, value, unit, secs)
