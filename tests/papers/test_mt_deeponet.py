"""MT-DeepONet: the Taylor maps, the masked output and loss, the official layouts and transfer layer set, the
generators (Fisher, geometry masks, masked Darcy), the losses and schedules, a learning effect, and a tiny full run."""
import math

import pytest
import torch
from torch import nn

import paperzoo as pz
from paperzoo.nn import count_params
from paperzoo.papers.mt_deeponet import (
    DarcyBranchCNN,
    DarcyMTDeepONet,
    FisherBranchMLP,
    MTDeepONet,
    Standardizer,
    Trunk,
    darcy_geometry_dataset,
    fisher_dataset,
    fisher_family,
    freeze_for_transfer,
    geometry_mask,
    grid_coords,
    masked_mse,
    mt_deeponet_darcy,
    mt_deeponet_fisher,
    predict_fisher,
    reaction,
    relative_l2,
    taylor_coeffs,
    train_darcy_target,
    train_fisher,
)
from paperzoo.papers.mt_deeponet.reproduce import mask_checks, taylor_checks
from paperzoo.papers.mt_deeponet.training import darcy_set, fisher_grid, piecewise, staircase

D64 = torch.float64


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path / "cache"))


# ---------------------------------------------------------------- Taylor maps
def test_taylor_coeffs_values():
    assert torch.allclose(taylor_coeffs("kpp", 0.3), torch.tensor([0.3, -0.3, 0, 0], dtype=D64))
    assert torch.allclose(taylor_coeffs(2, 0.3), torch.tensor([0.3, 0, -0.3, 0], dtype=D64))
    e = 0.5 * math.exp(-1.0)
    assert torch.allclose(taylor_coeffs("exp", 0.5, 1.0), torch.tensor([e, 0, -0.5 * e, -0.5 * e], dtype=D64), atol=1e-15)
    assert torch.allclose(taylor_coeffs("exp", 0.5, 1.0, mode="exact"), torch.tensor([e, 0, -0.5 * e, -e / 3], dtype=D64),
                          atol=1e-15)
    e2 = 0.2 * math.exp(-2.0)  # beta = 2: c2 = e2 (b - 1), c3 = e2 b (b / 2 - 1) = 0, c4 = -2 e2 / exact -2 e2 / 3
    assert torch.allclose(taylor_coeffs(3, torch.tensor([0.2]), torch.tensor([2.0]), mode="exact"),
                          torch.tensor([[e2, e2, 0, -2 * e2 / 3]], dtype=D64), atol=1e-15)
    assert taylor_coeffs("exp", torch.ones(3, 2), torch.ones(3, 2)).shape == (3, 2, 4)


def test_taylor_checks_are_round_off():
    assert all(v < 1e-12 for v in taylor_checks().values())


@pytest.mark.parametrize("family", ["kpp", "cubic", "exp"])
def test_exact_coefficients_match_the_reaction_term_to_fifth_order(family):
    a, b = torch.tensor([0.7], dtype=D64), torch.tensor([1.3], dtype=D64)
    c = taylor_coeffs(family, a, b, mode="exact")[0]
    errs = []
    for u in (1e-2, 5e-3):
        uu = torch.tensor([[u]], dtype=D64)
        poly = sum(c[k] * u ** (k + 1) for k in range(4))
        errs.append(float((reaction(family, a, b)(uu) - poly).abs()))
    assert errs[1] < 1e-9 and (family != "exp" or errs[0] / errs[1] > 25)  # O(u^5): halving u divides by ~32


def test_official_exp_coefficients_are_only_third_order():
    a, b = torch.tensor([0.7], dtype=D64), torch.tensor([1.3], dtype=D64)
    c = taylor_coeffs("exp", a, b)[0]
    errs = [abs(float(reaction("exp", a, b)(torch.tensor([[u]], dtype=D64))) - sum(c[k] * u ** (k + 1) for k in range(4)))
            for u in (1e-2, 5e-3)]
    assert 12 < errs[0] / errs[1] < 20  # O(u^4) error: the missing b^3 u^4 / 6 term


def test_taylor_bad_input():
    with pytest.raises(ValueError, match="family"):
        taylor_coeffs("logistic", 1.0)
    with pytest.raises(ValueError, match="beta"):
        taylor_coeffs("exp", 1.0)
    with pytest.raises(ValueError, match="mode"):
        taylor_coeffs("kpp", 1.0, mode="taylor")


