"""grokking-li2: group tables, irrep decomposition, the network, losses, ridge layer, energy identities, Muon,
training and the protocol wiring. Float64 references are written here, independently of the package."""
from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as nnf

import paperzoo as pz
from paperzoo.papers.grokking_li2 import (
    CRITICAL_MULTIPLIER,
    Muon,
    TrainSpec,
    TwoLayerGroupNet,
    centered_mse,
    centered_targets,
    check_table,
    critical_fraction,
    dataset,
    energy,
    energy_ascent,
    energy_grad,
    fourier_spectrum,
    gradient_alignment,
    group_table,
    irrep_spectrum,
    isotypic_components,
    newton_schulz,
    nll,
    node_concentration,
    ridge_solution,
    split,
    stage_monitor,
    train_group_net,
    transition_multiplier,
)
from paperzoo.papers.grokking_li2.experiments import dataset_errors, identity_check, parse_group, train_point
from paperzoo.papers.grokking_li2.model import ACTIVATIONS

D = torch.float64


# ------------------------------------------------------------------ groups and data
def test_cyclic_and_product_tables_match_componentwise_addition():
    assert torch.equal(group_table("cyclic", 7), (torch.arange(7)[:, None] + torch.arange(7)) % 7)
    orders = (4, 6, 3)
    t = group_table("product", orders)
    flat = {x: x[0] + x[1] * 4 + x[2] * 24 for x in itertools.product(range(4), range(6), range(3))}   # official
    for x, y in itertools.combinations(list(flat)[::7], 2):
        z = tuple((a + b) % o for a, b, o in zip(x, y, orders))
        assert t[flat[x], flat[y]] == flat[z]
    check_table(t)


def test_dihedral_and_symmetric_groups():
    n = 5
    t = group_table("dihedral", n)
    check_table(t)
    r, s = 1, n                                   # element index: r^i s^j -> i + n j
    assert t[s, r] == (n - 1) + n and t[r, s] == 1 + n and not torch.equal(t, t.T)
    t3 = group_table("sym", 3)
    perms = list(itertools.permutations(range(3)))
    ref = [[perms.index(tuple(a[b[i]] for i in range(3))) for b in perms] for a in perms]
    assert torch.equal(t3, torch.tensor(ref))
    check_table(group_table("sym", 4))
    with pytest.raises(ValueError, match="unknown group kind"):
        group_table("klein", 4)


def test_check_table_rejects_non_groups():
    bad = (2 * torch.arange(5)[:, None] + torch.arange(5)) % 5       # Latin square with identity 0, not associative
    with pytest.raises(ValueError, match="associative"):
        check_table(bad)
    with pytest.raises(ValueError, match="Latin"):
        check_table(torch.zeros(3, 3, dtype=torch.long))


def test_dataset_every_pair_once_a_major():
    t = group_table("dihedral", 4)
    pairs, labels = dataset(t)
    assert pairs.shape == (64, 2) and torch.equal(pairs[:9, 0], torch.tensor([0] * 8 + [1]))
    assert torch.equal(labels, t[pairs[:, 0], pairs[:, 1]]) and dataset_errors(t) == 0


def test_critical_fraction_and_split():
    assert critical_fraction(71) == pytest.approx(2.7482 * math.log(71) / 71, rel=1e-12)
    assert critical_fraction(23, 1.5) == pytest.approx(4.2482 * math.log(23) / 23, rel=1e-12)    # +delta = more data
    assert critical_fraction(24, -1.0, correction=1.5) == pytest.approx(1.5 * 1.7482 * math.log(24) / 24, rel=1e-12)
    assert critical_fraction(5, 5.0) == 1.0 and critical_fraction(5, -9.0) == 0.0
    tr, te = split(100, 0.27, seed=3)
    assert len(te) == math.ceil(0.73 * 100) and len(tr) + len(te) == 100
    assert torch.equal(torch.cat([tr, te]).sort().values, torch.arange(100))
    assert torch.equal(split(100, 0.27, 3)[0], tr) and not torch.equal(split(100, 0.27, 4)[0], tr)
    with pytest.raises(ValueError):
        split(100, 1.0, 0)


# ------------------------------------------------------------------ irreducible representations
@pytest.mark.parametrize("spec, dims", [("cyclic:12", [1, 1] + [2] * 5), ("sym:4", [1, 1, 4, 9, 9]),
                                         ("dihedral:6", [1, 1, 1, 1, 4, 4]), ("product:2x3", [1, 1, 2, 2])])
