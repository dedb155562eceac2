"""paperzoo.data.pde: every solver converges at its scheme's order against an analytic solution; the GRF has its
kernel's covariance; the operators' identities hold; the cache is keyed, checksummed and atomic; .mat files read."""
from __future__ import annotations

import json
import math

import pytest
import torch

from paperzoo.data.paths import DataError
from paperzoo.data.pde import (
    GRF1D,
    antiderivative_data,
    darcy_piecewise,
    darcy_solve,
    fisher_rd,
    generated,
    grf2d,
    list_generated,
    nonlinear_ode_data,
    ns_vorticity,
    poisson_dst,
    read_mat,
    rk4_ode,
)

D = torch.float64


def _orders(errs):
    return [math.log2(a / b) for a, b in zip(errs, errs[1:])]


def test_grf1d_has_the_rbf_covariance_and_is_seeded():
    g = GRF1D(0.2, n_grid=50)
    f = g.sample(20000, torch.Generator().manual_seed(0))
    cov = f.T @ f / len(f)
    k = torch.exp(-0.5 * ((g.x[:, None] - g.x[None, :]) / 0.2) ** 2)
    assert (cov - k).abs().max() < 0.05
    assert torch.equal(g.sample(3, torch.Generator().manual_seed(1)), g.sample(3, torch.Generator().manual_seed(1)))
    m = GRF1D(0.2, n_grid=50, kernel="matern12").sample(20000, torch.Generator().manual_seed(0))
    assert abs(float((m[:, 0] * m[:, 1]).mean()) - math.exp(-(1 / 49) / 0.2)) < 0.03
    with pytest.raises(ValueError, match="kernel"):
        GRF1D(kernel="periodic")


def test_grf2d_spectra_and_mean():
    g = grf2d(400, 16, torch.Generator().manual_seed(0), bc="neumann")
    assert abs(float(g.mean())) < 0.01 and g.abs().mean(0).min() > 0  # zero mode removed, field everywhere
    p = grf2d(2, 16, torch.Generator().manual_seed(0), bc="periodic")
    assert p.shape == (2, 16, 16) and float(p.mean(dim=(1, 2)).abs().max()) < 1e-12


def test_antiderivative_is_linear_exact_on_constants_and_matches_quadrature():
    d = antiderivative_data(4, m=10, points=7, seed=3)
    assert d.u.shape == (4, 10) and d.y.shape == (4, 7, 1) and d.s.shape == (4, 7)
    g = GRF1D(0.2)
    f = g.sample(4, torch.Generator().manual_seed(3))
    x = torch.linspace(0, 1, 20001, dtype=D)
    fine = torch.cumulative_trapezoid(g.eval(f, x), x, dim=1)  # quadrature of the same spline on a fine grid
    idx = (d.y[..., 0] * 20000).round().long()
    y_on = x[idx]
    from paperzoo.data.pde import ppoly_at

    exact = ppoly_at(g.spline(f).antiderivative(), y_on)
    assert (exact - torch.cat([torch.zeros(4, 1, dtype=D), fine], 1).gather(1, idx)).abs().max() < 1e-8
    one = ppoly_at(g.spline(torch.ones(2, 1000, dtype=D)).antiderivative(), y_on[:2])
    torch.testing.assert_close(one, y_on[:2])
    two = ppoly_at(g.spline(f[:2] + f[2:]).antiderivative(), y_on[:2])
    parts = ppoly_at(g.spline(f).antiderivative(), torch.cat([y_on[:2], y_on[:2]]))
    torch.testing.assert_close(two, parts[:2] + parts[2:])


def test_rk4_ode_is_fourth_order_against_the_tanh_solution():
    errs = []
    for g in (51, 101, 201):
        x = torch.linspace(0, 1, g, dtype=D)[::2]
        s = rk4_ode(torch.full((1, g), 2.0, dtype=D), 1 / (g - 1))
        errs.append(float((s[0] - math.sqrt(2) * torch.tanh(math.sqrt(2) * x)).abs().max()))
    assert min(_orders(errs)) > 3.7
    d = nonlinear_ode_data(30, m=20, points=3, seed=0)
    assert torch.isfinite(d.s).all() and d.s.shape == (30, 3)


def _manufactured(res):
    x = torch.linspace(0, 1, res, dtype=D)
    X, Y = torch.meshgrid(x, x, indexing="ij")
    u = torch.sin(math.pi * X) * torch.sin(math.pi * Y)
    f = -math.pi * torch.cos(math.pi * X) * torch.sin(math.pi * Y) + 2 * math.pi ** 2 * (1 + X) * u
    return (1 + X)[None], f[None], u, X, Y


def test_darcy_and_poisson_are_second_order():
    errs_d, errs_p = [], []
    for res in (9, 17, 33):
        a, f, u, X, Y = _manufactured(res)
        errs_d.append(float((darcy_solve(a, f)[0] - u).abs().max()))
        errs_p.append(float((poisson_dst((2 * math.pi ** 2 * u)[None])[0] - u).abs().max()))
    assert min(_orders(errs_d)) > 1.8 and min(_orders(errs_p)) > 1.8
    a = torch.full((1, 9, 9), 1.0, dtype=D)  # a = 1: Darcy is Poisson, same discrete system
    f = torch.rand(1, 9, 9, generator=torch.Generator().manual_seed(0), dtype=D)
    torch.testing.assert_close(darcy_solve(a, f), poisson_dst(f), rtol=1e-10, atol=1e-12)