# ---------------------------------------------------------------- model
def test_fisher_layout_matches_the_official_sizes():
    m = mt_deeponet_fisher()
    assert count_params(m.branch) == 68 * 128 + 128 + 256 + 128 * 128 + 128 + 256 + 128 * 300 + 300  # 64 556
    assert count_params(m.trunk) == 2 * 128 + 128 + 2 * (128 * 128 + 128) + 128 * 300 + 300  # 72 108
    assert m.b0 is None
    acts = [x for x in m.modules() if isinstance(x, nn.LeakyReLU)]
    assert len(acts) == 5 and all(x.negative_slope == 0.2 for x in acts)
    lns = [x for x in m.branch.modules() if isinstance(x, nn.LayerNorm)]
    assert len(lns) == 2 and all(x.eps == 1e-3 for x in lns)
    assert isinstance(m.branch.net[0], nn.Linear) and isinstance(m.branch.net[1], nn.LayerNorm)  # Dense, then LN, then act
    assert len(m.branch.kernels()) == 3 and m.branch.kernels()[-1].shape == (300, 128)


def test_deeponet_forward_is_the_masked_dot_product_float64():
    torch.manual_seed(0)
    m = MTDeepONet(FisherBranchMLP(4, 8, (16,), 10), Trunk((2, 12), 10), 10).double()
    v, y = torch.randn(3, 12, dtype=D64), torch.rand(5, 2, dtype=D64)
    b, t = m.branch(v), m.trunk(y)
    ref = torch.einsum("bk,nk->bn", b, t)
    assert torch.allclose(m(v, y), ref, atol=1e-14)
    mask = (torch.rand(3, 5) > 0.5).double()
    assert torch.allclose(m(v, y, mask), ref * mask, atol=1e-14)
    assert torch.allclose(m(v, y, mask[0]), ref * mask[0], atol=1e-14)
    # trunk: leaky-ReLU(0.2) after the hidden layer, linear output
    h = m.trunk.net[0](y)
    assert torch.allclose(t, m.trunk.net[-1](torch.where(h > 0, h, 0.2 * h)), atol=1e-14)
    with pytest.raises(ValueError, match="mask"):
        m(v, y, torch.ones(3, 4))
    with pytest.raises(ValueError, match="latent"):
        MTDeepONet(FisherBranchMLP(4, 8, (16,), 10), Trunk((2, 12), 9)).double()(v, y)


def test_glorot_normal_kernels_and_small_normal_biases():
    torch.manual_seed(0)
    t = Trunk((400, 600), 10)
    w, b = t.net[0].weight.detach(), t.net[0].bias.detach()
    assert abs(float(w.std()) / math.sqrt(2 / 1000) - 1) < 0.03 and abs(float(b.std()) / 0.01 - 1) < 0.2
    c = DarcyBranchCNN(2, (64,), 5, (8,), 4, res=8).cnn[0].weight.detach()
    assert abs(float(c.std()) / math.sqrt(2 / ((2 + 64) * 25)) - 1) < 0.1


def test_darcy_branch_official_shapes():
    cnn = DarcyBranchCNN(res=100)
    assert cnn.mlp[0].in_features == 64 * 6 * 6  # 100 -> 50 -> 25 -> 12 -> 6 (card)
    assert cnn(torch.randn(2, 2, 100, 100)).shape == (2, 150)
    assert [m.p for m in cnn.mlp if isinstance(m, nn.Dropout)] == [0.1, 0.1]
    assert sum(isinstance(m, nn.Tanh) for m in cnn.mlp) == 2 and sum(isinstance(m, nn.ReLU) for m in cnn.cnn) == 4
    model = DarcyMTDeepONet(1, res=100)
    assert [x.out_features for x in model.net.trunk.net if isinstance(x, nn.Linear)] == [64, 128, 128, 128, 150]
    assert [x.out_channels for x in model.net.branch.cnn if isinstance(x, nn.Conv2d)] == [16, 32, 64, 64]
    with pytest.raises(ValueError, match="res"):
        DarcyBranchCNN(res=8)


