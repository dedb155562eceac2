"""MgNO: the V-cycle equals a hand-written two-level cycle, is linear (affine with bias), keeps any grid size; the
spectral convolution and the H1 loss against direct formulas; training restores the best-validation state and learns."""
from __future__ import annotations

import math

import pytest
import torch

from paperzoo.nn import count_params
from paperzoo.papers.mgno import FNO2d, MgConv, MgNO, SpectralConv2d, fit, relative_h1, relative_l2
from paperzoo.papers.mgno.training import evaluate, poisson_set

D = torch.float64


def test_two_level_cycle_by_hand():
    torch.manual_seed(0)
    conv = MgConv(2, 3, ((2, 1), (1, 0))).double()
    f = torch.randn(2, 2, 9, 9, dtype=D)
    S, A = conv.S, conv.A
    u = S[0][0](f)
    u = u + S[0][1](f - A[0][1](u))  # second pre-smoothing step at level 0
    f1, u1 = conv.R[0](f), conv.Pi[0](u)
    u1 = u1 + S[1][0](f1 - A[1][0](u1))
    up = conv.P[0](u1)[..., :9, :9]  # 5 -> 10, cropped to the odd fine size
    v = u + up
    v = v + S[0][2](f - A[0][2](v))  # one post-smoothing step
    torch.testing.assert_close(conv(f), v, rtol=1e-12, atol=1e-12)
    single = MgConv(2, 3, ((1, 0),)).double()
    torch.testing.assert_close(single(f), single.S[0][0](f))


@pytest.mark.parametrize("use_res", [False, True])
def test_v_cycle_is_linear_and_the_smoother_bias_makes_it_affine(use_res):
    torch.manual_seed(1)
    f, g = torch.randn(2, 1, 17, 17, dtype=D), torch.randn(2, 1, 17, 17, dtype=D)
    conv = MgConv(1, 4, ((1, 1), (2, 0), (1, 0)), use_res=use_res).double()
    torch.testing.assert_close(conv(2 * f - 3 * g), 2 * conv(f) - 3 * conv(g), rtol=1e-10, atol=1e-10)
    affine = MgConv(1, 4, ((1, 1), (2, 0)), bias=True).double()
    assert (affine(2 * f) - 2 * affine(f)).abs().max() > 1e-3


def test_any_grid_size_and_parameter_count():
    net = MgNO(ch=3, n_layers=2, levels=((1, 0),) * 4)
    for s in (16, 17, 31, 50):
        assert net(torch.rand(1, 1, s, s)).shape == (1, 1, s, s)
    conv = MgConv(1, 2, ((1, 0), (2, 1)))
    # S per smoothing step (1 + 3), A per step but level 0's first, R, Pi, P per level transition, all bias-free
    assert count_params(conv) == 4 * 9 * 1 * 2 + 3 * 9 * 2 * 1 + 9 * 1 * 1 + 9 * 2 * 2 + 16 * 2 * 2


def test_spectral_conv_is_a_truncated_fourier_multiplier():
    torch.manual_seed(2)
    k = SpectralConv2d(2, 3, modes=3).double()
    x = torch.randn(1, 2, 12, 12, dtype=D)
    xf = torch.fft.rfft2(x)
    w = torch.view_as_complex(k.w.double())
    ref = torch.zeros(1, 3, 12, 7, dtype=torch.complex128)
    for i in range(2):
        for o in range(3):
            ref[0, o, :3, :3] += xf[0, i, :3, :3] * w[0, i, o]
            ref[0, o, -3:, :3] += xf[0, i, -3:, :3] * w[1, i, o]
    torch.testing.assert_close(k(x), torch.fft.irfft2(ref, s=(12, 12)))
    yy = torch.arange(12, dtype=D)
    high = torch.cos(2 * math.pi * 5 * yy / 12)[None, None, :, None].expand(1, 2, 12, 12)  # mode 5 > 3 kept modes
    assert k(high).abs().max() < 1e-12
    assert FNO2d(width=4, modes=3)(torch.rand(2, 1, 16, 16)).shape == (2, 1, 16, 16)


def test_relative_losses_against_formulas():
    y = torch.randn(3, 1, 8, 8, dtype=D)
    p = y + 0.1 * torch.randn(3, 1, 8, 8, dtype=D)
    torch.testing.assert_close(relative_l2(p, y), (p - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1))
    x = torch.arange(64, dtype=D)
    lo = torch.cos(2 * math.pi * 5 * x / 64)[:, None].expand(64, 64)[None, None]
    hi = torch.cos(2 * math.pi * 25 * x / 64)[:, None].expand(64, 64)[None, None]
    base = torch.ones(1, 1, 64, 64, dtype=D)
    # base has only the (0, 0) mode (weight 1); adding mode 5 (weight sqrt 26) vs mode 25 (cut: weight 1)
    r_lo, r_hi = relative_h1(base + lo, base), relative_h1(base + hi, base)
    norm_lo, norm_hi = lo.flatten().norm(), hi.flatten().norm()
    torch.testing.assert_close(r_lo, math.sqrt(26) * norm_lo / base.flatten().norm() * torch.ones(1, dtype=D))
    torch.testing.assert_close(r_hi, norm_hi / base.flatten().norm() * torch.ones(1, dtype=D))


def test_fit_learns_poisson_and_restores_the_best_validation_state():
    a, u = poisson_set(96, 16, seed=0)
    data = {"a_train": a[:64], "u_train": u[:64], "a_val": a[64:80], "u_val": u[64:80], "a_test": a[80:], "u_test": u[80:]}
    torch.manual_seed(0)
    model = MgNO(ch=6, n_layers=2, levels=((1, 0),) * 3)
    r = fit(model, data, epochs=6, batch_size=8, lr=3e-3, loss="l2")
    vals = [h["val_l2"] for h in r.history]
    assert r.val_l2 == min(vals) and r.best_epoch == 1 + vals.index(r.val_l2)
    assert evaluate(model, data["a_val"], data["u_val"])[0] == pytest.approx(r.val_l2, rel=1e-5)
    assert r.test_l2 < 0.5 * float(relative_l2(torch.zeros_like(data["u_test"]) + u[:64].mean(0), data["u_test"]).mean())
    with pytest.raises(ValueError, match="loss"):
        fit(model, data, epochs=1, loss="h2")


def test_bad_input_is_clear():
    with pytest.raises(ValueError, match="levels"):
        MgConv(1, 2, ((0, 1),))
    with pytest.raises(ValueError, match="B, C, H, W"):
        MgConv(1, 2)(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="modes"):
        SpectralConv2d(1, 1, 12)(torch.rand(1, 1, 16, 16))
