"""Hourglass MLP: float64 parity of both block shapes and both networks with references written here,
the frozen random lift (bit-identical after training, regenerated from its seed, really applied),
residual identity, JL ratios, closed-form counts, PSNR / tasks, Pareto frontiers, and a learning effect."""
import math

import pytest
import torch
import torch.nn.functional as F

import paperzoo as pz
from paperzoo.nn import count_params
from paperzoo.papers.hourglass_mlp import (
    Arch,
    ClassifyTask,
    ConventionalResMLP,
    DenoiseTask,
    HourglassBlock,
    HourglassMLP,
    ResidualBlock,
    ResidualMLPBlock,
    SuperResTask,
    budget_points,
    compare_frontiers,
    conventional_grid,
    conventional_params,
    count_trainable,
    frontier_at,
    frozen_drift,
    hourglass_grid,
    hourglass_params,
    jl_ratios,
    make_task,
    pareto_frontier,
    psnr,
    random_projection,
    residual_identity_error,
)
from paperzoo.papers.hourglass_mlp.layers import block_params, make_act, make_norm
from paperzoo.papers.hourglass_mlp.sweep import best_arch_at, prune_to_overlap, scaling_score
from paperzoo.papers.hourglass_mlp.tasks import mse_loss, noisy_psnr

ACT = {"gelu": F.gelu, "relu": F.relu, "silu": F.silu}


def _randomise(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5 + (0.3 if p.dim() == 1 else 0.0))
    return module


def ref_norm(z, block, norm):
    if norm == "layernorm":
        mu, var = z.mean(-1, keepdim=True), z.var(-1, unbiased=False, keepdim=True)
        return (z - mu) / torch.sqrt(var + 1e-5) * block.norm.weight + block.norm.bias
    if norm == "rmsnorm":
        eps = torch.finfo(z.dtype).eps
        return z / torch.sqrt(z.square().mean(-1, keepdim=True) + eps) * block.norm.weight
    return z


def ref_block(z, block, norm="layernorm", act="gelu"):
    """z + W_up act(W_down norm(z) + b_down) + b_up, written out."""
    h = ref_norm(z, block, norm) @ block.down.weight.T + block.down.bias
    return z + ACT[act](h) @ block.up.weight.T + block.up.bias


# ---------------------------------------------------------------- layers
def test_random_projection_is_seeded_scaled_and_independent_of_global_rng():
    torch.manual_seed(1)
    a = random_projection(2048, 300, seed=7)
    torch.manual_seed(2)
    b = random_projection(2048, 300, seed=7)
    assert a.shape == (2048, 300) and a.dtype == torch.float32 and torch.equal(a, b)
    assert not torch.equal(a, random_projection(2048, 300, seed=8))
    assert abs(float(a.square().mean()) * 2048 - 1.0) < 0.02  # entries ~ N(0, 1/d_z)
    assert abs(float(a.mean())) < 1e-3
    assert abs(float(a.square().sum(0).mean()) - 1.0) < 0.02  # columns have unit norm on average
    ref = torch.randn(2048, 300, generator=torch.Generator().manual_seed(7), dtype=torch.float64) / math.sqrt(2048)
    assert torch.equal(a, ref.float())  # drawn in float64, then cast
    assert torch.equal(random_projection(2048, 300, 7, dtype=torch.float64), ref)
    with pytest.raises(ValueError, match="positive"):
        random_projection(0, 3)
    with pytest.raises(ValueError, match="positive"):
        random_projection(3, 0)


@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm", "none"])
@pytest.mark.parametrize("act", ["gelu", "relu", "silu"])
def test_block_float64_parity(norm, act):
    torch.manual_seed(0)
    block = _randomise(HourglassBlock(48, 6, act=act, norm=norm).double())
    z = torch.randn(5, 3, 48, dtype=torch.float64)
    assert torch.allclose(block(z), ref_block(z, block, norm, act), atol=1e-12, rtol=0)
    assert torch.allclose(block(z) - z, block.residual(z), atol=1e-12, rtol=0)


