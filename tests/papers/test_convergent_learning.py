"""Tests for paperzoo.papers.convergent_learning (card: shared/papers/convergent-learning.md)."""
import copy
import itertools
import math

import numpy as np
import pytest
import torch

import paperzoo as pz
from paperzoo.model_io import save_model
from paperzoo.papers.convergent_learning import (
    ActivationStats,
    alexnet_cifar,
    alignment,
    bipartite_match,
    convergent_cnn,
    correlation,
    default_layers,
    group_report,
    kmeans,
    lasso_fista,
    layer_stats,
    match_summary,
    matched_curve,
    mi_matrix,
    percentile_bins,
    permute_hidden_units,
    semi_match,
    sparse_predict,
    spectral_clusters,
    spectral_groups,
    to_units,
    unexplained,
)
from paperzoo.papers.convergent_learning.experiments import ceiling, layer_report, mi_overlap, nnz_half
from paperzoo.papers.convergent_learning.stats import n_obs
from paperzoo.probe import run_probe


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---------------------------------------------------------------- statistics
def test_to_units_makes_positions_observations():
    f = torch.arange(2 * 3 * 2 * 2, dtype=torch.float64).reshape(2, 3, 2, 2)     # (N, C, H, W)
    u = to_units(f)
    assert u.shape == (8, 3)
    assert u[5].tolist() == f[1, :, 0, 1].tolist()                                 # image 1, position 1
    assert torch.equal(to_units(f.flatten(1), (3, 2, 2)), u)
    idx = torch.tensor([0, 5, 7])
    assert torch.equal(to_units(f, index=idx), u[idx])
    tok = torch.arange(24.0).reshape(2, 3, 4)                                     # (N, T, D) tokens
    assert torch.equal(to_units(tok, channels_last=True), tok.reshape(6, 4))
    assert n_obs((3, 2, 2)) == 4 and n_obs((3, 4), True) == 3 and n_obs((7,)) == 1


@pytest.mark.parametrize("full", [True, False])
def test_streaming_correlation_matches_numpy_float64(full):
    a, b = _rand(900, 5, seed=1), _rand(900, 4, seed=2)
    b[:, 0] = 2 * a[:, 3] + 0.1 * b[:, 0] + 1e6                                  # large offset: the shifted sums
    a[:, 1] = 0.0                                                                 # dead unit
    b[:, 3] = 7.0                                                                 # constant unit: dead too
    s = ActivationStats(full=full)
    for i in range(0, 900, 250):
        s.update(a[i:i + 250], b[i:i + 250])
    with np.errstate(invalid="ignore", divide="ignore"):                          # dead units: 0/0 in numpy
        ref = np.corrcoef(np.concatenate([a.numpy(), b.numpy()], 1).T)[:5, 5:]
    ref[1, :], ref[:, 3] = 0.0, 0.0
    got = s.corr(0, 1)
    assert np.abs(got.numpy() - ref).max() < 1e-9
    assert torch.allclose(s.corr(1, 0), got.T, atol=1e-14, rtol=0)
    assert s.dead(0).tolist() == [False, True, False, False, False] and s.dead(1).tolist() == [False, False, False, True]
    assert torch.allclose(s.mean(1), b.mean(0), rtol=1e-12) and torch.allclose(s.std(0), a.std(0, unbiased=False), rtol=1e-9)
    assert s.n == 900
    if full:
        assert torch.allclose(s.corr(0, 0).diagonal(), torch.tensor([1.0, 0, 1, 1, 1], dtype=torch.float64), atol=1e-12)
        assert np.abs(s.corr(1, 1).numpy()[:3, :3] - np.corrcoef(b.numpy()[:, :3].T)).max() < 1e-9
    else:
        with pytest.raises(ValueError, match="full=True"):
            s.corr(0, 0)


