"""nns-to-nos: resampling, kernel interpolation, the quadrature loss, the U-Net, the NS data and the sweep."""
import math

import pytest
import torch
from torch import nn

from paperzoo.nn import SpectralConv2d
from paperzoo.papers.nns_to_nos import (
    FNO,
    GridEmbedding2D,
    InputOutputInterpolation,
    InterpConv2d,
    QuadratureL2Loss,
    UNetPDE,
    fourier_resize,
    kernel_interpolated,
    ns_torus_pairs,
    relative_l2,
    resize,
    resolution_sweep,
    simulate,
    subsample,
    train_operator,
)
from paperzoo.papers.nns_to_nos.reproduce import converted_identity, fourier_roundtrip, layer_convergence


def _bandlimited(n=32, kmax=6, batch=(2, 3), seed=0):
    g = torch.Generator().manual_seed(seed)
    spec = torch.zeros(*batch, n, n // 2 + 1, dtype=torch.complex128)
    for rows in (slice(0, kmax), slice(-kmax, None)):
        spec[..., rows, :kmax] = torch.randn(*batch, kmax, kmax, generator=g, dtype=torch.complex128)
    return torch.fft.irfft2(spec, s=(n, n))


def _smooth(n, dtype=torch.float64):
    x = torch.arange(n, dtype=dtype) / n
    return (torch.sin(2 * math.pi * x)[:, None] * torch.cos(2 * math.pi * x)[None, :] +
            0.5 * torch.cos(4 * math.pi * x)[:, None]).reshape(1, 1, n, n)


# ---------------------------------------------------------------- resampling
def test_fourier_resize_keeps_grid_values_and_round_trips():
    x = _bandlimited()
    up = fourier_resize(x, 128)
    assert torch.allclose(up[..., ::4, ::4], x, atol=1e-12)          # upsampling interpolates: old samples stay
    assert torch.allclose(fourier_resize(up, 32), x, atol=1e-12)     # and it comes back
    assert torch.allclose(fourier_resize(up, 64), subsample(up, 64), atol=1e-12)  # band-limited: = striding
    c = torch.full((1, 1, 16, 16), 2.5, dtype=torch.float64)
    assert torch.allclose(fourier_resize(c, (48, 40)), torch.full((1, 1, 48, 40), 2.5, dtype=torch.float64))
    assert fourier_roundtrip(3) < 1e-12


def test_resize_errors_and_subsample():
    with pytest.raises(ValueError, match="mode"):
        resize(torch.zeros(1, 1, 4, 4), 8, mode="nearest")
    with pytest.raises(ValueError, match="strided"):
        subsample(torch.zeros(1, 1, 30, 30), 16)
    x = torch.arange(64.).reshape(1, 1, 8, 8)
    assert torch.equal(subsample(x, 4), x[..., ::2, ::2])


def test_grid_embedding_is_consistent_under_striding():
    e = GridEmbedding2D()
    g64, g32 = e(torch.zeros(1, 1, 64, 64))[:, 1:], e(torch.zeros(1, 1, 32, 32))[:, 1:]
    assert torch.equal(g64[..., ::2, ::2], g32)
    assert g32[0, 0, 5, 0] == 5 / 32 and g32[0, 1, 0, 7] == 7 / 32   # x along rows, y along columns, i / N


# ---------------------------------------------------------------- kernel interpolation
def test_interp_conv_kernel_size_padding_and_area_normalisation():
    conv = nn.Conv2d(2, 3, 5, padding=2).double()
    net = kernel_interpolated(conv, 16)
    layer = net.model[0]
    assert isinstance(layer, InterpConv2d) and net.n_converted == 1
    w, pad = layer.scaled_kernel(2.0)
    assert w.shape[-2:] == (9, 9) and pad == (4, 4)                  # k' = s (k - 1) + 1, p' = p s
    w, pad = layer.scaled_kernel(4.0)
    assert w.shape[-2:] == (17, 17) and pad == (8, 8)
    with torch.no_grad():
        conv.weight.fill_(0.3)                                       # a constant kernel: the integral is kept
    w, _ = kernel_interpolated(conv, 16).model[0].scaled_kernel(4.0)
    assert torch.allclose(w.sum((-2, -1)), conv.weight.sum((-2, -1)))
    assert torch.allclose(w, torch.full_like(w, 0.3 * 25 / 289))


def test_converted_model_is_the_plain_model_at_base_resolution_and_owns_its_weights():
    assert converted_identity(1) == 0.0
    torch.manual_seed(0)
    unet = UNetPDE(hidden=4, kernel=3, mults=(1, 2)).double()
    conv = kernel_interpolated(unet, 16)
    assert conv.n_converted == sum(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in unet.modules())
    with torch.no_grad():
        unet.image_proj.weight.add_(1.0)
    x = torch.randn(1, 1, 16, 16, dtype=torch.float64)
    assert not torch.allclose(conv(x), unet(x))                       # a copy, not shared references
    for n in (32, 64):                                               # (at 8, 3-tap kernels would have 2 taps)
        assert conv(torch.randn(2, 1, n, n, dtype=torch.float64)).shape == (2, 1, n, n)
    net5 = kernel_interpolated(UNetPDE(hidden=2, kernel=5, mults=(1, 2)).double(), 32)
    assert net5(torch.randn(1, 1, 16, 16, dtype=torch.float64)).shape == (1, 1, 16, 16)  # s = 1/2: the stride-2 conv
    with pytest.raises(ValueError, match="size-preserving"):
        conv(torch.randn(1, 1, 24, 24, dtype=torch.float64))          # 3 taps at scale 1.5: 4 taps, no centre
    with pytest.raises(ValueError, match="integer"):
        conv(torch.randn(1, 1, 20, 20, dtype=torch.float64))          # 3 taps at scale 1.25: 3.5 taps


def test_single_layer_converges_under_refinement_and_plain_does_not():
    m = layer_convergence(seed=1, n_kernels=2)
    assert m["interp_128_vs_64"] < 0.06 and m["interp_128_vs_32"] < 0.15
    assert m["plain_over_interp_64"] > 3 and m["plain_over_interp_128"] > 3


def test_converted_unet_converges_under_refinement_and_the_plain_one_does_not():
    torch.manual_seed(0)
    unet = UNetPDE(hidden=2, kernel=5, mults=(1,), blocks=1).double()
    conv = kernel_interpolated(unet, 8)
    with torch.no_grad():
        out = {n: (subsample(unet(_smooth(n)), 8), subsample(conv(_smooth(n)), 8)) for n in (16, 32, 64)}
    plain = [relative_l2(out[b][0], out[a][0]).item() for a, b in ((16, 32), (32, 64))]
    interp = [relative_l2(out[b][1], out[a][1]).item() for a, b in ((16, 32), (32, 64))]
    assert interp[1] < 0.6 * interp[0], interp                       # Cauchy differences shrink (measured 0.10 -> 0.04)
    assert plain[1] > 3 * interp[1], (plain, interp)                 # the plain net keeps changing (0.32 vs 0.04)


def test_input_output_interpolation_is_exact_for_a_pointwise_model_on_bandlimited_fields():
    x = _bandlimited(n=32, kmax=4, batch=(2, 1))
    up = fourier_resize(x, 64)
    io = InputOutputInterpolation(nn.Identity(), 32, mode="fourier")
    assert torch.allclose(io(up), up, atol=1e-12)
    seen = []
    InputOutputInterpolation(lambda z: seen.append(z.shape) or z, 32)(torch.zeros(1, 1, 128, 128))
    assert seen == [(1, 1, 32, 32)]


def test_spectral_layer_and_fno_shapes_across_resolutions():
    torch.manual_seed(0)
    k = SpectralConv2d(3, 2, modes=4).double()
    x = _bandlimited(n=16, kmax=4, batch=(2, 3))
    assert torch.allclose(k(fourier_resize(x, 64))[..., ::4, ::4], k(x), atol=1e-12)  # same function at any grid
    fno = FNO(hidden=6, modes=4, n_layers=2)
    assert fno(torch.randn(2, 1, 16, 16)).shape == (2, 1, 16, 16)
    sweep = resolution_sweep(FNO(hidden=4, modes=8, n_layers=1),
                             {8: (torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8)),
                              16: (torch.randn(2, 1, 16, 16), torch.randn(2, 1, 16, 16))})
    assert math.isnan(sweep[8]) and math.isfinite(sweep[16])


