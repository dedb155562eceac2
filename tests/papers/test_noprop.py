"""NoProp-DT: schedule values and identities, the chain's marginals, Eq. 8 by hand, locality,
learning on blobs (via the smoke protocol), checkpoint/resume through Learner.fit, bad input."""
import math

import pytest
import torch
import torch.nn.functional as F

import paperzoo
from paperzoo.papers.noprop import (
    BackpropBaseline,
    DenoiseBlockCNN,
    DenoiseBlockMLP,
    NoPropDT,
    NoPropLearner,
    class_prototypes,
    schedules,
)
from paperzoo.papers.noprop.reproduce import make_blobs, wilson_interval
from paperzoo.results import NOT_MEASURED, NOT_SHOWN
from paperzoo.train import load_checkpoint


def _mlp_model(T=3, C=2, emb="onehot", **kw):
    d = kw.get("emb_dim") or C
    return NoPropDT(lambda: DenoiseBlockMLP(10, C, d, fc=(16, 16)), T=T, n_classes=C, emb=emb, **kw)


# ---- schedule ---------------------------------------------------------------------------------------------------

def test_cosine_schedule_matches_card_regression_values():
    card = [0.0001, 0.0241, 0.0940, 0.2031, 0.3408, 0.4938, 0.6475, 0.7869, 0.8987, 0.9721, 0.999]
    ab = schedules.cosine_alpha_bar(10)
    assert ab.dtype == torch.float64 and ab.shape == (11,)
    assert torch.allclose(ab, torch.tensor(card, dtype=torch.float64), atol=5e-5)
    assert math.isclose(float(schedules.snr(ab)[-1]), 999.0, rel_tol=1e-12)  # the clip keeps SNR(T) finite


@pytest.mark.parametrize("T", [1, 2, 10, 50])
def test_dt_coefficients_exact_identities_float64(T):
    ab = schedules.cosine_alpha_bar(T)
    a, b, c = schedules.dt_coefficients(ab)
    assert (a + b * ab[:-1].sqrt() - ab[1:].sqrt()).abs().max() < 1e-13
    assert (b ** 2 * (1 - ab[:-1]) + c - (1 - ab[1:])).abs().max() < 1e-13
    assert (c > 0).all()


def test_oracle_chain_marginals_monte_carlo():
    # card smoke (a): z_0 ~ q(z_0|y), u_hat = u_y  =>  z_t ~ N(sqrt(abar_t) u_y, (1 - abar_t) I) for every t
    dev = schedules.oracle_chain_deviation(schedules.cosine_alpha_bar(10), n_chains=200_000)
    assert dev["max_dev"] < 0.02


class _Oracle(torch.nn.Module):
    """Block that knows the label: x is one-hot(y), so softmax(50 x) @ I = u_y (to 1e-21)."""

    def forward(self, x, z):
        return 50.0 * x


def test_model_sample_path_has_q_marginals_with_oracle_blocks():
    torch.set_default_dtype(torch.float64)
    C, n = 10, 100_000
    model = NoPropDT(_Oracle, T=10, n_classes=C).double()
    y = torch.randint(0, C, (n,), generator=torch.Generator().manual_seed(1))
    u = F.one_hot(y, C).double()
    path = model.sample_path(u, generator=torch.Generator().manual_seed(2))
    ab = model.alpha_bar.double()
    # z_0 ~ N(0, I) (not q(z_0|y)); the gap sqrt(abar_0) = 0.01 is damped by b_1 = 0.063, so from t = 1 on
    # the marginals are q's up to < 1e-3
    for t in range(1, 11):
        r = path[t] - ab[t].sqrt() * u
        assert r.mean(0).abs().max() < 0.02
        assert abs(float(r.var(0).mean() / (1 - ab[t])) - 1) < 0.02
    det = model.sample_path(u[:5], stochastic=False)  # eps = 0: z_t = a_t u + b_t z_{t-1} exactly
    z = torch.zeros(5, C)
    for t in range(1, 11):
        z = model.coef_a[t - 1] * u[:5] + model.coef_b[t - 1] * z
        assert torch.allclose(det[t], z, atol=1e-6)


# ---- Eq. 8 and locality -----------------------------------------------------------------------------------------