def test_stats_reject_bad_input():
    s = ActivationStats()
    with pytest.raises(ValueError, match="same observations"):
        s.update(_rand(5, 2), _rand(6, 2))
    with pytest.raises(ValueError, match="NaN"):
        s.update(torch.full((3, 2), float("nan")))
    s.update(_rand(5, 2), _rand(5, 3))
    with pytest.raises(ValueError, match="unit counts changed"):
        s.update(_rand(5, 2), _rand(5, 2))
    with pytest.raises(ValueError, match="at least 2"):
        ActivationStats().update(_rand(1, 2)).corr(0, 0)


# ---------------------------------------------------------------- one-to-one matching
def test_semi_and_bipartite_match_against_brute_force():
    C = _rand(6, 6, seed=3).tanh()
    assert semi_match(C).tolist() == C.argmax(1).tolist()
    perm = bipartite_match(C)
    best = max(itertools.permutations(range(6)), key=lambda p: float(C[torch.arange(6), list(p)].sum()))
    assert perm.tolist() == list(best)
    R = _rand(3, 5, seed=4)                                                       # rectangular: every row matched
    rp = bipartite_match(R)
    best_r = max(itertools.permutations(range(5), 3), key=lambda p: float(R[torch.arange(3), list(p)].sum()))
    assert rp.tolist() == list(best_r)
    with pytest.raises(ValueError, match="n_a <= n_b"):
        bipartite_match(R.T)


def test_bipartite_total_equals_networkx_max_weight_matching():
    nx = pytest.importorskip("networkx")
    C = _rand(7, 7, seed=5)
    g = nx.Graph()
    g.add_weighted_edges_from((i, 7 + j, float(C[i, j]) + 10.0) for i in range(7) for j in range(7))   # official: networkx
    total = sum(g[u][v]["weight"] - 10.0 for u, v in nx.max_weight_matching(g, maxcardinality=True))
    assert float(C[torch.arange(7), bipartite_match(C)].sum()) == pytest.approx(total, abs=1e-9)


def test_match_summary_semi_dominates_and_counts_agreement():
    C = torch.tensor([[0.9, 0.8, 0.0], [0.85, 0.1, 0.0], [0.2, 0.3, 0.6]], dtype=torch.float64)
    s = match_summary(C)
    assert s["semi"] == pytest.approx((0.9 + 0.85 + 0.6) / 3) and s["bipartite"] == pytest.approx((0.8 + 0.85 + 0.6) / 3)
    assert s["same_partner"] == pytest.approx(2 / 3) and s["bipartite_min"] == pytest.approx(0.6)
    assert s["semi_min"] == pytest.approx(0.6)
    live = match_summary(C, live_a=torch.tensor([True, True, False]))
    assert live["bipartite_min"] == pytest.approx(0.8) and live["semi_min"] == pytest.approx(0.85)
    assert matched_curve(C, bipartite_match(C)).tolist() == pytest.approx([0.85, 0.8, 0.6])
    assert matched_curve(C[:2], bipartite_match(C[:2])).tolist() == pytest.approx([0.85, 0.8])
    rect = match_summary(C[:2], live_b=torch.tensor([True, False, True]))      # 2 x 3; column 1 dead
    assert rect["semi"] == pytest.approx(0.875) and rect["bipartite"] == pytest.approx(0.825)
    assert rect["semi_min"] == pytest.approx(0.85) and rect["bipartite_min"] == pytest.approx(0.85)  # 0.8 pair: dead column
    assert math.isnan(match_summary(C, live_a=torch.zeros(3, dtype=torch.bool))["semi_min"])
    for seed in range(5):
        R = _rand(20, 20, seed=seed)
        r = match_summary(R)
        assert r["semi"] >= r["bipartite"]


# ---------------------------------------------------------------- mutual information
def _ref_mi(x, y, bins=10):
    """The official estimate_mi / percentile_bins, rewritten in numpy; the bias in nats."""
    def edges(v):
        z = float(np.sum(v < 1e-6)) / len(v)
        e = np.percentile(v, [0] + list(np.linspace(z * 100.1, 100, bins)))
        e[0] -= 0.01
        return e
    h, _, _ = np.histogram2d(x, y, bins=[edges(x), edges(y)])
    p = h / h.sum()
    pi, pj = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] / (pi * pj)[nz]))) - p.size / (2.0 * h.sum())