def test_block_shapes_hourglass_narrow_conventional_wide():
    hg, conv = HourglassBlock(64, 8), ResidualMLPBlock(16, 64)
    assert hg.down.weight.shape == (8, 64) and hg.up.weight.shape == (64, 8)  # bottleneck d_h < d_z
    assert conv.down.weight.shape == (64, 16) and conv.up.weight.shape == (16, 64)  # expansion d_h > d
    assert isinstance(hg.norm, torch.nn.LayerNorm) and hg.norm.normalized_shape == (64,)
    assert isinstance(hg.act, torch.nn.GELU) and isinstance(hg, ResidualBlock)
    for block, d, h in ((hg, 64, 8), (conv, 16, 64)):
        assert count_params(block) == block_params(d, h) == 2 * d * h + h + 3 * d
    assert count_params(HourglassBlock(10, 3, norm="rmsnorm")) == block_params(10, 3, "rmsnorm") == 60 + 3 + 20
    assert block_params(10, 3, "none") == 73


def test_zero_init_block_is_identity_and_bad_inputs_fail():
    block = HourglassBlock(32, 4, zero_init=True)
    assert not block.up.weight.any() and not block.up.bias.any() and block.down.weight.any()
    z = torch.randn(7, 32)
    assert torch.equal(block(z), z)
    with pytest.raises(ValueError, match=r"^HourglassBlock: expected \(\.\.\., 32\) input, got shape \(7, 31\)$"):
        block(torch.randn(7, 31))
    with pytest.raises(ValueError, match="act"):
        make_act("tanh")
    with pytest.raises(ValueError, match="norm"):
        make_norm("batchnorm", 4)
    with pytest.raises(ValueError, match="^HourglassBlock: widths must be positive, got dim=0, hidden=4$"):
        HourglassBlock(0, 4)
    with pytest.raises(ValueError, match="positive"):
        ResidualMLPBlock(4, 0)


# ---------------------------------------------------------------- networks
def ref_hourglass(x, m):
    z = x.flatten(1) @ m.w_in.T
    for b in m.blocks:
        z = ref_block(z, b, m.norm_kind)
    return z @ m.out.weight.T + m.out.bias


def test_hourglass_float64_parity_and_flattening():
    torch.manual_seed(0)
    m = HourglassMLP(12, 5, d_z=40, d_h=6, n_blocks=3, proj_seed=3).double()
    _randomise(m.blocks, 1)
    x = torch.rand(4, 1, 3, 4, dtype=torch.float64)
    assert torch.allclose(m(x), ref_hourglass(x, m), atol=1e-12, rtol=0)
    assert torch.equal(m(x), m(x.flatten(1)))
    assert torch.equal(m.w_in, random_projection(40, 12, 3).double())
    assert len(m.blocks) == 3 and all(b.down.weight.shape == (6, 40) for b in m.blocks)
    with pytest.raises(ValueError, match="d_in=12"):
        m(torch.rand(4, 13, dtype=torch.float64))
    with pytest.raises(ValueError, match="batch"):
        m(torch.rand(12, dtype=torch.float64))


def test_zero_residuals_give_exactly_w_out_w_in_and_jacobian():
    assert residual_identity_error() <= 1e-12
    assert residual_identity_error(d_in=30, d_out=7, d_z=64, d_h=5, n_blocks=2, seed=4, norm="rmsnorm") <= 1e-12
    m = HourglassMLP(6, 3, 20, 4, 2, zero_init=True).double()
    jac = torch.autograd.functional.jacobian(m, torch.rand(1, 6, dtype=torch.float64))[0, :, 0, :]
    assert torch.allclose(jac, m.out.weight @ m.w_in, atol=1e-12, rtol=0)  # the lift is applied, once


def test_frozen_projection_stays_bit_identical_while_the_rest_trains():
    torch.manual_seed(0)
    m = HourglassMLP(20, 20, 64, 8, 2, proj_seed=5)
    w0 = m.w_in.detach().clone()
    others = {n: p.detach().clone() for n, p in m.named_parameters() if n != "w_in"}
    assert m.frozen and not m.w_in.requires_grad and frozen_drift(m) == 0.0
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1)
    x = torch.rand(16, 20)
    for _ in range(5):
        opt.zero_grad()
        F.mse_loss(m(x), x).backward()
        opt.step()
    assert m.w_in.grad is None and torch.equal(m.w_in, w0) and torch.equal(m.w_in, random_projection(64, 20, 5))
    assert frozen_drift(m) == 0.0
    assert all(not torch.equal(p, others[n]) for n, p in m.named_parameters() if n != "w_in")
    with torch.no_grad():
        m.w_in[0, 0] += 1e-3
    assert frozen_drift(m) == pytest.approx(1e-3, rel=1e-3)
    trained = HourglassMLP(20, 20, 64, 8, 2, freeze_input_proj=False)
    assert trained.w_in.requires_grad and frozen_drift(trained) == math.inf


