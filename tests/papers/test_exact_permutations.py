"""exact-permutations: task and rounding, the batched trainer against torch SGD, kernels against Monte Carlo and a
float64 reference of the NTK-GP formulas, the sampler against its mean / covariance, the closed forms against
simulation, and the stopping rule against a brute-force reference."""
import math

import pytest
import torch
import torch.nn.functional as F

import paperzoo as pz
from paperzoo.papers.exact_permutations import (
    NTKGP,
    ReLUEnsemble,
    TwoLayerReLU,
    accuracy_curve,
    all_inputs_failure_bound,
    arccos_terms,
    binary_inputs,
    closed_form_complexity,
    empirical_ntk,
    ensemble_complexity,
    exact,
    expected_accuracy,
    gp_complexity_trials,
    gp_ensemble_complexity,
    gp_for_permutation,
    loglog_slope,
    make_task,
    margins,
    nngp_kernel,
    ntk_kernel,
    round_sign,
    running_means,
    scaled_lr,
    train_ensemble_batched,
    train_gd,
    two_hot_tests,
)
from paperzoo.papers.exact_permutations.complexity import smallest_n
from paperzoo.papers.exact_permutations.experiment import all_inputs_sign_exact, gd_rates, gp_checks, steps_for

D = torch.float64


# ---------------------------------------------------------------- task and rounding
def test_task_and_tests():
    P, x, y = make_task(7, 3)
    assert torch.equal(P.sum(0), torch.ones(7)) and torch.equal(P.sum(1), torch.ones(7))
    assert torch.equal(x, torch.eye(7)) and torch.equal(y, torch.stack([P @ e for e in torch.eye(7)]))
    xt, yt = two_hot_tests(7, 500, 3, 1, P=P)
    assert torch.allclose((xt > 0).sum(1).float(), torch.full((500,), 3.0))
    assert torch.allclose(xt[xt > 0], torch.full_like(xt[xt > 0], 3**-0.5)) and torch.allclose(xt.norm(dim=1), torch.ones(500))
    assert torch.equal(yt, ((xt > 0).float() @ P.T)) and torch.equal(yt.sum(1), torch.full((500,), 3.0))
    counts = (xt > 0).sum(0)                                     # uniform positions: about 500 * 3 / 7 = 214 each
    assert counts.min() > 160 and counts.max() < 270
    with pytest.raises(ValueError):
        two_hot_tests(3, 10, 4)
    with pytest.raises(ValueError):
        make_task(1)


def test_binary_inputs():
    b = binary_inputs(5)
    assert b.shape == (31, 5) and len(torch.unique(b, dim=0)) == 31 and b.sum(1).min() == 1
    assert len(binary_inputs(5, min_ones=2)) == 31 - 5


def test_rounding_threshold_is_zero_and_exactness():
    out = torch.tensor([[0.0, 1e-9, -1e-9, 0.4, 0.6]])
    assert torch.equal(round_sign(out), torch.tensor([[0.0, 1.0, 0.0, 1.0, 1.0]]))
    y = torch.tensor([[0.0, 1.0, 0.0, 1.0, 1.0]])
    assert exact(out, y).item() and not exact(out, 1 - y).item()
    assert not exact(out + torch.tensor([[0, 0, 0, 0, -1.0]]), y).item()    # one wrong coordinate spoils the vector