def test_mi_matrix_matches_official_histogram_estimate():
    a = _rand(3000, 3, seed=6).relu()
    b = torch.stack([a[:, 0] + 0.3 * _rand(3000, seed=7), _rand(3000, seed=8).relu(), a[:, 2] ** 2], 1)
    mi = mi_matrix(a, b)
    for i, j in itertools.product(range(3), range(3)):
        assert mi[i, j].item() == pytest.approx(_ref_mi(a[:, i].numpy(), b[:, j].numpy()), abs=1e-10)
    assert mi[2, 2] > 1.0 and abs(mi[1, 1].item()) < 0.05                       # monotone map vs independent
    e = percentile_bins(a)
    assert e.shape == (3, 11) and e[0, 0].item() == pytest.approx(float(a[:, 0].min()) - 0.01)
    two = torch.tensor([[0.0, 1.0], [2.0, 3.0]], dtype=torch.float64)             # the smallest legal input
    assert percentile_bins(two, 2).flatten().tolist() == pytest.approx([-0.01, 1.001, 2.0, 0.99, 1.0, 3.0])  # z = 1/2, 0
    with pytest.raises(ValueError, match=r"x must be \(obs >= 2, units\), got shape \(1, 2\)"):
        percentile_bins(two[:1])
    with pytest.raises(ValueError, match="bins must be >= 2, got 1"):
        percentile_bins(two, 1)
    assert (mi_matrix(a, b, bias_correct=False) - mi).sub(100 / 6000).abs().max() < 1e-12
    mi4 = mi_matrix(a[:, :2], b, bins=4)
    assert mi4.shape == (2, 3) and mi4[0, 1].item() == pytest.approx(_ref_mi(a[:, 0].numpy(), b[:, 1].numpy(), 4), abs=1e-10)
    with pytest.raises(ValueError, match=r"same obs, got \(3000, 3\), \(10, 3\)"):
        mi_matrix(a, b[:10])


# ---------------------------------------------------------------- sparse prediction
def test_lasso_fista_kkt_and_limits():
    X = _rand(2000, 8, seed=9)
    Y = X[:, :3] @ _rand(3, 4, seed=10) + 0.5 * _rand(2000, 4, seed=11)
    s = ActivationStats().update(X, Y)
    Raa, Rab = s.corr(0, 0), s.corr(0, 1)
    lam = 0.05
    W = lasso_fista(Raa, Rab, lam, iters=20000, tol=1e-13)
    g = Raa @ W - Rab
    on = W.abs() > 1e-10
    assert torch.allclose(g[on], -lam * W[on].sign(), atol=1e-7)                 # KKT: active weights
    assert (g[~on].abs() <= lam + 1e-7).all() and on.any() and (~on).any()         # KKT: zeros
    assert lasso_fista(Raa, Rab, float(Rab.abs().max()) + 1e-9).abs().max() == 0  # lambda >= max|c|: w = 0
    W0 = lasso_fista(Raa, Rab, 0.0, iters=20000, tol=1e-14)
    assert torch.allclose(W0, torch.linalg.solve(Raa, Rab), atol=1e-6)
    Xs, Ys = (X - X.mean(0)) / X.std(0, unbiased=False), (Y - Y.mean(0)) / Y.std(0, unbiased=False)
    direct = (Ys - Xs @ W).pow(2).mean(0)                                         # unexplained variance on the data
    assert torch.allclose(unexplained(Raa, Rab, W), direct, atol=1e-9)


def _ref_fista(Raa, Rab, lam, iters):
    """Beck & Teboulle's FISTA for sum_j 1/2 (1 - 2 w.c_j + w^T R w) + lam |w|_1, written out in numpy."""
    L = np.linalg.eigvalsh(Raa)[-1]
    W = np.zeros_like(Rab)
    Y, t = W.copy(), 1.0
    for _ in range(iters):
        G = Y - (Raa @ Y - Rab) / L
        Wn = np.sign(G) * np.maximum(np.abs(G) - lam / L, 0.0)
        tn = (1 + np.sqrt(1 + 4 * t * t)) / 2
        Y = Wn + (t - 1) / tn * (Wn - W)
        W, t = Wn, tn
    return W