@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm", "none"])
def test_closed_form_counts(norm):
    for d_in, d_out, d_z, d_h, L in ((784, 784, 1024, 64, 2), (784, 10, 2048, 128, 4), (30, 7, 50, 3, 1)):
        m = HourglassMLP(d_in, d_out, d_z, d_h, L, norm=norm)
        assert count_trainable(m) == hourglass_params(d_in, d_out, d_z, d_h, L, norm=norm)
        assert count_params(m, trainable=False) - count_trainable(m) == d_z * d_in  # only W_in is frozen
        t = HourglassMLP(d_in, d_out, d_z, d_h, L, norm=norm, freeze_input_proj=False)
        assert count_trainable(t) == hourglass_params(d_in, d_out, d_z, d_h, L, norm=norm, freeze_input_proj=False)
        c = ConventionalResMLP(d_in, d_out, d_h, L, norm=norm)
        assert count_trainable(c) == conventional_params(d_in, d_out, d_h, L, norm=norm)
    assert hourglass_params(784, 784, 1024, 64, 2) == 2 * (2 * 1024 * 64 + 64 + 1024 + 2048) + 784 * 1025
    assert conventional_params(784, 784, 256, 1) == 2 * 784 * 256 + 256 + 3 * 784 + 784 * 785
    assert conventional_params(784, 784, 256, 1, out_proj=False) == 2 * 784 * 256 + 256 + 3 * 784


def test_conventional_float64_parity_and_head():
    torch.manual_seed(0)
    m = _randomise(ConventionalResMLP(10, 4, 24, 2).double(), 2)
    x = torch.rand(3, 10, dtype=torch.float64)
    z = x
    for b in m.blocks:
        z = ref_block(z, b)
    assert torch.allclose(m(x), z @ m.out.weight.T + m.out.bias, atol=1e-12, rtol=0)
    bare = _randomise(ConventionalResMLP(10, 10, 24, 2, out_proj=False).double(), 2)
    assert isinstance(bare.out, torch.nn.Identity)
    z = x
    for b in bare.blocks:
        z = ref_block(z, b)
    assert torch.allclose(bare(x), z, atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="out_proj"):
        ConventionalResMLP(10, 4, 24, 2, out_proj=False)
    with pytest.raises(ValueError, match="positive"):
        ConventionalResMLP(10, 4, 0, 2)
    with pytest.raises(ValueError, match="positive"):
        HourglassMLP(10, 4, 16, 0, 2)
    with pytest.raises(ValueError, match="n_blocks"):
        HourglassMLP(10, 4, 16, 2, -1)
    with pytest.raises(ValueError, match="n_blocks"):
        ConventionalResMLP(10, 4, 16, -1)
    lin = HourglassMLP(10, 4, 16, 2, 0).double()  # no blocks: the linear map W_out W_in x + b
    assert torch.allclose(lin(x), x @ lin.w_in.T @ lin.out.weight.T + lin.out.bias, atol=1e-12)


