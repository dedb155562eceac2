"""convex-relu: pattern enumeration, the ADMM linear maps and solves, ADMM vs an independent float64 reference
(FISTA with exact cone projections, written here) and vs CVXPY (skipped without it), the recovery identity,
global optimality, bit-identical resume, convex AT margins, PGD."""
from __future__ import annotations

import math

import pytest
import torch

from paperzoo.papers.convex_relu import (
    ADMMLearner,
    ConvexATProblem,
    ConvexReLUProblem,
    TwoLayerReLU,
    adam_restarts,
    add_bias,
    batched_objective,
    enumerate_patterns_2d,
    loss_value,
    max_patterns,
    pgd_attack,
    recover_network,
    robust_accuracy,
    sample_patterns,
    unique_patterns,
)

BETA = 1e-3
CARD_CVXPY_1D = 0.0571936  # card smoke (b), 6 significant digits


def one_d(n: int = 30):
    x = torch.linspace(-1, 1, n, dtype=torch.float64)[:, None]
    return x, add_bias(x), torch.sign(torch.sin(3 * x[:, 0]))


@pytest.fixture(scope="module")
def certified():
    x, X, y = one_d()
    D, H = enumerate_patterns_2d(X)
    return x, X, y, D, H, ConvexReLUProblem(X, y, D, BETA)


@pytest.fixture(scope="module")
def admm_1d(certified):
    return ADMMLearner(certified[-1], rho=0.01).run(10_000)


def moons(n=20):
    g = torch.Generator().manual_seed(0)
    t = torch.rand(n, generator=g, dtype=torch.float64) * math.pi
    lab = torch.arange(n) % 2
    x = torch.stack([torch.cos(t) + lab, torch.sin(t) * (1 - 2 * lab) - 0.5 * lab], 1)
    x = x + 0.1 * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return add_bias(x), 2.0 * lab - 1


# ------------------------------------------------------------------ the reference: FISTA with exact projections (d = 2)
def _sector(X, D, H):
    """Per pattern, the feasible cone {v: (2 d_k - 1) x_k . v >= 0} in R^2 as an angle interval around h_i."""
    S = (2 * D.double() - 1)
    th = torch.atan2(H[1], H[0])  # (P,)
    phi = torch.atan2(X[:, 1], X[:, 0])[:, None] + math.pi * (S < 0).double()  # angle of s_k x_k
    rel = torch.remainder(phi - th + math.pi, 2 * math.pi) - math.pi  # in (-pi, pi]; |rel| < pi/2 for interior h
    return th, (rel - math.pi / 2).max(0).values, (rel + math.pi / 2).min(0).values


def _project(p, th, lo, hi):
    """Projection of p (2, P, 2) onto each sector [th + lo, th + hi] (a closed convex cone in R^2)."""
    ang = torch.remainder(torch.atan2(p[..., 1], p[..., 0]) - th + math.pi, 2 * math.pi) - math.pi
    inside = (ang >= lo) & (ang <= hi)
    out = torch.zeros_like(p)
    best = torch.full(p.shape[:-1], -1.0, dtype=p.dtype)
    for b in (lo, hi):
        e = torch.stack([torch.cos(th + b), torch.sin(th + b)], -1).expand_as(p)
        c = (p * e).sum(-1)
        better = c > best
        out = torch.where(better[..., None], c.clamp(min=0)[..., None] * e, out)
        best = torch.where(better, c, best)
    return torch.where(inside[..., None], p, out)


