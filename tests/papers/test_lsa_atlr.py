"""Tests for paperzoo.papers.lsa_atlr (card: shared/papers/lsa-atlr.md)."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import paperzoo as pz
from paperzoo.model_io import save_model
from paperzoo.papers.lsa_atlr import (
    ATLRLoss,
    default_layers,
    fgsm,
    layer_sustainability,
    lsa_cnn,
    lsa_layers,
    lsa_profile,
    make_attack,
    moon_mlp,
    most_vulnerable_layers,
    noise,
    pair_run,
    pgd,
    probe_activations,
    probe_modules,
    relative_error,
    relative_error_profile,
    robustness_curve,
)
from paperzoo.papers.lsa_atlr.reproduce import identities
from paperzoo.probe import run_probe
from paperzoo.registry import get_probe, list_models


def official_reference(model: nn.Module, x: np.ndarray, x_hat: np.ndarray) -> list[float]:
    """The official measure written out: hooks on ReLU/ELU/LeakyReLU modules collect outputs in call order,
    then np.linalg.norm(clean - perturbed) / np.linalg.norm(clean) over the whole batch tensor."""
    outs: list = []
    hs = [m.register_forward_hook(lambda _m, _i, o: outs.append(o.detach().numpy().astype(np.float64)))
          for m in model.modules() if type(m).__name__ in ("ReLU", "ELU", "LeakyReLU")]
    with torch.no_grad():
        model(torch.from_numpy(x))
        model(torch.from_numpy(x_hat))
    for h in hs:
        h.remove()
    n = len(outs) // 2
    return [float(np.linalg.norm(outs[i] - outs[n + i]) / np.linalg.norm(outs[i])) for i in range(n)]


def _mixed_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 12), nn.ELU(), nn.Linear(12, 10), nn.LeakyReLU(0.1),
                         nn.Linear(10, 3)).double()


# ---------------------------------------------------------------- the measure
def test_profile_matches_the_official_measure_in_float64():
    net = _mixed_net()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 6, generator=g, dtype=torch.float64)
    xh = x + 0.3 * torch.randn(40, 6, generator=g, dtype=torch.float64)
    ours = relative_error_profile(net, x, xh)
    assert ours.dtype == torch.float64 and len(ours) == 3
    assert ours.tolist() == pytest.approx(official_reference(net, x.numpy(), xh.numpy()), rel=1e-12)
    # per-example mean is a different reduction: mean_i ||a_i - b_i|| / ||a_i||
    a, b = probe_activations(net, x), probe_activations(net, xh)
    per = relative_error_profile(net, x, xh, reduce="per_example_mean")
    want = [float(((p - q).norm(dim=1) / p.norm(dim=1)).mean()) for p, q in zip(a, b)]
    assert per.tolist() == pytest.approx(want, rel=1e-12) and not torch.allclose(per, ours)


def test_identities_self_zero_and_homogeneous_scaling():
    net = moon_mlp(5, 3, width=16, bias=False).double()
    x = torch.randn(32, 5, dtype=torch.float64)
    assert torch.equal(relative_error_profile(net, x, x), torch.zeros(3, dtype=torch.float64))
    for c in (0.5, 1.0, 2.0, 4.0):
        assert relative_error_profile(net, x, c * x).tolist() == pytest.approx([abs(c - 1)] * 3, abs=1e-12)
    with_bias = moon_mlp(5, 3, width=16).double()  # not homogeneous: the identity must fail there
    assert (relative_error_profile(with_bias, x, 2 * x) - 1).abs().max() > 1e-3
    m = identities(0)
    assert m["cm_self_err"] == 0 and m["cm_homogeneous_err"] < 1e-12


def test_three_relu_probes_and_no_hook_left_behind():
    net = moon_mlp()
    assert [k for k, _ in probe_modules(net, ("ReLU",))] == ["1", "3", "5"]
    x = torch.randn(16, 2)
    for _ in range(3):  # the official code re-registers hooks on every call; ours must not accumulate
        assert len(relative_error_profile(net, x, x + 0.1, types=("ReLU",))) == 3
        assert len(probe_activations(net, x)) == 3
    assert all(not m._forward_hooks for m in net.modules())
    assert net.training  # restored after the eval-mode profile


def test_relative_error_edge_cases_and_errors():
    z = torch.zeros(3, 4)
    assert float(relative_error(z, z)) == 0.0
    assert float(relative_error(z, z + 1)) == float("inf")
    a = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    b = torch.tensor([[3.0, 0.0], [1.0, 0.0]])
    assert float(relative_error(a, b)) == pytest.approx(np.sqrt(17) / 5)
    assert float(relative_error(a, b, "per_example_mean")) == pytest.approx(4 / 5)  # zero-norm example left out
    assert float(relative_error(z, z, "per_example_mean")) == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        relative_error(a, b[:1])
    with pytest.raises(ValueError, match="reduce must be"):
        relative_error(a, b, "mean")
    with pytest.raises(ValueError, match="no probe module"):
        relative_error_profile(nn.Linear(2, 2), a, b)


def test_most_vulnerable_layers_rules():
    prof = torch.tensor([[0.1, 0.5, 0.2, 0.6], [0.1, 0.3, 0.2, 0.6]])  # means 0.1 0.4 0.2 0.6, overall 0.325
    assert most_vulnerable_layers(prof) == [3, 1]
    assert most_vulnerable_layers(prof, "top_k", 3) == [3, 1, 2]
    assert most_vulnerable_layers(torch.tensor([0.2, 0.2, 0.2])) == []  # strictly above the mean
    assert most_vulnerable_layers(torch.tensor([[1.0, 0.0], [0.0, 0.9]])) == [0]  # mean over batches first
    with pytest.raises(ValueError, match="top_k needs"):
        most_vulnerable_layers(prof, "top_k", 5)
    with pytest.raises(ValueError, match="rule must be"):
        most_vulnerable_layers(prof, "max")
    with pytest.raises(ValueError, match="only used with"):
        most_vulnerable_layers(prof, k=2)


# ---------------------------------------------------------------- attacks
def _linear():
    torch.manual_seed(3)
    return nn.Linear(5, 3).double()


def test_fgsm_equals_the_analytic_gradient_sign():
    lin = _linear()
    x = torch.rand(20, 5, dtype=torch.float64)
    y = torch.arange(20) % 3
    grad = (F.softmax(lin(x), 1) - F.one_hot(y, 3)) @ lin.weight  # d CE / dx for logits W x + b
    assert torch.equal(fgsm(lin, x, y, 0.1, clip=None), x + 0.1 * grad.detach().sign())
    clipped = fgsm(lin, x, y, 0.5)
    assert torch.equal(clipped, (x + 0.5 * grad.detach().sign()).clamp(0, 1))
    assert all(p.grad is None for p in lin.parameters())  # parameters untouched
    rs = fgsm(lin, x, y, 0.1, rand_init=True, clip=None, generator=torch.Generator().manual_seed(0))
    assert (rs - x).abs().max() <= 0.1 + 1e-12 and not torch.equal(rs, x + 0.1 * grad.detach().sign())


def test_pgd_stays_in_the_ball_and_one_step_is_fgsm():
    lin = _linear()
    x, y = torch.rand(30, 5, dtype=torch.float64), torch.arange(30) % 3
    one = pgd(lin, x, y, 0.2, steps=1, alpha=0.2, rand_init=False, clip=None)
    assert torch.equal(one, fgsm(lin, x, y, 0.2, clip=None))
    xa = pgd(lin, x, y, 0.2, steps=7, generator=torch.Generator().manual_seed(0))
    assert (xa - x).abs().max() <= 0.2 + 1e-12 and xa.min() >= 0 and xa.max() <= 1
    ce = lambda z: float(F.cross_entropy(lin(z), y).detach())  # noqa: E731
    assert ce(xa) > ce(fgsm(lin, x, y, 0.2, rand_init=True, generator=torch.Generator().manual_seed(0))) > ce(x)
    a = pgd(lin, x, y, 0.2, steps=4, generator=torch.Generator().manual_seed(5))
    b = pgd(lin, x, y, 0.2, steps=4, alpha=2.5 * 0.2 / 4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)  # default step 2.5 eps / K (card)
    with pytest.raises(ValueError, match="steps must be"):
        pgd(lin, x, y, 0.2, steps=0)
    with pytest.raises(ValueError, match="one label per input"):
        fgsm(lin, x, y[:3], 0.1)
    with pytest.raises(ValueError, match="unknown attack 'pdg'; did you mean 'pgd'"):
        make_attack("pdg", 0.1)


def test_noise_has_the_fgsm_size():
    x, y = torch.rand(10, 50, dtype=torch.float64), torch.zeros(10, dtype=torch.long)
    n = noise(_linear_50(), x, y, 0.05, clip=None, generator=torch.Generator().manual_seed(0))
    assert torch.allclose((n - x).abs(), torch.full_like(x, 0.05))
    frac = float(((n - x) > 0).double().mean())
    assert 0.4 < frac < 0.6


def _linear_50():
    return nn.Linear(50, 2).double()


def test_random_starts_fill_the_ball_and_defaults_are_the_card_steps():
    lin = _linear()
    x, y = torch.rand(400, 5, dtype=torch.float64), torch.arange(400) % 3
    d = pgd(lin, x, y, 0.2, steps=1, alpha=0.0, clip=None, generator=torch.Generator().manual_seed(1)) - x
    assert d.abs().max() <= 0.2 + 1e-12 and d.min() < -0.18 and d.max() > 0.18 and abs(float(d.mean())) < 0.01
    assert float(d.abs().mean()) == pytest.approx(0.1, abs=0.01)  # U[-eps, eps]: E|d| = eps / 2
    g = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    rs = fgsm(lin, x, y, 0.2, rand_init=True, clip=None, generator=g())
    assert torch.equal(rs, fgsm(lin, x, y, 0.2, rand_init=True, alpha=0.25, clip=None, generator=g()))  # 1.25 eps
    assert torch.equal(make_attack("fgsm_rs", 0.2, clip=None, generator=g())(lin, x, y), rs)
    assert torch.equal(make_attack("fgsm", 0.2, clip=None)(lin, x, y), fgsm(lin, x, y, 0.2, clip=None))
    assert torch.equal(make_attack("pgd", 0.2, steps=3, clip=None, generator=g())(lin, x, y),
                       pgd(lin, x, y, 0.2, 3, clip=None, generator=g()))
    assert torch.equal(make_attack("noise", 0.2, clip=None, generator=g())(lin, x, y),
                       noise(lin, x, y, 0.2, clip=None, generator=g()))
    assert torch.equal(fgsm(lin, x, y, 0.0), x)  # eps = 0 is allowed and does nothing
    with pytest.raises(ValueError, match="eps must be >= 0"):
        fgsm(lin, x, y, -0.1)
    with pytest.raises(TypeError, match="floating-point"):
        fgsm(lin, x.long(), y, 0.1)


def test_lsa_profile_rows_are_consecutive_batches_and_reused_modules_join():
    net = _mixed_net()
    x, y = torch.randn(90, 6, dtype=torch.float64), torch.arange(90) % 3
    atk = make_attack("fgsm", 0.3, clip=None)
    p = lsa_profile(net, x, y, atk, n_batches=2, batch_size=40)
    for i in range(2):
        xb, yb = x[40 * i:40 * (i + 1)], y[40 * i:40 * (i + 1)]
        assert torch.equal(p[i], relative_error_profile(net, xb, atk(net, xb, yb)))
    per = lsa_profile(net, x, y, atk, n_batches=1, batch_size=40, reduce="per_example_mean")
    assert torch.equal(per[0], relative_error_profile(net, x[:40], atk(net, x[:40], y[:40]), reduce="per_example_mean"))
    assert [k for k, _ in probe_modules(net, "ELU")] == ["3"]

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.act = nn.Linear(6, 4), nn.Linear(4, 5), nn.ReLU()

        def forward(self, z):
            return self.act(self.b(self.act(self.a(z))))

    tw = Twice().double()
    acts = probe_activations(tw, x)
    assert len(acts) == 1 and acts[0].shape == (90, 9)
    with pytest.raises(ValueError, match="same shape"):
        relative_error_profile(net, x, x[:5])
    net.eval()
    probe_activations(net, x)
    assert not net.training  # an eval-mode model stays in eval mode


class Bump(nn.Module):
    """Two logits: -||x - 0.5||^2 and 0. For label 1 the loss rises toward x = 0.5, an interior maximum."""

    def forward(self, x):
        return torch.stack([-(x - 0.5).square().sum(1), torch.zeros(len(x), dtype=x.dtype)], 1)


def test_pgd_step_size_and_random_draws_match_references():
    x, y = torch.full((4, 3), 0.45, dtype=torch.float64), torch.ones(4, dtype=torch.long)
    end = pgd(Bump(), x, y, 0.1, steps=25, rand_init=False, clip=None)  # alpha = 2.5 * 0.1 / 25 = 0.01
    assert (end - 0.5).abs().max() <= 0.01 + 1e-12  # a large step would bounce between 0.35 and 0.55
    assert torch.equal(pgd(Bump(), x, y, 0.1, rand_init=False, clip=None),
                       pgd(Bump(), x, y, 0.1, steps=10, alpha=0.025, rand_init=False, clip=None))  # default K = 10
    lin = _linear()
    with torch.no_grad():
        lin.weight[:, 0] = 0  # no gradient along input 0: PGD must not move it
    xr, yr = torch.rand(50, 5, dtype=torch.float64), torch.arange(50) % 3
    assert torch.equal(pgd(lin, xr, yr, 0.2, steps=3, rand_init=False, clip=None)[:, 0], xr[:, 0])
    u = torch.rand(xr.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    start = pgd(lin, xr, yr, 0.2, steps=1, alpha=0.0, clip=None, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(start, xr + (2 * u - 1) * 0.2, atol=1e-15)
    r = torch.randint(0, 2, xr.shape, generator=torch.Generator().manual_seed(4)).double()
    assert torch.equal(noise(lin, xr, yr, 0.2, clip=None, generator=torch.Generator().manual_seed(4)), xr + 0.2 * (2 * r - 1))
    assert torch.equal(noise(lin, xr, yr, 0.7, generator=torch.Generator().manual_seed(4)), (xr + 0.7 * (2 * r - 1)).clamp(0, 1))


def test_lsa_profile_defaults_and_probe_types():
    net = _mixed_net()
    x, y = torch.randn(1500, 6, dtype=torch.float64), torch.arange(1500) % 3
    atk = make_attack("fgsm", 0.3, clip=None)
    p = lsa_profile(net, x, y, atk)
    assert p.shape == (10, 3)  # 10 batches of 128 (card)
    assert torch.equal(p[1], relative_error_profile(net, x[128:256], atk(net, x[128:256], y[128:256])))
    assert lsa_profile(net, x, y, atk, types=("ELU",), n_batches=1).shape == (1, 1)


def test_mvl_input_checks():
    assert most_vulnerable_layers([[1, 5, 2]]) == [1]  # integer input is averaged in float64
    assert most_vulnerable_layers([[0.3]]) == [] and most_vulnerable_layers([[0.3]], "top_k", 1) == [0]
    assert most_vulnerable_layers([[0.3, 0.1]], "top_k", 2) == [0, 1]
    with pytest.raises(ValueError, match=r"at least one probe, got \(2, 0\)"):
        most_vulnerable_layers(torch.zeros(2, 0))
    with pytest.raises(ValueError, match=r"at least one probe, got \(1, 2, 2\)"):
        most_vulnerable_layers(torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="^k is only used"):
        most_vulnerable_layers([[0.3, 0.1]], k=1)
    with pytest.raises(ValueError, match="top_k needs"):
        most_vulnerable_layers([[0.3, 0.1]], "top_k", 0)


def test_atlr_loss_defaults_types_reduce_and_record():
    net = _mixed_net()
    x, y = torch.randn(24, 6, dtype=torch.float64), torch.arange(24) % 3
    atk = make_attack("fgsm", 0.2, clip=None)
    xh = atk(net, x, y)
    a, b = probe_activations(net, x), probe_activations(net, xh)
    ce = float(F.cross_entropy(net(xh), y).detach())
    default = ATLRLoss(net, atk, mvl=[0])
    assert float(default(net, x, y).detach()) == pytest.approx(ce + float(relative_error(a[0], b[0])), rel=1e-12)
    assert default.last == pytest.approx({"ce": ce, "lr": float(relative_error(a[0], b[0]))}, rel=1e-12)
    elu = ATLRLoss(net, atk, mvl=[0], types=("ELU",))  # probe 0 among ELU modules is the ELU (index 1 overall)
    assert float(elu(net, x, y).detach()) == pytest.approx(ce + float(relative_error(a[1], b[1])), rel=1e-12)
    per = ATLRLoss(net, atk, mvl=[2], reduce="per_example_mean")
    want = ce + float(relative_error(a[2], b[2], "per_example_mean"))
    assert float(per(net, x, y).detach()) == pytest.approx(want, rel=1e-12)
    base = ATLRLoss(net, atk)
    assert base.last == {}
    base(net, x, y)
    assert base.last == pytest.approx({"ce": ce, "lr": 0.0}, rel=1e-12)


# ---------------------------------------------------------------- AT-LR loss
def test_atlr_loss_is_ce_plus_gamma_weighted_cm_on_the_mvl():
    torch.manual_seed(0)
    net = _mixed_net()
    x, y = torch.randn(24, 6, dtype=torch.float64), torch.arange(24) % 3
    atk = make_attack("fgsm", 0.2, clip=None)
    xh = atk(net, x, y)
    a, b = probe_activations(net, x), probe_activations(net, xh)
    ce = F.cross_entropy(net(xh), y)
    loss = ATLRLoss(net, atk, mvl=[2, 0], gamma=[0.5, 3.0])(net, x, y)
    want = ce + 0.5 * relative_error(a[2], b[2]) + 3.0 * relative_error(a[0], b[0])
    assert float(loss.detach()) == pytest.approx(float(want.detach()), rel=1e-12)
    assert float(ATLRLoss(net, atk, mvl=[])(net, x, y).detach()) == pytest.approx(float(ce.detach()), rel=1e-12)
    # the regulariser is differentiated through the clean features too
    lfn = ATLRLoss(net, atk, mvl=[1], gamma=2.0)
    g_full = torch.autograd.grad(lfn(net, x, y), net[0].weight)[0]
    g_ce = torch.autograd.grad(F.cross_entropy(net(xh), y), net[0].weight)[0]
    with torch.no_grad():
        ref = net[:4](x)

    def detached_clean(model, xb, yb):
        with_adv = []
        h = model[3].register_forward_hook(lambda _m, _i, o: with_adv.append(o))
        out = F.cross_entropy(model(xh), yb)
        h.remove()
        return out + 2.0 * relative_error(ref, with_adv[0])
    g_detached = torch.autograd.grad(detached_clean(net, x, y), net[0].weight)[0]
    assert not torch.allclose(g_full, g_ce) and not torch.allclose(g_full, g_detached)
    assert lfn.last["lr"] == pytest.approx(2.0 * float(relative_error(a[1], b[1])), rel=1e-12)
    with pytest.raises(ValueError, match="out of range"):
        ATLRLoss(net, atk, mvl=[3])
    with pytest.raises(ValueError, match="gamma has 1 values for 2"):
        ATLRLoss(net, atk, mvl=[0, 1], gamma=[1.0])


# ---------------------------------------------------------------- learning effect (card smoke rung c)
@pytest.fixture(scope="module")
def moon_pair():
    from sklearn.datasets import make_moons

    torch.set_num_threads(1)
    X, Y = make_moons(3000, noise=0.1, random_state=0)
    X, Y = torch.tensor(X, dtype=torch.float32), torch.tensor(Y)
    return pair_run(moon_mlp, (X[:1000], Y[:1000]), (X[1000:], Y[1000:]), eps=0.1, attack="fgsm", attack_steps=1,
                    steps=200, eval_eps=(0.1, 0.3, 0.4), eval_steps=10, clip=None, seed=0)


def test_atlr_lowers_mvl_error_keeps_clean_accuracy(moon_pair):
    r = moon_pair
    assert r["mvl"] and set(r["mvl"]) <= {0, 1, 2} and len(r["mvl_profile"]) == 3
    prof = r["mvl_profile"]
    assert all(prof[i] > sum(prof) / 3 for i in r["mvl"])
    for m in ("at", "at-lr"):
        assert r[m]["acc"][0.0] >= 95
    for i in r["mvl"]:
        assert r["at"]["cm_fgsm"][i] >= 3 * r["at-lr"]["cm_fgsm"][i]
    # card: AT-LR (gamma = 1) gains at the largest eps (seed 0 of the card-sized run)
    assert r["at-lr"]["acc"][0.4] > r["at"]["acc"][0.4]
    assert r["at"]["acc"][0.1] >= r["at"]["acc"][0.3] >= r["at"]["acc"][0.4]


def test_lsa_profile_and_robustness_curve_shapes():
    net = moon_mlp()
    x, y = torch.randn(300, 2), torch.randint(0, 2, (300,))
    p = lsa_profile(net, x, y, make_attack("fgsm", 0.1, clip=None), n_batches=10, batch_size=128)
    assert p.shape == (2, 3)  # only two full batches in 300 samples
    curve = robustness_curve(net, x, y, [0.0, 0.5], "pgd", steps=3, clip=None)
    assert curve[0.5] <= curve[0.0]
    with pytest.raises(ValueError, match="at least one batch"):
        lsa_profile(net, x[:10], y[:10], make_attack("fgsm", 0.1), batch_size=128)


# ---------------------------------------------------------------- the registered probe
def _other_paper_model() -> tuple[str, nn.Module]:
    names = [m.name for m in list_models(task="mnist") if m.paper != "lsa-atlr"]
    assert names, "no MNIST model of another paper is registered"
    small = [n for n in ("parallel_resnet_conv", "gradnoise_deep_mlp", "bottleneck_mlp") if n in names]
    name = (small or names)[0]
    torch.manual_seed(0)
    return name, pz.create_model(name)


def test_probe_on_a_model_of_another_paper_and_errors():
    name, model = _other_paper_model()
    x, y = torch.rand(200, 1, 28, 28), torch.arange(200) % 10
    out = layer_sustainability(model, (x, y))
    assert all(isinstance(v, float) for v in out.values())
    cms = {k: v for k, v in out.items() if k.startswith("cm@")}
    assert cms and out["cm_max"] == max(cms.values()) and out["cm_mean"] == pytest.approx(np.mean(list(cms.values())))
    assert out["n_mvl"] == sum(v > out["cm_mean"] for v in cms.values())
    with pytest.raises(KeyError):
        layer_sustainability(model, (x, y), layers=["no_such_layer"])
    with pytest.raises(ValueError, match="do not fit"):
        layer_sustainability(model, (torch.rand(8, 3, 5), y[:8]))
    with pytest.raises(ValueError, match=r"labels must be \(200,\)"):
        layer_sustainability(model, (x, y[:10]))
    assert get_probe("layer-sustainability").fn is layer_sustainability and not get_probe("layer-sustainability").pair


def test_probe_equals_the_lsa_profile_on_the_cnn_and_uses_the_eps():
    torch.manual_seed(0)
    cnn = lsa_cnn(width=4)
    x, y = torch.rand(60, 1, 28, 28), torch.arange(60) % 10
    out = layer_sustainability(cnn, (x, y), eps=0.2, clip=(0.0, 1.0), batch_size=25)
    assert default_layers(cnn, x) == ["features.1", "features.4", "classifier.1"]
    ref = relative_error_profile(cnn, x, fgsm(cnn.eval(), x, y, 0.2))
    assert [out[f"cm@{k}"] for k in ("features.1", "features.4", "classifier.1")] == pytest.approx(ref.tolist(), rel=1e-5)
    no_labels = layer_sustainability(cnn, x, eps=0.2, clip=(0.0, 1.0))  # predictions as FGSM labels
    assert no_labels["acc_clean"] == 100.0
    small = layer_sustainability(cnn, (x, y), eps=0.02)
    assert small["cm_mean"] < out["cm_mean"]


def test_probe_falls_back_to_linear_outputs_and_skips_reused_modules():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.act = nn.Linear(784, 16), nn.Linear(16, 10), nn.ReLU()

        def forward(self, x):
            return self.b(self.act(self.act(F.relu(self.a(x.flatten(1))))))  # act used twice

    torch.manual_seed(0)
    x = torch.rand(20, 1, 28, 28)
    assert default_layers(Functional(), x) == ["a", "b"]
    assert set(layer_sustainability(Functional(), x)) >= {"cm@a", "cm@b"}


def test_probe_bad_inputs_and_options():
    torch.manual_seed(0)
    cnn = lsa_cnn(width=4)
    x = torch.rand(30, 1, 28, 28)
    out = layer_sustainability(cnn, x)
    cms = [out[f"cm@{k}"] for k in ("features.1", "features.4", "classifier.1")]
    assert out["mvl_first"] == float(np.argmax(cms)) and out["acc_clean"] == 100.0 and out["acc_fgsm"] < 100.0
    lo, hi = float(x.min()), float(x.max())
    assert layer_sustainability(cnn, x, clip=(lo, hi)) == out  # clip="data" is the observed range
    assert layer_sustainability(cnn, x, clip=None) != out
    only = layer_sustainability(cnn, x, layers=["features.4"])
    assert only["cm@features.4"] == pytest.approx(out["cm@features.4"]) and "cm@features.1" not in only
    with pytest.raises(ValueError, match="eps must be > 0"):
        layer_sustainability(cnn, x, eps=0.0)
    with pytest.raises(ValueError, match="NaN"):
        layer_sustainability(cnn, x * float("nan"))
    with pytest.raises(ValueError, match="non-empty float tensor"):
        layer_sustainability(cnn, x.long())
    with pytest.raises(ValueError, match="non-empty list"):
        layer_sustainability(cnn, x, layers=[])
    with pytest.raises(ValueError, match="must return"):
        layer_sustainability(nn.Sequential(nn.Flatten(), nn.Linear(784, 3), nn.Flatten(0)), x)
    with pytest.raises(ValueError, match="has no ReLU"):
        layer_sustainability(nn.Sequential(nn.Flatten(), nn.Unflatten(1, (28, 28)), nn.Flatten()), x)
    with pytest.raises(TypeError, match="nn.Module"):
        layer_sustainability(lambda z: z, x)


def test_probe_measure_edge_cases():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]))
        net[0].bias.zero_()
    x = torch.tensor([[-1.0, 0.01, 0.0], [-2.0, 0.02, 0.0]])  # ReLU output: unit 0 dead, unit 1 small (norm < 1)
    pert = x.clone()
    pert[:, 1] += 0.01
    got = lsa_layers(net, x, pert, ["1", "0"])
    with torch.no_grad():
        assert got["1"] == pytest.approx(float(relative_error(net[:2](x), net[:2](pert))), rel=1e-6)
    assert got["1"] == pytest.approx(np.sqrt(0.0002) / np.sqrt(0.0005), rel=1e-5)
    assert lsa_layers(net, x, x.clone(), ["1"]) == {"1": 0.0}
    dead = torch.tensor([[-1.0, -1.0, 0.0]])
    assert lsa_layers(net, dead, dead + torch.tensor([[0.0, 2.0, 0.0]]), ["1"]) == {"1": float("inf")}
    assert lsa_layers(net, dead, dead.clone(), ["1"]) == {"1": 0.0}  # both zero: no error


def test_probe_error_messages_name_the_model_and_shape():
    x = torch.rand(30, 1, 28, 28)
    with pytest.raises(ValueError, match=r"do not fit Sequential"):
        layer_sustainability(nn.Sequential(nn.Flatten(), nn.Linear(5, 3), nn.ReLU()), x)
    with pytest.raises(ValueError, match=r"logits, got \(6,\)"):  # checked on two samples
        layer_sustainability(nn.Sequential(nn.Flatten(), nn.Linear(784, 3), nn.Flatten(0)), x)

    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(784, 3)

        def forward(self, z):
            return self.lin(z.flatten(1)), z

    with pytest.raises(ValueError, match="logits, got tuple"):
        layer_sustainability(Pair(), x)
    with pytest.raises(ValueError, match="Sequential has no ReLU"):
        layer_sustainability(nn.Sequential(nn.Flatten(), nn.Unflatten(1, (28, 28)), nn.Flatten()), x)


def test_probe_through_run_probe_on_a_saved_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = lsa_cnn(width=4)
    folder = save_model(tmp_path / "ckpt", model, name="lsa_cnn", kwargs={"width": 4})
    x, y = torch.rand(64, 1, 28, 28), torch.arange(64) % 10
    rec = run_probe("layer-sustainability", str(folder), (x, y), out=tmp_path / "out")
    direct = layer_sustainability(model, (x, y))
    assert rec["metrics"] == pytest.approx(direct, rel=1e-6)
    assert json.loads((tmp_path / "out" / "layer-sustainability-ckpt.json").read_text())["metrics"]["n_mvl"] >= 1


# ---------------------------------------------------------------- models and the protocol
def test_cnn_shape_checks():
    assert lsa_cnn()(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert len(probe_modules(lsa_cnn())) == 3
    with pytest.raises(ValueError, match="input must be"):
        lsa_cnn()(torch.rand(2, 784))
    with pytest.raises(ValueError, match="width must be"):
        lsa_cnn(width=0)


def test_tiny_full_protocol_through_overrides_and_resume(tmp_path):
    ov = {"moon_seeds": (0,), "moon_steps": 10, "moon_n": 600, "moon_train": 300, "mnist_train": 256,
          "mnist_test": 40, "mnist_epochs": 1, "mnist_attack_steps": 2, "mnist_width": 4, "mnist_seeds": (0,),
          "eval_steps": 2, "threads": 1}
    r = pz.reproduce("lsa-atlr", "full", overrides=ov, out=tmp_path / "run", progress=False)
    m = r.metrics
    assert m["cm_identity_err"] < 1e-12
    assert m["mnist_gain_e04"] == pytest.approx(m["mnist_atlr_acc_e04"] - m["mnist_at_acc_e04"])
    assert m["mnist_clean_gap"] == pytest.approx(abs(m["mnist_gain_e0"]))
    again = pz.reproduce("lsa-atlr", "full", overrides=ov, out=tmp_path / "run", resume=True, progress=False)
    assert again.metrics == m