def test_running_means_and_stopping_rule():
    g = torch.Generator().manual_seed(0)
    preds = torch.randn(9, 4, 3, generator=g, dtype=D)
    ref = torch.stack([preds[: n + 1].mean(0) for n in range(9)])
    assert torch.allclose(running_means(preds), ref)
    y = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=D)
    # member 1 is wrong on test 0 only (3/4 exact); members 2-3 pull the mean right everywhere
    good = 2 * y - 1
    bad = good.clone()
    bad[0] = -good[0]
    stream = torch.stack([bad, good * 0.1, good, good])
    acc = accuracy_curve(stream, y)
    assert torch.allclose(acc, torch.tensor([0.75, 0.75, 1.0, 1.0], dtype=D))
    assert ensemble_complexity(stream, y, 0.3) == 1
    assert ensemble_complexity(stream, y, 0.25) == 1                  # acc == 1 - delta stops (>=, as official)
    assert ensemble_complexity(stream, y, 0.0) == 3
    assert ensemble_complexity(stream, y, 0.1) == 3
    assert ensemble_complexity(stream[:2], y, 0.1) is None
    w = torch.tensor([3.0, 1, 1, 1], dtype=D)                     # test 0 counted three times
    assert torch.allclose(accuracy_curve(stream, y, w), torch.tensor([0.5, 0.5, 1.0, 1.0], dtype=D))
    with pytest.raises(ValueError):
        ensemble_complexity(stream, y, 1.0)


# ---------------------------------------------------------------- the net and the batched trainer
def test_official_init_statistics():
    torch.manual_seed(0)
    net = TwoLayerReLU(8, width=20_000, sigma_w=1.5)
    assert abs(net.fc1.weight.std().item() - 1.5 / math.sqrt(8)) < 0.01
    assert abs(net.fc2.weight.std().item() * math.sqrt(20_000) - 1.5) < 0.03
    assert net.fc1.bias.abs().max() == 0 and net.fc2.bias.abs().max() == 0
    assert net(torch.randn(3, 8)).shape == (3, 8)
    assert scaled_lr(4096) == pytest.approx(1e-3 * 50_000 / 4096)
    with pytest.raises(ValueError):
        net(torch.randn(3, 7))