def test_validation_messages_and_zero_init_of_both_networks():
    for cls, args in ((HourglassMLP, (12, 3, 16, 4, 2)), (ConventionalResMLP, (12, 3, 4, 2))):
        name = cls.__name__
        default = cls(*args)
        if name == "HourglassMLP":
            assert torch.equal(default.w_in, random_projection(16, 12, 0))  # proj_seed defaults to 0
        assert all(b.up.weight.any() for b in default.blocks)  # PyTorch init by default, not zero
        zero = cls(*args, zero_init=True)
        assert all(not b.up.weight.any() and not b.up.bias.any() for b in zero.blocks)
        x = torch.rand(5, 12)
        z = zero.lift(x) if name == "HourglassMLP" else x
        assert torch.allclose(zero(x), zero.out(z), atol=1e-6)  # zero residuals: only the head (and lift) act
        with pytest.raises(ValueError, match=f"^{name}: inputs flatten to 13 features, the model takes d_in=12$"):
            default(torch.rand(5, 13))
        with pytest.raises(ValueError, match=rf"^{name}: expected a batch \(B, \.\.\.\) of inputs, got torch.Size\(\[12\]\)$"):
            default(torch.rand(12))
        with pytest.raises(ValueError, match="<class 'list'>"):
            default([0.0] * 12)
        for i in range(len(args) - 1):  # every width must be positive
            bad = list(args)
            bad[i] = 0
            with pytest.raises(ValueError, match="positive"):
                cls(*bad)
        ok = list(args)
        ok[-2] = 1  # a width of 1 is allowed
        assert cls(*ok)(x).shape == (5, 3)
    assert HourglassMLP(12, 3, 16, 4, 0)(torch.rand(2, 12)).shape == (2, 3)
    assert ConventionalResMLP(12, 3, 4, 0)(torch.rand(2, 12)).shape == (2, 3)
    block = ResidualMLPBlock(16, 64, zero_init=True)
    z = torch.randn(3, 16)
    assert torch.equal(block(z), z) and ResidualMLPBlock(16, 64).up.weight.any()
    assert isinstance(ResidualMLPBlock(16, 8, act="relu", norm="none").act, torch.nn.ReLU)
    assert isinstance(ResidualMLPBlock(16, 8, norm="none").norm, torch.nn.Identity)