def test_darcy_model_masks_and_reads_the_mask():
    torch.manual_seed(0)
    m = DarcyMTDeepONet(1, res=16, width=16).double().eval().requires_grad_(False)
    x = torch.randn(2, 1, 16, 16, dtype=D64)
    mask = geometry_mask("triangle", 16)
    out = m(x, mask)
    assert out.shape == (2, 1, 16, 16) and float(out[:, :, mask == 0].abs().max()) == 0.0
    full = m(x)
    assert torch.equal(full, m(x, torch.ones(16, 16, dtype=D64)))
    assert float((full - out)[:, :, mask > 0].abs().max()) > 1e-6  # the mask is a branch input as well
    y = grid_coords(16, dtype=D64)
    ref = (m.net.branch(torch.cat([x, mask.expand(2, 1, 16, 16)], 1)) @ m.net.trunk(y).T).view(2, 1, 16, 16) * mask
    assert torch.allclose(out, ref, atol=1e-13)
    with pytest.raises(ValueError, match="res"):
        m(torch.randn(2, 1, 12, 12, dtype=D64))
    with pytest.raises(ValueError, match="out_ch"):
        mt_deeponet_darcy(out_ch=2)


def test_grid_coords_row_major():
    g = grid_coords(3)
    assert g.shape == (9, 2) and g[1].tolist() == [-1.0, 0.0] and g[3].tolist() == [0.0, -1.0]
    f = fisher_grid(2, 3)
    assert f[1].tolist() == [0.0, 0.5] and f[3].tolist() == [1.0, 0.0]  # (t, x), x fastest like u.reshape(n, nt * nx)


def test_freeze_for_transfer_official_layer_set():
    m = DarcyMTDeepONet(1, res=16, width=16)
    names = freeze_for_transfer(m)
    assert names == ["net.branch.cnn.0.weight", "net.branch.cnn.0.bias", "net.branch.mlp.0.weight", "net.branch.mlp.0.bias",
                     "net.branch.mlp.3.weight", "net.branch.mlp.3.bias", "net.branch.mlp.6.weight", "net.branch.mlp.6.bias",
                     "net.trunk.net.8.weight", "net.trunk.net.8.bias"]


def test_transfer_training_moves_only_the_unfrozen_layers():
    torch.manual_seed(0)
    m = DarcyMTDeepONet(1, res=16, width=16)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    x = torch.randn(8, 16, 16)
    data = darcy_set(x, geometry_mask("disc", 16), torch.rand(8, 16, 16) * geometry_mask("disc", 16),
                     Standardizer.fit(x))
    train_darcy_target(m, data, steps=3, batch=4)
    trainable = set(n for n, p in m.named_parameters() if p.requires_grad)
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k]) != (k in trainable), k


# ---------------------------------------------------------------- losses and schedules
def test_masked_mse_and_relative_l2():
    pred = torch.tensor([[1.0, 3.0, 3.0], [0.0, 1.0, 1.0]])
    target = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    assert float(masked_mse(pred, target, mask)) == pytest.approx((0 + 9 + 0 + 1 + 1 + 1) / 6)
    with pytest.raises(ValueError, match="masked_mse"):
        masked_mse(pred, target[:1], mask)
    pred = torch.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, 1.0]])
    ps = relative_l2(pred, target)
    assert ps.tolist() == pytest.approx([math.sqrt(13), 1.0])
    assert float(relative_l2(pred, target, per_sample=False)) == pytest.approx(math.sqrt(5))  # not the mean of ps
    with pytest.raises(ValueError, match="differ"):
        relative_l2(pred, target[:1])


def test_schedules_and_standardizer():
    f = staircase()
    assert [f(0), f(999), f(1000), f(2999)] == pytest.approx([1, 1, 0.95, 0.95 ** 2])
    g = piecewise((5001, 8001), (1e-3, 5e-4, 1e-4))
    assert [g(5001), g(5002), g(8001), g(8002)] == pytest.approx([1, 0.5, 0.5, 0.1])
    x = torch.randn(50, 3, dtype=D64) * 4 + 2
    s = Standardizer.fit(x)
    z = s.encode(x)
    assert torch.allclose(z.mean(0), torch.zeros(3, dtype=D64), atol=1e-12)
    assert torch.allclose(z.std(0, unbiased=False), torch.ones(3, dtype=D64), atol=1e-8)
    assert torch.allclose(s.decode(z), x, atol=1e-12)


def test_mask_checks_are_exact():
    m = mask_checks(0)
    assert m["mask_outside_max"] == 0.0 and m["mask_grad_change"] == 0.0 and m["mask_inside_nonzero"] == 1.0