def test_isotypic_components_are_the_irreps(spec, dims):
    t = group_table(*parse_group(spec))
    m = t.shape[0]
    iso = isotypic_components(t)
    assert sorted(b.shape[1] for b in iso.bases) == dims
    assert all(d * d * (2 if p else 1) == b.shape[1] for d, p, b in zip(iso.irrep_dim, iso.complex_pair, iso.bases))
    u = torch.cat(iso.bases, 1)
    assert torch.allclose(u.T @ u, torch.eye(m, dtype=D), atol=1e-10)
    assert torch.allclose(iso.bases[iso.trivial].abs(), torch.full((m, 1), m ** -0.5, dtype=D), atol=1e-10)
    for g in range(m):                                              # invariant under left and right translation
        for perm in (t[g], t[:, g]):
            for b in iso.bases:
                moved = b[perm]
                assert torch.allclose(b @ (b.T @ moved), moved, atol=1e-9)


def test_irrep_spectrum_equals_fourier_pairs_on_cyclic():
    m = 11
    w = torch.randn(6, m, dtype=D)
    spec, four = irrep_spectrum(w, isotypic_components(group_table("cyclic", m))), fourier_spectrum(w)
    assert torch.allclose(spec.sum(1), w.square().sum(1)) and torch.allclose(four.sum(1), w.square().sum(1))
    assert torch.allclose(spec.sort(1).values, four.sort(1).values, atol=1e-10)
    x = torch.cos(2 * math.pi * 3 * torch.arange(m, dtype=D) / m + 0.4)
    f = fourier_spectrum(x[None])[0]
    assert f[3] == pytest.approx(x.square().sum().item()) and f.argmax() == 3


def test_node_concentration():
    m = 13
    iso = isotypic_components(group_table("cyclic", m))
    a = torch.arange(m, dtype=D)
    pure = torch.cat([torch.cos(2 * math.pi * 4 * a / m), 2 * torch.sin(2 * math.pi * 4 * a / m + 1)]) + 5.0  # + DC
    mixed = torch.cat([torch.cos(2 * math.pi * 2 * a / m), torch.cos(2 * math.pi * 5 * a / m)])
    conc, idx = node_concentration(torch.stack([pure, mixed]), iso)
    assert conc[0] == pytest.approx(1.0) and conc[1] == pytest.approx(0.5)
    assert idx[0] != iso.trivial


# ------------------------------------------------------------------ network, losses, ridge
def test_forward_matches_one_hot_reference_and_init():
    torch.manual_seed(0)
    net = TwoLayerGroupNet(7, width=300).double()
    pairs, _ = dataset(group_table("cyclic", 7))
    x = torch.cat([nnf.one_hot(pairs[:, 0], 7), nnf.one_hot(pairs[:, 1], 7)], 1).to(D)
    assert torch.allclose(net(pairs), (x @ net.W.T).square() @ net.V.T, atol=1e-12)
    bw, bv = 1 / math.sqrt(14), 1 / math.sqrt(300)
    assert net.W.abs().max() <= bw and net.W.std().item() == pytest.approx(bw / math.sqrt(3), rel=0.05)
    assert net.V.abs().max() <= bv and net.V.std().item() == pytest.approx(bv / math.sqrt(3), rel=0.05)
    with pytest.raises(ValueError):
        net(torch.tensor([[0, 7]]))
    with pytest.raises(ValueError):
        TwoLayerGroupNet(7, act="tanh")


def test_losses_match_official_formulas():
    torch.manual_seed(1)
    o, y = torch.randn(9, 5, dtype=D), torch.randint(0, 5, (9,))
    oz = o - o.mean(1, keepdim=True)
    official = oz.square().sum(1).mean() - 2 * oz.gather(1, y[:, None]).mean() + 1 - 1 / 5
    assert centered_mse(o, y).item() == pytest.approx(official.item(), rel=1e-12)
    assert nll(o, y).item() == pytest.approx(nnf.cross_entropy(o, y).item())
    assert torch.allclose(centered_targets(y, 5, D).sum(1), torch.zeros(9, dtype=D), atol=1e-15)


