"""SineNet: the official parameter counts, a float64 reference forward written here, periodicity of circular padding and
upsampling, the PDEArena loss / normaliser / windows / rollout against direct formulas, and a learning effect."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import paperzoo as pz
from paperzoo.nn import count_params
from paperzoo.papers.sinenet import (
    FieldNormalizer,
    ScaledL2Loss,
    SineNet,
    count_sinenet,
    evaluate,
    level_widths,
    match_mult,
    persistence,
    rollout,
    scaled_l2,
    upsample2,
    warmup_cosine,
    windows,
)
from paperzoo.papers.sinenet.reproduce import OFFICIAL_COUNTS, structure_checks

D = torch.float64


# ---------------------------------------------------------------- a reference forward, written from the card
def _pad(x, circular):
    if not circular:
        return F.pad(x, (1, 1, 1, 1))
    x = torch.cat([x[..., -1:, :], x, x[..., :1, :]], -2)
    return torch.cat([x[..., -1:], x, x[..., :1]], -1)


def _conv(conv, x, circular):
    return F.conv2d(_pad(x, circular) if conv.kernel_size[0] == 3 else x, conv.weight, conv.bias)


def _gn_gelu(norm, x):
    mu = x.mean(dim=(1, 2, 3), keepdim=True)
    var = x.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
    z = (x - mu) / torch.sqrt(var + 1e-5) * norm.weight[:, None, None] + norm.bias[:, None, None]
    return 0.5 * z * (1 + torch.erf(z / math.sqrt(2)))


def _block(cb, x, circ):
    return _gn_gelu(cb.norm2, _conv(cb.conv2, _gn_gelu(cb.norm1, _conv(cb.conv1, x, circ)), circ))


def _pool(x):
    return x.unflatten(-1, (-1, 2)).unflatten(-3, (-1, 2)).mean(dim=(-3, -1))


def _up(x, circ):
    if not circ:
        return F.interpolate(x, scale_factor=2, mode="bicubic")
    x = torch.cat([x[..., -2:, :], x, x[..., :2, :]], -2)
    x = torch.cat([x[..., -2:], x, x[..., :2]], -1)
    return F.interpolate(x, scale_factor=2, mode="bicubic")[..., 4:-4, 4:-4]


def reference(net, x5, circ, wave_residual=True):
    h = _conv(net.lift, x5.flatten(1, 2), circ)
    for wave in net.waves:
        x0, d, cur, feats = h, h, h, [h]
        for i, down in enumerate(wave.down):
            d, cur = _pool(d), _pool(cur)
            res = _conv(down.shortcut, cur, circ)
            cur = torch.cat([cur, d], 1) if i > 0 else cur
            for cb in down.conv:
                cur = _block(cb, cur, circ) + res
                res = cur
            feats.append(cur)
        cur = feats.pop()
        for up in wave.up:
            u = _up(cur, circ)
            cur, res = torch.cat([feats.pop(), u], 1), _conv(up.shortcut, u, circ)
            for cb in up.conv:
                cur = _block(cb, cur, circ) + res
                res = cur
        h = x0 + cur if wave_residual else cur
    return _conv(net.proj, h, circ).unflatten(1, (net.time_future, net.out_fields))


@pytest.mark.parametrize("mode,blocks,wave_residual", [("circular", 1, True), ("zeros", 2, True), ("circular", 1, False)])
def test_forward_matches_the_reference_in_float64(mode, blocks, wave_residual):
    torch.manual_seed(0)
    net = SineNet(2, 3, time_history=3, time_future=2, hidden=4, mult=1.5, waves=2, levels=3, blocks_per_level=blocks,
                  padding_mode=mode, wave_residual=wave_residual).double()
    for p in net.parameters():  # non-trivial norm affine and biases
        p.data.add_(0.1 * torch.randn_like(p))
    x = torch.randn(2, 3, 2, 16, 24, dtype=D)
    out = net(x)
    assert out.shape == (2, 2, 3, 16, 24)
    torch.testing.assert_close(out, reference(net, x, mode == "circular", wave_residual), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(net(x.flatten(1, 2)), out.flatten(1, 2))  # the flattened (B, T C, H, W) layout


def test_official_parameter_counts_and_widths():
    assert level_widths(64, 1.425, 4) == [64, 91, 129, 185, 263]
    for (k, c, m), n in OFFICIAL_COUNTS.items():
        assert count_sinenet(in_fields=3, waves=k, hidden=c, mult=m) == n
    checks = structure_checks(0)
    assert checks["params_sinenet8"] == 35_490_219 and checks["variant_count_err"] == 0


def test_disentangled_down_path_adds_exactly_the_reinjected_channels():
    kw = dict(in_fields=1, hidden=6, mult=1.7, waves=3, levels=4)
    w = level_widths(6, 1.7, 4)
    extra = 3 * sum(9 * 6 * w[i + 1] for i in range(1, 4))  # first conv of every Down but the first, per wave
    assert count_sinenet(**kw) - count_sinenet(disentangle=False, **kw) == extra
    torch.manual_seed(0)
    net = SineNet(disentangle=False, **kw)
    assert net(torch.randn(1, 4, 1, 32, 32)).shape == (1, 1, 1, 32, 32)


def test_group_norms_are_one_per_conv_and_optional():
    kw = dict(in_fields=1, hidden=5, mult=1.6, waves=2, levels=3, blocks_per_level=2)
    w = level_widths(5, 1.6, 3)
    per_wave = 2 * sum(4 * (w[i + 1] + w[i]) for i in range(3))  # 2 blocks x 2 norms x (weight + bias) per level, down + up
    assert count_sinenet(**kw) - count_sinenet(norm=False, **kw) == 2 * per_wave
    net = SineNet(norm=False, activation="relu", **kw)
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in net.modules())
    assert any(isinstance(m, torch.nn.ReLU) for m in net.modules())


def test_circular_model_commutes_with_periodic_shifts_zero_padding_does_not():
    checks = structure_checks(1)
    assert checks["shift_err_circular"] < 1e-10
    assert checks["shift_err_zeros"] > 1e-3
    x = torch.randn(1, 3, 8, 8, dtype=D)
    torch.testing.assert_close(upsample2(x.roll(1, -1), circular=True), upsample2(x, circular=True).roll(2, -1))
    assert (upsample2(x.roll(1, -1)) - upsample2(x).roll(2, -1)).abs().max() > 1e-3
    assert torch.allclose(upsample2(torch.ones(1, 1, 4, 4, dtype=D), circular=True), torch.ones(1, 1, 8, 8, dtype=D))


def test_match_mult_hits_the_official_budget():
    m = match_mult(4, 64, 35_490_219, in_fields=3)
    assert abs(m - 1.611) < 2e-3
    assert abs(count_sinenet(in_fields=3, waves=4, mult=m) - 35_490_219) < 0.001 * 35_490_219
    m2 = match_mult(2, 64, 35_490_219, in_fields=3)
    assert m2 > m and abs(m2 - 1.8075) < 2e-3
    with pytest.raises(ValueError, match="outside"):
        match_mult(1, 4, 10**9, in_fields=1)


def test_bad_inputs_are_named():
    net = SineNet(1, hidden=4, waves=1, levels=2)
    with pytest.raises(ValueError, match="multiples of 2"):
        net(torch.randn(1, 4, 1, 10, 12))
    with pytest.raises(ValueError, match="expected"):
        net(torch.randn(1, 3, 1, 8, 8))
    with pytest.raises(ValueError, match="expected"):
        net(torch.randn(1, 5, 8, 8))
    with pytest.raises(ValueError, match="padding_mode"):
        SineNet(1, padding_mode="reflect")
    with pytest.raises(ValueError, match=">= 1"):
        SineNet(1, waves=0)
    with pytest.raises(ValueError, match="mult"):
        SineNet(1, mult=0.5)
    with pytest.raises(ValueError, match="B, T, C, H, W"):
        scaled_l2(torch.zeros(2, 3), torch.zeros(2, 3))


# ---------------------------------------------------------------- the recipe
def test_scaled_l2_is_per_sample_time_and_field():
    t = torch.ones(2, 1, 2, 4, 4, dtype=D)
    t[:, :, 1] *= 3.0
    p = t.clone()
    p[:, :, 0] += 0.5                      # field 0: ||0.5|| / ||1|| = 0.5; field 1 exact
    p[1, :, 1] *= 2.0                      # sample 1, field 1: ||3|| / ||3|| = 1
    v = scaled_l2(p, t, "none")
    torch.testing.assert_close(v, torch.tensor([[[0.5, 0.0]], [[0.5, 1.0]]], dtype=D))
    torch.testing.assert_close(ScaledL2Loss()(p, t), torch.tensor(0.5, dtype=D))
    with pytest.raises(ValueError, match="reduction"):
        scaled_l2(p, t, "sum")


def test_field_normalizer_is_per_field_and_inverts():
    g = torch.Generator().manual_seed(0)
    traj = torch.randn(5, 6, 2, 4, 4, generator=g, dtype=D) * torch.tensor([1.0, 10.0], dtype=D)[:, None, None] \
        + torch.tensor([3.0, -7.0], dtype=D)[:, None, None]
    norm = FieldNormalizer(traj)
    z = norm(traj)
    for c in range(2):
        assert abs(z[:, :, c].mean()) < 1e-12 and abs(z[:, :, c].std() - 1) < 1e-12
    torch.testing.assert_close(norm.inverse(z), traj)
    torch.testing.assert_close(norm.mean.flatten(), traj.transpose(0, 2).flatten(1).mean(1))


def test_windows_enumerate_every_start():
    traj = torch.arange(3 * 7 * 2 * 2 * 2, dtype=D).reshape(3, 7, 2, 2, 2)
    x, y = windows(traj, 4, 1)
    assert x.shape == (3 * 3, 4, 2, 2, 2) and y.shape == (3 * 3, 1, 2, 2, 2)
    for i in range(3):
        for s in range(3):
            assert torch.equal(x[3 * i + s], traj[i, s:s + 4]) and torch.equal(y[3 * i + s], traj[i, s + 4:s + 5])
    with pytest.raises(ValueError, match="cannot hold"):
        windows(traj, 7, 1)


class _Oldest(torch.nn.Module):
    def forward(self, x):
        return x[:, :1]  # predicts the oldest frame of its window


class _Last(torch.nn.Module):
    def forward(self, x):
        return x[:, -1:]


def test_rollout_feeds_predictions_back_through_a_sliding_window():
    traj = torch.randn(3, 2, 1, 4, 4, dtype=D) * 2 + 1
    norm = FieldNormalizer(torch.randn(4, 5, 1, 4, 4, dtype=D) * 3 + 2)
    out = rollout(_Oldest(), traj, 4, norm)
    a, b = traj[:, :1], traj[:, 1:2]       # windows: [a, b] -> a; [b, a] -> b; [a, b] -> a ...
    torch.testing.assert_close(out, torch.cat([a, b, a, b], 1))


def test_evaluate_scores_a_persistence_model_like_the_baseline():
    g = torch.Generator().manual_seed(1)
    test = torch.randn(4, 15, 1, 8, 8, generator=g, dtype=D).cumsum(1) + 5.0
    norm = FieldNormalizer(test * 2 + 1)
    ev, base = evaluate(_Last(), test, norm), persistence(test)
    assert abs(ev.one_step - base.one_step) < 1e-10 and abs(ev.rollout - base.rollout) < 1e-10
    assert len(ev.rollout_per_step) == 10
    small = evaluate(_Last(), test, norm, batch=3)  # batching over windows and trajectories changes nothing
    assert abs(small.one_step - ev.one_step) < 1e-12 and abs(small.rollout - ev.rollout) < 1e-12
    net = SineNet(1, hidden=2, waves=1, levels=1).double().train()
    evaluate(net, test[:, :, :, :8, :8], norm)
    assert net.training  # the mode is restored
    # 15 frames: starts 0 and 1 are both admissible; the mean over starts equals the average of per-start errors
    per = [persistence(test[:, s:s + 14]).rollout for s in (0, 1)]
    assert abs(base.rollout - sum(per) / 2) < 1e-12
    assert base.rollout_per_step[0] == pytest.approx(scaled_l2(test[:, 3:4], test[:, 4:5]).item() / 2
                                                     + scaled_l2(test[:, 4:5], test[:, 5:6]).item() / 2)


def test_warmup_cosine_schedule():
    f = warmup_cosine(100, 10, 1e-3)
    assert f(0) == pytest.approx(1e-4) and f(10) == pytest.approx(1.0) and f(5) == pytest.approx(0.50005)
    assert f(55) == pytest.approx(0.5 * (1 + 1e-4)) and f(100) == pytest.approx(1e-4)
    assert f(30) > f(70)


# ---------------------------------------------------------------- registered models and the protocols
def test_registered_models_fit_the_darcy_interface_at_a_budget():
    for name, waves in (("sinenet", 4), ("sinenet_unet", 1)):
        model = pz.create_model(name, params=100_000)
        assert abs(count_params(model) - 100_000) <= 10_000 and len(model.waves) == waves
        assert model(torch.rand(2, 1, 64, 64)).shape == (2, 1, 64, 64)


def test_smoke_learns_and_a_tiny_full_runs(tmp_path):
    r = pz.reproduce("sinenet", "smoke", seed=0, out=tmp_path / "s", progress=False)
    assert r.metrics["worst_one_step_over_persistence"] < 0.8
    assert r.metrics["one_step_K2"] < r.metrics["persistence_one_step"]
    f = pz.reproduce("sinenet", "full", seed=0, out=tmp_path / "f", progress=False,
                     overrides={"res": 16, "n_train": 6, "n_test": 3, "dt": 5e-3, "hidden": 4, "levels": 3, "epochs": 1,
                                "batch_size": 8, "threads": 1})
    assert {"kmax_over_k1_rollout", "rollout_monotone_in_k", "rollout_K2"} <= set(f.metrics)
    assert f.metrics["param_mismatch"] < 0.1


def test_train_runs_adamw_with_warmup_cosine_per_step_for_every_epoch(monkeypatch):
    from paperzoo.papers.sinenet import train
    seen = []

    class Spy(torch.optim.AdamW):
        def step(self, closure=None):
            seen.append((self.param_groups[0]["lr"], self.param_groups[0]["weight_decay"]))
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "AdamW", Spy)
    traj = torch.randn(4, 6, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 3 + 1
    torch.manual_seed(0)
    calls = []
    norm, hist = train(SineNet(1, hidden=2, waves=1, levels=1), traj, epochs=2, batch_size=2, lr=1e-2, weight_decay=0.5,
                       warmup_frac=0.25, eval_fn=lambda m, e: calls.append(e) or {"e": e}, progress=False)
    f = warmup_cosine(8, 2, 1e-2)  # 4 trajectories x 2 windows / batch 2 = 4 steps per epoch; warm-up 2 of 8
    assert [lr for lr, _ in seen] == pytest.approx([1e-2 * f(s) for s in range(8)], rel=1e-9)
    assert all(wd == 0.5 for _, wd in seen) and calls == [1, 2] and [h["e"] for h in hist] == [1, 2]
    torch.testing.assert_close(norm.mean.flatten(), traj.mean().reshape(1))
