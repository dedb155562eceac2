"""Monotone DBM: the prox against Lambert W and its implicit derivative, the hollow monotone parameterisation
(symmetry, hollowness, margin m, the scale), the splitting's unique fixed point, the implicit backward
against unrolled autograd and finite differences (float64), losses against references written here,
alpha tuning, the learner (learning effect, bit-identical resume), the registered model, a tiny `full`,
bad input."""
import math

import pytest
import torch
import torch.nn.functional as F

import paperzoo as pz
from paperzoo.data import TensorSet
from paperzoo.papers.monotone_dbm import (
    DBMLearner,
    HollowMonotoneLinear,
    MonotoneDBM,
    bucketize,
    checks,
    dense_dbm,
    focal_class_balanced,
    group_softmax,
    lambertw_prox,
    mean_field_residual,
    monotone_dbm_mnist,
    naive_mean_field,
    prox_softmax,
    random_observation_mask,
    tune_alpha,
)
from paperzoo.papers.monotone_dbm.solver import anderson, picard
from paperzoo.train import epoch_generator, load_checkpoint


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: threads only add contention on a shared machine
    yield
    torch.set_num_threads(old)


def _fixed_point(lin, vis, mask, alpha=0.3, solver="picard", label=None):
    dbm = MonotoneDBM(lin, alpha=alpha, tol=1e-13, max_iter=3000, solver=solver)
    with torch.no_grad():
        dbm(vis, mask, label)
    return dbm