def test_ensemble_init_shapes_defaults_and_validation():
    ens = ReLUEnsemble(3, 4, generator=torch.Generator().manual_seed(0))
    assert ens.W1t.shape == (3, 4, 4096) and ens.W2.shape == (3, 4, 4096) and ens.b2.shape == (3, 4)
    assert abs(ens.W1t.std().item() - 0.5) < 0.01 and abs(ens.W2.std().item() * 64 - 1.0) < 0.02
    assert ens.b1.abs().max() == 0 and ens.b2.abs().max() == 0 and ens.W1t.dtype == torch.float32
    same = ReLUEnsemble(3, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(same.W1t, ens.W1t) and torch.equal(same.W2, ens.W2)
    e2 = ReLUEnsemble(2, 4, 2, width=3000, sigma_w=2.0, sigma_b=0.5, dtype=D, generator=torch.Generator().manual_seed(1))
    assert e2.W2.shape == (2, 2, 3000) and e2.W1t.dtype == D
    assert abs(e2.W1t.std().item() - 1.0) < 0.03 and abs(e2.b1.std().item() - 0.5) < 0.03
    assert ReLUEnsemble(1, 1, width=1).W1t.shape == (1, 1, 1)
    for bad in ((0, 4), (2, 0)):
        with pytest.raises(ValueError):
            ReLUEnsemble(*bad)
    with pytest.raises(ValueError):
        ReLUEnsemble(2, 3, 0)
    with pytest.raises(ValueError):
        ReLUEnsemble(2, 3, width=0)
    x, y = torch.eye(3), torch.eye(3)
    out, loss = train_ensemble_batched(1, x, y, steps=1, chunk=1)
    assert out.W1t.shape == (1, 3, 4096) and loss.shape == (1,)
    for kw in ({"steps": 0}, {"n_models": 0}, {"chunk": 0}):
        with pytest.raises(ValueError):
            train_ensemble_batched(**{"n_models": 1, "x": x, "y": y, "steps": 1, **kw})
    for xx, yy in ((x, y[:2]), (x[0], y), (x, y[0])):
        with pytest.raises(ValueError):
            train_ensemble_batched(1, xx, yy, steps=1)


@pytest.mark.parametrize("basis", [True, False])
def test_batched_step_matches_torch_sgd(basis):
    torch.manual_seed(1)
    k, m, lr, steps = 5, 64, 0.05, 4
    nets = [TwoLayerReLU(k, width=m, sigma_b=0.3).double() for _ in range(3)]
    x = torch.eye(k, dtype=D) if basis else torch.rand(7, k, dtype=D)
    y = torch.rand(len(x), k, dtype=D)
    ens = ReLUEnsemble.from_models(nets)
    losses = torch.stack([ens.step(x, y, lr, basis) for _ in range(steps)])
    ref = torch.tensor([train_gd(n, x, y, lr=lr, steps=steps) for n in nets], dtype=D).T
    assert torch.allclose(losses, ref, rtol=1e-10, atol=1e-14)
    for i, n in enumerate(nets):
        assert torch.allclose(ens.W1t[i], n.fc1.weight.detach().T, atol=1e-12)
        assert torch.allclose(ens.b1[i], n.fc1.bias.detach(), atol=1e-12)
        assert torch.allclose(ens.W2[i], n.fc2.weight.detach(), atol=1e-12)
        assert torch.allclose(ens.b2[i], n.fc2.bias.detach(), atol=1e-12)
    assert torch.allclose(ens(x)[1], nets[1](x), atol=1e-12)


def test_batched_training_fits_and_rounds_to_p():
    g = torch.Generator().manual_seed(0)
    P, x, y = make_task(5, g)
    ens, loss = train_ensemble_batched(6, x, y, width=512, steps=steps_for(5, 20, 50.0, 512), generator=g, chunk=4)
    assert ens.W1t.shape == (6, 5, 512) and loss.max() < 1e-6
    assert exact(ens(x) - 0.5, y).all()
    with pytest.raises(ValueError, match="finite"):
        train_ensemble_batched(2, x, y * math.nan, width=8, steps=3)


# ---------------------------------------------------------------- kernels
def test_arccos_kernel_closed_form_and_monte_carlo():
    k = 6
    e = torch.eye(k, dtype=D)
    K = nngp_kernel(e, e)
    assert torch.allclose(K.diagonal(), torch.full((k,), 1 / (2 * k), dtype=D))
    assert torch.allclose(K[0, 1], torch.tensor(1 / (2 * math.pi * k), dtype=D))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, k, generator=g, dtype=D)
    sw, sb, n = 1.3, 0.4, 2_000_000
    w = torch.randn(n, k, generator=g, dtype=D) * (sw / math.sqrt(k))
    b = torch.randn(n, 1, generator=g, dtype=D) * sb
    u = x @ w.T + b.T                                            # (4, n)
    j1_mc = F.relu(u) @ F.relu(u).T / n
    k0_mc = (u > 0).to(D) @ (u > 0).to(D).T / n
    j1, k0 = arccos_terms(x, x, sw, sb)
    assert torch.allclose(j1, j1_mc, rtol=4e-3) and torch.allclose(k0, k0_mc, atol=2e-3)
    assert torch.allclose(nngp_kernel(x, x, sw, sb), sw**2 * j1 + sb**2)


