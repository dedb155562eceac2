"""multitask-hebbian: patterns, low-rank couplings against the dense matrix, dynamics, closed forms, the learner."""
import math

import pytest
import torch

from paperzoo.papers.multitask_hebbian import (
    HebbianCouplings,
    HebbianLearner,
    dataset_entropy,
    dataset_R,
    glauber,
    hierarchical_T0,
    learning_threshold,
    magnetizations,
    make_archetypes,
    make_examples,
    power_law_slope,
    sse_loss,
    start_state,
    symmetric_gap_K2,
)
from paperzoo.papers.multitask_hebbian.reproduce import PROTOCOLS, smoke_checks


def test_archetypes_and_examples_have_the_card_statistics():
    xi = make_archetypes(4, 20_000, 0.3, seed=1)
    assert set(xi.unique().tolist()) == {-1.0, 0.0, 1.0}
    assert (xi == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert xi.sum().abs().item() < 4 * 20_000 * 0.01                     # +-1 balanced
    ex = make_examples(xi, 6, 0.4, seed=2)
    assert ex.shape == (4, 6, 20_000)
    assert torch.equal(ex == 0, (xi == 0).unsqueeze(1).expand_as(ex))     # blanks stay blank
    agree = (ex * xi.unsqueeze(1))[:, :, :][(xi != 0).unsqueeze(1).expand_as(ex)]
    assert (agree == 1).float().mean().item() == pytest.approx(0.7, abs=0.01)   # P(chi = +1) = (1 + r) / 2
    assert dataset_R(0.6, 10) == pytest.approx(0.36 + 0.064)
    assert dataset_entropy(0.5, 3) == pytest.approx(0.75 / 0.75)
    assert dataset_R(0.6, 10) == pytest.approx(0.36 * (1 + dataset_entropy(0.6, 10)))
    with pytest.raises(ValueError):
        make_archetypes(2, 10, 1.0)
    with pytest.raises(ValueError):
        make_examples(xi, 0, 0.5)


@pytest.mark.parametrize("mode", ["archetype", "supervised", "unsupervised"])
def test_low_rank_field_and_energy_equal_the_dense_matrix(mode):
    g = torch.Generator().manual_seed(0)
    d, r, M, N = 0.3, 0.5, 4, 60
    xi = make_archetypes(3, N, d, g).double()
    ex = make_examples(xi, M, r, g).double()
    coup = HebbianCouplings.of(mode, xi=xi, examples=ex, d=d, r=r)
    R = r * r + (1 - r * r) / M
    if mode == "archetype":
        J = xi.T @ xi / N
    elif mode == "supervised":
        bar = ex.mean(1)
        J = bar.T @ bar / (N * (1 - d) * R)
    else:
        flat = ex.reshape(-1, N)
        J = flat.T @ flat / (N * (1 - d) * R * M)
    J.fill_diagonal_(0)
    assert torch.allclose(coup.dense(), J, atol=1e-12)
    s = torch.where(torch.rand(5, N, generator=g) < 0.5, -1.0, 1.0).double()
    assert torch.allclose(coup.field(s), s @ J, atol=1e-12)
    assert torch.allclose(coup.energy(s), -0.5 * ((s @ J) * s).sum(-1), atol=1e-10)


def test_supervised_from_running_sums_equals_the_batch_rule_and_replicas_broadcast():
    g = torch.Generator().manual_seed(1)
    xi = make_archetypes(2, 50, 0.2, g, replicas=3).double()
    ex = make_examples(xi, 7, 0.6, g)
    a = HebbianCouplings.of("supervised", examples=ex, d=0.2, r=0.6)
    b = HebbianCouplings.supervised_from_sums(ex[..., :3, :].sum(-2) + ex[..., 3:, :].sum(-2), 7, 0.2, 0.6)
    s = torch.where(torch.rand(3, 50, generator=g) < 0.5, -1.0, 1.0).double()
    assert torch.allclose(a.field(s), b.field(s), atol=1e-12)
    for k in range(3):                                                   # replica k sees only its own couplings
        one = HebbianCouplings.of("supervised", examples=ex[k], d=0.2, r=0.6)
        assert torch.allclose(a.field(s)[k], one.field(s[k]), atol=1e-12)
    with pytest.raises(ValueError, match="mode"):
        HebbianCouplings.of("hopfield", xi=xi)
    with pytest.raises(ValueError, match="needs"):
        HebbianCouplings.of("supervised", xi=xi)


def test_zero_temperature_sequential_dynamics_descends_to_a_fixed_point():
    g = torch.Generator().manual_seed(2)
    xi = make_archetypes(3, 400, 0.2, g).double()
    coup = HebbianCouplings.of("archetype", xi=xi)
    s0 = torch.where(torch.rand(400, generator=g) < 0.5, -1.0, 1.0).double()
    s, energies = glauber(coup, s0, math.inf, 4, block=1, seed=3, energies=True)
    e = torch.stack([coup.energy(s0)] + energies)
    assert (e[1:] - e[:-1]).max() <= 1e-12
    h = coup.field(s)
    assert torch.all((h == 0) | (torch.sign(h) == s))                   # a T = 0 fixed point
    assert e[-1] < e[0] - 1.0


def test_ties_are_broken_at_random_and_beta_zero_is_noise():
    coup = HebbianCouplings(torch.zeros(1, 4000), torch.ones(1))       # h = 0 everywhere
    s, _ = glauber(coup, torch.ones(4000), math.inf, 1, seed=0)
    assert abs(s.mean().item()) < 0.06                                   # never toward +1
    xi = make_archetypes(1, 4000, 0.0, seed=1)
    s, _ = glauber(HebbianCouplings.of("archetype", xi=xi), xi[0].clone(), 0.0, 2, seed=1)
    assert abs(magnetizations(s, xi).item()) < 0.06


def test_hierarchical_retrieval_matches_the_zero_temperature_closed_form():
    xi = make_archetypes(3, 8000, 0.3, seed=4)
    s, trace = glauber(HebbianCouplings.of("archetype", xi=xi), start_state(xi, 0, 5), math.inf, 10, seed=6, xi=xi)
    m = magnetizations(s, xi).abs()
    theory = hierarchical_T0(3, 0.3)
    assert m[0].item() == pytest.approx(theory[0].item(), abs=0.01)
    assert sorted(m[1:].tolist(), reverse=True) == pytest.approx(theory[1:].tolist(), abs=0.025)
    assert len(trace) == 10 and torch.equal(trace[-1], magnetizations(s, xi))
    assert theory.sum().item() == pytest.approx(1 - 0.3 ** 3)


def test_sse_link_and_symmetric_gap():
    cfg = PROTOCOLS["smoke"]
    m = smoke_checks(type(cfg)(**{**cfg.__dict__, "N": 4000, "energy_N": 300}), seed=1)
    assert m["sse_identity_err"] < 1e-12 and m["energy_rise_max"] == 0.0
    assert m["symmetric_gap_rel_err"] < 0.15
    assert symmetric_gap_K2(0.2) == pytest.approx(0.8 ** 4 / 4)
    s = torch.tensor([1.0, -1.0, 1.0, 1.0])
    xi = torch.tensor([[1.0, 0.0, -1.0, 1.0]])
    assert sse_loss(s, xi).item() == pytest.approx((0 + 1 + 4 + 0) / 8)


def test_power_law_slope_and_threshold():
    d, N = 0.4, 10_000
    slope, used = power_law_slope(hierarchical_T0(6, d), d, N)
    assert slope == pytest.approx(math.log(d), rel=1e-9)
    assert used == int((hierarchical_T0(6, d) >= 0.05).sum())            # signals below 5/sqrt(N) are left out
    assert used < 6
    assert learning_threshold((5, 20, 100), (0.2, 0.36, 0.6), 0.3) == 20
    assert learning_threshold((5, 20), (0.1, 0.2), 0.3) == math.inf


def _teach_data(seed=0, N=3000):
    g = torch.Generator().manual_seed(seed)
    xi = make_archetypes(3, N, 0.3, g, replicas=2)
    return {"xi": xi, "examples": make_examples(xi, 40, 0.3, g)}


def test_learner_learns_with_examples_and_resumes_bit_identically(tmp_path):
    data = _teach_data()
    hist = HebbianLearner("supervised", d=0.3, r=0.3, schedule=(2, 10, 40), beta=10, sweeps=5).fit(
        data, epochs=3, eval_data=data)
    m1 = [h["m1"] for h in hist]
    assert m1[-1] > m1[0] + 0.15, m1                                    # more examples, better retrieval
    assert all(math.isfinite(h["loss"]) and h["loss"] < 0 for h in hist)  # stored examples sit below zero energy
    full = HebbianLearner("unsupervised", d=0.3, r=0.3, schedule=(2, 10, 40), sweeps=5).fit(
        data, epochs=3, eval_data=data, run_dir=tmp_path / "a")
    HebbianLearner("unsupervised", d=0.3, r=0.3, schedule=(2, 10, 40), sweeps=5).fit(
        data, epochs=1, eval_data=data, run_dir=tmp_path / "b")
    resumed = HebbianLearner("unsupervised", d=0.3, r=0.3, schedule=(2, 10, 40), sweeps=5).fit(
        data, epochs=3, eval_data=data, run_dir=tmp_path / "b", resume=True)
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in full]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in resumed] == strip
    with pytest.raises(ValueError, match="increasing"):
        HebbianLearner("supervised", d=0.3, r=0.3, schedule=(5, 5))
    with pytest.raises(ValueError, match="examples per archetype"):
        HebbianLearner("supervised", d=0.3, r=0.3, schedule=(50,)).fit(data, epochs=1)


def test_block_one_is_the_exact_sequential_dynamics_and_inputs_are_checked():
    g = torch.Generator().manual_seed(7)
    N = 400
    coup = HebbianCouplings(torch.randn(3, N, generator=g, dtype=torch.float64), torch.tensor([1.0, 0.7, 0.4]))
    s0 = torch.where(torch.rand(N, generator=g) < 0.5, -1.0, 1.0).double()
    s, _ = glauber(coup, s0, math.inf, 3, block=1, seed=11)
    ref, rg, J = s0.clone(), torch.Generator().manual_seed(11), coup.dense()
    for _ in range(3):                                                   # textbook single-spin sweeps, same order
        for i in torch.randperm(N, generator=rg).tolist():
            torch.rand(1, generator=rg, dtype=torch.float64)            # glauber's tie-break draw for this spin
            ref[i] = torch.sign(J[i] @ ref)
    assert torch.equal(s, ref)
    for bad in (dict(sweeps=-1), dict(beta=-1.0)):
        with pytest.raises(ValueError, match="sweeps >= 0 and beta >= 0"):
            glauber(coup, s0, **{"beta": math.inf, "sweeps": 1, **bad})
    with pytest.raises(ValueError, match="state has 5 spins"):
        glauber(coup, s0[:5])