def _inputs(lin, B=4, p=0.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    n, k = lin.tiers[0]
    vis = F.one_hot(torch.randint(k, (B, n), generator=g), k).double()
    return vis, (torch.rand(B, n, generator=g) < p).double()


# ---- prox ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.02, 0.3, 0.9])
def test_prox_matches_lambertw_reference_and_its_optimality_equation(alpha):
    g = torch.Generator().manual_seed(1)
    y = 4 * torch.randn(30, 6, generator=g, dtype=torch.float64)
    y[0] = torch.tensor([9.0, -9, 0, 1, 2, 3], dtype=torch.float64)  # peaked (Lambert-W argument e^900 at alpha 0.02)
    x = prox_softmax(y, alpha)
    assert (x >= 0).all() and torch.allclose(x.sum(-1), torch.ones(30, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(x, torch.from_numpy(lambertw_prox(y.numpy(), alpha)), atol=1e-10, rtol=0)
    nu = (1 - alpha) * x + alpha * x.log() - y + alpha  # the same nu for every state of a variable
    ok = x > 1e-250  # entries that did not underflow
    ref = nu.gather(1, x.argmax(1, keepdim=True))
    assert ok.sum() > 100 and (nu - ref)[ok].abs().max() < 1e-10
    # it is the argmin: no simplex direction lowers 1/2 ||x - y||^2 + alpha f(x)
    def obj(v):
        return 0.5 * ((v - y) ** 2).sum(-1) + alpha * (torch.special.xlogy(v, v).sum(-1) - 0.5 * (v * v).sum(-1))
    u = torch.softmax(torch.randn(30, 6, generator=g, dtype=torch.float64), -1)  # other points of the simplex
    for t in (1e-3, 1e-1):
        assert (obj(x + t * (u - x)) >= obj(x) - 1e-12).all()


def test_prox_small_alpha_against_lambertw_asymptotic_branch_and_projection():
    y = torch.tensor([[3.0, 0.0, -1.0], [0.6, 0.5, -2.0]], dtype=torch.float64)
    x = prox_softmax(y, 1e-3)  # Lambert-W argument ~ e^1000 at the solution
    assert torch.allclose(x, torch.from_numpy(lambertw_prox(y.numpy(), 1e-3)), atol=1e-10)
    proj = torch.tensor([[1.0, 0.0, 0.0], [0.55, 0.45, 0.0]], dtype=torch.float64)  # Euclidean projection
    assert (x - proj).abs().max() < 0.02


def test_prox_limits_softmax_and_projection():
    y = torch.randn(50, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert (prox_softmax(y, 0.999) - torch.softmax(y, -1)).abs().max() < 1e-3
    assert (prox_softmax(y, 0.9) - torch.softmax(y, -1)).abs().max() > 1e-3  # it is not softmax itself
    # over another dim and in float32 (the code's 1e-4 tolerance)
    y3 = y.reshape(5, 10, 5).transpose(1, 2).float()
    x3 = prox_softmax(y3, 0.125, dim=1)
    assert torch.allclose(x3.transpose(1, 2).reshape(50, 5).double(), prox_softmax(y, 0.125), atol=1e-4)


def test_prox_implicit_backward_gradcheck_and_against_reference_jacobian():
    y = torch.randn(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: prox_softmax(t, 0.3), (y,), eps=1e-6, atol=1e-7)
    x = prox_softmax(y, 0.3)[0].detach()
    g = x / ((1 - 0.3) * x + 0.3)
    J_ref = torch.diag(g) - torch.outer(g, g) / g.sum()  # card: dx/dy = diag(g) - g g^T / sum(g)
    J = torch.autograd.functional.jacobian(lambda t: prox_softmax(t, 0.3), y[:1].detach())[0, :, 0]
    assert torch.allclose(J, J_ref, atol=1e-12)


def test_prox_bad_input():
    for a in (1.0, 0.0, -0.1):
        with pytest.raises(ValueError, match="alpha"):
            prox_softmax(torch.zeros(2, 3), a)
    with pytest.raises(ValueError, match="alpha"):
        lambertw_prox([[0.0, 1.0]], 1.0)
    from paperzoo.papers.monotone_dbm.prox import prox_softmax_grouped
    with pytest.raises(ValueError, match="gid"):
        prox_softmax_grouped(torch.zeros(2, 3), 0.5, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN"):
        prox_softmax(torch.tensor([[0.0, float("nan")]]), 0.5)


# ---- parameterisation -------------------------------------------------------------------------------------------

def test_hollow_monotone_W_is_symmetric_hollow_and_m_monotone_and_the_scale_is_needed():
    lin = checks.random_linear(gain=3.0)
    W = lin.W_dense().detach()
    assert torch.equal(W, W.T) and (W * lin.self_block).abs().max() == 0
    s = float(lin.scale().detach())
    assert s < 1  # the scale binds for this A
    # reference ||D||_2 by a loop over variables
    A = lin.A.detach()
    G = A.T @ A
    ref = max(float(torch.linalg.eigvalsh(G[lin.gid == v][:, lin.gid == v])[-1]) for v in range(lin.n_vars))
    assert math.isclose(s, (1 - lin.m) / ref, rel_tol=1e-12)
    eig = torch.linalg.eigvalsh(torch.eye(lin.dim, dtype=W.dtype) - W)
    assert eig[0] >= lin.m - 1e-10
    # without the scale (s = 1) the guarantee fails: I - D + A^T A has eigenvalues below m
    unscaled = torch.eye(lin.dim, dtype=W.dtype) - (G * lin.self_block - G)
    assert torch.linalg.eigvalsh(unscaled)[0] < lin.m
    assert checks.min_eig_margin(lin) >= -1e-10


def test_scale_is_one_when_the_blocks_are_small_and_W_dense_matches_forward():
    lin = checks.random_linear(gain=0.2)
    assert float(lin.scale().detach()) == 1.0
    W, b = lin.operator()
    G = (lin.A * lin.a_mask).T @ (lin.A * lin.a_mask)
    assert torch.allclose(W, G * lin.self_block - G, atol=1e-15)
    z = torch.randn(3, lin.dim, dtype=torch.float64)
    assert torch.allclose(lin(z), z @ W.T + b, atol=1e-12)
    assert torch.equal(lin.W_dense(), W)
    parts = lin.split(z)
    assert [tuple(p.shape) for p in parts] == [(3, 20, 4), (3, 10, 2), (3, 1, 10)]
    assert torch.equal(torch.cat([p.flatten(1) for p in parts], 1), z)


def test_bias_norm_connections_and_the_scale_follows_the_parameters():
    lin = HollowMonotoneLinear([(3, 2), (2, 3), (1, 4)], m=0.1, connections=[[1, 0, 0], [1, 1, 0], [0, 1, 1]]).double()
    W, bias = lin.operator()
    for t, (a, b) in enumerate(zip(lin.offsets[:-1], lin.offsets[1:])):
        assert math.isclose(float(bias[a:b].norm().detach()), float(lin.g[t].detach()), rel_tol=1e-12)
    W.sum().backward()
    assert (lin.A.grad * (1 - lin.a_mask)).abs().max() == 0 and (lin.A.grad * lin.a_mask).abs().max() > 0
    with torch.no_grad():  # an optimiser-like step that blows A up: the next operator() rescales
        lin.A.mul_(10.0)
    assert checks.min_eig_margin(lin) >= -1e-10 and float(lin.scale().detach()) < 1
    with pytest.raises(ValueError, match="tiers"):
        HollowMonotoneLinear([(3, 1)])
    with pytest.raises(ValueError, match="connections"):
        HollowMonotoneLinear([(3, 2), (1, 2)], connections=[[1]])
    with pytest.raises(ValueError, match="m must"):
        HollowMonotoneLinear([(3, 2)], m=0.0)


# ---- inference ------------------------------------------------------------------------------------------------------

def test_splitting_reaches_one_mean_field_point_from_any_start_and_anderson_agrees():
    out = checks.fixed_point_checks(checks.random_linear(), alpha=0.3)
    assert out["fixed_point_spread"] < 1e-9 and out["mean_field_residual"] < 1e-9
    lin = checks.random_linear(seed=2)
    vis, mask = _inputs(lin)
    a, p = _fixed_point(lin, vis, mask, solver="anderson"), _fixed_point(lin, vis, mask, solver="picard")
    assert (a.z - p.z).abs().max() < 1e-9 and a.residual < 1e-13 and p.residual < 1e-13
    W, b = lin.operator()
    free = 1 - a.clamp_spec(vis, mask, None)[1]
    assert mean_field_residual(a.z, W.detach(), b.detach(), lin.gid, free).max() < 1e-9
    # observed visible variables hold their data; a clamped label holds its one-hot
    tiers = a.linear.split(a.z)
    obs = mask.bool()
    assert torch.equal(tiers[0][obs], vis[obs])
    lab = _fixed_point(lin, vis, mask, label=torch.tensor([1, 2, 3, 4]))
    assert torch.equal(lin.split(lab.z)[-1][:, 0].argmax(1), torch.tensor([1, 2, 3, 4]))


def test_naive_mean_field_fails_without_the_constraint_but_not_on_a_monotone_W():
    bad = checks.naive_mf_check(scale=16.0)
    assert max(bad["naive_mf_spread"], bad["naive_mf_last_step"]) > 0.1
    lin = checks.random_linear(gain=0.5)
    W, b = lin.operator()
    q0 = group_softmax(torch.randn(2, lin.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0)),
                       lin.gid, lin.n_vars)
    q, step = naive_mean_field(W.detach(), b.detach(), lin.gid, q0, steps=300)
    assert (q[0] - q[1]).abs().max() < 1e-8 and step.max() < 1e-8


def test_start_is_uniform_per_variable_and_iteration_counts_are_recorded():
    lin = checks.random_linear()
    dbm = MonotoneDBM(lin, alpha=0.3, tol=1e-6, max_iter=7, solver="picard")
    z0 = dbm.start(2, torch.float64, "cpu")
    assert torch.allclose(torch.zeros(2, lin.n_vars, dtype=torch.float64).index_add_(1, lin.gid, z0),
                          torch.ones(2, lin.n_vars, dtype=torch.float64))
    assert torch.equal(z0[0, :4], torch.full((4,), 0.25, dtype=torch.float64))
    vis, mask = _inputs(lin, B=2)
    with torch.no_grad():
        dbm(vis, mask)
    assert dbm.iters == 7 and not dbm.converged and dbm.residual > 1e-6  # capped
    with pytest.raises(ValueError, match="solver"):
        MonotoneDBM(lin, solver="broyden")
    with pytest.raises(ValueError, match="alpha"):
        MonotoneDBM(lin, alpha=1.0)
    with pytest.raises(TypeError, match="HollowMonotoneLinear"):
        MonotoneDBM(torch.nn.Linear(2, 2))


def test_group_softmax_is_stable_and_residuals_are_per_sample():
    lin = checks.random_linear()
    y = 400 + torch.randn(3, lin.dim, dtype=torch.float64)
    ref = torch.cat([torch.softmax(t, -1).flatten(1) for t in lin.split(y)], 1)
    assert torch.allclose(group_softmax(y, lin.gid, lin.n_vars), ref, atol=1e-14)
    W, b = (t.detach() for t in lin.operator())
    q = group_softmax(torch.randn(3, lin.dim, dtype=torch.float64), lin.gid, lin.n_vars)
    res = mean_field_residual(q, W, b, lin.gid)
    assert res.shape == (3,) and torch.allclose(res, (q - group_softmax(q @ W + b, lin.gid, lin.n_vars)).abs().amax(1))
    _, step = naive_mean_field(W, b, lin.gid, q, steps=2)
    assert step.shape == (3,)


def test_naive_mean_field_damping_and_bad_shapes():
    lin = checks.random_linear(gain=0.5)
    W, b = (t.detach() for t in lin.operator())
    start = MonotoneDBM(lin).start(1, torch.float64, "cpu")
    q1, _ = naive_mean_field(W, b, lin.gid, start, steps=1, damping=0.5)
    assert torch.allclose(q1, 0.5 * start + 0.5 * group_softmax(start @ W + b, lin.gid, lin.n_vars))
    with pytest.raises(ValueError, match="W must"):
        naive_mean_field(W[:3], b, lin.gid, start)


def _ref_anderson(f, x0, K, m=5, lam=1e-4, beta=1.0):
    """Anderson (type II, regularised, sum(a) = 1 by the KKT system) over the last min(k, m) pairs."""
    xs, fs = [x0, f(x0)], [f(x0)]
    fs.append(f(xs[1]))
    for k in range(2, K):
        n = min(k, m)
        X, Fv = torch.stack(xs[-n:]), torch.stack(fs[-n:])
        G = Fv - X
        kkt = torch.zeros(n + 1, n + 1, dtype=x0.dtype)
        kkt[0, 1:] = kkt[1:, 0] = 1
        kkt[1:, 1:] = G @ G.T + lam * torch.eye(n, dtype=x0.dtype)
        a = torch.linalg.solve(kkt, torch.eye(n + 1, dtype=x0.dtype)[0])[1:]
        xs.append(beta * a @ Fv + (1 - beta) * a @ X)
        fs.append(f(xs[-1]))
    return xs[-1]


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_anderson_iterates_match_a_reference_implementation(beta):
    g = torch.Generator().manual_seed(4)
    M = 0.8 * torch.randn(6, 6, generator=g, dtype=torch.float64) / 6 ** 0.5
    c = torch.randn(6, generator=g, dtype=torch.float64)

    def f(x):
        return torch.tanh(x @ M.T + c)

    x0 = torch.randn(2, 6, generator=g, dtype=torch.float64)
    for K in (3, 5, 9):
        x, res = anderson(f, x0, max_iter=K, tol=0.0, beta=beta)
        assert len(res) == K - 1
        for i in range(2):
            assert torch.allclose(x[i], _ref_anderson(f, x0[i], K, beta=beta), atol=1e-12, rtol=0)
    x, res = anderson(f, x0, max_iter=9, tol=0.0, beta=beta)
    assert math.isclose(res[-1], float((f(x) - x).norm() / (1e-5 + f(x).norm())), rel_tol=1e-9)


def test_anderson_and_picard_on_a_linear_contraction():
    M = torch.tensor([[0.5, 0.2], [0.1, 0.3]], dtype=torch.float64)
    c = torch.tensor([1.0, 2.0], dtype=torch.float64)
    exact = torch.linalg.solve(torch.eye(2, dtype=torch.float64) - M, c)
    for solve in (anderson, picard):
        x, res = solve(lambda x: x @ M.T + c, torch.zeros(3, 2, dtype=torch.float64), max_iter=200, tol=1e-12)
        assert (x - exact).abs().max() < 1e-10 and res[-1] < 1e-12


# ---- implicit backward ---------------------------------------------------------------------------------------------

def test_implicit_gradient_equals_unrolled_autograd_and_finite_differences():
    out = checks.implicit_grad_checks(checks.random_linear(seed=1), unroll=200)
    assert out["grad_vs_unrolled_rel"] < 1e-9 and out["grad_vs_fd_rel"] < 1e-7


def test_implicit_gradient_is_not_the_one_step_gradient_and_reaches_every_parameter(monkeypatch):
    lin = checks.random_linear(seed=1)
    vis, mask = _inputs(lin)
    wts = torch.randn(4, lin.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    dbm = MonotoneDBM(lin, alpha=0.3, tol=1e-13, max_iter=3000, solver="picard").double()

    def grad():
        dbm.zero_grad()
        dbm(vis, mask)
        ((dbm.logits * wts).sum() + dbm.label_logits().sum()).backward()
        return [p.grad.clone() for p in dbm.parameters()]

    full = grad()
    assert all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in full)
    a_idx = [n for n, _ in dbm.named_parameters()].index("linear.A")
    assert dbm.stats["backward_residual"] < 1e-12
    # dropping the adjoint solve (u = v: backprop through one step only) gives a different gradient
    import paperzoo.papers.monotone_dbm.solver as solver_mod
    monkeypatch.setattr(solver_mod.ImplicitFixedPoint, "backward", staticmethod(lambda ctx, v: (v, None, None, None)))
    one = grad()
    assert (one[a_idx] - full[a_idx]).norm() > 1e-3 * full[a_idx].norm()


# ---- losses and data -------------------------------------------------------------------------------------------

def test_focal_class_balanced_against_reference_and_absent_classes():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(40, 5, dtype=torch.float64, generator=g)
    target = torch.randint(0, 4, (40,), generator=g)  # class 4 absent
    beta, gamma = 0.99, 2.0
    num = den = 0.0
    for i in range(40):
        n_c = int((target == target[i]).sum())
        w = (1 - beta) / (1 - beta ** n_c)
        p = torch.softmax(logits[i], 0)[target[i]]
        num += w * (1 - p) ** gamma * -torch.log(p)
        den += w
    assert torch.allclose(focal_class_balanced(logits, target, beta=beta, gamma=gamma), num / den, atol=1e-12)
    # gamma = 0, beta = 0: plain cross-entropy
    assert torch.allclose(focal_class_balanced(logits, target, beta=0.0, gamma=0.0), F.cross_entropy(logits, target))
    with pytest.raises(ValueError, match="logits"):
        focal_class_balanced(logits, target[:3])


def test_bucketize_and_observation_mask():
    x = torch.tensor([0.0, 0.2499, 0.25, 0.5, 0.99, 1.0])
    assert bucketize(x, 4).tolist() == [0, 0, 1, 2, 3, 3]
    assert bucketize(torch.linspace(0, 1, 101), 20).max() == 19
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bucketize(torch.tensor([1.5]), 4)
    m1 = random_observation_mask((200, 100), 0.4, torch.Generator().manual_seed(0))
    m2 = random_observation_mask((200, 100), 0.4, torch.Generator().manual_seed(0))
    assert torch.equal(m1, m2) and abs(float(m1.mean()) - 0.4) < 0.01 and set(m1.unique().tolist()) == {0.0, 1.0}


def test_tune_alpha_halves_while_iterations_do_not_rise():
    class Fake:
        def __init__(self, table, conv):
            self.alpha, self.table, self.conv = 0.5, table, conv

        def __call__(self, vis, mask):
            self.iters = self.table[self.alpha]
            self.converged = self.conv[self.alpha]

    table = {0.25: 48, 0.125: 48, 0.0625: 30, 0.03125: 35}
    fake = Fake(table, {a: a < 0.1 for a in table})
    assert tune_alpha(fake, None, None, 0.25) == 0.0625  # 48 -> 48 -> 30 -> 35 (worse): keep 0.0625
    fake = Fake(table, {a: False for a in table})
    assert tune_alpha(fake, None, None, 0.25) == 0.5  # nothing converged: restore the original alpha


# ---- learner ----------------------------------------------------------------------------------------------------------

def _digits(n, seed=0):
    """Synthetic 4x4 'digits': class c lights pixels of pattern c, plus noise (bins in 0..3)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    patterns = torch.tensor([[3] * 8 + [0] * 8, [0] * 8 + [3] * 8, [3, 0] * 8])
    noise = torch.randint(0, 2, (n, 16), generator=g)
    return TensorSet((patterns[y] - noise).clamp(min=0), y, "toy")


def _learner(seed=0):
    torch.manual_seed(seed)
    dbm = dense_dbm(16, 4, (8,), num_classes=3, alpha=0.3, tol=1e-3)
    return DBMLearner(dbm, batch_size=32, lr=1e-2, eval_batch=100)


def test_learner_learns_toy_digits_from_partial_observation():
    train, test = _digits(256), _digits(200, seed=1)
    learner = _learner()
    before = learner.evaluate(test)
    hist = learner.fit(train, epochs=4, eval_data=test, progress=False)
    after = hist[-1]
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert after["test_acc"] > before["test_acc"] + 20 and after["test_acc"] > 70  # chance 33%
    assert after["converged"] == 1.0 and after["bwd_iters"] > 0


def test_resume_after_k_epochs_is_bit_identical(tmp_path):
    train, test = _digits(96), _digits(50, seed=1)
    ref = _learner()
    h_ref = ref.fit(train, epochs=3, eval_data=test, run_dir=tmp_path / "a", progress=False)
    part = _learner()
    part.fit(train, epochs=1, eval_data=test, run_dir=tmp_path / "b", progress=False)
    resumed = _learner(seed=99)  # different init: everything must come from the checkpoint
    h_res = resumed.fit(train, epochs=3, eval_data=test, run_dir=tmp_path / "b", resume=True, progress=False)
    for a, b in zip(ref.dbm.state_dict().values(), resumed.dbm.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(ref.tau, resumed.tau) and ref.dbm.alpha == resumed.dbm.alpha
    assert [r["loss"] for r in h_ref] == [r["loss"] for r in h_res]
    assert load_checkpoint(tmp_path / "b")[0] == 3


def test_learner_losses_match_a_reference_and_the_code_defaults():
    d = DBMLearner(dense_dbm(16, 4, (8,), num_classes=3))
    assert (d.batch_size, d.beta, d.gamma, d.recon_weight, d.p, d.tune, d.eval_batch) == \
        (128, 0.9999, 2.0, 0.5, 0.4, True, 400)  # code: batch, beta, focal gamma, 0.5/0.5, 40% observed, tuning, test batch
    assert d.opt.defaults["lr"] == 1e-3
    learner = _learner()
    assert torch.allclose(learner.tau, torch.full((16,), math.sqrt(10.0)))  # code: tau init sqrt(10)
    with torch.no_grad():
        learner.tau.copy_(torch.linspace(1, 2, 16))
        learner.dbm.clftau.fill_(1.5)
    data = _digits(8)
    mask = random_observation_mask((8, 16), 0.4, torch.Generator().manual_seed(3))
    parts = learner.losses(data.x, data.y, mask)
    logits = learner.dbm.logits
    recon = logits[:, :64].reshape(8, 16, 4) * torch.linspace(1, 2, 16)[:, None] ** 2
    free = mask == 0
    rec = focal_class_balanced(recon[free], data.x[free], beta=0.9999, gamma=2.0)
    clf = F.cross_entropy(logits[:, -3:] * 1.5 ** 2, data.y)
    assert torch.allclose(parts["recon"], rec) and torch.allclose(parts["clf"], clf)
    assert torch.allclose(parts["loss"], 0.5 * rec + 0.5 * clf)
    full = learner.losses(data.x, data.y, torch.ones(8, 16))  # nothing to complete: classification only
    assert float(full["recon"].detach()) == 0.0 and torch.allclose(full["loss"], 0.5 * full["clf"])


def test_train_epoch_averages_and_evaluate_metrics_by_hand():
    train = _digits(64)
    learner = _learner()
    seen = []
    orig = learner.losses

    def spy(*a):
        out = orig(*a)
        seen.append(tuple(float(out[k].detach()) for k in ("loss", "recon", "clf")))
        return out

    learner.losses = spy
    from paperzoo.train.log import Progress
    with Progress(2, "t", False) as bar:
        row = learner.train_epoch(train, epoch=0, generator=torch.Generator().manual_seed(0), progress=bar)
    assert len(seen) == 2
    for i, key in enumerate(("loss", "recon", "clf")):
        assert math.isclose(row[key], sum(s[i] for s in seen) / 2, rel_tol=1e-6)
    assert row["fwd_iters"] >= 2 and row["bwd_iters"] >= 1 and row["converged"] == 1.0 and row["alpha"] == 0.3
    test = _digits(150, seed=2)
    p = learner.predict(test)
    free = p["mask"] == 0
    ev = learner.evaluate(test)
    assert math.isclose(ev["test_acc"], 100 * float((p["label"] == test.y).double().mean()))
    assert math.isclose(ev["completion_acc"], 100 * float((p["bins"] == test.x)[free].double().mean()))
    assert 0.3 < float(p["mask"].mean()) < 0.5 and len(p["converged"]) == 2  # eval batches of 100
    assert ev["eval_converged"] == 1.0 and ev["eval_iters"] >= 2


def test_alpha_is_retuned_when_the_forward_solve_hits_its_cap(monkeypatch):
    import paperzoo.papers.monotone_dbm.learner as learner_mod
    learner = _learner()
    learner.dbm.tol, learner.dbm.max_iter = 1e-12, 3  # cannot converge: every batch triggers tuning
    hist = learner.fit(_digits(64), epochs=1, progress=False)
    assert hist[0]["converged"] == 0.0 and learner.dbm.alpha == 0.3  # nothing converged: alpha restored
    calls = []
    monkeypatch.setattr(learner_mod, "tune_alpha", lambda *a: calls.append(a))
    data = _digits(64)
    learner.fit(data, epochs=1, progress=False)
    assert len(calls) == 2
    dbm, vis, mask, max_alpha = calls[0]
    assert dbm is learner.dbm and max_alpha == 0.15 and vis.shape == (32, 16, 4) and mask.shape == (32, 16)
    first = torch.randperm(64, generator=epoch_generator(0, 0))[:32]  # the epoch's first batch
    assert torch.equal(vis.argmax(-1), data.x[first])
    learner.dbm.tol = 1.0  # converges at once: no tuning
    learner.fit(data, epochs=1, progress=False)
    assert len(calls) == 2


def test_learner_bad_input():
    learner = _learner()
    with pytest.raises(TypeError, match="bucketize"):
        learner.fit(TensorSet(torch.rand(8, 16), torch.zeros(8, dtype=torch.long)), epochs=1, progress=False)
    for bad in (7, 4, -1):
        with pytest.raises(ValueError, match="bins"):
            learner.fit(TensorSet(torch.full((8, 16), bad), torch.zeros(8, dtype=torch.long)), epochs=1, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        DBMLearner(learner.dbm, batch_size=0)
    with pytest.raises(ValueError, match="n_bins"):
        bucketize(torch.rand(3), 1)
    assert bucketize(torch.rand(3), 2).max() <= 1
    with pytest.raises(TypeError, match="MonotoneDBM"):
        DBMLearner(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="mask"):
        learner.dbm(torch.zeros(2, 16, 4), torch.zeros(2, 15))


# ---- registered model, protocols ----------------------------------------------------------------------------------

def test_registered_model_classifies_images_and_backprops():
    model = monotone_dbm_mnist(width=16)
    x = torch.rand(5, 1, 28, 28)
    out = model(x)
    assert out.shape == (5, 10) and torch.isfinite(out).all()
    F.cross_entropy(out, torch.arange(5)).backward()
    assert model.dbm.linear.A.grad.abs().sum() > 0
    assert isinstance(pz.create_model("monotone_dbm_mnist"), torch.nn.Module)
    with pytest.raises(ValueError, match="in_chans"):
        monotone_dbm_mnist(in_chans=3)


def test_tiny_full_protocol_runs_through_overrides(tmp_path):
    r = pz.reproduce("monotone-dbm", "full", seed=0, out=tmp_path / "full", progress=False,
                     overrides={"side": 6, "hidden": (8, 4), "n_train": 64, "n_test": 40, "epochs": 1,
                                "checks": False, "threads": 1})
    m = r.metrics
    assert r.config["n_bins"] == 20 and m["min_eig_margin"] >= -1e-6
    assert 0 <= m["test_acc"] <= 100 and 0 <= m["completion_acc"] <= 100
    assert "fixed_point_spread" not in m