def test_analytic_ntk_matches_empirical_ntk_per_parameter():
    k, m = 4, 20_000
    x = torch.cat([torch.eye(k, dtype=D), torch.tensor([[1.0, 1, 0, 0], [0, 1, 1, 1]], dtype=D)])
    x = x / x.norm(dim=1, keepdim=True)
    torch.manual_seed(1)
    emp = sum(empirical_ntk(TwoLayerReLU(k, width=m, sigma_w=1.5, sigma_b=0.5).double(), x) for _ in range(8)) / 8
    ana = ntk_kernel(x, x, m, sigma_w=1.5, sigma_b=0.5)
    assert (emp - ana).norm() / ana.norm() < 0.015
    # the first-layer terms alone (they are O(1) next to the m-scaled readout, so check them separately)
    net = TwoLayerReLU(k, width=m, sigma_w=1.5, sigma_b=0.5).double()
    params = {n: p.detach() for n, p in net.named_parameters()}
    jac = torch.func.jacrev(lambda p: torch.func.functional_call(net, p, (x,))[:, 0])(params)
    parts = ntk_kernel(x, x, m, sigma_w=1.5, sigma_b=0.5, parts=True)
    for name, key in (("fc1.weight", "W1"), ("fc1.bias", "b1")):
        j = jac[name].reshape(len(x), -1)
        assert (j @ j.T - parts[key]).norm() / parts[key].norm() < 0.05, key
    torch.manual_seed(0)
    emp = sum(empirical_ntk(TwoLayerReLU(k, width=m).double(), x, out=1) for _ in range(8)) / 8
    ana = ntk_kernel(x, x, m)
    assert (emp - ana).norm() / ana.norm() < 0.01                # one init: 1-2.7 %; mean of 8: about 0.5 %
    parts = ntk_kernel(x, x, m, parts=True)
    assert torch.equal(parts["b2"], torch.ones_like(ana))
    assert torch.allclose(parts["W1"], parts["b1"] * (x @ x.T))   # sigma_w = 1
    assert torch.allclose(sum(parts.values()), ana)
    # without the W2 term the rest is O(1): the readout dominates in this parameterisation
    assert (ana - parts["W2"]).abs().max() <= 2.0 + 1e-12 < parts["W2"].min()


def _ref_gp(x_tr, y_tr, x, m, x2=None, **kw):
    """The card's formulas with explicit inverses (t -> inf)."""
    x2 = x if x2 is None else x2
    th_inv = torch.linalg.inv(ntk_kernel(x_tr, x_tr, m, **kw))
    A, A2 = ntk_kernel(x, x_tr, m, **kw) @ th_inv, ntk_kernel(x2, x_tr, m, **kw) @ th_inv
    Kxx, KXX = nngp_kernel(x, x2, **kw), nngp_kernel(x_tr, x_tr, **kw)
    KxX, K2X = nngp_kernel(x, x_tr, **kw), nngp_kernel(x2, x_tr, **kw)
    return A @ y_tr, Kxx + A @ KXX @ A2.T - A @ K2X.T - KxX @ A2.T


@pytest.mark.parametrize("kw", [{}, {"width": 1000, "sigma_w": 1.3, "sigma_b": 0.2}])
def test_gp_matches_reference_formulas_and_interpolates(kw):
    P, x_tr, y_tr = make_task(5, 2, dtype=D)
    gp = NTKGP(x_tr, y_tr, **kw)
    x, _ = two_hot_tests(5, 12, 2, 0, dtype=D)
    x2 = binary_inputs(5, min_ones=3)[:4]
    ref = {"sigma_w": kw.get("sigma_w", 1.0), "sigma_b": kw.get("sigma_b", 0.0)}
    mu, cov = _ref_gp(x_tr, y_tr, x, kw.get("width", 50_000), **ref)
    assert torch.allclose(gp.mean(x), mu, atol=1e-12) and torch.allclose(gp.cov(x), cov, atol=1e-12)
    cross = _ref_gp(x_tr, y_tr, x, kw.get("width", 50_000), x2=x2, **ref)[1]
    assert torch.allclose(gp.cov(x, x2), cross, atol=1e-12) and not torch.allclose(cross[:4], cov[:4, :4])
    assert (gp.mean(x_tr) - y_tr).abs().max() < 1e-10 and gp.cov(x_tr).abs().max() < 1e-10
    assert torch.allclose(gp.cov(x_tr[:1], x_tr[:1] * 0 + x_tr[:1]), gp.cov(x_tr[:1]))