def test_ridge_solution_and_top_layer():
    torch.manual_seed(2)
    f, y = torch.randn(30, 8, dtype=D), torch.randn(30, 4, dtype=D)
    ref = torch.linalg.solve(f.T @ f + 0.3 * torch.eye(8, dtype=D), f.T @ y)
    assert torch.allclose(ridge_solution(f, y, 0.3), ref, atol=1e-12)
    net = TwoLayerGroupNet(5, width=8).double()
    pairs, labels = dataset(group_table("cyclic", 5))
    yt = centered_targets(labels, 5, D)
    net.set_ridge_top(pairs, yt, 0.3)
    f = net.features(pairs)
    assert torch.allclose(net.V.T, torch.linalg.solve(f.T @ f + 0.3 * torch.eye(8, dtype=D), f.T @ yt), atol=1e-10)
    with pytest.raises(ValueError):
        ridge_solution(f, yt, 0.0)


# ------------------------------------------------------------------ energy (stage II)
def _x_onehot(pairs, m):
    return torch.cat([nnf.one_hot(pairs[:, 0], m), nnf.one_hot(pairs[:, 1], m)], 1).to(D)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_energy_value_and_closed_form_gradient(act):
    m = 7
    pairs, labels = dataset(group_table("cyclic", m))
    pairs, labels = pairs[::2], labels[::2]                          # a partial table: the identity is general
    yt = centered_targets(labels, m, D)
    w = torch.randn(3, 2 * m, dtype=D, requires_grad=True)
    sigma = ACTIVATIONS[act][0]
    ref = 0.5 * (yt.T @ sigma(_x_onehot(pairs, m) @ w.T)).square().sum(0)
    e = energy(w, pairs, yt, act)
    assert torch.allclose(e, ref, atol=1e-12)
    (g,) = torch.autograd.grad(e.sum(), w)
    assert torch.allclose(energy_grad(w.detach(), pairs, yt, act), g, atol=1e-10)


def test_energy_is_fourier_product_on_full_cyclic_table():
    """sigma = x^2, full Z_M: E = (2 / M) sum_{k != 0} |a_k|^2 |b_k|^2 (convolution theorem)."""
    m = 9
    pairs, labels = dataset(group_table("cyclic", m))
    w = torch.randn(4, 2 * m, dtype=D)
    fa, fb = torch.fft.fft(w[:, :m]), torch.fft.fft(w[:, m:])
    ref = 2 / m * (fa.abs().square() * fb.abs().square())[:, 1:].sum(1)
    assert torch.allclose(energy(w, pairs, centered_targets(labels, m, D)), ref, atol=1e-10)


def test_energy_ascent_reaches_single_frequency_features_monotonically():
    m = 17
    pairs, labels = dataset(group_table("cyclic", m))
    w0 = torch.randn(8, 2 * m, dtype=D, generator=torch.Generator().manual_seed(0))
    w, trace = energy_ascent(w0, pairs, centered_targets(labels, m, D), steps=1500, record_every=1)
    assert trace.shape == (1501, 8) and torch.allclose(w.norm(dim=1), torch.ones(8, dtype=D))
    assert (trace.diff(dim=0) >= -1e-12 * trace[-1]).all() and (trace[-1] > 2 * trace[0]).all()
    conc, idx = node_concentration(w, isotypic_components(group_table("cyclic", m)))
    assert (conc > 0.99).all()
    # at a maximum the a- and b-blocks share the frequency and carry equal energy
    fa, fb = fourier_spectrum(w[:, :m]), fourier_spectrum(w[:, m:])
    assert torch.equal(fa[:, 1:].argmax(1), fb[:, 1:].argmax(1))
    assert torch.allclose(fa.sum(1), fb.sum(1), atol=0.02)


def test_stage_two_gradient_identity_needs_large_eta():
    assert identity_check(11, 64, 1e4, 0.1, seed=0) > 0.9999
    torch.manual_seed(0)
    net = TwoLayerGroupNet(11, width=64).double()
    pairs, labels = dataset(group_table("cyclic", 11))
    assert gradient_alignment(net, pairs, labels, 1e-3).min() < 0.9     # small eta: nodes interact


# ------------------------------------------------------------------ Muon
def _ns_ref(g):
    x = g.T if g.shape[0] > g.shape[1] else g
    x = x / (x.norm() + 1e-7)
    for a, b, c in ((4.01, -9.22, 5.80), (3.49, -6.38, 3.23), (3.34, -6.21, 3.20), (3.64, -7.48, 4.43), (3.46, -5.35, 2.85)):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return x.T if g.shape[0] > g.shape[1] else x