def test_block_loss_equals_eq8_by_hand_learned_embedding():
    torch.set_default_dtype(torch.float64)
    model = _mlp_model(T=4, C=3, emb="learned", emb_dim=5, eta=0.1).double().eval()
    x, y, t = torch.randn(7, 10), torch.tensor([0, 1, 2, 2, 1, 0, 1]), 3
    torch.manual_seed(11)
    parts = model.block_loss(t, x, y, return_parts=True)
    torch.manual_seed(11)  # same draws in the same order: z_T, then z_{t-1}
    ab = schedules.cosine_alpha_bar(4)
    s = ab / (1 - ab)
    W = model.W_embed
    u = W[y]
    z_T = ab[4].sqrt() * u + (1 - ab[4]).sqrt() * torch.randn_like(u)
    z_prev = ab[t - 1].sqrt() * u + (1 - ab[t - 1]).sqrt() * torch.randn_like(u)
    ce = -torch.log_softmax(model.classifier(z_T), 1)[torch.arange(7), y].mean()
    kl = 0.5 * (ab[0] * (u ** 2).sum(1) + 5 * (1 - ab[0]) - 5 - 5 * torch.log(1 - ab[0])).mean()
    u_hat = torch.softmax(model.blocks[t - 1](x, z_prev), 1) @ W
    want = ce + kl + 4 / 2 * 0.1 * (s[t] - s[t - 1]) * ((u_hat - u) ** 2).sum(1).mean()
    assert torch.allclose(parts["loss"], want, rtol=1e-6)
    # KL(q(z_0|y) || N(0, I)) closed form against the Gaussian formula
    var = 1 - ab[0]
    kl_ref = 0.5 * ((var + ab[0] * (u ** 2).sum(1) / 5) * 5 - 5 - 5 * torch.log(var))
    assert torch.allclose(parts["kl"], kl_ref.mean(), rtol=1e-10)


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


def test_backprop_baseline_gradient_reaches_every_block():
    torch.manual_seed(0)
    base = BackpropBaseline(lambda: DenoiseBlockMLP(10, 3, 3, fc=(16, 16)), T=4, n_classes=3)
    F.cross_entropy(base(torch.randn(8, 10)), torch.randint(0, 3, (8,))).backward()
    assert all(blk.head.net[-1].weight.grad.abs().sum() > 0 for blk in base.blocks)


# ---- learning, via the smoke protocol ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    return paperzoo.reproduce("noprop", "smoke", out=tmp_path_factory.mktemp("noprop"), progress=False)


def test_smoke_protocol_verdicts(smoke):
    assert all(v.verdict not in (NOT_SHOWN, NOT_MEASURED) for v in smoke.verdicts), smoke.table()


def test_learns_two_blobs_above_95_percent(smoke):
    # card smoke (c): 2,000 train / 1,000 test, MLP blocks, T = 10, one-hot, 5 epochs; chance is 50%
    assert smoke.metrics["test_acc"] > 95.0 and smoke.metrics["test_acc_det"] > 95.0
    first = smoke.details["blobs"]["noprop"]["per_epoch"][0]
    assert first["acc"] < smoke.metrics["test_acc"] - 10  # it learned during the run


# ---- Learner checkpoint / resume ---------------------------------------------------------------------------------

@pytest.mark.parametrize("order", ["blockwise", "fused"])
def test_resume_through_learner_fit_is_bit_identical(tmp_path, order):
    data, test = make_blobs(384, 0), make_blobs(100, 1)

    def learner():
        torch.manual_seed(3)
        return NoPropLearner(_mlp_model(T=3), batch_size=64, order=order)

    full = learner()
    h_full = full.fit(data, epochs=2, eval_data=test, run_dir=tmp_path / "a", seed=5, progress=False)
    first = learner()
    first.fit(data, epochs=1, eval_data=test, run_dir=tmp_path / "b", seed=5, progress=False)
    resumed = learner()  # a fresh process would start like this
    h_res = resumed.fit(data, epochs=2, eval_data=test, run_dir=tmp_path / "b", resume=True, seed=5, progress=False)
    a, b = full.state_dict(), resumed.state_dict()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert torch.equal(a["block_opts"][1]["state"][0]["exp_avg"], b["block_opts"][1]["state"][0]["exp_avg"])
    assert [r["loss"] for r in h_full] == [r["loss"] for r in h_res] and h_full[1]["acc"] == h_res[1]["acc"]
    step, state = load_checkpoint(tmp_path / "b")
    assert step == 2 and set(state["learner"]) == {"model", "block_opts", "shared_opt"}


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