def test_gp_input_checks():
    _, x_tr, y_tr = make_task(4, 0, dtype=D)
    with pytest.raises(ValueError, match="pair up"):
        NTKGP(x_tr, y_tr[:3])
    with pytest.raises(ValueError, match="pair up"):
        NTKGP(x_tr[0], y_tr)
    with pytest.raises(ValueError, match="singular"):
        NTKGP(torch.cat([x_tr, x_tr[:1]]), torch.cat([y_tr, y_tr[:1]]))
    with pytest.raises(ValueError, match="lr > 0"):
        NTKGP(x_tr, y_tr, lr=0.0, steps=5)
    with pytest.raises(ValueError, match="lr > 0"):
        NTKGP(x_tr, y_tr, lr=1e-3, steps=-1)
    assert NTKGP(x_tr, y_tr, lr=1e-3, steps=0).mean(x_tr).abs().max() == 0        # untrained: prior mean 0
    assert (NTKGP(x_tr, y_tr, width=1).mean(x_tr) - y_tr).abs().max() < 1e-10      # small NTK, still invertible
    with pytest.raises(ValueError):
        nngp_kernel(torch.zeros(1, 4), x_tr)


def test_finite_time_gp_is_linearised_gd():
    _, x_tr, y_tr = make_task(4, 0, dtype=D)
    lr, steps, m = 1e-3, 7, 50_000
    gp = NTKGP(x_tr, y_tr, width=m, lr=lr, steps=steps)
    x, _ = two_hot_tests(4, 5, 2, 1, dtype=D)
    theta = ntk_kernel(x_tr, x_tr, m)
    f_tr, f_x = torch.zeros_like(y_tr), torch.zeros(5, 4, dtype=D)   # from f_0 = 0: the mean
    for _ in range(steps):
        g = 2.0 / y_tr.numel() * (f_tr - y_tr)
        f_x, f_tr = f_x - lr * ntk_kernel(x, x_tr, m) @ g, f_tr - lr * theta @ g
    assert torch.allclose(gp.mean(x), f_x, atol=1e-12)
    assert not torch.allclose(gp.mean(x), NTKGP(x_tr, y_tr, width=m).mean(x), atol=1e-3)
    with pytest.raises(ValueError, match="diverges"):
        NTKGP(*make_task(2, 0, dtype=D)[1:], lr=1e-3, steps=10)
    assert gd_rates(2, 50.0)[0] > 2 > gd_rates(4, 50.0)[0]
    lam = float(torch.linalg.eigvalsh(theta).max())
    with pytest.raises(ValueError, match="diverges"):                 # 2 <= lr 2/(n c) lambda_max < 3
        NTKGP(x_tr, y_tr, width=m, lr=2.5 / (2.0 / y_tr.numel() * lam), steps=3)
    NTKGP(x_tr, y_tr, width=m, lr=1.9 / (2.0 / y_tr.numel() * lam), steps=3)


@pytest.mark.parametrize("kw", [{}, {"width": 1000, "sigma_w": 1.3, "sigma_b": 0.2}])
def test_sampler_has_the_gp_mean_and_covariance(kw):
    P, x_tr, y_tr = make_task(5, 1, dtype=D)
    gp = NTKGP(x_tr, y_tr, **kw)
    x, _ = two_hot_tests(5, 6, 2, 3, dtype=D)
    x = torch.unique(x, dim=0)
    s = gp.sampler(x)(40_000, torch.Generator().manual_seed(0))        # (n, B, c)
    mu, cov = gp.mean(x), gp.cov(x)
    assert (s.mean(0) - mu).abs().max() < 4 * cov.diagonal().max().sqrt() / 200
    emp = torch.einsum("nbc,ndc->bd", s - mu, s - mu) / (s.shape[0] * s.shape[2])
    assert torch.allclose(emp, cov, atol=0.03 * cov.diagonal().max())
    c01 = ((s[:, :, 0] - mu[:, 0]) * (s[:, :, 1] - mu[:, 1])).mean(0)  # output coordinates independent
    assert c01.abs().max() < 0.03 * cov.diagonal().max()