# ---------------------------------------------------------------- data
def test_fisher_family_solves_the_pde_from_the_sigmoid_ic():
    d = fisher_family("exp", 2, [0.5, 1.0], [1.0, 2.0], nx=16, nt=4, steps_per_frame=20)
    assert d["v"].shape == (8, 20) and d["u"].shape == (8, 4, 16)
    assert torch.equal(d["u"][:, 0], d["v"][:, 4:]) and bool(((d["u"] > 0) & (d["u"] < 1)).all())
    assert torch.allclose(d["v"][:, :4], taylor_coeffs("exp", d["a"], d["beta"]))
    grow = d["u"][:, -1].mean(1) - d["u"][:, 0].mean(1)  # logistic growth towards u = 1 (zero-flux ends)
    assert bool((grow > 0).all()) and float(grow[d["a"] == 1.0].min()) > float(grow[d["a"] == 0.5].max()) - 0.2
    with pytest.raises(ValueError, match="beta"):
        fisher_family("exp", 1, [0.5])


def test_fisher_dataset_counts_and_cache():
    d = fisher_dataset((2, 2, 1), n_a=2, n_beta=3, nx=8, nt=3)
    assert d["v"].shape == (4 + 4 + 6, 12) and d["family"].tolist() == [0] * 4 + [1] * 4 + [2] * 6
    again = fisher_dataset((2, 2, 1), n_a=2, n_beta=3, nx=8, nt=3)
    assert torch.equal(d["u"], again["u"])


def test_geometry_masks_areas_and_symmetry():
    areas = {"square": 0.64, "disc": math.pi * 0.16, "triangle": math.sqrt(3) / 4 * 0.64, "cross": 0.64 - 0.1275}
    for g, area in areas.items():
        m = geometry_mask(g, 199)  # no node on a bar edge
        assert abs(float(m.mean()) - area) < 0.02, g
        assert float((m - m.flip(0)).abs().mean()) < 2e-3, g  # symmetric under x -> 1 - x (up to node round-off)
    tri = geometry_mask("triangle", 201)
    assert not torch.equal(tri, tri.T) and float(tri[100, 160]) == 1.0 and float(tri[160, 100]) == 0.0  # apex up in y
    with pytest.raises(ValueError, match="geometry"):
        geometry_mask("hexagon", 10)


def test_darcy_solution_lives_on_the_mask():
    d = darcy_geometry_dataset("triangle", 2, 24)
    mask, h = d["mask"], d["h"]
    inner = mask.bool().clone()
    inner[0], inner[-1], inner[:, 0], inner[:, -1] = False, False, False, False
    assert float(h[:, mask == 0].abs().max()) == 0.0 and bool((h[:, inner] > 0).all())


# ---------------------------------------------------------------- learning and protocols
def test_fisher_learning_effect():
    d = fisher_family("kpp", 40, [0.4, 0.9], nx=16, nt=5, steps_per_frame=10)
    torch.manual_seed(0)
    m = mt_deeponet_fisher(n_sensors=16, width=32)
    scaler, steps = train_fisher(m, d["v"][:64], d["u"][:64], steps=200, batch=32, seed=0)
    err = float(relative_l2(predict_fisher(m, scaler, d["v"][64:], 5, 16), d["u"][64:], per_sample=False))
    base = float(relative_l2(d["u"][:64].mean(0).expand_as(d["u"][64:]), d["u"][64:], per_sample=False))
    assert steps == 200 and err < 0.5 * base  # card smoke (c) criterion (measured: ~0.3 x)


def test_tiny_full_protocol_runs(tmp_path):
    r = pz.reproduce("mt-deeponet", "full", seed=0, out=tmp_path / "run", progress=False,
                     overrides={"fisher_counts": (2, 2, 1), "nx": 8, "nt": 3, "steps": 4, "batch": 8, "res": 16,
                                "n_source": 4, "n_source_test": 2, "source_steps": 2, "source_batch": 4, "n_target": 4,
                                "n_target_test": 2, "target_steps": 2, "threads": 1})
    for k in ("fisher_rel_l2", "synergy_ratio", "darcy_rel_l2", "transfer_gain", "target_zero_shot_l2"):
        assert math.isfinite(r.metrics[k]), k
    assert set(r.tables) >= {"fisher", "darcy source", "transfer"}