# ---------------------------------------------------------------- losses
def test_quadrature_loss_is_squared_batch_sum_of_weighted_norms():
    torch.manual_seed(0)
    p, y = torch.randn(3, 1, 8, 8, dtype=torch.float64), torch.randn(3, 1, 8, 8, dtype=torch.float64)
    h = (2 * math.pi / 8) ** 2
    norms = [math.sqrt(h) * (p[i] - y[i]).norm().item() for i in range(3)]
    loss = QuadratureL2Loss()(p, y).item()
    assert loss == pytest.approx(sum(norms) ** 2, rel=1e-12)
    assert loss != pytest.approx(sum(n ** 2 for n in norms), rel=1e-3)
    assert QuadratureL2Loss(1.0)(p, y).item() == pytest.approx(loss / (2 * math.pi) ** 2, rel=1e-12)


def test_quadrature_loss_does_not_depend_on_the_grid():
    e32, e128 = _smooth(32), _smooth(128)
    loss = QuadratureL2Loss()
    a = loss(e32, torch.zeros_like(e32)).item()
    b = loss(e128, torch.zeros_like(e128)).item()
    assert a == pytest.approx(b, rel=1e-10)                        # trig polynomial: the rule is exact
    assert (e128.square().sum() / e32.square().sum()).item() == pytest.approx(16, rel=1e-10)  # unweighted is not


def test_relative_l2_per_sample_and_shape_errors():
    y = torch.ones(2, 1, 4, 4)
    p = torch.stack([torch.ones(1, 4, 4) * 1.5, torch.ones(1, 4, 4)])
    assert torch.allclose(relative_l2(p, y), torch.tensor([0.5, 0.0]))
    with pytest.raises(ValueError):
        relative_l2(p, y[:, :, :2])
    with pytest.raises(ValueError):
        QuadratureL2Loss()(p, y[:1])