# ---------------------------------------------------------------- the paper's structure at infinite width
def test_gp_mean_signs_and_margins():
    c = gp_checks(6)
    assert c["gp_sign_exact"] == 1.0 and c["gp_on_spread"] < 1e-9
    assert 0.60 < c["gp_on"] < 0.62 and -0.036 < c["gp_off"] < -0.034 and c["gp_off_max"] < 0
    assert all_inputs_sign_exact(8) == 1.0
    m6, m12 = margins(6), margins(12)
    assert m6["a_off"][1] > m12["a_off"][1] > 0                      # the off margin shrinks with k
    assert torch.allclose(m6["on"][0], torch.tensor(1.0, dtype=D)) and m6["sigma"][0] < 1e-6   # s = 1: training set
    P = make_task(6, 5, dtype=D)[0]                                  # margins do not depend on P
    xs = torch.tensor([[1.0, 1, 0, 0, 0, 0]], dtype=D) / math.sqrt(2)
    mu = gp_for_permutation(6, P).mean(xs)[0]
    assert torch.allclose(mu.sort().values[-2:], m6["on"][1].expand(2)) and torch.allclose(mu.min(), m6["off"][1])


def test_expected_accuracy_matches_simulated_ensembles():
    k, n_ens, N = 6, 600, 15
    gp = gp_for_permutation(k)
    x = binary_inputs(k, min_ones=2)
    x = x[x.sum(1) == 2]
    s = gp.sampler(x / x.norm(dim=1, keepdim=True))(n_ens * N, torch.Generator().manual_seed(0))
    means = s.view(n_ens, N, len(x), k).mean(1)
    sim = exact(means, x.expand(n_ens, -1, -1)).to(D).mean()
    ea = expected_accuracy(k, torch.tensor([N]))
    assert abs(float(sim) - float(ea)) < 0.03 and 0.2 < float(ea) < 0.95


def test_closed_forms_are_smallest_and_bounds_nest():
    n = closed_form_complexity(10, 0.1)
    acc = expected_accuracy(10, torch.tensor([n - 1, n]))
    assert acc[0] < 0.9 <= acc[1]
    n_all = closed_form_complexity(10, 0.1, scope="all")
    ns = torch.arange(1, 400)
    bound = all_inputs_failure_bound(10, ns)
    assert bound[n_all - 1] <= 0.1 < bound[n_all - 2] and (bound.diff() <= 0).all()
    assert (bound >= 1 - expected_accuracy(10, ns)).all() and n_all > n
    assert smallest_n(lambda v: v * v >= 1000) == 32 and smallest_n(lambda v: True) == 1
    with pytest.raises(ValueError):
        smallest_n(lambda v: False, hi=64)
    assert loglog_slope([2, 4, 8, 16], [3 * k**2 for k in (2, 4, 8, 16)]) == pytest.approx(2.0)


def _phi(z):
    return 0.5 * math.erfc(-z / math.sqrt(2))


def test_union_bound_and_expected_accuracy_match_plain_formulas():
    k = 7
    m = margins(k)
    a_on, a_off = m["a_on"].tolist(), m["a_off"].tolist()
    for n in (5, 40, 300):
        r = math.sqrt(n)
        ref = sum(math.comb(k, s) * (s * _phi(-a_on[s - 1] * r) + (k - s) * (_phi(-a_off[s - 1] * r) if s < k else 0))
                  for s in range(2, k + 1))
        assert float(all_inputs_failure_bound(k, torch.tensor([n]), m=m)) == pytest.approx(ref, rel=1e-9)
        ea = _phi(a_on[1] * r) ** 2 * _phi(a_off[1] * r) ** (k - 2)
        assert float(expected_accuracy(k, torch.tensor([n]), m=m)) == pytest.approx(ea, rel=1e-9)
        ea3 = _phi(a_on[2] * r) ** 3 * _phi(a_off[2] * r) ** (k - 3)
        assert float(expected_accuracy(k, torch.tensor([n]), s=3)) == pytest.approx(ea3, rel=1e-9)
    assert float(all_inputs_failure_bound(k, torch.tensor([40]))) == pytest.approx(
        float(all_inputs_failure_bound(k, torch.tensor([40]), m=m)))
    assert float(expected_accuracy(k, torch.tensor([40]), s=k)) == pytest.approx(_phi(a_on[k - 1] * math.sqrt(40)) ** k)