def test_lasso_fista_iterates_match_reference_and_edge_cases():
    X = _rand(500, 6, seed=30)
    X[:, 1] += X[:, 0]
    s = ActivationStats().update(X, X[:, :3] + _rand(500, 3, seed=31))
    Raa, Rab = s.corr(0, 0), s.corr(0, 1)
    for iters in (1, 2, 7):
        got = lasso_fista(Raa, Rab, 0.05, iters=iters, tol=0.0)
        assert np.abs(got.numpy() - _ref_fista(Raa.numpy(), Rab.numpy(), 0.05, iters)).max() < 1e-12
    c = torch.tensor([[0.5, -0.2], [0.05, 0.9]], dtype=torch.float64)
    assert torch.allclose(lasso_fista(torch.eye(2, dtype=torch.float64), c, 0.1),
                          torch.tensor([[0.4, -0.1], [0.0, 0.8]], dtype=torch.float64), atol=1e-12)   # orthonormal: shrink
    assert lasso_fista(torch.zeros(2, 2), c, 0.1).abs().max() == 0                 # all inputs dead
    with pytest.raises(ValueError, match=r"R_aa must be \(n_a, n_a\) and R_ab \(n_a, n_b\); got \(2, 2\), \(3, 2\)"):
        lasso_fista(torch.eye(2), torch.zeros(3, 2), 0.1)
    with pytest.raises(ValueError, match="R_aa must be"):
        lasso_fista(torch.zeros(2, 3), torch.zeros(2, 2), 0.1)
    with pytest.raises(ValueError, match="lambda must be >= 0"):
        lasso_fista(torch.eye(2), c, -0.1)


def test_sparse_predict_path_is_monotone():
    X = _rand(3000, 6, seed=12).relu()
    Y = torch.cat([X[:, :2] + 0.2 * _rand(3000, 2, seed=13), torch.zeros(3000, 1)], 1)   # last target dead
    s = ActivationStats().update(X, Y)
    path = sparse_predict(s.corr(0, 0), s.corr(0, 1), [0.3, 0.01, 0.1], live=~s.dead(1))
    assert [p["lambda"] for p in path] == [0.3, 0.1, 0.01]
    loss, nnz = [p["loss"] for p in path], [p["nnz"] for p in path]
    assert loss == sorted(loss, reverse=True) and nnz == sorted(nnz) and loss[-1] >= path[0]["loss_dense"] - 1e-9
    r = s.corr(0, 1)[:, :2]
    assert path[0]["loss_1"] == pytest.approx(float((1 - r.pow(2).max(0).values).mean()), abs=1e-12)
    Raa, Rl = s.corr(0, 0), s.corr(0, 1)[:, :2]
    for p in path:                                                                 # each point = the lasso itself
        W = lasso_fista(Raa, Rl, p["lambda"], iters=3000)
        assert p["nnz"] == pytest.approx(float((W.abs() > 1e-8).sum()) / 2, abs=1e-9)
        assert p["loss"] == pytest.approx(float(unexplained(Raa, Rl, W).mean()), abs=1e-6)
    assert nnz[0] < nnz[-1] and path[0]["loss_dense"] == pytest.approx(
        float(unexplained(Raa, Rl, torch.linalg.solve(Raa, Rl)).mean()), abs=1e-9)
    whole = sparse_predict(Raa, Rl, [0.1])                                        # live default: every target
    assert whole[0]["loss"] == pytest.approx(path[1]["loss"], abs=1e-6)
    with pytest.raises(ValueError, match="lambdas must be non-empty"):
        sparse_predict(Raa, Rl, [])
    with pytest.raises(ValueError, match="boolean mask of the 2 target"):
        sparse_predict(Raa, Rl, [0.1], live=torch.zeros(2, dtype=torch.bool))
    with pytest.raises(ValueError, match="boolean mask"):
        sparse_predict(Raa, Rl, [0.1], live=torch.ones(3, dtype=torch.bool))
    assert nnz_half([{"nnz": 1.0, "loss": 0.9, "loss_1": 0.5, "loss_dense": 0.1},
                     {"nnz": 3.0, "loss": 0.3, "loss_1": 0.5, "loss_dense": 0.1}]) == 3.0


