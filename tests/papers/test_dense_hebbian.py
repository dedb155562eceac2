"""dense-hebbian: float64 parity of the overlap form with the explicit tensor form (written here), the Hopfield
limit, the flip-cost identities, Metropolis against exact Boltzmann weights, the closed forms, the streamed
Hebbian learner (batch equivalence, bit-identical resume), the P=2 vs P=4 effects, overrides, bad input."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

import paperzoo
from paperzoo.papers.dense_hebbian import (
    ClassExamples,
    DenseHebbian,
    HebbianLearner,
    RandomExamples,
    RetrievalTask,
    binarize_images,
    make_archetypes,
    make_examples,
    mattis,
    monte_carlo,
    theory,
)
from paperzoo.train import load_checkpoint

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tensor_reference(patterns, weights, P, R):
    """J_{i1..iP} = sum_a w_a p_a,i1 .. p_a,iP / (N^(P-1) R^(P/2)), built with einsum (independent of the package)."""
    N = patterns.shape[1]
    letters = "abcdefgh"[:P]
    J = torch.einsum(",".join(f"z{c}" for c in letters) + f",z->{letters}", *([patterns] * P), weights)
    return J / (N ** (P - 1) * R ** (P / 2))


def tensor_H(J, sigma):
    P = J.ndim
    letters = "abcdefgh"[:P]
    return -torch.einsum(f"{letters}," + ",".join(f"y{c}" for c in letters) + "->y", J, *([sigma] * P)) / P


def all_states(N):
    return torch.tensor(list(itertools.product([-1.0, 1.0], repeat=N)), dtype=F64)


# ---- the overlap form is the tensor form -------------------------------------------------------------------------

@pytest.mark.parametrize("P", [2, 4, 6])
@pytest.mark.parametrize("mode", ["supervised", "unsupervised"])
def test_overlap_form_equals_explicit_tensor_form(P, mode):
    N = 7 if P < 6 else 5
    xi = make_archetypes(3, N, generator=gen(P))
    ex = make_examples(xi, 3, 0.4, generator=gen(P + 1))
    net = DenseHebbian(P, ex, mode=mode, R=0.7)
    if mode == "supervised":
        pats, w = ex.mean(1), torch.ones(3, dtype=F64)
    else:
        pats, w = ex.reshape(9, N), torch.full((9,), 1 / 3, dtype=F64)
    J = tensor_reference(pats, w, P, 0.7)
    s = all_states(N)
    assert torch.allclose(net.energy(s), tensor_H(J, s), rtol=0, atol=1e-12)
    flips = s[:, None, :] * (1 - 2 * torch.eye(N, dtype=F64))
    d_ref = tensor_H(J, flips.reshape(-1, N)).reshape(len(s), N) - tensor_H(J, s)[:, None]
    assert torch.allclose(net.delta_energy_all(s), d_ref, rtol=0, atol=1e-12)
    sig = s.clone().requires_grad_(True)  # field = -dH/dsigma of the tensor form
    (-tensor_H(J, sig).sum()).backward()
    assert torch.allclose(net.field(s), sig.grad, rtol=0, atol=1e-12)
    from paperzoo.papers.dense_hebbian import hebbian_tensor, tensor_energy
    assert torch.allclose(hebbian_tensor(net), J, rtol=0, atol=1e-14)
    assert torch.allclose(tensor_energy(J, s), tensor_H(J, s), rtol=0, atol=1e-12)


def test_flip_cost_per_chain_index_and_brute_force():
    xi = make_archetypes(5, 60, generator=gen(1))
    net = DenseHebbian(4, make_examples(xi, 5, 0.5, generator=gen(2)))
    s = make_archetypes(40, 60, generator=gen(3))
    i = torch.randint(0, 60, (40,), generator=gen(4))
    f = s.clone()
    f[torch.arange(40), i] *= -1
    brute = net.energy(f) - net.energy(s)
    assert torch.allclose(net.delta_energy(s, i), brute, rtol=0, atol=1e-12)
    assert torch.allclose(net.delta_energy(s, 7), net.delta_energy_all(s)[:, 7], rtol=0, atol=1e-12)
    assert brute.abs().max() > 1e-3  # a non-trivial check


def test_P2_one_example_is_hopfield_without_self_coupling():
    xi = make_archetypes(4, 50, generator=gen(5))
    net = DenseHebbian(2, xi)  # M = 1, r = 1: eta_bar = xi, R = 1
    assert net.R == 1.0
    J = xi.T @ xi / 50
    J.fill_diagonal_(0)
    s = make_archetypes(6, 50, generator=gen(6))
    assert torch.allclose(net.delta_energy_all(s), 2 * s * (s @ J), rtol=0, atol=1e-12)
    # the field keeps the (constant) self term: 2 sigma h = dH + 2 J_ii
    assert torch.allclose(2 * s * net.field(s), net.delta_energy_all(s) + 2 * 4 / 50, rtol=0, atol=1e-12)


def test_unsupervised_equals_supervised_at_one_example_and_lies_below_it_otherwise():
    xi = make_archetypes(3, 40, generator=gen(7))
    one = make_examples(xi, 1, 0.3, generator=gen(8))
    s = make_archetypes(10, 40, generator=gen(9))
    a, b = DenseHebbian(4, one, mode="unsupervised"), DenseHebbian(4, one)
    assert torch.allclose(a.energy(s), b.energy(s), rtol=0, atol=1e-12)
    many = make_examples(xi, 6, 0.3, generator=gen(10))
    sup, uns = DenseHebbian(4, many, R=1.0), DenseHebbian(4, many, R=1.0, mode="unsupervised")
    gap = sup.energy(s) - uns.energy(s)  # Jensen: mean of n^P >= (mean n)^P
    assert (gap >= -1e-12).all() and gap.max() > 1e-6


def test_default_R_is_mean_square_of_eta_bar_and_matches_theory():
    xi = make_archetypes(20, 4000, generator=gen(11))
    ex = make_examples(xi, 5, 0.3, generator=gen(12))
    net = DenseHebbian(4, ex)
    assert net.R == pytest.approx(float(ex.mean(1).pow(2).mean()), rel=1e-12)
    assert net.R == pytest.approx(theory.R(0.3, 5), rel=0.02)
    assert theory.R(0.3, 5) == pytest.approx(0.09 + 0.91 / 5) and theory.rho(0.3, 5) == pytest.approx(0.91 / 0.45)
    n = net.overlaps(xi)  # overlap of an archetype with its own average ~ r / sqrt(R)
    assert n.diagonal().mean() == pytest.approx(0.3 / math.sqrt(theory.R(0.3, 5)), rel=0.03)


# ---- data -------------------------------------------------------------------------------------------------------

def test_examples_have_the_card_statistics_and_images_binarise_at_threshold():
    xi = make_archetypes(4, 5000, generator=gen(13))
    assert set(xi.unique().tolist()) == {-1.0, 1.0} and abs(float(xi.mean())) < 0.03
    ex = make_examples(xi, 10, 0.4, generator=gen(14))
    agree = (ex * xi[:, None]).eq(1).double().mean()
    assert float(agree) == pytest.approx(0.7, abs=0.005)
    assert torch.equal(make_examples(xi, 2, 1.0, generator=gen(0)), xi[:, None].expand(4, 2, 5000))
    x = torch.tensor([[[0.5, 0.51], [0.0, 1.0]]])
    assert binarize_images(x).tolist() == [[-1.0, 1.0, -1.0, 1.0]]
    assert binarize_images(x, thr=0.6).tolist() == [[-1.0, -1.0, -1.0, 1.0]]
    assert binarize_images(x).dtype == torch.float32 and binarize_images(x.double()).dtype == F64
    assert binarize_images(torch.rand(3, 4)).shape == (3, 4)
    with pytest.raises(ValueError, match="batch"):
        binarize_images(torch.rand(5))


# ---- theory -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("r,M", [(0.2, 100), (0.2, 25), (0.3, 2), (0.5, 7), (1.0, 3), (0.1, 1)])
def test_binomial_T0_value_against_direct_sum(r, M):
    p = (1 + r) / 2
    ref = sum(math.comb(M, k) * p ** k * (1 - p) ** (M - k) * ((2 * k > M) - (2 * k < M)) for k in range(M + 1))
    assert theory.m_T0_low_load(r, M) == pytest.approx(ref, abs=1e-12)


def test_card_values_and_scalings():
    assert theory.m_T0_low_load(0.2, 100) == pytest.approx(0.956, abs=5e-4)  # card smoke (c)
    assert theory.m_T0_low_load(0.3, 2) == pytest.approx(0.3)  # ties count 0: p^2 - q^2 = r
    assert theory.capacity_estimate(4, 100) == pytest.approx(100 ** 3 / (30 * math.log(100)))
    assert theory.capacity_estimate(2, 100) == pytest.approx(13.8)
    s = theory.snr(4, 1000, 10, 0.3, 5)
    assert theory.snr(4, 4000, 10, 0.3, 5) / s == pytest.approx(4 ** 1.5)
    assert theory.snr(4, 1000, 40, 0.3, 5) / s == pytest.approx(0.5)
    assert s == pytest.approx(1000 ** 1.5 / (math.sqrt(10 * 15) * (1 + theory.rho(0.3, 5)) ** 2))
    assert theory.snr(2, 1000, 10, 0.3, 5) == pytest.approx(1000 ** 0.5 / (math.sqrt(10) * (1 + theory.rho(0.3, 5))))
    assert theory.double_factorial(7) == 105 and theory.double_factorial(0) == 1 and theory.double_factorial(-1) == 1
    assert theory.snr(2, 1, 1, 1.0, 1) == 1.0  # N = K = 1, rho = 0: every factor is 1


# ---- dynamics ---------------------------------------------------------------------------------------------------

def test_T0_descends_to_a_fixed_point():
    xi = make_archetypes(8, 120, generator=gen(15))
    net = DenseHebbian(4, make_examples(xi, 3, 0.3, generator=gen(16)))
    s0 = make_archetypes(12, 120, generator=gen(17))
    res = monte_carlo(net, s0, sweeps=40, generator=gen(18))
    assert res.flips[-1] == 0 and res.stable.all() and res.sweeps == len(res.flips) < 40
    assert (net.energy(res.sigma) < net.energy(s0)).all()
    assert (net.delta_energy_all(res.sigma) >= -1e-12).all()
    short = monte_carlo(net, s0, sweeps=1, generator=gen(18))
    assert net.energy(res.sigma).sum() <= net.energy(short.sigma).sum() <= net.energy(s0).sum()


def test_heat_bath_samples_the_boltzmann_distribution():
    xi = make_archetypes(2, 4, generator=gen(19))
    net = DenseHebbian(2, xi)
    states = all_states(4)
    beta = 0.8
    w = torch.exp(-beta * net.energy(states))
    target = w / w.sum()
    res = monte_carlo(net, states[torch.zeros(40000, dtype=torch.long)], beta=beta, sweeps=25, generator=gen(20))
    idx = ((res.sigma + 1) / 2 * torch.tensor([8.0, 4, 2, 1], dtype=F64)).sum(1).long()
    freq = torch.bincount(idx, minlength=16).double() / len(idx)
    assert (freq - target).abs().max() < 0.012, (freq, target)
    assert target.max() / target.min() > 3  # the test separates the states


def test_exhaustive_ground_state_is_reached_from_the_archetype():
    xi = make_archetypes(2, 14, generator=gen(21))
    net = DenseHebbian(4, xi)
    e_all = net.energy(all_states(14))
    res = monte_carlo(net, xi, generator=gen(22))
    assert torch.equal(res.sigma, xi)
    assert net.energy(xi).max() == pytest.approx(float(e_all.min()), abs=1e-12)


def test_ultra_storage_P4_retrieves_where_P2_fails():
    xi = make_archetypes(40, 60, generator=gen(23))  # alpha = K / N = 0.67 >> 0.138
    m = {P: mattis(monte_carlo(DenseHebbian(P, xi), xi[:10], generator=gen(24)).sigma, xi[:10]).diagonal()
         for P in (2, 4)}
    assert (m[4] == 1).all() and (m[2] < 0.8).all()


# ---- learner ----------------------------------------------------------------------------------------------------

def test_streamed_storage_equals_the_batch_average_and_evaluates():
    xi = make_archetypes(3, 200, generator=gen(25))
    ex = make_examples(xi, 7, 0.6, generator=gen(26))
    learner = HebbianLearner(3, 200, P=4, schedule=(1, 3, 7))
    hist = learner.fit(ClassExamples(ex), epochs=3, eval_data=RetrievalTask(None, torch.arange(3), xi), progress=False)
    assert torch.allclose(learner.eta_bar, ex.mean(1), rtol=0, atol=1e-15) and learner.count == 7
    assert [h["M"] for h in hist] == [1, 3, 7] and all(h["m_example"] == 1.0 and h["acc"] == 1.0 for h in hist)
    assert hist[-1]["m"] == pytest.approx(float(theory.majority_overlap(ex.mean(1), xi).mean()), abs=1e-12)
    expected = DenseHebbian(4, ex[:, :1]).energy(ex[:, 0]).mean() / 200  # H at sign(eta_bar) per neuron, M = 1
    assert hist[0]["loss"] == pytest.approx(float(expected), rel=1e-12) and hist[0]["loss"] < 0
    centred = HebbianLearner(3, 200, P=4, schedule=(7,), center=True)
    centred.fit(ClassExamples(ex), epochs=1, progress=False)
    assert centred.network().patterns.sum(0).abs().max() < 1e-12


def test_resume_after_k_epochs_is_bit_identical(tmp_path):
    xi = make_archetypes(4, 150, generator=gen(27))
    data, task = RandomExamples(xi, 0.3), RetrievalTask(xi, torch.arange(4), xi)

    def learner():
        return HebbianLearner(4, 150, P=4, schedule=(2, 5, 9), eval_seed=3)

    full = learner()
    h_full = full.fit(data, epochs=3, eval_data=task, run_dir=tmp_path / "a", seed=5, progress=False)
    first = learner()
    first.fit(data, epochs=1, eval_data=task, run_dir=tmp_path / "b", seed=5, progress=False)
    resumed = learner()
    h_res = resumed.fit(data, epochs=3, eval_data=task, run_dir=tmp_path / "b", resume=True, seed=5, progress=False)
    assert torch.equal(full.sums, resumed.sums) and full.count == resumed.count == 9
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in h_full]
    assert strip == [{k: v for k, v in h.items() if k != "seconds"} for h in h_res]
    other = learner()
    other.fit(data, epochs=3, eval_data=task, run_dir=tmp_path / "c", seed=6, progress=False)
    assert not torch.equal(other.sums, full.sums)  # the seed matters: the examples are drawn per epoch
    step, state = load_checkpoint(tmp_path / "b")
    assert step == 3 and state["learner"]["count"] == 9


def test_learning_curve_follows_the_binomial_value_for_P4():
    K, N, r = 5, 1000, 0.2
    xi = make_archetypes(K, N, generator=gen(28))
    learner = HebbianLearner(K, N, P=4, schedule=(5, 100))
    hist = learner.fit(RandomExamples(xi, r), epochs=2, eval_data=RetrievalTask(xi, torch.arange(K), xi), seed=1,
                       progress=False)
    for h in hist:
        assert h["m"] == pytest.approx(theory.m_T0_low_load(r, h["M"]), abs=0.03)
    assert hist[1]["m"] - hist[0]["m"] > 0.5


# ---- protocols and bad input ------------------------------------------------------------------------------------

def test_tiny_full_protocol_through_overrides(tmp_path):
    r = paperzoo.reproduce("dense-hebbian", "full", progress=False, out=tmp_path / "f", overrides=dict(
        capacity_Ks=(10, 50), lc_N=300, lc_rs=(0.4,), lc_Ms=(1, 20), detect_N=200, detect_Ms=(1, 3),
        data=("mnist",), data_Ms=(5, 20), n_test=40, low_load_N=300, low_load_seeds=(0,), sweeps=10, threads=1))
    m = r.metrics
    assert m["capacity_p4_success_K50"] == 1.0 and m["capacity_p2_success_K50"] <= 0.1 and m["capacity_p2_success_K10"] == 1
    assert 0 <= m["mnist-centred_acc_p4_M20"] <= 1 and m["mnist_acc_p4_top"] == m["mnist_acc_p4_M20"]
    assert m["mnist_p4_minus_p2"] == pytest.approx(m["mnist_acc_p4_M20"] - m["mnist_acc_p2_M20"])
    assert {"capacity", "learning-curves", "detection", "mnist-attractors", "mnist-centred-attractors"} <= set(r.curves)
    assert m["detect_p4_min_overlap"] > 0.9 and m["lc_max_dev_high_snr"] < 0.05


def test_bad_input_is_refused():
    xi = make_archetypes(2, 10, generator=gen(29))
    with pytest.raises(ValueError, match="even"):
        DenseHebbian(3, xi)
    with pytest.raises(ValueError, match="mode"):
        DenseHebbian(2, xi, mode="self")
    with pytest.raises(ValueError, match="unsupervised mode needs"):
        DenseHebbian(2, xi, mode="unsupervised")
    with pytest.raises(ValueError, match="R must be positive"):
        DenseHebbian(2, xi, R=0.0)
    with pytest.raises(ValueError, match="NaN"):
        DenseHebbian(2, xi * float("nan"))
    net = DenseHebbian(2, xi)
    with pytest.raises(ValueError, match=r"sigma must be \(B, 10\)"):
        net.energy(torch.ones(3, 11, dtype=F64))
    with pytest.raises(ValueError, match=r"\+1/-1"):
        monte_carlo(net, torch.zeros(1, 10, dtype=F64))
    with pytest.raises(ValueError, match="Plefka"):
        monte_carlo(net, xi, scheme="plefka")
    with pytest.raises(ValueError, match="beta"):
        monte_carlo(net, xi, beta=0.0)
    with pytest.raises(ValueError, match="r must lie"):
        make_examples(xi, 2, 1.5)
    with pytest.raises(ValueError, match="strictly increasing"):
        HebbianLearner(2, 10, schedule=(3, 3))
    with pytest.raises(ValueError, match=r"x must be \(K, M_max, N\), got shape \(2, 10\)"):
        ClassExamples(torch.ones(2, 10, dtype=F64))
    with pytest.raises(ValueError, match=r"examples 1\.\.3 per class; only 2 held"):
        ClassExamples(torch.ones(2, 2, 10, dtype=F64)).take(1, 2, gen())
    with pytest.raises(ValueError, match="Ps must be even"):
        paperzoo.reproduce("dense-hebbian", "smoke", overrides={"Ps": (2, 3)}, progress=False)
    with pytest.raises(ValueError, match="data must name"):
        paperzoo.reproduce("dense-hebbian", "smoke", overrides={"data": ("svhn",)}, progress=False)


def test_bad_input_theory_and_learner():
    for bad, msg in ((lambda: theory.rho(0.0, 3), "r must lie"), (lambda: theory.rho(1.2, 3), "r must lie"),
                     (lambda: theory.m_T0_low_load(0.3, 0), "M must be"), (lambda: theory.snr(3, 100, 5, 0.3, 2), "even"),
                     (lambda: theory.snr(4, 0, 5, 0.3, 2), "N and K"), (lambda: theory.snr(4, 100, 0, 0.3, 2), "N and K"),
                     (lambda: theory.capacity_estimate(3, 100), "even"), (lambda: theory.capacity_estimate(4, 1), "N must"),
                     (lambda: theory.majority_overlap(torch.ones(2, 3), torch.ones(3, 2)), "same shape")):
        with pytest.raises(ValueError, match=msg):
            bad()
    assert theory.rho(1.0, 3) == 0.0 and theory.m_T0_low_load(1.0, 4) == pytest.approx(1.0)
    eb = torch.tensor([[0.5, -0.2, 0.0, 1.0], [-1.0, -1.0, 1.0, 1.0]], dtype=F64)
    assert theory.majority_overlap(eb, -torch.ones(2, 4, dtype=F64)).tolist() == [-0.25, 0.0]
    assert theory.capacity_estimate(2, 2) == pytest.approx(0.276) and theory.snr(4, 1, 1, 1.0, 1) == pytest.approx(1 / 15 ** 0.5)
    from paperzoo.papers.dense_hebbian import hebbian_tensor
    small = DenseHebbian(4, make_archetypes(2, 10, generator=gen(33)))
    assert hebbian_tensor(small, max_entries=10_000).shape == (10,) * 4
    with pytest.raises(ValueError, match="tiny N"):
        hebbian_tensor(small, max_entries=9_999)
    xi = make_archetypes(2, 10, generator=gen(30))
    net = DenseHebbian(2, xi)
    with pytest.raises(ValueError, match="sweeps"):
        monte_carlo(net, xi, sweeps=0)
    with pytest.raises(ValueError, match="even"):
        HebbianLearner(2, 10, P=5)
    learner = HebbianLearner(2, 10, P=2, schedule=(1,))
    with pytest.raises(RuntimeError, match="no example"):
        learner.network()
    with pytest.raises(ValueError, match=r"data holds \(K, N\)"):
        learner.fit(RandomExamples(make_archetypes(3, 10, generator=gen(31)), 0.5), epochs=1, progress=False)
    with pytest.raises(ValueError, match="beyond the schedule"):
        learner.fit(RandomExamples(xi, 0.5), epochs=2, progress=False)
    with pytest.raises(ValueError, match="state holds"):
        learner.load_state_dict({"sums": torch.zeros(3, 10, dtype=F64), "count": 1})
    learner.load_state_dict({"sums": (xi * 2).float(), "count": 2})
    assert learner.sums.dtype == F64 and torch.equal(learner.eta_bar, xi) and learner.steps_per_epoch(None) is None
    assert learner.to("cpu") is learner and torch.equal(learner.eta_bar, xi)
    with pytest.raises(ValueError, match="xi must be"):
        RandomExamples(torch.ones(3, dtype=F64), 0.5)
    with pytest.raises(ValueError, match="class 1 has only"):
        ClassExamples.from_labelled(xi, torch.tensor([0, 0]), 1, 2)
    assert ClassExamples.from_labelled(xi, torch.tensor([1, 0]), 1, 2).x[:, 0].equal(xi.flip(0))
    # T = 0 run with until_stable=False runs all its sweeps; a fixed point stays put
    res = monte_carlo(net, xi, sweeps=3, until_stable=False, generator=gen(32))
    assert res.sweeps == 3 and res.flips == [0, 0, 0] and torch.equal(res.sigma, xi) and res.stable.all()


def test_dynamics_draw_only_from_their_generator():
    xi = make_archetypes(3, 40, generator=gen(34))
    net = DenseHebbian(4, make_examples(xi, 3, 0.3, generator=gen(35)))
    s0 = make_archetypes(5, 40, generator=gen(36))
    runs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)  # the global RNG must not matter
        runs.append(monte_carlo(net, s0, beta=2.0, sweeps=3, generator=gen(7)).sigma)
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], monte_carlo(net, s0, beta=2.0, sweeps=3, generator=gen(8)).sigma)
    assert torch.equal(monte_carlo(net, s0, beta=2.0, sweeps=3).sigma,  # default: a generator seeded 0
                       monte_carlo(net, s0, beta=2.0, sweeps=3, generator=gen(0)).sigma)


def test_zero_cost_flips_are_not_taken_and_count_as_stable():
    xi = make_archetypes(1, 30, generator=gen(37))
    ex = make_examples(xi, 2, 0.2, generator=gen(38))  # M = 2: eta_bar_i = 0 on the disagreeing sites
    net = DenseHebbian(4, ex)
    ties = net.patterns[0] == 0
    assert 3 <= int(ties.sum()) <= 27
    start = torch.where(net.patterns >= 0, 1.0, -1.0).expand(3, 30).clone()
    start[1, ties] = -1.0  # the tied sites cost nothing either way
    d = net.delta_energy_all(start)
    assert (d[:, ties] == 0).all() and (d[:, ~ties] > 0).all() and net.energy(start).abs().min() > 1
    res = monte_carlo(net, start, sweeps=5, generator=gen(39))
    assert res.flips == [0] and res.sweeps == 1 and torch.equal(res.sigma, start)
    assert res.stable.shape == (3,) and res.stable.all()
    down = monte_carlo(net, make_archetypes(4, 30, generator=gen(41)), sweeps=5, generator=gen(40))  # random starts
    assert down.flips[0] > 0 and min(down.flips) >= 0 and down.flips[-1] == 0
