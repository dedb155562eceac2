"""Scaling MLPs: float64 parity of both MLPs with references written here, the closed-form parameter
counts, the LION update, MixUp / label smoothing / flips+crops, the power-law fit on synthetic laws with
known exponents, the compute count, and the protocol plumbing (a tiny `full` run through overrides)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import paperzoo as pz
from paperzoo.nn import count_params
from paperzoo.papers.scaling_mlps import (
    BottleneckMLP,
    Lion,
    StandardMLP,
    bottleneck_params,
    fit_power_law,
    flip_crop,
    forward_macs,
    from_arch_string,
    is_decreasing,
    make_loss,
    make_optimizer,
    mixup,
    parse_arch,
    standard_params,
    train_flops,
)


# ------------------------------------------------------------------ references (float64)
def _ln(z, norm):
    mu = z.mean(-1, keepdim=True)
    var = (z - mu).square().mean(-1, keepdim=True)
    return (z - mu) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias


def _lin(z, layer):
    return z @ layer.weight.T + layer.bias


def _gelu(z):
    return 0.5 * z * (1 + torch.erf(z / math.sqrt(2)))


def ref_bottleneck(net, x):
    z = _lin(x.flatten(1), net.linear_in)
    for blk, norm in zip(net.blocks, net.norms):
        up, down = blk.block[0], blk.block[2]
        z = z + _lin(_gelu(_lin(_ln(z, norm), up)), down)   # pre-norm residual, no final norm
    return _lin(z, net.linear_out)


def ref_standard(net, x):
    z = _lin(x.flatten(1), net.linear_in)
    for layer, norm in zip(net.layers, net.norms):
        z = _lin(_gelu(_ln(z, norm)), layer)                   # norm -> GELU -> Linear, no residual
    return _lin(z, net.linear_out)


def _randomise_norms(net):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.3)
    return net


# ------------------------------------------------------------------ models
def test_bottleneck_matches_float64_reference():
    torch.manual_seed(1)
    net = _randomise_norms(BottleneckMLP(12, 3, blocks=3, thin=5).double())
    x = torch.randn(7, 3, 2, 2, dtype=torch.float64)
    torch.testing.assert_close(net(x), ref_bottleneck(net, x), rtol=0, atol=1e-12)
    assert net.blocks[0].block[0].out_features == 20 and net.blocks[0].block[2].in_features == 20


def test_standard_matches_float64_reference():
    torch.manual_seed(2)
    net = _randomise_norms(StandardMLP(12, 3, depth=4, width=6).double())
    x = torch.randn(7, 12, dtype=torch.float64)
    torch.testing.assert_close(net(x), ref_standard(net, x), rtol=0, atol=1e-12)
    assert len(net.layers) == 3  # depth counts width entries, as the official parser: B_4 -> 3 hidden layers


def test_residual_branch_zeroed_gives_the_linear_skip_path():
    torch.manual_seed(3)
    net = BottleneckMLP(10, 4, blocks=2, thin=6).double()
    with torch.no_grad():
        for blk in net.blocks:
            blk.block[2].weight.zero_()
            blk.block[2].bias.zero_()
    x = torch.randn(5, 10, dtype=torch.float64)
    torch.testing.assert_close(net(x), _lin(_lin(x, net.linear_in), net.linear_out), rtol=0, atol=1e-12)


def test_parameter_counts_closed_form():
    assert count_params(from_arch_string("B_6-Wi_512", 3072, 10)) == 14_182_922  # card smoke (a)
    for dim_in, k, b, w, e in [(784, 10, 4, 128, 4), (12, 3, 2, 5, 2), (3072, 100, 1, 7, 3)]:
        assert count_params(BottleneckMLP(dim_in, k, b, w, expansion=e)) == bottleneck_params(dim_in, k, b, w, e)
    for dim_in, k, d, w in [(784, 10, 4, 512), (12, 3, 1, 5), (30, 7, 3, 9)]:
        assert count_params(StandardMLP(dim_in, k, d, w)) == standard_params(dim_in, k, d, w)
    assert standard_params(784, 10, 4, 512) == 1_198_090 and bottleneck_params(784, 10, 4, 128) == 629_642


def test_arch_strings_and_expansion():
    assert parse_arch("B_6-Wi_512") == (6, 512, 4)
    assert parse_arch("B_4-Wi_64-E_2") == (4, 64, 2)
    net = from_arch_string("B_2-Wi_8-E_2", 20, 3)
    assert [b.block[0].out_features for b in net.blocks] == [16, 16] and len(net.blocks) == 2
    std = from_arch_string("B_3-Wi_8", 20, 3, model="MLP")
    assert isinstance(std, StandardMLP) and len(std.layers) == 2 and std.width == 8
    assert isinstance(from_arch_string("B_1-Wi_4", 20, 3, norm="batch").norms[0], torch.nn.BatchNorm1d)
    for bad in ("B_6-W_512", "6-512", "B_0-Wi_4", None):
        with pytest.raises(ValueError):
            parse_arch(bad)
    with pytest.raises(ValueError, match="official names"):
        from_arch_string("B_1-Wi_4", 20, 3, model="Mixer")
    with pytest.raises(ValueError, match="norm"):
        BottleneckMLP(20, 3, 1, 4, norm="group")
    with pytest.raises(ValueError, match="thin"):
        BottleneckMLP(20, 3, 1, 0)


@pytest.mark.parametrize("bad", ["dim_in", "n_classes", "blocks", "thin", "expansion"])
def test_every_size_is_checked(bad):
    kw = dict(dim_in=20, n_classes=3, blocks=1, thin=4, expansion=2)
    for value in (0, 2.5, True):
        with pytest.raises(ValueError, match=f"{bad} must be a positive int"):
            BottleneckMLP(**{**kw, bad: value})
    std = dict(dim_in=20, n_classes=3, depth=1, width=4)
    if bad in ("dim_in", "n_classes"):
        with pytest.raises(ValueError, match=f"{bad} must be a positive int"):
            StandardMLP(**{**std, bad: 0})


def test_standard_and_block_sizes_are_checked():
    from paperzoo.papers.scaling_mlps import BottleneckBlock

    for name in ("depth", "width"):
        with pytest.raises(ValueError, match=f"{name} must be a positive int"):
            StandardMLP(**{**dict(dim_in=20, n_classes=3, depth=1, width=4), name: 0})
    for name in ("thin", "wide"):
        with pytest.raises(ValueError, match=f"{name} must be a positive int"):
            BottleneckBlock(**{**dict(thin=3, wide=6), name: 0})
    with pytest.raises(ValueError, match="blocks must be"):
        parse_arch("B_0-Wi_4")
    with pytest.raises(ValueError, match="expansion must be"):
        parse_arch("B_1-Wi_4-E_0")
    with pytest.raises(ValueError, match="width must be"):
        parse_arch("B_1-Wi_0")


def test_inputs_are_flattened_and_checked():
    net = pz.create_model("bottleneck_mlp")
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(net(x), net(x.flatten(1)))
    with pytest.raises(ValueError, match="BottleneckMLP: inputs flatten to 3072 features, but in_dim=784"):
        net(torch.rand(3, 3, 32, 32))
    with pytest.raises(ValueError, match="StandardMLP: expected a batch"):
        pz.create_model("standard_mlp")(torch.rand(784))
    with pytest.raises(ValueError, match="StandardMLP: inputs flatten to 10 features"):
        pz.create_model("standard_mlp")(torch.rand(2, 10))
    with pytest.raises(ValueError, match="BottleneckMLP: expected a batch"):
        net(torch.rand(784))
    assert pz.create_model("standard_mlp", in_dim=3072)(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_registered_defaults_and_budget():
    assert count_params(pz.create_model("bottleneck_mlp")) == bottleneck_params(784, 10, 4, 128)
    assert count_params(pz.create_model("standard_mlp")) == standard_params(784, 10, 4, 512)
    m = pz.create_model("bottleneck_mlp", params=300_000, in_dim=3072)
    assert abs(count_params(m) - 300_000) <= 30_000 and m.dim_in == 3072


# ------------------------------------------------------------------ training recipe
def test_lion_matches_reference_over_steps_with_decay():
    torch.manual_seed(4)
    w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    ref, m = w.detach().clone(), torch.zeros(5, 3, dtype=torch.float64)
    lr, b1, b2, wd = 0.01, 0.8, 0.95, 0.1
    opt = Lion([w], lr=lr, betas=(b1, b2), weight_decay=wd)
    for _ in range(4):
        g = torch.randn(5, 3, dtype=torch.float64)
        w.grad = g.clone()
        opt.step()
        ref = ref * (1 - lr * wd)
        ref = ref - lr * torch.sign(b1 * m + (1 - b1) * g)
        m = b2 * m + (1 - b2) * g
        torch.testing.assert_close(w.detach(), ref, rtol=0, atol=1e-14)


def test_lion_first_step_moves_each_weight_by_lr():
    net = BottleneckMLP(6, 2, 1, 3).double()
    before = [p.detach().clone() for p in net.parameters()]
    net(torch.randn(4, 6, dtype=torch.float64)).square().sum().backward()
    Lion(net.parameters(), lr=1e-3).step()
    for p, b in zip(net.parameters(), before):
        moved = (p.detach() - b).abs()
        torch.testing.assert_close(moved[p.grad != 0], torch.full_like(moved[p.grad != 0], 1e-3), rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="lr must be > 0"):
        Lion(net.parameters(), lr=0.0)
    for betas in ((1.0, 0.9), (0.9, 1.0), (-0.1, 0.9), (0.9, -0.1)):
        with pytest.raises(ValueError, match="betas must be in"):
            Lion(net.parameters(), betas=betas)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        Lion(net.parameters(), weight_decay=-1.0)
    Lion(net.parameters(), betas=(0.0, 0.0))  # both ends of [0, 1) are allowed


def test_mixup_is_a_convex_combination_of_pairs():
    x, y = torch.randn(16, 3), torch.arange(16)
    assert mixup(x, y, 0.0)[3] == 1.0 and mixup(x, y, 0.0)[0] is x
    torch.manual_seed(5)
    xm, ya, yb, lam = mixup(x, y, 0.8)
    assert 0 < lam < 1 and torch.equal(ya, y) and sorted(yb.tolist()) == list(range(16))
    torch.testing.assert_close(xm, lam * x + (1 - lam) * x[yb])
    torch.manual_seed(1)
    p1 = mixup(x, y, 0.8, generator=torch.Generator().manual_seed(3))[2]
    torch.manual_seed(2)
    assert torch.equal(p1, mixup(x, y, 0.8, generator=torch.Generator().manual_seed(3))[2])  # the generator decides
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        mixup(x, y, -1.0)


def test_loss_is_smoothed_ce_and_mixes_two_targets():
    torch.manual_seed(6)
    net = StandardMLP(8, 4, 2, 5)
    x, y = torch.randn(10, 8), torch.randint(0, 4, (10,))
    logp = net(x).log_softmax(-1)
    manual = -(0.7 * logp.gather(1, y[:, None]).squeeze(1) + 0.3 * logp.mean(-1)).mean()
    torch.testing.assert_close(make_loss(smoothing=0.3)(net, x, y), manual)
    torch.manual_seed(7)
    got = make_loss(smoothing=0.1, mixup_alpha=0.8)(net, x, y)
    torch.manual_seed(7)
    xm, ya, yb, lam = mixup(x, y, 0.8)
    out = net(xm)
    want = lam * F.cross_entropy(out, ya, label_smoothing=0.1) + (1 - lam) * F.cross_entropy(out, yb, label_smoothing=0.1)
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError):
        make_loss(smoothing=1.0)


def test_loss_defaults_and_augmentation_path():
    torch.manual_seed(10)
    net = StandardMLP(3 * 8 * 8, 4, 2, 6)
    x, y = torch.randn(12, 3, 8, 8), torch.randint(0, 4, (12,))
    plain = F.cross_entropy(net(x), y, label_smoothing=0.3)
    torch.testing.assert_close(make_loss()(net, x, y), plain)                  # defaults: smoothing 0.3, no aug/mixup
    torch.testing.assert_close(make_loss(smoothing=0.0)(net, x, y), F.cross_entropy(net(x), y))
    torch.manual_seed(11)
    got = make_loss(augment=True)(net, x, y)
    torch.manual_seed(11)
    torch.testing.assert_close(got, F.cross_entropy(net(flip_crop(x, 4)), y, label_smoothing=0.3))
    assert not torch.allclose(got, plain)
    flat = x.flatten(1)                                                        # vectors are never augmented
    torch.testing.assert_close(make_loss(augment=True)(net, flat, y), plain)
    with pytest.raises(ValueError, match="label smoothing"):
        make_loss(smoothing=-0.1)


def test_flip_crop_returns_shifted_flipped_windows():
    torch.manual_seed(8)
    x = torch.randn(64, 2, 6, 6)
    out = flip_crop(x, pad=2)
    padded = [F.pad(v, (2, 2, 2, 2)) for v in (x, x.flip(-1))]
    for i in range(64):
        hits = [(f, dy, dx) for f in (0, 1) for dy in range(5) for dx in range(5)
                if torch.equal(out[i], padded[f][i, :, dy:dy + 6, dx:dx + 6])]
        assert hits, f"sample {i} is no flipped/cropped window"
    flips = flip_crop(x, pad=0)
    is_flip = [torch.equal(flips[i], x[i].flip(-1)) for i in range(64)]
    assert all(is_flip[i] or torch.equal(flips[i], x[i]) for i in range(64)) and 16 < sum(is_flip) < 48
    with pytest.raises(ValueError, match=r"expects images \(B, C, H, W\)"):
        flip_crop(x[0])
    with pytest.raises(ValueError, match="pad must be >= 0"):
        flip_crop(x, pad=-1)


@pytest.mark.parametrize("pad", [1, 2])
def test_flip_crop_offsets_cover_the_padding_and_follow_the_generator(pad):
    torch.manual_seed(12)
    x = torch.randn(160, 1, 5, 5)
    out = flip_crop(x, pad=pad)
    padded = [F.pad(v, (pad, pad, pad, pad)) for v in (x, x.flip(-1))]
    offsets = set()
    for i in range(160):
        offsets |= {(dy, dx) for f in (0, 1) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                    if torch.equal(out[i], padded[f][i, :, dy:dy + 5, dx:dx + 5])}
    assert {dy for dy, _ in offsets} == set(range(2 * pad + 1)) == {dx for _, dx in offsets}
    torch.manual_seed(1)
    a = flip_crop(x, pad, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(2)
    assert torch.equal(a, flip_crop(x, pad, generator=torch.Generator().manual_seed(4)))


def test_make_optimizer_names():
    p = [torch.nn.Parameter(torch.zeros(2))]
    for name, cls in (("lion", Lion), ("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD)):
        opt = make_optimizer(name, 0.0123, 0.045)(p)
        assert isinstance(opt, cls) and opt.param_groups[0]["lr"] == 0.0123
        assert opt.param_groups[0]["weight_decay"] == 0.045
        assert make_optimizer(name, 0.5)(p).param_groups[0]["weight_decay"] == 0.0   # official default 0
    assert make_optimizer("sgd", 0.01)(p).param_groups[0]["momentum"] == 0.9
    with pytest.raises(ValueError, match="optimizer must be"):
        make_optimizer("adam", 1e-3)


# ------------------------------------------------------------------ scaling law
@pytest.mark.parametrize("a,b,c", [(3e3, 0.3, 4.0), (50.0, 0.08, 0.5), (2e6, 0.6, 0.0), (1e16, 1.5, 10.0)])
def test_offset_fit_recovers_known_laws(a, b, c):
    x = torch.logspace(9, 14, 6, dtype=torch.float64)
    f = fit_power_law(x, a * x.pow(-b) + c)
    assert f.offset and abs(f.b - b) < 1e-7 * b and abs(f.a - a) < 1e-6 * a and abs(f.c - c) < 1e-6 * (1 + c)
    assert f.r2 > 1 - 1e-12
    torch.testing.assert_close(f.predict(x), a * x.pow(-b) + c, rtol=1e-8, atol=0)


def test_pure_fit_is_loglog_least_squares():
    x = torch.tensor([1e3, 1e4, 1e5, 1e6], dtype=torch.float64)
    f = fit_power_law(x, 7.0 * x.pow(-0.4), offset=False)
    assert abs(f.b - 0.4) < 1e-12 and abs(f.a - 7.0) < 1e-9 and f.c == 0 and f.r2 == pytest.approx(1.0)
    assert not f.offset and f.n == 4 and fit_power_law(x, 7.0 * x.pow(-0.4) + 1).n == 4
    ints = fit_power_law([1000, 10000, 100000, 1000000], [70, 28, 11, 4], offset=False)   # plain ints are fine
    assert ints.b == pytest.approx(float(-(torch.tensor([70.0, 28, 11, 4]).log().diff() / math.log(10)).mean()), rel=0.05)
    torch.testing.assert_close(f.predict([1e3, 1e9]), 7.0 * torch.tensor([1e3, 1e9], dtype=torch.float64) ** -0.4,
                               rtol=1e-12, atol=0)
    two = fit_power_law([1.0, 4.0], [2.0, 1.0], offset=False)
    assert two.b == pytest.approx(0.5) and two.a == pytest.approx(2.0)
    flat = fit_power_law([1.0, 2.0, 4.0], [3.0, 3.0, 3.0], offset=False)
    assert flat.r2 == 1.0 and flat.b == pytest.approx(0.0, abs=1e-12)
    small = fit_power_law([0.1, 0.2, 0.4], [1.0, 0.5, 0.25], offset=False)   # x below 1 is fine
    assert small.b == pytest.approx(1.0)
    y = torch.tensor([30.0, 20.0, 16.0, 9.0], dtype=torch.float64)
    lx, ly = x.log(), y.log()
    slope = ((lx - lx.mean()) * (ly - ly.mean())).sum() / (lx - lx.mean()).square().sum()
    g = fit_power_law(x, y, offset=False)
    resid = ly - (ly.mean() + slope * (lx - lx.mean()))
    assert g.b == pytest.approx(-float(slope), abs=1e-12)
    assert g.a == pytest.approx(float((ly.mean() - slope * lx.mean()).exp()), rel=1e-10)
    assert g.r2 == pytest.approx(float(1 - resid.square().sum() / (ly - ly.mean()).square().sum()), abs=1e-12)


def test_offset_fit_is_optimal_on_noisy_data():
    g = torch.Generator().manual_seed(9)
    x = torch.logspace(8, 12, 9, dtype=torch.float64)
    y = (900 * x.pow(-0.25) + 3) * (1 + 0.03 * torch.randn(9, generator=g, dtype=torch.float64))
    f = fit_power_law(x, y)
    sse = float((f.predict(x) - y).square().sum())
    best = math.inf
    for b in torch.linspace(0.01, 1.0, 2000, dtype=torch.float64):
        basis = torch.stack([x.pow(-b), torch.ones_like(x)], 1)
        sol = torch.linalg.lstsq(basis, y[:, None]).solution.flatten()
        if sol[1] >= 0:
            best = min(best, float((basis @ sol - y).square().sum()))
    assert sse <= best + 1e-9 and 0.15 < f.b < 0.35 and f.c >= 0
    assert f.r2 == pytest.approx(1 - sse / float((y - y.mean()).square().sum()), abs=1e-12)


def test_offset_clipped_at_zero_when_the_law_curves_up():
    x = torch.logspace(2, 6, 5, dtype=torch.float64)
    y = 5.0 * x.pow(-0.5) - 0.001
    f = fit_power_law(x, y)
    assert f.c == 0.0 and f.a > 0 and f.b > 0
    best = math.inf
    for b in torch.linspace(0.2, 1.0, 4000, dtype=torch.float64):   # c = 0: a = <f, y> / <f, f>
        basis = x.pow(-b)
        best = min(best, float(((basis @ y) / (basis @ basis) * basis - y).square().sum()))
    assert float((f.predict(x) - y).square().sum()) <= best * (1 + 1e-9)


def test_fit_search_settings_are_checked():
    x, y = [1.0, 2.0, 4.0], [3.0, 2.0, 1.5]
    for kw in (dict(b_max=0.0), dict(grid=2)):
        with pytest.raises(ValueError, match="need b_max > 0 and grid >= 3"):
            fit_power_law(x, y, **kw)
    assert fit_power_law(x, y, grid=3, b_max=0.5).b <= 0.5 + 1e-12


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="must be positive"):
        fit_power_law([1.0, 2.0, 3.0], [1.0, -1.0, 0.5])
    with pytest.raises(ValueError, match="must be positive"):
        fit_power_law([0.0, 2.0, 3.0], [1.0, 0.7, 0.5])
    with pytest.raises(ValueError, match="must be positive"):
        fit_power_law([1.0, 2.0, 3.0], [1.0, 0.0, 0.5])
    with pytest.raises(ValueError, match="at least 3"):
        fit_power_law([1.0, 2.0], [2.0, 1.0])
    with pytest.raises(ValueError, match="values"):
        fit_power_law([1.0, 2.0, 3.0], [2.0, 1.0])
    with pytest.raises(ValueError, match="x needs at least two distinct values"):
        fit_power_law([2.0, 2.0], [2.0, 1.0], offset=False)
    with pytest.raises(ValueError, match="x and y must be finite"):
        fit_power_law([1.0, 2.0, math.inf], [2.0, 1.0, 0.5])


def test_compute_count_and_monotonicity():
    net = StandardMLP(784, 10, 3, 32)
    assert forward_macs(net) == 784 * 32 + 2 * 32 * 32 + 32 * 10
    assert train_flops(net, 1000) == 3.0 * forward_macs(net) * 1000
    bn = BottleneckMLP(784, 10, 2, 16)
    assert forward_macs(bn) == 784 * 16 + 2 * 2 * 16 * 64 + 16 * 10
    with pytest.raises(ValueError, match="no nn.Linear"):
        forward_macs(torch.nn.ReLU())
    assert train_flops(net, 0) == 0.0
    with pytest.raises(ValueError, match="samples"):
        train_flops(net, -1)
    assert is_decreasing([2.0, 1.0]) and is_decreasing([9.0, 7.5, 7.0])
    assert not is_decreasing([9.0, 9.0, 7.0]) and not is_decreasing([1.0])
    assert not is_decreasing([3.0, 2.0, 2.5])


# ------------------------------------------------------------------ protocol plumbing and a learning effect
TINY = dict(fmnist_n_train=1024, fmnist_n_test=1000, fmnist_epochs=2, fmnist_widths=(4, 16, 64), fmnist_main_width=16,
            fmnist_std_depth=2, fmnist_std_width=16, cifar_n_train=256, cifar_epochs=1, cifar_widths=(4, 8),
            cifar_blocks=1, cifar_main_width=8, cifar_std_depth=2, cifar_std_width=8, batch_size=128, lr=1e-3, overfit_steps=0)


def test_tiny_full_protocol_runs_paper_recipe(tmp_path, require_data):
    require_data("fashion_mnist")
    require_data("cifar10")
    r = pz.reproduce("scaling-mlps", "full", overrides=TINY, out=tmp_path / "run", progress=False)
    m = r.metrics
    assert r.config["optimizer"] == "lion" and r.config["mixup"] == 0.8 and r.config["augment"]
    assert m["param_count_err"] == 0 and m["lion_step_err"] < 1e-12 and m["fit_recovery_err"] < 1e-6
    assert m["cifar_bottleneck_acc_lo"] <= m["cifar_bottleneck_acc"] <= m["cifar_bottleneck_acc_hi"]
    rows = r.tables["cifar_models"]["rows"]
    assert len(rows) == 3 and "1,000-image" in r.tables["cifar_models"]["caption"]
    assert any("first 1,000" in n for n in r.notes)
    curve = r.curves["fmnist_error_vs_compute"]
    assert curve["logx"] and curve["logy"] and len(curve["x"]) == 3 and curve["x"] == sorted(curve["x"])
    assert m["fmnist_param_ratio"] == pytest.approx(bottleneck_params(784, 10, 4, 16) / standard_params(784, 10, 2, 16))
    # learning effect: even 2 epochs on 1k Fashion-MNIST images with LION (lr 1e-3) beat chance (10 %) by a margin
    assert m["fmnist_bottleneck_acc"] > 40.0


def test_smoke_identities_and_overfit(tmp_path, require_data):
    require_data("mnist")
    require_data("fashion_mnist")
    r = pz.reproduce("scaling-mlps", "smoke", out=tmp_path / "run", progress=False)
    assert r.passed and r.metrics["overfit_train_acc"] == 100.0
    assert r.metrics["param_count_b6_wi512"] == 14_182_922
    with pytest.raises(ValueError, match="main width"):
        pz.reproduce("scaling-mlps", "smoke", overrides={"fmnist_main_width": 5, "overfit_steps": 0}, out=tmp_path / "bad",
                     progress=False)