# ---- pieces -------------------------------------------------------------------------------------------------------

def test_prototypes_pick_the_sample_nearest_the_class_mean():
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [3.0, 3.0], [10.0, 0.0], [12.0, 0.0], [11.2, 0.0]])
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    assert torch.equal(class_prototypes(x, y, 2), torch.tensor([[1.0, 1.0], [11.2, 0.0]]))
    imgs = torch.rand(20, 1, 8, 8)
    yy = torch.arange(20) % 2
    model = NoPropDT(lambda: DenoiseBlockCNN(1, 2, 64, widths=(4,), fc=(8, 8), image_size=8, z_image=True), T=2,
                     n_classes=2, emb="prototype", prototypes=class_prototypes(imgs, yy, 2))
    assert model.emb_dim == 64 and torch.equal(model.W_embed.data, class_prototypes(imgs, yy, 2).flatten(1))
    model.block_loss(1, imgs, yy).backward()
    assert model.W_embed.grad is not None and model.blocks[0].label_path[0].weight.grad is not None


def test_wilson_interval_values():
    lo, hi = wilson_interval(805, 1000)
    assert abs(lo - 77.92958) < 1e-4 and abs(hi - 82.83699) < 1e-4  # scipy binomtest(805, 1000) wilson


# ---- bad input ---------------------------------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="T"):
        schedules.cosine_alpha_bar(0)
    with pytest.raises(ValueError, match="T"):
        _mlp_model(T=0)
    with pytest.raises(ValueError, match="unknown embedding kind"):
        _mlp_model(emb="gaussian")
    with pytest.raises(ValueError, match="emb_dim"):
        _mlp_model(emb="learned")
    model = _mlp_model(T=3, C=2)
    x = torch.randn(4, 10)
    with pytest.raises(ValueError, match="labels y must lie in 0..1"):
        model.block_loss(1, x, torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="y must be an integer tensor"):
        model.block_loss(1, x, torch.zeros(4))
    with pytest.raises(ValueError, match="t must be an int in 1..T"):
        model.block_loss(4, x, torch.tensor([0, 1, 1, 0]))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 10\)"):
        model.block_loss(1, torch.randn(4, 9), torch.tensor([0, 1, 1, 0]))
    with pytest.raises(ValueError, match="NaN"):
        model.block_loss(1, torch.full((4, 10), float("nan")), torch.tensor([0, 1, 1, 0]))
    cnn = DenoiseBlockCNN(1, 10, 10, widths=(4, 4), fc=(8, 8))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 28, 28\)"):
        cnn(torch.randn(2, 3, 32, 32), torch.randn(2, 10))
    with pytest.raises(ValueError, match=r"z must have shape"):
        cnn(torch.randn(2, 1, 28, 28), torch.randn(2, 7))
    with pytest.raises(ValueError, match="emb_dim=3"):
        NoPropDT(lambda: DenoiseBlockMLP(10, 2, 3), T=2, n_classes=2)
    with pytest.raises(ValueError, match="order"):
        NoPropLearner(model, order="random")
    with pytest.raises(ValueError, match="strictly increasing"):
        schedules.dt_coefficients(torch.tensor([0.5, 0.4, 0.9], dtype=torch.float64))


def test_readme_results_match_the_records():
    """The README's result tables are generated from the committed records, never typed."""
    from pathlib import Path

    from paperzoo.papers.noprop.reproduce import results_markdown
    from paperzoo.results import Result

    root = Path(__file__).resolve().parents[2]
    readme = (root / "src" / "paperzoo" / "papers" / "noprop" / "README.md").read_text()
    for proto in ("cpu", "smoke"):
        rec = root / "results" / "noprop" / f"{proto}-cpu.json"
        if rec.is_file():
            assert results_markdown(Result.load(rec)) in readme, f"README out of date with {rec.name}"