def test_newton_schulz_matches_reference_and_orthogonalises():
    for shape in ((40, 9), (9, 40)):
        g = torch.randn(*shape, dtype=D)
        o = newton_schulz(g)
        assert torch.allclose(o, _ns_ref(g), atol=1e-12)
        sv = torch.linalg.svdvals(o)
        assert sv.min() > 0.6 and sv.max() < 1.25
    with pytest.raises(ValueError):
        newton_schulz(torch.ones(3))


@pytest.mark.parametrize("nesterov, rms", [(False, False), (True, True)])
def test_muon_two_steps_match_reference(nesterov, rms):
    torch.manual_seed(3)
    p0, g1, g2 = torch.randn(12, 5, dtype=D), torch.randn(12, 5, dtype=D), torch.randn(12, 5, dtype=D)
    p = torch.nn.Parameter(p0.clone())
    opt = Muon([p], lr=0.1, weight_decay=0.5, beta1=0.8, beta2=0.9, nesterov=nesterov, rms_compensate=rms)
    ref, mom = p0.clone(), torch.zeros_like(p0)
    c = math.sqrt(12 / 5) if rms else 1.0
    for g in (g1, g2):
        p.grad = g.clone()
        opt.step()
        ref = ref * (1 - 0.1 * 0.5)
        mom = 0.9 * mom + 0.1 * g
        d = 0.8 * g + 0.2 * mom if nesterov else mom
        ref = ref - 0.1 * c * _ns_ref(d)
    assert torch.allclose(p.detach(), ref, atol=1e-12)
    with pytest.raises(ValueError):
        Muon([p], lr=-1.0)


# ------------------------------------------------------------------ training and monitor
def test_stage_monitor_matches_reference():
    torch.manual_seed(4)
    net = TwoLayerGroupNet(5, width=6).double()
    pairs, labels = dataset(group_table("cyclic", 5))
    s = stage_monitor(net, pairs, labels)
    f = net.features(pairs)
    out = f @ net.V.T
    ft = f - f.mean(0)
    k = (ft.T @ ft).abs()
    ref_ratio = ((k.sum() - k.trace()) / 30) / k.diagonal().mean()
    assert s["offdiag_ratio"] == pytest.approx(ref_ratio.item(), rel=1e-10)
    assert s["grad_f_norm"] == pytest.approx(((centered_targets(labels, 5, D) - out) @ net.V).norm().item(), rel=1e-10)
    assert s["acc"] == pytest.approx((out.argmax(1) == labels).double().mean().item())


def test_training_generalises_above_and_memorises_below_the_line():
    table = group_table("cyclic", 11)
    spec = TrainSpec(width=128, lr=1e-2, epochs=600, eval_every=100)
    hi = train_group_net(table, *split(121, 0.8, 0), spec, seed=0)[1]
    lo = train_group_net(table, *split(121, 0.15, 0), spec, seed=0)[1]
    assert hi.train_acc[-1] == 1.0 and lo.train_acc[-1] == 1.0
    assert hi.test_acc[-1] >= 0.9 and lo.test_acc[-1] <= 0.3
    assert hi.first_epoch("train_acc", 1.0) <= hi.first_epoch("test_acc", 0.9) < math.inf


def test_ridge_and_muon_training_modes():
    table = group_table("cyclic", 7)
    tr, te = split(49, 0.5, 0)
    model, hist = train_group_net(table, tr, te, TrainSpec(width=16, epochs=3, eval_every=1, ridge_eta=10.0), seed=1)
    assert len(hist.epoch) == 4 and model.V.grad is None
    with pytest.raises(ValueError, match="mse"):
        train_group_net(table, tr, te, TrainSpec(loss="nll", ridge_eta=1.0), seed=0)
    torch.manual_seed(5)
    w0 = TwoLayerGroupNet(7, width=16).W.detach().clone()
    m, _ = train_group_net(table, tr, te, TrainSpec(width=16, optim="muon", epochs=1, lr=0.1, weight_decay=0.0), seed=5)
    assert torch.linalg.svdvals((w0 - m.W.detach()) / 0.1).max() == pytest.approx(1.0, abs=0.3)   # an orthogonalised step
    with pytest.raises(ValueError, match="optimiser"):
        train_group_net(table, tr, te, TrainSpec(optim="lion"), seed=0)