def fista_reference(X, y, D, H, beta, iters=5_000, u0=None):
    """min 1/2 ||F u - y||^2 + beta sum ||u_k|| over the cones, by FISTA with adaptive restart (O'Donoghue-Candes),
    from the cone projection of ``u0`` (default 0). prox of beta||.|| + cone indicator = group shrink of the cone
    projection (a radial norm on a cone)."""
    n, P = D.shape
    Dd = D.double()
    Fm = torch.cat([(Dd.T[:, :, None] * X).permute(1, 0, 2).reshape(n, -1)] * 2, 1)
    Fm[:, P * 2:] *= -1
    L = torch.linalg.matrix_norm(Fm, 2) ** 2
    th, lo, hi = _sector(X, D, H)
    u = torch.zeros(2, P, 2, dtype=torch.float64) if u0 is None else _project(u0, th, lo, hi)
    yk, t = u.clone(), 1.0
    obj = lambda u: 0.5 * (Fm @ u.reshape(-1) - y).square().sum() + beta * u.norm(dim=2).sum()
    prev = obj(u)
    for _ in range(iters):
        g = (Fm.T @ (Fm @ yk.reshape(-1) - y)).reshape(u.shape)
        p = _project(yk - g / L, th, lo, hi)
        nrm = p.norm(dim=2, keepdim=True)
        un = (1 - beta / (L * nrm.clamp(min=1e-300))).clamp(min=0) * p
        cur = obj(un)
        if cur > prev:  # restart momentum
            t, yk = 1.0, u
            continue
        tn = (1 + math.sqrt(1 + 4 * t * t)) / 2
        yk, u, t, prev = un + (t - 1) / tn * (un - u), un, tn, cur
    return u


# ------------------------------------------------------------------ patterns
def test_enumeration_is_complete_and_distinct(certified):
    x, X, y, D, H, pb = certified
    assert D.shape[1] <= 2 * X.shape[0] and not bool((~D).all(0).any())
    ang = torch.linspace(0, 2 * math.pi, 200_001, dtype=torch.float64)
    Hd = torch.stack([torch.cos(ang), torch.sin(ang)])
    dense, _ = unique_patterns(X @ Hd >= 0)
    assert {tuple(c.tolist()) for c in D.T} == {tuple(c.tolist()) for c in dense.T}
    assert torch.equal(D, X @ H >= 0)
    assert max_patterns(30, 2) == 60 and max_patterns(5, 3) == 2 * (1 + 4 + 6)


def test_sampled_patterns_are_unique_nonzero_and_reproducible():
    X, _ = moons(20)
    D, H = sample_patterns(X, 500, generator=torch.Generator().manual_seed(1))
    D2, _ = sample_patterns(X, 500, generator=torch.Generator().manual_seed(1))
    assert torch.equal(D, D2) and torch.equal(D, X @ H >= 0)
    assert len({tuple(c.tolist()) for c in D.T}) == D.shape[1] and D.any(0).all()
    assert D.shape[1] <= max_patterns(20, 3)
    Dz, _ = unique_patterns(torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.bool))
    assert Dz.tolist() == [[1, 0], [0, 1]]  # duplicate and all-zero columns dropped, first occurrence kept


# ------------------------------------------------------------------ ADMM's maps and solves
def test_linear_maps_are_adjoint_and_match_dense(certified):
    *_, pb = certified
    a = ADMMLearner(pb, solve="woodbury")
    g = torch.Generator().manual_seed(0)
    u = torch.randn(2, pb.P, pb.d, generator=g, dtype=torch.float64)
    r, q = torch.randn(pb.n, generator=g, dtype=torch.float64), torch.randn(2, pb.n, pb.P, generator=g, dtype=torch.float64)
    assert torch.allclose(a.F(u), a.F_matrix() @ u.reshape(-1), atol=1e-12)
    assert torch.allclose((a.F(u) * r).sum(), (u * a.Ft(r)).sum(), atol=1e-10)
    assert torch.allclose((a.G(u) * q).sum(), (u * a.Gt(q)).sum(), atol=1e-10)
    assert torch.allclose(a.F(u), pb.predict(u[0], u[1]), atol=1e-12)