class _Stream:
    """A GP stand-in whose sampler hands out a fixed stream of draws in order."""

    def __init__(self, stream):
        self.stream, self.pos = stream, 0

    def sampler(self, x):
        def draw(n, generator=None):
            out = self.stream[self.pos:self.pos + n]
            self.pos += n
            return out
        return draw


def test_gp_complexity_uses_distinct_inputs_and_chunks_correctly():
    g = torch.Generator().manual_seed(0)
    xs = torch.tensor([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=D)   # sorted, as torch.unique returns them
    ys = xs.clone()
    inv = torch.tensor([0, 0, 0, 1, 2, 2])                          # duplicates, as in the official test set
    stream = 0.3 * (2 * ys - 1) + torch.randn(300, 3, 3, generator=g, dtype=D)
    ref = ensemble_complexity(stream[:, inv], ys[inv], 0.2)
    got = gp_ensemble_complexity(_Stream(stream), xs[inv], ys[inv], 0.2, max_models=300, chunk=3)
    assert ref is not None and got == ref
    assert math.isnan(gp_ensemble_complexity(_Stream(stream * 0 - 1), xs[inv], ys[inv], 0.2, max_models=40, chunk=3))
    late = (2 * ys - 1).expand(50, 3, 3).clone()
    late[:42] = -late[:42]                                          # wrong until member 42: mean turns right at 85
    late[42:] *= 100.0
    assert gp_ensemble_complexity(_Stream(late), xs[inv], ys[inv], 0.0, max_models=50, chunk=3) == 43
    assert math.isnan(gp_ensemble_complexity(_Stream(late), xs[inv], ys[inv], 0.0, max_models=40, chunk=3))
    with pytest.raises(ValueError):
        gp_ensemble_complexity(_Stream(late), xs, ys, 1.0)


def test_gp_trials_are_reproducible_and_use_the_official_defaults():
    a = gp_complexity_trials(5, 0.1, 3, seed=4)
    assert a == gp_complexity_trials(5, 0.1, 3, seed=4, n_tests=1000, nnz=2, max_models=5000, width=50_000)
    assert a != gp_complexity_trials(5, 0.1, 3, seed=5) and all(1 <= n <= 200 for n in a)
    assert gp_complexity_trials(5, 0.1, 2, seed=4) == a[:2]                     # trial t depends on seed + t only
    assert gp_complexity_trials(5, 0.1, 2, seed=5) == a[1:]
    assert gp_complexity_trials(5, 0.1, 1) == gp_complexity_trials(5, 0.1, 1, seed=0)
    assert gp_complexity_trials(6, 0.1, 1, seed=0, n_tests=3, nnz=6) == [1.0]  # all-ones input: N = 1 suffices


def test_full_protocol_code_path_tiny(tmp_path):
    r = pz.reproduce("exact-permutations", "full", seed=0, out=tmp_path / "run", progress=False,
                     overrides={"width": 256, "steps": 60, "n_models": 6, "ks_finite": (4, 5), "trials": 2,
                                "ks_gp": (3, 4, 5), "ks_gp_strict": (4, 5), "ks_closed": (3, 4), "check_models": 3,
                                "ntk_width": 500, "ntk_inits": 1, "all_inputs_k": 4, "n_tests": 50})
    assert r.metrics["gp_interp_err"] < 1e-9 and r.metrics["fit_mse_max"] < 1e-2
    assert 1 <= r.metrics["finite_N_k5"] <= 7 and r.metrics["gp_N_k5_delta_0p1"] >= 1