def test_defaults_options_and_bad_sizes():
    assert FisherBranchMLP().in_dim == 68 and FisherBranchMLP()(torch.randn(2, 68)).shape == (2, 300)
    assert Trunk()(torch.rand(3, 2)).shape == (3, 300) and DarcyBranchCNN().res == 100
    d = DarcyMTDeepONet()
    assert d.in_ch == 1 and d.res == 100 and d.net.latent == 150
    assert [x.p for x in DarcyMTDeepONet(res=16, width=8, dropout=0.3).net.branch.mlp if isinstance(x, nn.Dropout)] == [0.3] * 2
    tiny = DarcyMTDeepONet(res=16, width=1)  # the budget search starts at width 1
    assert [x.out_channels for x in tiny.net.branch.cnn if isinstance(x, nn.Conv2d)] == [1, 1, 1, 1]
    assert tiny.net.trunk.net[0].out_features == 1
    assert not any(isinstance(x, nn.LayerNorm) for x in FisherBranchMLP(layernorm=False).modules())
    # the smallest legal sizes build; one step below raises
    Trunk((1, 1), 1), FisherBranchMLP(0, 1, (1,), 1), DarcyBranchCNN(1, (1,), 3, (1,), 1, res=2)
    for bad in (lambda: Trunk((2,)), lambda: Trunk((2, 0)), lambda: Trunk((2, 4), 0),
                lambda: FisherBranchMLP(-1), lambda: FisherBranchMLP(4, 0), lambda: FisherBranchMLP(hidden=()),
                lambda: FisherBranchMLP(hidden=(0,)), lambda: DarcyBranchCNN(0), lambda: DarcyBranchCNN(filters=()),
                lambda: DarcyBranchCNN(filters=(0,)), lambda: DarcyBranchCNN(k=4), lambda: DarcyBranchCNN(mlp=()),
                lambda: DarcyMTDeepONet(width=0)):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError, match="68"):
        FisherBranchMLP()(torch.randn(2, 67))
    with pytest.raises(ValueError, match="68"):
        FisherBranchMLP()(torch.randn(68))
    with pytest.raises(ValueError, match="DarcyBranchCNN"):
        DarcyBranchCNN(res=16)(torch.randn(2, 2, 16, 8))
    with pytest.raises(ValueError, match="DarcyBranchCNN"):
        DarcyBranchCNN(res=16)(torch.randn(2, 16, 16))


def test_output_bias_latent_and_mask_shape_checks():
    torch.manual_seed(0)
    m = MTDeepONet(FisherBranchMLP(4, 8, (16,), 10), Trunk((2, 12), 10), 10, output_bias=True).double()
    v, y = torch.randn(3, 12, dtype=D64), torch.rand(5, 2, dtype=D64)
    with torch.no_grad():
        m.b0.fill_(0.5)
    assert torch.allclose(m(v, y), m.branch(v) @ m.trunk(y).T + 0.5, atol=1e-14)
    with pytest.raises(ValueError, match="expected 9"):
        MTDeepONet(FisherBranchMLP(4, 8, (16,), 10), Trunk((2, 12), 10), 9).double()(v, y)
    assert MTDeepONet(FisherBranchMLP(4, 8, (16,), 10), Trunk((2, 12), 10)).double()(v, y).shape == (3, 5)
    with pytest.raises(ValueError, match="mask"):
        m(v, y, torch.ones(1, 3, 5, dtype=D64))
    d = DarcyMTDeepONet(1, res=16, width=8)
    with pytest.raises(ValueError, match="mask"):
        d(torch.randn(2, 1, 16, 16), torch.ones(1, 2, 16, 16))
    with pytest.raises(ValueError, match="mask"):
        d(torch.randn(2, 1, 16, 16), torch.ones(2, 16, 8))


class _Spy:
    def __init__(self):
        self.calls = []

    def __call__(self, model, data, **kw):
        self.calls.append((model, data, kw))


@pytest.fixture()
def spy(monkeypatch):
    import paperzoo.papers.mt_deeponet.training as tr

    s = _Spy()
    monkeypatch.setattr(tr, "fit", s)
    return s