def test_woodbury_and_cholesky_solve_the_same_dense_system(certified):
    *_, pb = certified
    rho = 0.3
    wood, chol = ADMMLearner(pb, rho=rho, solve="woodbury"), ADMMLearner(pb, rho=rho, solve="cholesky")
    Fm = wood.F_matrix()
    Gm = torch.block_diag(*[pb.S[:, i:i + 1] * pb.X for i in range(pb.P)] * 2)  # (2nP, 2dP), halves v then w
    M = torch.eye(Fm.shape[1], dtype=torch.float64) + Fm.T @ Fm / rho + Gm.T @ Gm
    b = torch.randn(2, pb.P, pb.d, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ref = torch.linalg.solve(M, b.reshape(-1)).reshape(b.shape)
    assert torch.allclose(wood.solve(b), ref, atol=1e-9, rtol=1e-9)
    assert torch.allclose(chol.solve(b), ref, atol=1e-9, rtol=1e-9)
    assert torch.allclose(wood.Fty, (Fm.T @ pb.y / rho).reshape(b.shape))


def test_admm_matches_the_fista_reference(certified, admm_1d):
    x, X, y, D, H, pb = certified
    admm = admm_1d
    v, w = admm.solution
    ref = fista_reference(X, y, D, H, BETA, iters=1000, u0=admm.z)  # polished from ADMM's point, exactly feasible
    opt = pb.objective(ref[0], ref[1])
    assert pb.violation(ref[0], ref[1]) < 1e-12
    assert abs(opt - CARD_CVXPY_1D) / CARD_CVXPY_1D < 2e-6  # card smoke (b): CVXPY/Clarabel optimum 0.0571936
    assert abs(pb.objective(v, w) - opt) / opt < 1e-5
    assert pb.violation(v, w) < 1e-6
    assert (admm.z.norm(dim=2) == 0).any()  # the group soft-threshold gives exact zeros


def test_admm_matches_cvxpy_on_moons():
    pytest.importorskip("cvxpy")
    X, y = moons(20)
    D, _ = sample_patterns(X, 100_000, generator=torch.Generator().manual_seed(0))
    pb = ConvexReLUProblem(X, y, D, 1e-2)
    v0, w0, info = pb.solve_cvxpy()
    assert info["status"] == "optimal" and pb.violation(v0, w0) < 1e-6
    admm = ADMMLearner(pb, rho=0.1).run(1000)  # card smoke (c)
    v, w = admm.solution
    assert abs(pb.objective(v, w) - info["objective"]) / info["objective"] < 1e-2 and pb.violation(v, w) < 1e-3


# ------------------------------------------------------------------ recovery and optimality
def test_recovery_identity_on_a_feasible_point(certified):
    x, X, y, D, H, pb = certified
    g = torch.Generator().manual_seed(3)
    c = torch.rand(2, pb.P, generator=g, dtype=torch.float64) * (torch.rand(2, pb.P, generator=g) > 0.5)
    v, w = c[0, :, None] * H.T, c[1, :, None] * H.T  # h_i generates pattern i, so v_i = c h_i is feasible
    assert pb.violation(v, w) == 0.0
    U, alpha = recover_network(v, w)
    assert len(alpha) == int((c > 0).sum()) and (alpha[: int((c[0] > 0).sum())] > 0).all() and (alpha < 0).any()
    net = TwoLayerReLU.from_neurons(U, alpha)
    assert torch.allclose(net(x), pb.predict(v, w), atol=1e-13)
    assert abs(float(net.objective(x, y, BETA).detach()) - pb.objective(v, w)) < 1e-13
    assert torch.allclose(U.norm(dim=1), alpha.abs())  # balanced: ||u_j|| = |alpha_j|


def test_nonconvex_objective_never_below_the_certified_optimum(certified, admm_1d):
    x, X, y, D, H, pb = certified
    opt = pb.objective(*admm_1d.solution)
    g = torch.Generator().manual_seed(4)
    U = torch.randn(200, 20, 2, generator=g, dtype=torch.float64)
    alpha = torch.randn(200, 20, generator=g, dtype=torch.float64)
    assert batched_objective(U, alpha, X, y, BETA).min() >= opt * (1 - 1e-6)
    ad = adam_restarts(X, y, width=20, beta=BETA, restarts=4, steps=300, generator=g)
    assert (ad["best"] >= opt * (1 - 1e-6)).all() and (ad["best"] < ad["final"] + 1e-12).all()
    net = TwoLayerReLU.from_neurons(ad["U"][0], ad["alpha"][0])
    assert torch.allclose(net.objective(x, y, BETA), ad["final"][0])


def test_batched_objective_matches_single_nets():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(7, 3, generator=g, dtype=torch.float64)
    y = torch.randn(7, generator=g, dtype=torch.float64)
    nets = [TwoLayerReLU(3, width=4).double() for _ in range(3)]
    U, alpha = torch.stack([n.U for n in nets]), torch.stack([n.alpha for n in nets])
    got = batched_objective(U, alpha, add_bias(x), y, 0.3)
    want = torch.stack([n.objective(x, y, 0.3) for n in nets])
    assert torch.allclose(got, want)
    n0 = nets[0]
    manual = 0.5 * (n0(x) - y).square().sum() + 0.15 * (n0.U.square().sum() + n0.alpha.square().sum())
    assert torch.allclose(want[0], manual)


def test_losses():
    p, y = torch.tensor([0.5, -2.0, 1.5]), torch.tensor([1.0, -1.0, -1.0])
    assert torch.isclose(loss_value(p, y, "mse"), 0.5 * torch.tensor(0.25 + 1.0 + 6.25))
    assert torch.isclose(loss_value(p, y, "hinge"), torch.tensor(0.5 + 0.0 + 2.5))
    bce = -torch.log(torch.sigmoid(torch.tensor(1.0))) - torch.log(1 - torch.sigmoid(torch.tensor(-4.0))) \
        - torch.log(1 - torch.sigmoid(torch.tensor(3.0)))
    assert torch.isclose(loss_value(p, y, "bce"), bce)


# ------------------------------------------------------------------ the Learner: resume
def test_resume_is_bit_identical(tmp_path, certified):
    x, X, y, D, H, pb = certified
    eval_data = (X, y)
    full = ADMMLearner(pb, rho=0.1, iters_per_epoch=7)
    h_full = full.fit(None, epochs=6, eval_data=eval_data, run_dir=tmp_path / "a")
    part = ADMMLearner(pb, rho=0.1, iters_per_epoch=7)
    part.fit(None, epochs=3, eval_data=eval_data, run_dir=tmp_path / "b")
    resumed = ADMMLearner(pb, rho=0.1, iters_per_epoch=7)
    h_res = resumed.fit(None, epochs=6, eval_data=eval_data, run_dir=tmp_path / "b", resume=True)
    for k in ("u", "z", "s", "lam", "nu"):
        assert torch.equal(getattr(full, k), getattr(resumed, k)), k
    assert resumed.iteration == 42 and [r["objective"] for r in h_res] == [r["objective"] for r in h_full]
    assert [r["iteration"] for r in h_full] == [7 * k for k in range(1, 7)] and "test_acc" in h_full[-1]


# ------------------------------------------------------------------ adversarial training
def test_robust_margin_is_the_worst_case_on_the_ball():
    X, y = moons(16)
    D, H = sample_patterns(X, 40, generator=torch.Generator().manual_seed(6))
    eps = 0.02
    pb = ConvexATProblem(X, y, D, 1e-2, eps=eps)
    # a point that is feasible on the ball: v_i = h_i scaled where the margin of every point beats eps ||h_i||_1
    marg = ((2 * D.double() - 1) * (X @ H)).min(0).values - eps * H[:-1].abs().sum(0)
    keep = marg > 0
    assert keep.sum() >= 2
    v = torch.where(keep[:, None], H.T, torch.zeros_like(H.T))
    w = torch.zeros_like(v)
    w[keep.nonzero()[0]] = H.T[keep.nonzero()[0]] * 0.5
    assert pb.violation(v, w) == 0.0
    net = TwoLayerReLU.from_neurons(*recover_network(v, w))
    x2 = X[:, :-1]
    W = D.double() @ (v - w)
    worst = x2 - eps * y[:, None] * torch.sign(W[:, :-1])  # the vertex of the box that minimises y f
    assert torch.allclose(y * net(worst), pb.robust_margins(v, w), atol=1e-12)
    xa = pgd_attack(net, x2, y, eps, steps=30, generator=torch.Generator().manual_seed(0))
    assert (xa - x2).abs().max() <= eps + 1e-12
    assert (y * net(xa).detach() >= pb.robust_margins(v, w) - 1e-9).all()  # PGD cannot beat the certificate
    assert (y * net(xa).detach() <= y * net(x2).detach() + 1e-9).all()
    assert pb.objective(v, w) == pytest.approx(float((1 - pb.robust_margins(v, w)).clamp(min=0).sum()
                                                     + 1e-2 * (v.norm(dim=1).sum() + w.norm(dim=1).sum())))
    assert robust_accuracy(net, x2, y, 0.0) >= robust_accuracy(net, x2, y, eps, generator=torch.Generator())


def test_convex_at_with_cvxpy_is_feasible_and_certified():
    pytest.importorskip("cvxpy")
    X, y = moons(16)
    D, _ = sample_patterns(X, 30, generator=torch.Generator().manual_seed(7))
    pb = ConvexATProblem(X, y, D, 1e-2, eps=0.05)
    v, w, info = pb.solve_cvxpy()
    assert pb.violation(v, w) < 1e-6 and abs(info["objective"] - info["solver_objective"]) < 1e-6 * info["objective"]
    plain = ConvexReLUProblem(X, y, D, 1e-2, loss="hinge").solve_cvxpy()[2]["objective"]
    assert info["objective"] >= plain - 1e-6  # robustness costs: the robust program is a restriction


# ------------------------------------------------------------------ bad input
def test_bad_input_errors():
    x, X, y = one_d(8)
    D, _ = enumerate_patterns_2d(X)
    with pytest.raises(ValueError, match="beta"):
        ConvexReLUProblem(X, y, D, 0.0)
    with pytest.raises(ValueError, match="y must"):
        ConvexReLUProblem(X, y[:3], D, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        add_bias(torch.full((3, 2), float("nan")))
    with pytest.raises(ValueError, match="d = 2"):
        enumerate_patterns_2d(torch.ones(4, 3))
    with pytest.raises(ValueError, match="squared loss"):
        ADMMLearner(ConvexReLUProblem(X, y, D, 1.0, loss="hinge"))
    with pytest.raises(ValueError, match="bias"):
        ConvexATProblem(x.repeat(1, 2), y, D, 1.0, eps=0.1)
    with pytest.raises(ValueError, match="shape"):
        ConvexReLUProblem(X, y, D, 1.0).objective(torch.zeros(2, 2), torch.zeros(2, 2))


def test_full_protocol_code_path_on_a_tiny_mnist_pair(tmp_path):
    import paperzoo as pz
    from paperzoo.data import DataError

    over = {"data": ("mnist-3-8",), "n_train": 200, "P": 8, "iters": 40, "iters_per_epoch": 20, "early_iter": 20,
            "iters_1d": 200, "adam_restarts": 2, "adam_steps": 20, "tab_adam_restarts": 1, "tab_adam_steps": 5}
    try:
        r = pz.reproduce("convex-relu", "full", seed=0, out=tmp_path / "run", progress=False, overrides=over)
    except DataError as e:
        pytest.skip(f"MNIST not available: {e}")
    assert r.metrics["patterns"] <= 8 and r.metrics["test_acc"] > 80  # 3 vs 8 after 40 ADMM iterations
    assert "admm_rel_gap" not in r.metrics  # full runs no CVXPY


def test_enumeration_with_zero_and_repeated_rows():
    X = torch.tensor([[0.0, 0.0], [1.0, 0.5], [1.0, 0.5], [-0.3, 1.0], [0.7, -0.2], [-1.0, -0.5]], dtype=torch.float64)
    D, H = enumerate_patterns_2d(X)
    ang = torch.linspace(0, 2 * math.pi, 100_001, dtype=torch.float64)
    dense, _ = unique_patterns(X @ torch.stack([torch.cos(ang), torch.sin(ang)]) >= 0)
    assert {tuple(c.tolist()) for c in D.T} == {tuple(c.tolist()) for c in dense.T}
    assert D[0].all() and torch.equal(D[1], D[2]) and H.dtype == X.dtype
    assert enumerate_patterns_2d(X.float())[1].dtype == torch.float32


@pytest.mark.parametrize("loss", ["mse", "hinge", "bce"])
def test_cvxpy_program_is_our_objective(loss):
    pytest.importorskip("cvxpy")
    X, y = moons(12)
    D, _ = sample_patterns(X, 20, generator=torch.Generator().manual_seed(8))
    pb = ConvexReLUProblem(X, y, D, 0.05, loss=loss)
    v, w, info = pb.solve_cvxpy()
    assert info["status"] == "optimal" and info["solver"] == "CLARABEL" and pb.violation(v, w) < 1e-7
    assert abs(info["objective"] - info["solver_objective"]) < 1e-6 * info["objective"]
    assert info["objective"] < pb.objective(*pb.zeros()) and v.dtype == torch.float64 and v.shape == (pb.P, 3)


def test_learner_reports_and_state(certified, admm_1d):
    x, X, y, D, H, pb = certified
    st = admm_1d.stats()
    v, w = admm_1d.solution
    assert st["objective"] == pb.objective(v, w) and st["violation"] == pb.violation(v, w)
    assert st["active"] == int((torch.cat([v, w]).norm(dim=1) > 0).sum()) and st["iteration"] == 10_000
    assert st["primal_res"] == pytest.approx(float((admm_1d.u - admm_1d.z).norm()))
    net = TwoLayerReLU.from_neurons(*recover_network(v, w))
    xt = torch.linspace(-1.2, 1.2, 41, dtype=torch.float64)[:, None]
    yt = torch.sign(torch.sin(3 * xt[:, 0]) + 1e-9)
    ev = admm_1d.evaluate((add_bias(xt).float(), yt))
    f = net(xt).detach()
    assert ev["test_acc"] == pytest.approx(100 * float((torch.sign(f) == yt).double().mean()))
    assert ev["test_mse"] == pytest.approx(float((f - yt).square().mean()), rel=1e-6)
    a = ADMMLearner(pb, rho=0.01, iters_per_epoch=3)
    row = a.train_epoch(None, epoch=0, generator=torch.Generator(), progress=type("P", (), {"advance": lambda s, **k: None})())
    assert row["loss"] == row["objective"] == a.stats()["objective"] and a.iteration == 3
    state = {k: t.float() if t.is_floating_point() else t for k, t in admm_1d.state_dict().items()}
    b = ADMMLearner(pb, rho=0.01)
    b.load_state_dict(state)
    assert b.iteration == 10_000 and b.z.dtype == torch.float64 and torch.allclose(b.z, admm_1d.z, rtol=1e-6)
    bad = dict(state, s=torch.zeros(3))
    with pytest.raises(ValueError, match="'s'"):
        b.load_state_dict(bad)
    with pytest.raises(ValueError, match="v and w"):
        recover_network(v, w[:-1])
    U, alpha = recover_network(v.float(), w.float(), tol=float(torch.cat([v, w]).norm(dim=1).max()) / 2)
    assert alpha.dtype == torch.float32 and 1 <= len(alpha) < st["active"]


def test_sampling_details_and_learner_arguments(certified):
    X, _ = moons(20)
    g = lambda: torch.Generator().manual_seed(9)
    D64, H64 = sample_patterns(X, 50, generator=g())
    D32, H32 = sample_patterns(X.float(), 50, generator=g())  # the same directions whatever X's dtype
    assert torch.equal(D64, D32) and H32.dtype == torch.float32 and torch.allclose(H64.float(), H32)
    Xz = torch.cat([X, torch.zeros(1, 3, dtype=X.dtype)])
    Dz, _ = sample_patterns(Xz, 30, generator=g())
    assert Dz[-1].all()  # x . h = 0 counts as active (D_i = 1[X h >= 0])
    assert sample_patterns(X, 1, generator=g())[0].shape[1] == 1
    with pytest.raises(ValueError, match="P must"):
        sample_patterns(X, 0)
    with pytest.raises(ValueError, match=r"D must be \(n, P\), got \(4,\)"):
        unique_patterns(torch.ones(4, dtype=torch.bool))
    *_, pb = certified
    a = ADMMLearner(pb)
    assert (a.rho, a.gamma_ratio, a.iters_per_epoch) == (0.1, 1.0, 10) and a.steps_per_epoch() == 10
    assert a.solve_kind == "woodbury"  # n = 30 < 2 d P
    small = ConvexReLUProblem(pb.X, pb.y, pb.D[:, :3], BETA)  # 2 d P = 12 < n
    assert ADMMLearner(small).solve_kind == "cholesky" and ADMMLearner(small, solve="woodbury").solve_kind == "woodbury"
    for bad in ({"rho": 0.0}, {"gamma_ratio": 0.0}, {"iters_per_epoch": 0}, {"solve": "lu"}):
        with pytest.raises(ValueError):
            ADMMLearner(pb, **bad)
    with pytest.raises(TypeError, match="ConvexReLUProblem"):
        ADMMLearner(None)
    assert ADMMLearner(pb, iters_per_epoch=1).iters_per_epoch == 1
    v, w = pb.zeros()
    v[0] = -H_of(pb)  # pointing against pattern 0's cell: infeasible
    assert pb.violation(v, w) > 0.1


def H_of(pb):
    """A unit direction generating pattern 0 of the certified problem."""
    _, H = enumerate_patterns_2d(pb.X)
    return H[:, 0] / H[:, 0].norm()


def test_problem_validation_messages():
    x, X, y = one_d(8)
    D, _ = enumerate_patterns_2d(X)
    bad = [({"X": X[:, :1].T}, "y must have shape"), ({"y": y.clone().fill_(float("nan"))}, "y contains NaN"),
           ({"D": D[:3]}, r"D must be a \(8, P\)"), ({"D": D[:, :0]}, "P >= 1"), ({"beta": "1"}, "beta must"),
           ({"loss": "l1"}, "loss must be one of"), ({"y": 2 * y, "loss": "hinge"}, "labels y in"),
           ({"X": X.long()}, "floating point"), ({"X": torch.zeros(0, 2)}, "non-empty 2-D")]
    for kw, msg in bad:
        args = {"X": X, "y": y, "D": D, "beta": 1.0, **kw}
        with pytest.raises((ValueError, TypeError), match=msg):
            ConvexReLUProblem(args.pop("X"), args.pop("y"), args.pop("D"), args.pop("beta"), **args)
    pb = ConvexReLUProblem(X.float(), y, D, 2)
    assert pb.X.dtype == torch.float64 and pb.D.dtype == torch.float64 and pb.beta == 2.0 and pb.loss == "mse"
    assert (pb.n, pb.d, pb.P) == (8, 2, D.shape[1]) and torch.equal(pb.S, 2 * D.double() - 1)
    v, w = pb.zeros()
    assert v.shape == (pb.P, 2) and v.dtype == torch.float64 and v.data_ptr() != w.data_ptr()
    assert pb.objective(v, w) == pytest.approx(0.5 * float(y.square().sum()))
    assert torch.equal(add_bias(x.float())[:, 1], torch.ones(8)) and add_bias(x).dtype == torch.float64
    with pytest.raises(ValueError, match="w must have shape"):
        pb.predict(v, w[:, :1])