# ------------------------------------------------------------------ sweep helpers and protocol wiring
def test_transition_multiplier_and_parse_group():
    assert transition_multiplier([1.0, -1.0, 0.0], [0.9, 0.0, 0.2]) == pytest.approx(CRITICAL_MULTIPLIER + 0.3 / 0.7)
    assert math.isnan(transition_multiplier([-1.0, 1.0], [0.6, 0.9]))
    assert parse_group("product:4x6") == ("product", (4, 6)) and parse_group("sym:4") == ("sym", 4)
    with pytest.raises(ValueError):
        parse_group("cyclic")


def test_train_point_reports_the_run():
    r = train_point(11, 1.5, 0, TrainSpec(width=8, epochs=2, eval_every=1))
    assert r["p_train"] == critical_fraction(11, 1.5) and r["n_train"] == 121 - math.ceil((1 - r["p_train"]) * 121)
    assert 0 <= r["single_freq_weight_share"] <= 1 and len(r["curve_test"]) == 3


def test_tiny_full_protocol_runs_through_overrides(tmp_path):
    over = {"Ms": (11,), "deltas": (-1.5, 1.5), "seeds": 1, "width": 8, "epochs": 4, "eval_every": 2, "muon_M": 11,
            "ascent_steps": 50, "ascent_starts": 3, "feature_groups": ("cyclic:7", "sym:3")}
    r = pz.reproduce("grokking-li2", "full", seed=0, out=tmp_path / "run", progress=False, overrides=over)
    assert r.metrics["dataset_errors"] == 0 and r.config["Ms"] in ([11], (11,))
    assert {"min_acc_gap", "critical_multiplier_emp", "muon_minus_adam_freqs"} <= set(r.metrics)


# ------------------------------------------------------------------ input validation and edge cases
@pytest.mark.parametrize("kind, size, ok", [("cyclic", 2, True), ("cyclic", 1, False), ("product", (2, 3), True),
                                            ("product", (1, 3), False), ("dihedral", 3, True), ("dihedral", 2, False),
                                            ("sym", 2, True), ("sym", 1, False), ("sym", 7, False)])
def test_group_table_size_limits(kind, size, ok):
    if ok:
        check_table(group_table(kind, size))
    else:
        with pytest.raises(ValueError, match=r"(needs|supported)"):
            group_table(kind, size)


def test_product_of_one_factor_is_cyclic_and_sym5_order():
    assert torch.equal(group_table("product", 5), group_table("cyclic", 5))
    assert group_table("sym", 5).shape == (120, 120)


@pytest.mark.parametrize("bad, msg", [(torch.zeros(2, 3, dtype=torch.long), "square integer"),
                                      (torch.zeros(3, 3), "square integer"),
                                      (torch.tensor([[0, 1], [1, 2]]), "Latin"),
                                      (torch.tensor([[0, 1], [-1, 0]]), "Latin"),
                                      (torch.tensor([[0, 1, 2], [1, 2, 0], [1, 2, 0]]), "Latin"),
                                      (torch.tensor([[0, 1, 2], [2, 0, 1], [0, 1, 2]]).T, "Latin")])
def test_check_table_error_messages(bad, msg):
    with pytest.raises(ValueError, match=msg):
        check_table(bad)


def test_fraction_and_split_edges():
    assert critical_fraction(2) == pytest.approx(2.7482 * math.log(2) / 2)
    with pytest.raises(ValueError, match="order"):
        critical_fraction(1)
    for p in (0.0, 1.5):
        with pytest.raises(ValueError, match="p_train"):
            split(10, p, 0)
    tr, te = split(10, 0.85, 0)                                        # n_test = ceil(1.5) = 2
    assert len(te) == 2 and len(tr) == 8
    assert len(split(10, 0.9, 0)[1]) == 1                               # one test pair is allowed
    with pytest.raises(ValueError, match="empty"):
        split(10, 0.01, 0)


def test_fourier_spectrum_float32_input():
    w = torch.randn(3, 8)
    assert torch.allclose(fourier_spectrum(w).sum(1), w.double().square().sum(1), rtol=1e-5)


