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


def _ref_gp(x_tr, y_tr, x, m):
    """The card's formulas with explicit inverses (t -> inf)."""
    th_inv = torch.linalg.inv(ntk_kernel(x_tr, x_tr, m))
    A = ntk_kernel(x, x_tr, m) @ th_inv
    Kxx, KxX, KXX = nngp_kernel(x, x), nngp_kernel(x, x_tr), nngp_kernel(x_tr, x_tr)
    return A @ y_tr, Kxx + A @ KXX @ A.T - A @ KxX.T - KxX @ A.T


def test_gp_matches_reference_formulas_and_interpolates():
    P, x_tr, y_tr = make_task(5, 2, dtype=D)
    gp = NTKGP(x_tr, y_tr, width=50_000)
    x, _ = two_hot_tests(5, 12, 2, 0, dtype=D)
    mu, cov = _ref_gp(x_tr, y_tr, x, 50_000)
    assert torch.allclose(gp.mean(x), mu, atol=1e-12) and torch.allclose(gp.cov(x), cov, atol=1e-12)
    assert (gp.mean(x_tr) - y_tr).abs().max() < 1e-10 and gp.cov(x_tr).abs().max() < 1e-10


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


def test_sampler_has_the_gp_mean_and_covariance():
    P, x_tr, y_tr = make_task(5, 1, dtype=D)
    gp = NTKGP(x_tr, y_tr)
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
    assert smallest_n(lambda v: v * v >= 1000) == 32
    assert loglog_slope([2, 4, 8, 16], [3 * k**2 for k in (2, 4, 8, 16)]) == pytest.approx(2.0)


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


def test_full_protocol_code_path_tiny(tmp_path):
    r = pz.reproduce("exact-permutations", "full", seed=0, out=tmp_path / "run", progress=False,
                     overrides={"width": 256, "steps": 60, "n_models": 6, "ks_finite": (4, 5), "trials": 2,
                                "ks_gp": (3, 4, 5), "ks_gp_strict": (4, 5), "ks_closed": (3, 4), "check_models": 3,
                                "ntk_width": 500, "ntk_inits": 1, "all_inputs_k": 4, "n_tests": 50})
    assert r.metrics["gp_interp_err"] < 1e-9 and r.metrics["fit_mse_max"] < 1e-2
    assert 1 <= r.metrics["finite_N_k5"] <= 7 and r.metrics["gp_N_k5_delta_0p1"] >= 1