# ---------------------------------------------------------------- spectral clustering
def test_spectral_clustering_recovers_blocks_across_nets():
    g = torch.Generator().manual_seed(0)
    latent = _rand(4000, 3, seed=14)
    a = latent.repeat_interleave(2, 1) + 0.3 * _rand(4000, 6, seed=15)         # 3 groups of 2 units per net
    b = latent.repeat_interleave(2, 1) + 0.3 * _rand(4000, 6, seed=16)
    s = ActivationStats().update(a, b)
    lab = spectral_groups(s.corr(0, 0), s.corr(1, 1), s.corr(0, 1), 3, generator=g)
    truth = torch.arange(3).repeat_interleave(2).repeat(2)
    assert all(len(set(lab[truth == k].tolist())) == 1 for k in range(3)) and len(set(lab.tolist())) == 3
    rep = group_report(lab, 6, s.corr(0, 1))
    assert rep["mixed_frac"] == 1.0 and rep["units_in_mixed"] == 1.0 and rep["rho_in_cluster"] > rep["rho_all"]
    split = group_report(torch.tensor([0, 0, 1, 1]), 2, torch.ones(2, 2))
    assert split["mixed_frac"] == 0.0 and math.isnan(split["rho_in_cluster"])
    X = torch.cat([_rand(30, 2, seed=17) * 0.1 + c for c in (0.0, 5.0, 10.0)])
    lab2, inertia = kmeans(X, 3, generator=g)
    assert inertia < 3.0 and all(len(set(lab2[i * 30:(i + 1) * 30].tolist())) == 1 for i in range(3))
    with pytest.raises(ValueError, match="symmetric"):
        spectral_clusters(torch.tensor([[1.0, 0.5], [0.2, 1.0]]), 1)
    with pytest.raises(ValueError, match="square"):
        spectral_clusters(torch.ones(2, 3), 1)


def test_spectral_clusters_exact_blocks_and_scale_invariance():
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    B = torch.block_diag(*[torch.full((n, n), 0.9) for n in (3, 4, 5)]).double()   # exact zeros between blocks
    B = B + 0.05 * (_rand(12, 12, seed=20).abs() + _rand(12, 12, seed=20).abs().T) * (B > 0)
    lab = spectral_clusters(B, 3, generator=g())
    truth = torch.tensor([0] * 3 + [1] * 4 + [2] * 5)
    assert all(len(set(lab[truth == k].tolist())) == 1 for k in range(3)) and len(set(lab.tolist())) == 3
    assert torch.equal(spectral_clusters(0.01 * B, 3, generator=g()), lab)      # degrees below 1: same clusters


def test_group_report_counts_and_default_k():
    rep = group_report(torch.tensor([0, 2, 2, 0]), 3, torch.tensor([[0.3], [-0.1], [0.2]]))  # A: 0, 2, 2; B: 0
    assert rep == pytest.approx({"clusters": 2.0, "mixed_frac": 0.5, "units_in_mixed": 0.5, "rho_in_cluster": 0.3,
                                 "rho_all": 0.2})
    latent = _rand(3000, 2, seed=22)
    a = latent.repeat_interleave(4, 1) + 0.3 * _rand(3000, 8, seed=23)
    b = latent.repeat_interleave(4, 1) + 0.3 * _rand(3000, 8, seed=24)
    s = ActivationStats().update(a, b)
    lab = spectral_groups(s.corr(0, 0), s.corr(1, 1), s.corr(0, 1))               # k = 16 / 8 = 2
    assert torch.equal(lab, lab[0] + (1 - 2 * lab[0]) * torch.arange(2).repeat_interleave(4).repeat(2))
    s4 = ActivationStats().update(a[:, :4], b[:, :4])
    assert spectral_groups(s4.corr(0, 0), s4.corr(1, 1), s4.corr(0, 1)).tolist() == [0] * 8   # k = 8 / 8 = 1
    with pytest.raises(ValueError, match=r"blocks do not fit: C_aa \(8, 8\), C_bb \(4, 4\), C_ab \(8, 8\)"):
        spectral_groups(s.corr(0, 0), s4.corr(1, 1), s.corr(0, 1))