def test_energy_input_checks_and_ascent_details():
    m = 5
    pairs, labels = dataset(group_table("cyclic", m))
    yt = centered_targets(labels, m, D)
    with pytest.raises(ValueError, match="w must be"):
        energy(torch.randn(2, 7, dtype=D), pairs, yt)
    with pytest.raises(ValueError, match="y_tilde"):
        energy(torch.randn(2, 10, dtype=D), pairs, yt[:, :3])
    with pytest.raises(ValueError, match="y_tilde"):
        energy(torch.randn(2, 10, dtype=D), pairs[:, :1], yt)
    w0 = torch.randn(4, 2 * m, dtype=D, generator=torch.Generator().manual_seed(1))
    w1, tr = energy_ascent(w0, pairs, yt, act="relusqr", steps=1, lr=0.05)
    u0 = w0 / w0.norm(dim=1, keepdim=True)
    step = (w1 - u0).norm(dim=1)
    assert step.max() <= 0.05 + 1e-12 and step.max() > 0.02             # normalised step: at most lr
    assert tr.shape == (2, 4) and torch.allclose(tr[-1], energy(w1, pairs, yt, "relusqr"))
    assert torch.allclose(tr[0], energy(u0, pairs, yt, "relusqr"))
    w2, tr2 = energy_ascent(w0, pairs, yt, act="relusqr", steps=5, record_every=2)
    assert tr2.shape == (4, 4) and torch.allclose(tr2[-1], energy(w2, pairs, yt, "relusqr"))
    iso = isotypic_components(group_table("cyclic", m))
    a = torch.arange(m, dtype=D)
    tiny = 1e-4 * torch.cat([torch.cos(2 * math.pi * a / m), torch.cos(2 * math.pi * a / m)])[None]
    assert node_concentration(tiny, iso)[0].item() == pytest.approx(1.0)


def test_gradient_identity_holds_for_other_activations():
    torch.manual_seed(0)
    net = TwoLayerGroupNet(11, width=32, act="relusqr").double()
    with torch.no_grad():
        net.W.mul_(0.1)
    pairs, labels = dataset(group_table("cyclic", 11))
    assert gradient_alignment(net, pairs, labels, 1e4).min() > 0.999