def test_darcy_mask_and_piecewise_set():
    a = torch.ones(1, 11, 11, dtype=D)
    mask = torch.zeros(11, 11, dtype=torch.bool)
    mask[2:9, 2:9] = True
    u = darcy_solve(a, 1.0, mask)[0]
    assert (u[~mask] == 0).all() and (u[3:8, 3:8] > 0).all()
    torch.testing.assert_close(u, u.flip(0)) and torch.testing.assert_close(u, u.T)
    a, u = darcy_piecewise(2, 17, seed=0)
    assert set(a.unique().tolist()) <= {3.0, 12.0} and (u[:, 1:-1, 1:-1] > 0).all() and (u[:, 0] == 0).all()
    with pytest.raises(ValueError, match="positive"):
        darcy_solve(-a, 1.0)


def _mode(res):
    x = torch.arange(res, dtype=D) / res
    X, Y = torch.meshgrid(x, x, indexing="ij")
    return (torch.cos(2 * math.pi * X) * torch.cos(2 * math.pi * Y))[None]


def test_navier_stokes_diffusion_is_second_order_and_a_mode_decays_exactly():
    w0 = _mode(16)
    exact = w0 * math.exp(-0.01 * 8 * math.pi ** 2)  # an eigenmode: advection vanishes, pure decay
    errs = [float((ns_vorticity(w0, nu=0.01, T=1.0, n_frames=1, dt=dt, forcing=None)[0, 0] - exact[0]).abs().max())
            for dt in (0.04, 0.02, 0.01)]
    assert min(_orders(errs)) > 1.9
    w = torch.randn(1, 16, 16, generator=torch.Generator().manual_seed(0), dtype=D) * 0.2
    w = w - w.mean()
    ref = ns_vorticity(w, nu=1e-2, T=0.2, n_frames=1, dt=2.5e-4)
    errs = [float((ns_vorticity(w, nu=1e-2, T=0.2, n_frames=1, dt=dt) - ref).abs().max()) for dt in (4e-3, 2e-3, 1e-3)]
    assert min(_orders(errs)) > 0.8  # explicit advection: first order
    with pytest.raises(ValueError, match="multiple of dt"):
        ns_vorticity(w, T=1.0, n_frames=3, dt=0.1)


def test_fisher_rk4_is_fourth_order_and_conserves_mass_without_reaction():
    u0 = torch.rand(3, 16, generator=torch.Generator().manual_seed(0), dtype=D)
    exact = u0 * math.e / (1 - u0 + u0 * math.e)  # logistic, D = 0, t = 1
    errs = [float((fisher_rd(u0, lambda u: u * (1 - u), D=0.0, n_frames=3, steps_per_frame=s)[:, -1] - exact).abs().max())
            for s in (2, 4, 8)]
    assert min(_orders(errs)) > 3.7
    u = fisher_rd(u0, lambda u: 0 * u, D=0.05, n_frames=4, steps_per_frame=20)
    w = torch.ones(16, dtype=D)
    w[0] = w[-1] = 0.5  # trapezoid weights: the ghost-node Neumann scheme conserves this sum
    mass = (u * w).sum(-1)
    assert (mass - mass[:, :1]).abs().max() < 1e-12


def test_generated_sets_are_cached_checksummed_and_listed(tmp_path):
    calls = []

    def make():
        calls.append(1)
        return {"x": torch.arange(6.0).reshape(2, 3)}

    a = generated("toy", {"n": 2, "seed": 0}, make, root=tmp_path)
    b = generated("toy", {"n": 2, "seed": 0}, make, root=tmp_path)
    assert len(calls) == 1 and torch.equal(a["x"], b["x"])
    generated("toy", {"n": 2, "seed": 1}, make, root=tmp_path)
    assert len(calls) == 2
    listed = list_generated(tmp_path)
    assert sorted(m["params"]["seed"] for m in listed) == [0, 1] and all(m["bytes"] > 0 for m in listed)
    path = next(p for p in tmp_path.glob("toy-*.safetensors") if json.loads(p.with_suffix(".json").read_text())
                ["params"]["seed"] == 0)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(DataError, match="checksum"):
        generated("toy", {"n": 2, "seed": 0}, make, root=tmp_path)
    generated("toy", {"n": 2, "seed": 0}, make, root=tmp_path, regenerate=True)
    assert len(calls) == 3 and not list(tmp_path.glob("*.tmp"))


def test_read_mat_v5_and_v73(tmp_path):
    import numpy as np
    import scipy.io

    coef = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    scipy.io.savemat(tmp_path / "darcy.mat", {"coeff": coef, "sol": coef * 2})
    out = read_mat(tmp_path / "darcy.mat", ("coeff", "sol"))
    assert torch.equal(out["coeff"], torch.from_numpy(coef)) and torch.equal(out["sol"], 2 * out["coeff"])
    with pytest.raises(KeyError, match="has no"):
        read_mat(tmp_path / "darcy.mat", ("u",))
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "ns.mat", "w", userblock_size=512) as f:  # MATLAB v7.3: HDF5, transposed arrays
        f["u"] = np.transpose(coef)
    with open(tmp_path / "ns.mat", "r+b") as fh:  # the 128-byte MATLAB header in the user block
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Sun Nov 29 00:00:00 2026 HDF5 schema 1.00 .".ljust(
            116) + b"\x00" * 8 + b"\x00\x02IM")
    assert torch.equal(read_mat(tmp_path / "ns.mat")["u"], torch.from_numpy(coef))
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(ValueError, match="neither"):
        read_mat(tmp_path / "junk.mat")


def test_paperzoo_data_list_shows_generated_sets(tmp_path, monkeypatch, capsys):
    from paperzoo.cli import main

    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path))
    generated("darcy-toy", {"n": 1, "res": 5, "seed": 0}, lambda: {"a": torch.ones(1, 5, 5)})
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "darcy-toy" in out and "res=5" in out and "generated sets" in out