def test_kmeans_inertia_and_edge_cases():
    X = torch.cat([_rand(25, 2, seed=21) + c for c in (0.0, 2.5, 5.0)])         # overlapping blobs
    lab, inertia = kmeans(X, 3, generator=torch.Generator().manual_seed(0))
    cent = torch.stack([X[lab == c].mean(0) for c in range(3)])
    assert inertia == pytest.approx(float((X - cent[lab]).pow(2).sum()), rel=1e-12)   # Lloyd fixed point
    sk = pytest.importorskip("sklearn.cluster")
    ref = sk.KMeans(3, n_init=10, random_state=0).fit(X.numpy()).inertia_
    assert inertia <= ref * 1.02
    same, zero = kmeans(torch.zeros(5, 2), 2)                                     # all distances 0: uniform seeding
    assert zero == 0.0 and same.shape == (5,)
    each, z2 = kmeans(X[:6], 6)                                                   # k = n: every point its own cluster
    assert z2 == pytest.approx(0.0, abs=1e-20) and len(set(each.tolist())) == 6
    with pytest.raises(ValueError, match=r"k must be in \[1, 6\]"):
        kmeans(X[:6], 7)


# ---------------------------------------------------------------- models, ceiling, probe
def test_permuted_copy_is_the_same_function_and_is_recovered():
    torch.manual_seed(0)
    net = convergent_cnn(width=4).eval()
    x = torch.rand(60, 1, 28, 28)
    r = ceiling(net, x, torch.Generator().manual_seed(1))
    assert r["perm_recovered"] == 1.0 and r["perm_rho_err"] < 1e-9 and r["perm_logit_diff"] < 1e-5
    twin = permute_hidden_units(copy.deepcopy(net), {"conv1": torch.tensor([1, 0, 3, 2])})
    assert not torch.equal(twin.conv1.weight, net.conv1.weight)
    assert torch.allclose(twin(x), net(x), atol=1e-5)
    with pytest.raises(ValueError, match="permutation"):
        permute_hidden_units(twin, {"conv1": torch.tensor([0, 0, 1, 2])})
    with pytest.raises(KeyError, match="hidden"):
        permute_hidden_units(twin, {"out": torch.arange(10)})
    assert net(x.flatten(1)).shape == (60, 10)
    with pytest.raises(ValueError, match="expects input"):
        net(torch.rand(2, 3, 32, 32))


def test_layer_report_floor_and_mi_on_twins():
    torch.manual_seed(1)
    a, b = convergent_cnn(width=4).eval(), convergent_cnn(width=4).eval()
    x = torch.rand(40, 1, 28, 28)
    s = layer_stats([a, copy.deepcopy(a), b], x, ["relu1"])["relu1"]
    same, other = layer_report(s, 0, 1), layer_report(s, 0, 2)
    assert same["bipartite"] == pytest.approx(1.0, abs=1e-9) and same["same_partner"] == 1.0
    assert other["bipartite"] < 0.99 and -1 <= other["within_semi"] <= 1
    mi = mi_overlap(a, copy.deepcopy(a), x, "conv1", max_obs=5000, top=4, generator=torch.Generator().manual_seed(0))
    assert mi["mi_top_kept"] == 4 and mi["mi_agree"] == 1.0
    C = correlation(to_units(a.conv1(x)), to_units(a.conv1(x)))
    assert torch.allclose(C.diagonal(), torch.ones(4, dtype=torch.float64), atol=1e-9)
    u, v = _rand(200, 3, seed=40), _rand(200, 2, seed=41)
    ref = np.corrcoef(np.concatenate([u.numpy(), v.numpy()], 1).T)[:3, 3:]
    assert correlation(u, v).shape == (3, 2) and np.abs(correlation(u, v).numpy() - ref).max() < 1e-12