def test_optimiser_builders_and_history():
    from paperzoo.papers.grokking_li2.train import make_optimizer
    net = TwoLayerGroupNet(5, width=4)
    for name, cls in (("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        (opt,) = make_optimizer(net, TrainSpec(optim=name, lr=0.03, weight_decay=0.2))
        g = opt.param_groups[0]
        assert type(opt) is cls and g["lr"] == 0.03 and g["weight_decay"] == 0.2 and len(g["params"]) == 2
    assert make_optimizer(net, TrainSpec(optim="sgd"))[0].param_groups[0]["momentum"] == 0.9     # official
    mu, ad = make_optimizer(net, TrainSpec(optim="muon", lr=0.03, weight_decay=0.2))
    assert mu.param_groups[0]["params"][0] is net.W and ad.param_groups[0]["params"][0] is net.V
    assert all(o.param_groups[0]["lr"] == 0.03 and o.param_groups[0]["weight_decay"] == 0.2 for o in (mu, ad))
    d = Muon([net.W]).defaults
    assert (d["lr"], d["weight_decay"], d["beta1"], d["beta2"], d["nesterov"], d["rms_compensate"]) == \
        (1e-3, 1e-4, 0.9, 0.99, False, False)                                                       # card's setting
    for bad in ({"lr": 0.0}, {"weight_decay": -1.0}, {"beta1": 1.0}, {"beta2": 1.0}, {"beta1": -0.1}):
        with pytest.raises(ValueError, match="Muon"):
            Muon([net.W], **bad)
    table = group_table("cyclic", 5)
    tr, te = split(25, 0.6, 0)
    model, h = train_group_net(table, tr, te, TrainSpec(width=4, act="relusqr", epochs=5, eval_every=2), seed=3)
    assert h.epoch == [0, 2, 4, 5] and model.act_name == "relusqr"
    assert all(isinstance(v, float) for v in h.train_loss + h.grad_f_norm + h.offdiag_ratio)
    assert h.first_epoch("train_acc", 2.0) == math.inf
    torch.manual_seed(3)
    assert torch.equal(TwoLayerGroupNet(5, width=4, act="relusqr").V, train_group_net(
        table, tr, te, TrainSpec(width=4, act="relusqr", epochs=1, lr=1e-30, weight_decay=0.0), seed=3)[0].V.detach())
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train_group_net(table, tr, te, TrainSpec(width=4, epochs=50, lr=1e6, optim="sgd"), seed=0)
    with pytest.raises(ValueError, match="epochs"):
        train_group_net(table, tr, te, TrainSpec(epochs=0), seed=0)


def test_model_defaults_and_input_checks():
    net = pz.create_model("li2_group_net")
    assert net.M == 23 and net.W.shape == (512, 46) and net.V.shape == (23, 512) and net.act_name == "sqr"
    for bad in (torch.tensor([[0, 1, 2]]), torch.tensor([0, 1]), torch.tensor([[0.0, 1.0]]), torch.tensor([[-1, 0]])):
        with pytest.raises(ValueError, match=r"(pairs|elements)"):
            net(bad)
    for kw in ({"M": 1}, {"width": 0}):
        with pytest.raises(ValueError, match="M must be"):
            TwoLayerGroupNet(**{"M": 5, **kw})
    with pytest.raises(ValueError, match="unknown activation"):
        TwoLayerGroupNet(5, act="gelu")
    with pytest.raises(ValueError, match="eta"):
        ridge_solution(torch.ones(3, 2), torch.ones(3, 2), -1.0)
    g = torch.randn(3, 20, 6, dtype=D)
    g[1] *= 50.0                                                        # batched: each matrix normalised on its own
    ns = newton_schulz(g)
    assert all(torch.allclose(ns[i], _ns_ref(g[i]), atol=1e-12) for i in range(3))


def test_sweep_helpers_report_what_they_measure():
    assert transition_multiplier([0.0, 1.0, 2.0], [0.2, 0.5, 0.9]) == pytest.approx(CRITICAL_MULTIPLIER + 1.0)
    assert transition_multiplier([-1.5, -0.5, 0.5], [0.0, 0.1, 0.6]) == pytest.approx(CRITICAL_MULTIPLIER + 0.3)
    from paperzoo.papers.grokking_li2.experiments import ascent_features
    r = ascent_features("cyclic:7", starts=3, steps=40, lr=0.01, seed=2)
    ascent_features_ = ascent_features("cyclic:7", starts=3, steps=40, lr=0.01, seed=2)
    assert r == ascent_features_ and r["order"] == 7 and r["e_end"] > r["e_start"] > 0
    w0 = torch.randn(3, 14, dtype=D, generator=torch.Generator().manual_seed(2))
    pairs, labels = dataset(group_table("cyclic", 7))
    w, tr = energy_ascent(w0, pairs, centered_targets(labels, 7, D), steps=40, record_every=1)
    assert r["e_start"] == pytest.approx(tr[0].mean().item()) and r["e_end"] == pytest.approx(tr[-1].mean().item())
    assert r["min_rel_increment"] == pytest.approx((tr.diff(dim=0) / tr[-1]).min().item())
    assert r["min_rel_increment"] > 0
    conc = node_concentration(w, isotypic_components(group_table("cyclic", 7)))[0]
    assert r["share"] == pytest.approx((conc >= 0.9).double().mean().item()) and r["min_conc"] == pytest.approx(conc.min().item())
    assert ascent_features("cyclic:7", 3, 40, 0.01, seed=3)["e_start"] != r["e_start"]
    spec = TrainSpec(width=8, epochs=30, eval_every=7, lr=1e-2)
    p = train_point(11, 0.5, 4, spec)
    tr_idx, te_idx = split(121, critical_fraction(11, 0.5), 4)
    model, h = train_group_net(group_table("cyclic", 11), tr_idx, te_idx, spec, seed=4)
    assert (p["train_acc"], p["test_acc"], p["offdiag_ratio"], p["grad_f_norm"]) == \
        (h.train_acc[-1], h.test_acc[-1], h.offdiag_ratio[-1], h.grad_f_norm[-1])
    assert p["epoch_train_100"] == h.first_epoch("train_acc", 1.0) and p["epoch_test_90"] == h.first_epoch("test_acc", 0.9)
    w2 = model.W.detach().double().square().sum(1)
    c, idx = node_concentration(model.W.detach(), isotypic_components(group_table("cyclic", 11)))
    assert p["single_freq_weight_share"] == pytest.approx(((w2 * (c >= 0.9)).sum() / w2.sum()).item())
    assert p["n_freqs"] == len(set(idx[c >= 0.9].tolist()))
    assert dataset_errors(group_table("cyclic", 6)) == 0