@torch.no_grad()
def test_fisher_recipe_wiring(spy):
    torch.manual_seed(0)
    v, u = torch.rand(450, 12, dtype=D64), torch.rand(450, 2, 4, dtype=D64)
    m = mt_deeponet_fisher(n_sensors=8, width=8)
    scaler, steps = train_fisher(m, v, u, steps=5, seed=3)
    model, data, kw = spy.calls[0]
    assert kw["batch_size"] == 200 and kw["epochs"] == 3 and steps == 6 and kw["seed"] == 3  # 450 // 200 = 2 per epoch
    assert kw["scheduler_per"] == "step" and isinstance(kw["optimizer"], torch.optim.Adam)
    assert kw["optimizer"].defaults["lr"] == 1e-3 and kw["scheduler"].lr_lambdas[0](1000) == pytest.approx(0.95)
    assert torch.equal(data.x[:, :4], v[:, :4].float())  # coefficients raw, sensors standardised
    assert torch.allclose(data.x[:, 4:].mean(0), torch.zeros(8), atol=1e-5)
    assert torch.allclose(data.y.std(0, unbiased=False), torch.ones(8), atol=1e-4)
    x, y = data.x[:7], data.y[:7]
    mse = ((m(x, fisher_grid(2, 4)) - y) ** 2).mean()
    pen = sum((w ** 2).sum() for w in m.branch.kernels())
    assert float(kw["loss_fn"](m, x, y)) == pytest.approx(float(mse + 1e-3 * pen), rel=1e-6)
    with pytest.raises(ValueError, match="train_fisher"):
        train_fisher(m, v, u, steps=0)
    with pytest.raises(ValueError, match="train_fisher"):
        train_fisher(m, v, u[:, 0], steps=1)


@torch.no_grad()
def test_darcy_recipe_wiring(spy):
    from paperzoo.papers.mt_deeponet.training import train_darcy_source

    torch.manual_seed(0)
    x = torch.randn(8, 16, 16)
    mask = geometry_mask("disc", 16)
    data = darcy_set(x, mask, torch.rand(8, 16, 16) * mask, Standardizer.fit(x))
    m = DarcyMTDeepONet(1, res=16, width=8).eval()  # no dropout noise in the loss comparisons
    assert train_darcy_source(m, data, steps=3, batch=4) == 4  # 2 batches per epoch, 2 epochs
    _, _, kw = spy.calls[-1]
    opt = kw["optimizer"]
    assert opt.defaults["lr"] == 1e-3 and opt.defaults["betas"] == (0.9, 0.99) and kw["scheduler_per"] == "step"
    assert [kw["scheduler"].lr_lambdas[0](s) for s in (5001, 5002, 8002)] == pytest.approx([1, 0.5, 0.1])
    xb, yb = data.x[:4], data.y[:4]
    assert float(kw["loss_fn"](m, xb, yb)) == pytest.approx(float(masked_mse(m(xb[:, :1], xb[:, 1]), yb, xb[:, 1])), rel=1e-6)
    assert float(kw["loss_fn"](m, xb, yb)) != pytest.approx(float(masked_mse(m(xb[:, :1]), yb, xb[:, 1])), rel=1e-6)
    train_darcy_target(m, data, steps=1)
    _, _, kw = spy.calls[-1]
    assert kw["batch_size"] == 8 and kw["optimizer"].defaults["lr"] == 5e-4 and kw["epochs"] == 1
    assert sum(p.numel() for g in kw["optimizer"].param_groups for p in g["params"]) == count_params(m)  # frozen
    assert count_params(m) < count_params(DarcyMTDeepONet(1, res=16, width=8))
    rel = relative_l2(m(xb[:, :1], xb[:, 1]), yb).mean()
    assert float(kw["loss_fn"](m, xb, yb)) == pytest.approx(float(rel), rel=1e-6)
    big = darcy_set(torch.randn(1200, 16, 16), torch.ones(16, 16), torch.ones(1200, 16, 16),
                    Standardizer.fit(torch.randn(5, 16, 16)))
    assert float(big.y.max()) == 10.0  # official targets x10
    train_darcy_source(DarcyMTDeepONet(1, res=16, width=2), big, steps=1)
    assert spy.calls[-1][2]["batch_size"] == 1000


def test_standardizer_eps():
    s = Standardizer(torch.tensor([0.0]), torch.tensor([1.0]), eps=0.5)
    assert float(s.encode(torch.tensor([1.5]))) == 1.0 and float(s.decode(torch.tensor([1.0]))) == 1.5
    assert Standardizer.fit(torch.ones(4, 2)).eps == 1e-9