def test_alignment_probe_on_another_papers_model():
    torch.manual_seed(0)
    name = "gradnoise_deep_mlp" if "gradnoise_deep_mlp" in {m.name for m in pz.registry.list_models()} else "convergent_cnn"
    m1, m2 = pz.create_model(name), pz.create_model(name)
    x = torch.rand(300, 1, 28, 28)
    twin = alignment(m1, x, other=copy.deepcopy(m1))
    layers = default_layers(m1)
    assert all(twin[f"bipartite@{L}"] == pytest.approx(1.0, abs=1e-6) for L in layers)
    fresh = alignment(m1, (x, torch.zeros(300)), other=m2)
    assert set(fresh) == set(twin) and all(isinstance(v, float) for v in fresh.values())
    assert fresh["bipartite_mean"] < 0.95 and fresh["semi_mean"] >= fresh["bipartite_mean"]
    with pytest.raises(KeyError):
        alignment(m1, x, other=m2, layers=["no_such_layer"])
    with pytest.raises(ValueError, match=r"failed on data of shape \(10, 3, 32, 32\) \(RuntimeError"):
        alignment(m1, torch.rand(10, 3, 32, 32), other=m2)
    with pytest.raises(ValueError, match="other"):
        alignment(m1, x)
    with pytest.raises(ValueError, match="parameter shapes differ"):
        alignment(convergent_cnn(width=4), x, other=convergent_cnn(width=8))


def test_default_layers():
    assert default_layers(convergent_cnn(width=4)) == ["conv1", "conv2", "conv3", "fc1", "out"]

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x.flatten(1)[:, :3] * self.w

    custom = torch.nn.Sequential(torch.nn.Flatten(), Block())
    assert default_layers(custom) == ["1"]
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        default_layers(torch.nn.Sequential(torch.nn.Flatten()))
    with pytest.raises(TypeError, match="nn.Modules, got str"):
        alignment("model", torch.rand(4, 3), other=custom)
    with pytest.raises(ValueError, match=r"differ \(first differences \[\('1.w', \(3,\)\), \('1.w', \(4,\)\)\]"):
        alignment(custom, torch.rand(4, 3), other=_wider(Block))


def _wider(cls):
    m = torch.nn.Sequential(torch.nn.Flatten(), cls())
    m[1].w = torch.nn.Parameter(torch.ones(4))
    return m


def test_alignment_subsampled_positions_are_shared_and_permutation_invariant():
    torch.manual_seed(2)
    net = convergent_cnn(width=4).eval()
    twin = permute_hidden_units(copy.deepcopy(net), {"conv1": torch.tensor([2, 0, 3, 1]), "conv2": torch.randperm(8)})
    out = alignment(net, torch.rand(50, 1, 28, 28), other=twin, max_obs=3000, layers=["relu1", "relu2", "conv3"])
    for L in ("relu1", "relu2", "conv3"):                                  # dead units score 0, every live one 1
        assert out[f"bipartite@{L}"] == pytest.approx(1.0 - out[f"dead@{L}"], abs=1e-9)
        assert out[f"bipartite_min@{L}"] == pytest.approx(1.0, abs=1e-9)
    assert out["dead@relu1"] + out["dead@relu2"] > 0 and out["dead@conv3"] == 0


def test_alignment_through_run_probe_with_checkpoints(tmp_path):
    torch.manual_seed(3)
    a, b = convergent_cnn(width=4), convergent_cnn(width=4)
    save_model(tmp_path / "a", a, name="convergent_cnn", kwargs={"width": 4})
    save_model(tmp_path / "b", b, name="convergent_cnn", kwargs={"width": 4})
    x, y = torch.rand(64, 1, 28, 28), torch.arange(64) % 10
    rec = run_probe("alignment", str(tmp_path / "a"), (x, y), other=str(tmp_path / "b"))
    assert rec["metrics"] == pytest.approx(alignment(a, x, other=b))
    self_rec = run_probe("alignment", str(tmp_path / "a"), (x, y), other=str(tmp_path / "a"))
    assert self_rec["metrics"]["bipartite_mean"] == pytest.approx(1.0, abs=1e-6)