def test_registered_models_and_budgets():
    clf = pz.create_model("hourglass_mlp")
    assert isinstance(clf, HourglassMLP) and clf.frozen and (clf.d_z, clf.d_h, clf.n_blocks) == (1024, 128, 4)
    assert clf(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    base = count_trainable(clf)
    assert base == hourglass_params(784, 10, 1024, 128, 4)
    for budget in (base // 2, base * 2):
        m = pz.create_model("hourglass_mlp", params=budget)
        assert abs(count_trainable(m) - budget) <= 0.1 * budget and m.d_h == 128 and m.frozen
    res = pz.create_model("residual_mlp")
    assert isinstance(res, ConventionalResMLP) and (res.d_h, res.n_blocks) == (512, 2)
    assert res(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert torch.equal(clf.w_in, random_projection(1024, 784, 0)) and isinstance(clf.blocks[0].act, torch.nn.GELU)
    assert isinstance(clf.blocks[0].norm, torch.nn.LayerNorm) and isinstance(res.blocks[0].norm, torch.nn.LayerNorm)
    hreg = pz.create_model("hourglass_mlp_regressor")
    assert hreg(torch.rand(2, 784)).shape == (2, 784) and hreg.frozen
    assert count_trainable(hreg) == hourglass_params(784, 784, 1024, 128, 4)
    example = pz.registry.get_model("hourglass_mlp_regressor").example()
    assert torch.equal(example, torch.rand(4, 784, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(pz.registry.get_model("residual_mlp_regressor").example(), example)
    reg = pz.create_model("residual_mlp_regressor")
    assert count_trainable(reg) == conventional_params(784, 784, 512, 2)


def test_jl_ratios():
    x = torch.eye(6)
    s = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    r = jl_ratios(torch.diag(s), x, 50, seed=1)
    allowed = torch.tensor([math.sqrt((s[i] ** 2 + s[j] ** 2) / 2) for i in range(6) for j in range(6) if i != j])
    assert r.shape == (50,) and torch.isfinite(r).all()
    assert ((r[:, None] - allowed[None]).abs().min(1).values < 1e-6).all()
    assert torch.allclose(jl_ratios(3 * torch.eye(6), x, 20), torch.full((20,), 3.0))
    w = random_projection(2048, 100, 0)
    r = jl_ratios(w, torch.rand(50, 100), 100)
    assert 0.85 < float(r.min()) and float(r.max()) < 1.15
    with pytest.raises(ValueError, match="features"):
        jl_ratios(w, torch.rand(5, 99))
    with pytest.raises(ValueError, match="^jl_ratios: need at least two samples$"):
        jl_ratios(w, torch.rand(1, 100))
    assert jl_ratios(w, torch.rand(2, 100), 3).shape == (3,)


def test_jl_ratios_reference_pairs_float64():
    w = random_projection(64, 10, 1, dtype=torch.float64)
    x = torch.rand(7, 1, 10)  # float32 images, flattened and cast to W_in's dtype inside
    g = torch.Generator().manual_seed(5)
    i = torch.randint(0, 7, (30,), generator=g)
    j = (i + torch.randint(1, 7, (30,), generator=g)) % 7
    d = (x[i] - x[j]).flatten(1).double()
    ref = (d @ w.T).norm(dim=1) / d.norm(dim=1)
    got = jl_ratios(w, x, 30, seed=5)
    assert got.dtype == torch.float64 and torch.allclose(got, ref, atol=1e-12, rtol=0)
    assert torch.equal(got, jl_ratios(w, x, 30, seed=5)) and not torch.equal(got, jl_ratios(w, x, 30, seed=6))


# ---------------------------------------------------------------- tasks
def test_psnr_exact_values():
    t = torch.zeros(2, 1, 4, 4)
    p = t + torch.tensor([0.1, 0.01]).view(2, 1, 1, 1)
    assert torch.allclose(psnr(p, t), torch.tensor([20.0, 40.0]), atol=1e-4)
    assert torch.allclose(psnr(p, t, data_range=10.0), torch.tensor([40.0, 60.0]), atol=1e-4)
    half = torch.zeros(1, 4)
    half[0, :2] = 0.2  # MSE 0.02 over all four pixels
    assert float(psnr(half, torch.zeros(1, 4))) == pytest.approx(10 * math.log10(1 / 0.02), abs=1e-4)
    assert torch.equal(psnr(t, t), torch.full((2,), 200.0))  # MSE clamped at 1e-20
    with pytest.raises(ValueError, match="differ"):
        psnr(torch.zeros(2, 3), torch.zeros(2, 4))
    assert noisy_psnr(0.5) == pytest.approx(6.0206, abs=1e-4) and noisy_psnr(0.1) == pytest.approx(20.0)


def _images(n=64, seed=0):
    from paperzoo.data.sets import TensorSet

    g = torch.Generator().manual_seed(seed)
    return TensorSet(torch.rand(n, 1, 8, 8, generator=g), torch.arange(n) % 10, "img")


def test_denoise_task():
    data = _images(200)
    task = DenoiseTask(0.5)
    d = task.prepare(data, seed=3)
    assert d.x.shape == d.y.shape == (200, 64) and torch.equal(d.y, data.x.flatten(1))
    noise = d.x - d.y
    assert abs(float(noise.std()) - 0.5) < 0.02 and abs(float(noise.mean())) < 0.02 and d.x.min() < 0
    assert torch.equal(d.x, task.prepare(data, seed=3).x) and not torch.equal(d.x, task.prepare(data, seed=4).x)
    identity = torch.nn.Identity()
    assert task.evaluate(identity, d) == pytest.approx(float(psnr(d.x, d.y).mean()), abs=1e-5)
    assert task.evaluate(identity, d) == pytest.approx(noisy_psnr(0.5), abs=0.1)
    assert task.out_dim(data) == 64 and task.metric == "psnr_db"
    x, y = d.x[:5], d.y[:5]
    assert float(mse_loss(identity, x, y)) == pytest.approx(float((x - y).square().mean()))
    with pytest.raises(ValueError, match="sigma"):
        DenoiseTask(0.0)
    with pytest.raises(ValueError, match="images"):
        task.prepare(d, seed=0)


def test_superres_task_block_means():
    from paperzoo.data.sets import TensorSet

    data = TensorSet(torch.rand(3, 2, 8, 12, generator=torch.Generator().manual_seed(0)), torch.arange(3), "img")
    task = SuperResTask(4)
    low = task.low_res(data.x)
    blocks = data.x.view(3, 2, 2, 4, 3, 4).mean((3, 5))  # (3, 2, 2, 3) block means
    assert low.shape == data.x.shape
    assert torch.allclose(low, blocks.repeat_interleave(4, -2).repeat_interleave(4, -1), atol=1e-7)
    d = task.prepare(data, seed=0)
    assert torch.equal(d.x, low.flatten(1)) and torch.equal(d.y, data.x.flatten(1)) and task.out_dim(data) == 192
    assert task.evaluate(torch.nn.Identity(), d) == pytest.approx(float(psnr(d.x, d.y).mean()), abs=1e-5)
    with pytest.raises(ValueError, match="divisible"):
        SuperResTask(3).low_res(data.x)
    with pytest.raises(ValueError, match="factor"):
        SuperResTask(1)


def test_classify_task_and_make_task():
    data = _images(40)
    task = ClassifyTask()
    d = task.prepare(data, seed=0)
    assert d.x.shape == (40, 64) and torch.equal(d.y, data.y) and task.out_dim(data) == 10
    oracle = type("Oracle", (torch.nn.Module,), {"forward": lambda self, x: F.one_hot(d.y[: len(x)], 10).float()})()
    assert task.evaluate(oracle, d, batch_size=1000) == 100.0
    const = type("Const", (torch.nn.Module,), {"forward": lambda self, x: F.one_hot(torch.zeros(len(x)).long(), 10)})()
    assert task.evaluate(const, d) == pytest.approx(100.0 * float((d.y == 0).float().mean()))
    logits = torch.randn(6, 10)
    assert float(task.loss(lambda x: logits, None, d.y[:6])) == pytest.approx(float(F.cross_entropy(logits, d.y[:6])))
    assert isinstance(make_task("denoise", sigma=0.3), DenoiseTask) and make_task("denoise", sigma=0.3).sigma == 0.3
    assert make_task("superres", factor=2).factor == 2 and isinstance(make_task("classify"), ClassifyTask)
    assert [make_task(n).name for n in ("denoise", "superres", "classify")] == ["denoise", "superres", "classify"]
    assert [make_task(n).metric for n in ("denoise", "superres", "classify")] == ["psnr_db", "psnr_db", "acc_pct"]
    assert make_task("denoise").sigma == 0.5 and make_task("superres").factor == 4  # card defaults
    seen = []
    spy = type("Spy", (torch.nn.Module,), {"forward": lambda self, x: seen.append(self.training) or x[:, :10]})()
    spy.train()
    task.evaluate(spy, d, batch_size=16)
    assert seen == [False, False, False] and spy.training  # eval mode inside, training mode restored
    with pytest.raises(ValueError, match="unknown task"):
        make_task("inpaint")


# ---------------------------------------------------------------- sweeps and frontiers
def test_pareto_frontier_and_frontier_at():
    pts = [(3, 6.0), (1, 5.0), (2, 4.0), (3, 7.0), (4, 7.0), (5, math.nan), (6, 8.0)]
    assert pareto_frontier(pts) == [(1, 5.0), (3, 7.0), (6, 8.0)]
    near = [(100, 1.0), (114, 2.0), (116, 3.0)]
    assert frontier_at(near, 100, tol=0.15) == 2.0 and frontier_at(near, 100, tol=0.0) == 1.0
    assert frontier_at(near, 101, tol=0.15) == 3.0 and math.isnan(frontier_at(near, 50))
    assert budget_points([10, 1000], [100, 10_000], 3) == pytest.approx([100, 1000 ** 0.5 * 10, 1000])
    assert budget_points([1, 100], [1, 100], 0) == [] and len(budget_points([1, 100], [1, 100])) == 3
    assert budget_points([10, 100], [1000, 2000]) == [] and budget_points([1, 100], [1, 100], 1) == [10.0]
    rows = compare_frontiers([(100, 5.0), (400, 9.0)], [(100, 6.0), (200, 7.0), (400, 8.0)], n=2, tol=0.0)
    assert [(r["budget"], r["hourglass"], r["conventional"], r["gap"]) for r in rows] == [
        (100, 5.0, 6.0, -1.0), (400, 9.0, 8.0, 1.0)]
    rows = compare_frontiers([(100, 5.0)], [(50, 6.0)], budgets=[60.0], tol=0.0)
    assert math.isnan(rows[0]["hourglass"]) and rows[0]["conventional"] == 6.0


def test_grids_archs_prune_and_scaling():
    hg, conv = hourglass_grid((1024, 2048), (64, 128), (2, 4)), conventional_grid((256, 512, 1024), (1, 2, 4))
    assert len(hg) == 8 and len(conv) == 9 and hg[0] == Arch("hourglass", 64, 2, 1024)
    assert {(a.d_z, a.d_h, a.depth) for a in hg} == {(z, h, L) for z in (1024, 2048) for h in (64, 128) for L in (2, 4)}
    assert hg[-1].name == "hg-z2048-h128-L4" and conv[-1].name == "conv-h1024-L4"
    for a in (hg[0], conv[0], Arch("conventional", 8, 2, head=False)):
        m = a.build(784, 784)
        assert count_trainable(m) == a.params(784, 784)
    assert isinstance(conv[0].build(784, 10), ConventionalResMLP) and hg[0].build(784, 10, proj_seed=4).proj_seed == 4
    assert not hg[0].build(5, 5, freeze_input_proj=False).frozen
    for a in (hg[0], conv[0]):
        m = a.build(30, 30, act="relu", norm="none")
        assert isinstance(m.blocks[0].act, torch.nn.ReLU) and isinstance(m.blocks[0].norm, torch.nn.Identity)
        assert count_trainable(m) == a.params(30, 30, norm="none")
    assert Arch("conventional", 8, 2, head=False).params(30, 30) == conventional_params(30, 30, 8, 2, out_proj=False)
    assert conventional_grid((8,), (1,), head=False)[0].head is False and conv[0].head
    with pytest.raises(ValueError, match="family"):
        Arch("mixer", 4, 1).build(5, 5)
    kept, skipped = prune_to_overlap(hg + conv, 784, 784)
    assert [a.name for a in skipped] == ["conv-h1024-L4"] and len(kept) == 16  # 7.05M > 3.73M x 1.15
    assert prune_to_overlap(hg, 784, 784) == (hg, [])
    rows = [{"name": a.name, "params": a.params(784, 784), "score": float(i), "d_z": a.d_z, "d_h": a.d_h,
             "depth": a.depth} for i, a in enumerate(hg)]
    assert best_arch_at(rows, 1.2e6, tol=0.0)["name"] == "hg-z1024-h64-L2" and best_arch_at(rows, 1e5) is None
    small, big = rows[0], rows[5]  # z1024 h64 L2 -> z2048 h64 L4: all three trends
    assert scaling_score(small, big) == 3.0 and scaling_score(big, small) == 1.0  # only d_h (equal) holds
    assert scaling_score(rows[0], rows[6]) == 2.0 and scaling_score(rows[1], rows[2]) == 1.0
    assert math.isnan(scaling_score(None, big))


# ---------------------------------------------------------------- learning effect and protocols
def test_hourglass_learns_to_denoise_with_margin():
    from paperzoo.train import fit

    data = _images(512, seed=1)
    task = DenoiseTask(0.5)
    train, test = task.prepare(data, seed=0), task.prepare(_images(128, seed=2), seed=1)
    torch.manual_seed(0)
    m = HourglassMLP(64, 64, 256, 16, 2)
    fit(m, train, epochs=8, batch_size=64, loss_fn=task.loss, progress=False,
        optimizer=lambda ps: torch.optim.AdamW([p for p in ps if p.requires_grad], lr=3e-3))
    assert frozen_drift(m) == 0.0
    assert task.evaluate(m, test) > noisy_psnr(0.5) + 3.0  # uniform noise images: best guess is ~0.5 per pixel


def test_tiny_full_protocol_runs_every_task(tmp_path):
    ov = dict(n_train=256, n_test=128, epochs=1, batch_size=64, hg_dz=(1024,), hg_dh=(16, 32), hg_depth=(1,),
              conv_dh=(64, 128), conv_depth=(2,), jl_pairs=50, threads=1)
    r = pz.reproduce("hourglass-mlp", "full", out=tmp_path / "run", progress=False, overrides=ov)
    m = r.metrics
    for key in ("frontier_gap_db", "sr_frontier_gap_db", "frozen_minus_trained_db", "scaling_score"):
        assert math.isfinite(m[key]), key
    assert m["w_in_drift"] == 0.0 and m["count_err"] == 0.0 and m["residual_identity_err"] <= 1e-12
    assert 0.8 <= m["jl_ratio_min"] <= 1.0 <= m["jl_ratio_max"] <= 1.2
    assert {"denoise_sweep", "denoise_frontiers", "win_ablation", "superres_sweep", "classify_sweep"} <= set(r.tables)
    ab = r.tables["win_ablation"]["rows"]
    assert ab[1][0].endswith("trained-win") and ab[1][5] - ab[0][5] == 1024 * 784  # W_in becomes trainable
    curve = r.curves["denoise_pareto"]
    assert set(curve["ys"]) == {"hourglass (each model)", "hourglass frontier", "conventional (each model)",
                                "conventional frontier"} and curve["logx"]
    with pytest.raises(ValueError, match="tasks"):
        pz.reproduce("hourglass-mlp", "smoke", out=tmp_path / "bad", progress=False, overrides={"tasks": ("x",)})