# ---------------------------------------------------------------- models, data, training
def test_unet_matches_the_pdearena_layout():
    net = UNetPDE(hidden=4, kernel=3, mults=(1, 2, 2), blocks=2)
    chans = [m.conv2.out_channels for m in net.down if hasattr(m, "conv2")]
    assert chans == [4, 4, 8, 8, 16, 16]                              # cumulative multipliers
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in net.up) == 2
    assert all(m.padding == (2, 2) and m.kernel_size == (4, 4) for m in net.up if isinstance(m, nn.ConvTranspose2d))
    assert isinstance(net.norm, nn.GroupNorm) and net.norm.num_groups == 1
    assert net.image_proj.in_channels == 3                           # input + (x, y)
    for n in (16, 17, 30):
        assert net(torch.randn(1, 1, n, n)).shape == (1, 1, n, n)
    with pytest.raises(ValueError, match="odd"):
        UNetPDE(kernel=4)


def test_ns_pairs_are_strided_from_one_simulation_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path))
    sim = simulate(3, 32, T=0.05, dt=0.01, seed=1)
    d = ns_torus_pairs(3, 32, T=0.05, dt=0.01, seed=1, subsample_to=(8, 16, 32))
    assert torch.equal(d[32][0][:, 0], sim["w0"]) and torch.equal(d[32][1][:, 0], sim["wT"])
    assert torch.equal(d[8][1], d[32][1][..., ::4, ::4])
    assert not torch.allclose(sim["w0"], sim["wT"])                   # the flow moved
    assert len(list(tmp_path.rglob("ns-torus-*.safetensors"))) == 1
    again = ns_torus_pairs(3, 32, T=0.05, dt=0.01, seed=1, subsample_to=(16,))
    assert torch.equal(again[16][1], d[16][1])
    with pytest.raises(ValueError, match="divide"):
        ns_torus_pairs(3, 32, T=0.05, dt=0.01, seed=1, subsample_to=(12,))


def test_training_learns_the_solution_operator(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path))
    d = ns_torus_pairs(48, 32, T=0.2, dt=0.01, seed=0, subsample_to=(16,))
    x, y = d[16]
    torch.manual_seed(0)
    net = train_operator(FNO(hidden=8, modes=6, n_layers=2), x[:40], y[:40], epochs=30, batch_size=8, lr=3e-3)
    after = relative_l2(net(x[40:]), y[40:]).mean().item()
    assert after < 0.25, after                                       # the zero predictor scores 1.0
    assert net.mean == pytest.approx(x[:40].mean().item()) and net.std == pytest.approx(x[:40].std().item())


def test_fourier_resize_keeps_every_mode_below_nyquist():
    g = torch.Generator().manual_seed(5)
    spec = torch.zeros(1, 1, 32, 17, dtype=torch.complex128)
    spec[..., :16, :16] = torch.randn(1, 1, 16, 16, generator=g, dtype=torch.complex128)
    spec[..., -15:, :16] = torch.randn(1, 1, 15, 16, generator=g, dtype=torch.complex128)
    x = torch.fft.irfft2(spec, s=(32, 32))                              # all modes up to 15, none at Nyquist 16
    up = fourier_resize(x, (96, 64))
    assert torch.allclose(up[..., ::3, ::2], x, atol=1e-10)
    assert torch.allclose(fourier_resize(up, 32), x, atol=1e-10)


def test_transposed_conv_commutes_with_fourier_refinement_on_rectangular_grids():
    """Up-sampling layer at scale 2 on the Fourier-refined input = the base-scale layer's output, Fourier-refined
    (exact in 'fourier' mode): the layer acts on the function, not the grid; the scale follows the width."""
    torch.manual_seed(3)
    up = nn.ConvTranspose2d(2, 3, 4, stride=2, padding=2).double()
    net = kernel_interpolated(nn.Sequential(up), base_res=12, mode="fourier")
    spec = torch.zeros(1, 2, 8, 7, dtype=torch.complex128)               # 8 x 12 (rows != columns), no Nyquist
    spec[..., :3, :5] = torch.randn(1, 2, 3, 5, generator=torch.Generator().manual_seed(4), dtype=torch.complex128)
    xc = torch.fft.irfft2(spec, s=(8, 12))
    with torch.no_grad():
        yc = net(xc)                                                     # scale 12 / 12 = 1: the plain layer + pad
        yf = net(fourier_resize(xc, (16, 24)))                           # scale 24 / 12 = 2
    assert yc.shape == (1, 3, 16, 24) and yf.shape == (1, 3, 32, 48)
    assert torch.allclose(yf, fourier_resize(yc, (32, 48)), atol=1e-10)


def test_converted_conv_scale_follows_the_width():
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False).double()
    net = kernel_interpolated(conv, base_res=8)
    x = torch.randn(1, 1, 8, 16, dtype=torch.float64)                    # width 16: scale 2, 5-tap kernel
    w, pad = net.model[0].scaled_kernel(2.0)
    with torch.no_grad():
        assert torch.allclose(net(x), nn.functional.conv2d(x, w, None, 1, pad))