def test_tiny_full_protocol_path_with_three_nets(tmp_path):
    """The full protocol's code path (3+ nets, all-pairs means, k = n / 8) on Fashion-MNIST-sized data."""
    r = pz.reproduce("convergent-learning", "full", seed=0, out=tmp_path / "full", progress=False,
                     overrides={"dataset": "fashion-mnist", "arch": "cnn", "n_train": 256, "epochs": 1, "width": 4,
                                "nets": 3, "n_eval": 40, "perm_images": 20, "mi_images": 20, "mi_obs": 3000,
                                "lasso_iters": 100, "threads": 1})
    m = r.metrics
    assert m["perm_recovered"] == 1.0 and m["self_corr_diag_err"] < 1e-9 and m["semi_minus_bipartite_min"] >= 0
    assert "bipartite_allpairs_conv1" in m and m["spectral_clusters"] <= 1 + (4 + 4) // 8


def test_alexnet_cifar_net_is_permutation_consistent():
    torch.manual_seed(0)
    net = alexnet_cifar(width=4).eval()
    assert list(net.act_layers) == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc1", "fc2"]
    assert [getattr(net, f"conv{i}").out_channels for i in range(1, 6)] == [4, 12, 24, 16, 16]   # AlexNet ratios
    assert [m for m in dict(net.named_children()) if m.startswith("pool")] == ["pool1", "pool2", "pool5"]
    assert net.conv1.padding == (1, 1) and net.fc1.in_features == 16 * 4 * 4
    assert (net.fc1.out_features, net.fc2.out_features, net.out.out_features) == (32, 32, 10)
    x = torch.rand(8, 3, 32, 32)
    perms = {k: torch.randperm(getattr(net, k).weight.shape[0]) for k in net.act_layers}
    twin = permute_hidden_units(copy.deepcopy(net), perms)
    assert torch.allclose(twin(x), net(x), atol=1e-5) and net(x).shape == (8, 10)


@pytest.mark.slow
def test_tiny_full_protocol_runs_the_cifar_path(tmp_path):
    r = pz.reproduce("convergent-learning", "full", seed=0, out=tmp_path / "full", progress=False,
                     overrides={"n_train": 128, "epochs": 1, "width": 4, "nets": 3, "n_eval": 40, "perm_images": 20,
                                "mi_images": 20, "mi_obs": 3000, "lasso_iters": 100, "threads": 1})
    m = r.metrics
    assert m["perm_recovered"] == 1.0 and m["self_corr_diag_err"] < 1e-9 and m["semi_minus_bipartite_min"] >= 0
    assert "bipartite_conv5" in m and "bipartite_allpairs_conv1" in m and "bipartite_fc2" in m


def test_layer_stats_subsampling_and_bad_data():
    torch.manual_seed(4)
    net = convergent_cnn(width=4).eval()
    x = torch.rand(20, 1, 28, 28)
    full = layer_stats([net], x, ["relu1", "fcrelu1"], batch_size=8)
    assert full["relu1"].n == 20 * 26 * 26 and full["fcrelu1"].n == 20
    sub = layer_stats([net], x, ["relu1"], batch_size=8, max_obs=1000)["relu1"]
    assert sub.n == 400 + 400 + 200                                               # ceil(1000 * len(batch) / 20)
    other = layer_stats([net], x, ["relu1"], batch_size=8, max_obs=1000, seed=1)["relu1"]
    assert not torch.equal(sub.mean(0), other.mean(0))                            # positions drawn from the seed
    for bad, msg in ((torch.ones(5, 784, dtype=torch.long), r"float tensor \(N >= 2, \.\.\.\), got Tensor\(5, 784\)"),
                     (torch.rand(1, 1, 28, 28), "got Tensor"), ([1.0, 2.0], r"got list$")):
        with pytest.raises(ValueError, match=msg):
            layer_stats([net], bad, ["relu1"])
    with pytest.raises(ValueError, match="^data contains NaN/inf$"):
        layer_stats([net], torch.full((2, 1, 28, 28), float("nan")), ["relu1"])
