"""Tests for paperzoo.papers.information_plane (card: shared/papers/information-plane.md): the generator anchors,
the estimators against float64 references and closed-form MI, the batched network, the experiment and the probe."""
import hashlib
import math
from collections import Counter

import numpy as np
import pytest
import torch

import paperzoo as pz
from paperzoo.papers.information_plane import (
    BatchedMLP,
    InfoMLP,
    bin_codes,
    binned_mi,
    discrete_mi,
    dpi_violation,
    entropy_bits,
    grad_stats,
    ib_bound_deterministic,
    ib_mlp,
    icosahedron,
    info_epochs,
    information_plane,
    kde_mi,
    knn_mi_discrete,
    ksg_mi,
    layer_information,
    sphere12,
    split,
    train_infoplane,
)
from paperzoo.papers.information_plane.reproduce import _summary, identity_errors

LN2 = math.log(2)


def h2(p):
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


# ---------------------------------------------------------------- data
def test_generator_matches_card_anchors():
    x, y = sphere12()
    assert x.shape == (4096, 12) and y.shape == (4096,)
    assert int(y.sum()) == 2098
    assert hashlib.sha256(y.numpy().astype(np.uint8).tobytes()).hexdigest().startswith("90c3469b396e40a4")
    assert x[5].tolist() == [0] * 9 + [1, 0, 1]                         # bits of k, most significant first
    ones = x.sum(1)
    frac = {k: float(y[ones == k].float().mean()) for k in range(13)}
    assert all(frac[k] == 0 for k in range(6)) and all(frac[k] == 1 for k in range(8, 13))
    assert frac[6] == pytest.approx(0.619, abs=1e-3) and frac[7] == pytest.approx(0.924, abs=1e-3)
    assert entropy_bits(y.bincount()) == pytest.approx(0.99957, abs=1e-5)
    assert int(sphere12(threshold=6.0)[1].sum()) < 2098 < int(sphere12(lam=0.1)[1].sum())


def test_icosahedron_geometry():
    v = icosahedron()
    assert torch.allclose(v.norm(dim=1), torch.ones(12, dtype=torch.float64))
    assert torch.allclose(v.sum(0), torch.zeros(3, dtype=torch.float64), atol=1e-12)
    g = v @ v.T
    nn5 = (g - 2 * torch.eye(12, dtype=torch.float64)).sort(1, descending=True).values[:, :5]
    assert torch.allclose(nn5, torch.full_like(nn5, 1 / math.sqrt(5)))   # 5 neighbours at cos = 1/sqrt 5
    assert v[0].tolist() == pytest.approx([0.0, -1 / math.sqrt(1 + 1.618034 ** 2), -1.618034 / math.sqrt(1 + 1.618034 ** 2)])


def test_split_ordered_and_shuffled():
    x, y = sphere12()
    tr, te = split(x, y, 0.8, ordered=True)
    assert tr.tolist() == list(range(3277)) and te.tolist() == list(range(3277, 4096))
    tr, te = split(x, y, 0.85, ordered=True)                              # official overlap (min_test_data=80)
    assert len(tr) == 3482 and te[0] == 3277 and len(set(tr.tolist()) & set(te.tolist())) == 3482 - 3277
    tr, te = split(x, y, 0.8, seed=3)
    assert len(tr) == 3277 and sorted(tr.tolist() + te.tolist()) == list(range(4096))
    assert torch.equal(tr, split(x, y, 0.8, seed=3)[0]) and not torch.equal(tr, split(x, y, 0.8, seed=4)[0])
    assert not torch.equal(tr, tr.sort().values)                          # permuted order: random mini-batches
    tr, te = split(x, y, 0.05, ordered=True)
    assert tr.tolist() == list(range(205)) and te.tolist() == list(range(205, 4096))
    with pytest.raises(ValueError, match="frac"):
        split(x, y, 0.0)
    with pytest.raises(ValueError, match="rows"):
        split(x, y[:10])


# ---------------------------------------------------------------- binning estimator
def numpy_binned(t, y, n_bins=30, lo=-1.0, hi=1.0):
    """Float64 reference: official np.digitize binning, symbols counted with a Counter."""
    t = np.asarray(t, dtype=np.float64)
    lo = t.min() if lo is None else lo
    hi = t.max() if hi is None else hi
    bins = np.linspace(lo, hi, n_bins)
    sym = [tuple(r) for r in np.digitize(t, bins)]
    n = len(sym)

    def H(c):
        p = np.array(list(c.values()), dtype=np.float64) / n
        return float(-(p * np.log2(p)).sum())

    h_t = H(Counter(sym))
    return h_t, h_t + H(Counter(y.tolist())) - H(Counter(zip(sym, y.tolist())))


@pytest.mark.parametrize("d,n_bins,lo,hi", [(3, 30, -1.0, 1.0), (2, 8, -1.0, 1.0), (4, 30, None, None), (25, 30, -1.0, 1.0),
                                            (1, 5, 0.0, None)])
def test_binned_mi_matches_numpy_reference(d, n_bins, lo, hi):
    g = torch.Generator().manual_seed(d)
    t = torch.tanh(1.5 * torch.randn(600, d, generator=g, dtype=torch.float64))
    y = torch.randint(0, 3, (600,), generator=g)
    y = torch.where(t[:, 0] > 0.3, y, torch.zeros_like(y))               # dependent labels
    got = binned_mi(t, y, n_bins=n_bins, lo=lo, hi=hi)
    ref = numpy_binned(t.numpy(), y.numpy(), n_bins, lo, hi)
    assert got == pytest.approx(ref, abs=1e-12)
    assert got[1] > 0.05


def test_bin_codes_are_digitize_left_edges():
    t = torch.tensor([[-1.0, -0.999, 0.0], [0.99, 1.0, -1.5]], dtype=torch.float64)
    edges = np.linspace(-1, 1, 30)
    assert bin_codes(t).tolist() == (np.digitize(t.numpy(), edges) - 1).tolist()
    assert bin_codes(t)[1].tolist() == [28, 29, -1]
    assert bin_codes(torch.tensor([[2.0], [4.0], [3.0]]), 3, None, None).flatten().tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="n_bins"):
        bin_codes(t, 1)
    with pytest.raises(ValueError, match="lo <= hi"):
        bin_codes(t, 30, 1.0, -1.0)


def test_estimator_identities_card_smoke_b():
    assert max(identity_errors().values()) < 1e-12
    x, y = sphere12()
    h_y = h2(2098 / 4096)
    assert binned_mi(x, y) == pytest.approx((12.0, h_y), abs=1e-12)
    assert binned_mi(torch.full((4096, 2), 0.3), y) == (0.0, 0.0)
    assert binned_mi(torch.tanh(50 * (2.0 * y[:, None] - 1)), y) == pytest.approx((h_y, h_y), abs=1e-12)


def test_discrete_mi_closed_forms():
    # binary symmetric channel with flip probability 1/8, built exactly: I = 1 - h(1/8)
    t = torch.tensor([0] * 8 + [1] * 8)
    y = torch.tensor([0] * 7 + [1] + [1] * 7 + [0])
    assert discrete_mi(t, y) == pytest.approx((1.0, 1 - h2(1 / 8)), abs=1e-12)
    # full factorial T (4 values) x Y (2 values): independent, exactly 0; Y = T: I = H(T)
    t = torch.arange(8) % 4
    assert discrete_mi(t, torch.arange(8) // 4) == pytest.approx((2.0, 0.0), abs=1e-12)
    assert discrete_mi(t, t)[1] == pytest.approx(2.0)
    # skewed distribution: H = h(1/4)
    assert discrete_mi(torch.tensor([0, 0, 0, 1]))[0] == pytest.approx(h2(0.25))
    assert math.isnan(discrete_mi(t)[1])
    with pytest.raises(ValueError, match="entries"):
        discrete_mi(t, t[:3])
    with pytest.raises(ValueError, match="integers"):
        discrete_mi(t, t.double() + 0.5)


def test_wide_layer_uses_exact_rows():
    """Wide layers overflow the int64 row key: the unique(dim=0) path must agree with the reference."""
    g = torch.Generator().manual_seed(0)
    t = torch.randint(0, 3, (300, 60), generator=g) - 1.0                  # 40 ** 60 codes: no int64 key
    t[:150] = t[150:]                                                      # every row twice
    y = torch.arange(300) % 2
    got = binned_mi(t, y, n_bins=40)
    assert got == pytest.approx(numpy_binned(t.numpy(), y.numpy(), 40), abs=1e-12)
    assert got[0] == pytest.approx(math.log2(150))


# ---------------------------------------------------------------- KDE bounds, k-NN estimators
def kde_limits(r):
    """Population limits per dimension for h ~ N(0, s2), noise sigma2, r = s2 / sigma2 (nats): the KL upper and
    Bhattacharyya lower pairwise bounds, and the true MI of the Gaussian channel between them."""
    return 0.5 * math.log(1 + r) + r / (2 * (1 + r)), 0.5 * math.log(1 + r / 4) + r / (2 * (4 + r)), 0.5 * math.log(1 + r)


def test_kde_bounds_match_gaussian_closed_form():
    g = torch.Generator().manual_seed(1)
    h = torch.randn(3000, 2, generator=g, dtype=torch.float64)
    up_lim, lo_lim, true = kde_limits(2.0)
    up = kde_mi(h, noise_var=0.5)[0] * LN2 / 2
    lo = kde_mi(h, noise_var=0.5, bound="lower")[0] * LN2 / 2
    assert up == pytest.approx(up_lim, abs=0.03) and lo == pytest.approx(lo_lim, abs=0.03)
    assert lo < true < up
    # scale invariance: (c h, c^2 s2) gives the same numbers
    assert kde_mi(3 * h[:500], noise_var=4.5)[0] == pytest.approx(kde_mi(h[:500], noise_var=0.5)[0], abs=1e-9)


def test_kde_on_separated_clusters():
    g = torch.Generator().manual_seed(2)
    lab = torch.arange(800) % 4
    h = 20.0 * torch.nn.functional.one_hot(lab, 4).double() + 1e-4 * torch.randn(800, 4, generator=g, dtype=torch.float64)
    i_xt, i_ty = kde_mi(h, lab, noise_var=0.1)
    assert i_xt == pytest.approx(2.0, abs=1e-6) and i_ty == pytest.approx(2.0, abs=1e-6)
    assert kde_mi(h, torch.arange(800) // 400, noise_var=0.1)[1] == pytest.approx(0.0, abs=1e-6)
    assert kde_mi(h, lab, bound="lower")[0] == pytest.approx(2.0, abs=1e-6)
    assert math.isnan(kde_mi(h)[1])
    for bad in ({"noise_var": 0.0}, {"noise_var": float("nan")}, {"bound": "middle"}):
        with pytest.raises(ValueError):
            kde_mi(h, lab, **bad)
    with pytest.raises(ValueError, match="NaN"):
        kde_mi(h * float("nan"))


@pytest.mark.parametrize("rho", [0.0, 0.6, 0.9])
def test_ksg_matches_gaussian_mi(rho):
    g = torch.Generator().manual_seed(3)
    z = torch.randn(1500, 2, generator=g, dtype=torch.float64)
    a, b = z[:, :1], rho * z[:, :1] + math.sqrt(1 - rho ** 2) * z[:, 1:]
    assert ksg_mi(a, b) * LN2 == pytest.approx(-0.5 * math.log(1 - rho ** 2), abs=0.04)
    with pytest.raises(ValueError, match="k must"):
        ksg_mi(a, b, k=0)
    with pytest.raises(ValueError, match="samples"):
        ksg_mi(a, b[:10])


def test_knn_discrete_matches_mixture_quadrature():
    g = torch.Generator().manual_seed(4)
    y = torch.randint(0, 2, (2000,), generator=g)
    t = (2.0 * y - 1).double()[:, None] + torch.randn(2000, 1, generator=g, dtype=torch.float64)
    xs = np.linspace(-12, 12, 200_001)
    p = 0.5 * (np.exp(-(xs - 1) ** 2 / 2) + np.exp(-(xs + 1) ** 2 / 2)) / math.sqrt(2 * math.pi)
    true = -(p * np.log(p)).sum() * (xs[1] - xs[0]) - 0.5 * math.log(2 * math.pi * math.e)
    assert knn_mi_discrete(t, y) * LN2 == pytest.approx(true, abs=0.03)
    far = torch.cat([t[:, :1] + 50 * y[:, None]], 1)                      # separated classes: H(Y)
    assert knn_mi_discrete(far, y) == pytest.approx(entropy_bits(y.bincount()), abs=0.01)
    with pytest.raises(ValueError, match="class count"):
        knn_mi_discrete(t[:5], y[:5], k=3)


# ---------------------------------------------------------------- networks
def test_batched_repeat_equals_plain_network_and_init():
    gens = [torch.Generator().manual_seed(s) for s in (0, 1, 2)]
    net = BatchedMLP(12, 2, widths=(10, 7, 5, 4, 3), repeats=3, generators=gens)
    x = sphere12()[0]
    outs = net(x.expand(3, -1, -1))
    for r in range(3):
        plain = net.repeat(r)
        assert torch.allclose(plain(x), outs[-1][r], atol=1e-6)
        layers = plain.layers(x)
        assert all(torch.allclose(a, b[r], atol=1e-6) for a, b in zip(layers[:-1], outs[:-1]))
        assert torch.allclose(layers[-1], outs[-1][r].softmax(-1), atol=1e-6)
    w = torch.cat([BatchedMLP(12, 2, widths=(400,), repeats=4).weight[0].flatten()])   # fan_in 12
    std = 1 / math.sqrt(12)
    assert w.abs().max() <= 2 * std + 1e-7 and w.std().item() == pytest.approx(0.88 * std, rel=0.05)  # cut at 2 std
    assert all(torch.count_nonzero(b) == 0 for b in net.bias)
    assert not torch.equal(net.weight[0][0], net.weight[0][1])
    again = BatchedMLP(12, 2, widths=(10, 7, 5, 4, 3), repeats=3,
                       generators=[torch.Generator().manual_seed(s) for s in (0, 1, 2)])
    assert all(torch.equal(a, b) for a, b in zip(net.weight, again.weight))
    relu = BatchedMLP(12, 2, widths=(5,), activation="relu", repeats=1)
    assert (relu(x[None])[0] >= 0).all()


def test_network_input_validation():
    with pytest.raises(ValueError, match="widths"):
        InfoMLP(widths=(3, 0))
    with pytest.raises(ValueError, match="activation"):
        InfoMLP(activation="sigmoid")
    with pytest.raises(ValueError, match="12 values"):
        InfoMLP()(torch.zeros(4, 11))
    with pytest.raises(ValueError, match="R=2"):
        BatchedMLP(repeats=2)(torch.zeros(3, 4, 12))
    with pytest.raises(ValueError, match="generator"):
        BatchedMLP(repeats=2, generators=[torch.Generator()])
    with pytest.raises(ValueError, match="depth"):
        ib_mlp(depth=7)
    assert ib_mlp(width=200, depth=3).widths == (200, 50, 25)
    assert ib_mlp().widths == (400, 100, 50, 40, 30, 20)


def test_batched_training_equals_separate_training():
    """Sum over repeats of per-repeat mean losses + elementwise Adam: each repeat trains as if alone."""
    x, y = sphere12()
    xb, yb = x[:64], y[:64]

    def train(nets_and_inputs):
        net, xs = nets_and_inputs
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(5):
            logits = net(xs)[-1]
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), yb.repeat(net.repeats), reduction="none")
            opt.zero_grad()
            loss.view(net.repeats, -1).mean(1).sum().backward()
            opt.step()
        return net

    both = train((BatchedMLP(repeats=2, generators=[torch.Generator().manual_seed(s) for s in (5, 6)]), xb.expand(2, -1, -1)))
    for r, s in enumerate((5, 6)):
        alone = train((BatchedMLP(repeats=1, generators=[torch.Generator().manual_seed(s)]), xb[None]))
        assert all(torch.allclose(a[r], b[0], atol=1e-6) for a, b in zip(both.weight, alone.weight))


# ---------------------------------------------------------------- experiment
def test_info_epochs_official_formula():
    ep = info_epochs(8000, 400)
    ref = np.unique(np.logspace(0, np.log2(8000), 400, base=2).astype(int)) - 1
    assert ep == ref.tolist() and ep[0] == 0 and ep[-1] == 7999 and ep[:5] == [0, 1, 2, 3, 4]
    assert info_epochs(10, 1) == [0]
    with pytest.raises(ValueError):
        info_epochs(0, 5)


def test_grad_stats_against_reference():
    g = torch.randn(7, 3, 4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mean, std = grad_stats(g)
    for r in range(3):
        gr = g[:, r].reshape(7, -1).numpy()
        mu = gr.mean(0)
        assert mean[r] == pytest.approx(np.linalg.norm(mu))
        assert std[r] == pytest.approx(math.sqrt(np.mean(np.sum((gr - mu) ** 2, axis=1))))
    same = torch.ones(4, 2, 3)
    assert grad_stats(same)[1].abs().max() == 0 and grad_stats(same)[0][0] == pytest.approx(math.sqrt(3))


def test_dpi_check_card_smoke_c():
    assert dpi_violation(n_nets=20) <= 0.05
    # a 1-unit bottleneck then a wide layer: the *binned* estimate violates the DPI by bits
    assert dpi_violation((1, 10), n_nets=3) > 1.0


def test_layer_information_estimators():
    x, y = sphere12()
    xs, ys = layer_information([x, torch.zeros(4096, 2)], y)
    assert xs == pytest.approx([12.0, 0.0]) and ys[1] == 0.0
    kx, _ = layer_information([x[:512]], y[:512], estimator="kde", noise_var=0.01)
    assert kx[0] == pytest.approx(9.0, abs=1e-6)                           # well-separated points: log2 N
    with pytest.raises(ValueError, match="estimator"):
        layer_information([x], y, estimator="ksg")
    assert ib_bound_deterministic(0.3, 1.0) == 0.3 and ib_bound_deterministic(5.0, 1.0) == 1.0


@pytest.fixture(scope="module")
def short_run():
    x, y = sphere12()
    return train_infoplane(x, y, repeats=2, epochs=300, n_info=12, kde_points=2, kde_n=256, seed=0)


def test_training_fits_and_records_the_information_plane(short_run):
    t = short_run
    assert len(t["epochs"]) == len(t["I_XT"]) == len(t["grad_mean"]) and t["epochs"][-1] == 300
    assert t["epochs"][:-1] == info_epochs(300, 12) and t["kde_epochs"] == [0, 299, 300]
    ixt, ity = np.asarray(t["I_XT"]), np.asarray(t["I_TY"])               # (T, R, 6)
    assert ixt.shape[1:] == (2, 6) and (ixt <= 12 + 1e-9).all() and (ity <= 0.99957 + 1e-9).all()
    assert np.allclose(ixt[:, :, 0], 12.0)                                 # 10 tanh units keep all 4,096 inputs apart
    acc0, acc = np.mean(t["train_acc"][0]), np.mean(t["train_acc"][-1])
    assert acc > 90.0 and acc > acc0 + 20                                  # learning effect
    assert np.mean(t["test_acc"][-1]) > 85.0
    assert (ity[-1, :, 4] > ity[0, :, 4] + 0.3).all()                      # fitting: I(T;Y) of the last hidden rises
    assert t["n_train"] == 3277 and np.isfinite(np.asarray(t["kde_I_XT"])).all()
    assert np.asarray(t["kde_I_XT"]).max() <= 8.0 + 1e-9                   # KDE bound <= log2(kde_n)


def test_training_is_deterministic_and_seeded():
    x, y = sphere12()
    kw = dict(repeats=1, epochs=5, n_info=3, widths=(4, 3))
    a, b = train_infoplane(x, y, seed=1, **kw), train_infoplane(x, y, seed=1, **kw)
    assert a["I_XT"] == b["I_XT"] and a["grad_mean"] == b["grad_mean"]
    assert train_infoplane(x, y, seed=2, **kw)["grad_mean"] != a["grad_mean"]
    with pytest.raises(ValueError, match="rows"):
        train_infoplane(x, y[:10], **kw)


def test_summary_metrics_on_a_constructed_trajectory():
    ep = [0, 9, 99, 999]
    # layers T1..T5 + softmax; T4 rises to 10 then falls to 4; T5 peaks at epoch 9 (8) then falls to 2
    ixt = [[12, 12, 11, 9, 7, 1], [12, 12, 11, 10, 8, 1], [12, 12, 11, 7, 5, 1], [12, 12, 11, 4, 2, 1]]
    ity = [[1, 1, .9, .5, .2, .1], [1, 1, .9, .8, .6, .5], [1, 1, .9, .9, .9, .9], [1, 1, .95, .95, .95, .95]]
    traj = {"epochs": ep, "I_XT": [[r] for r in ixt], "I_TY": [[r] for r in ity], "train_acc": [[50], [80], [99], [99.5]],
            "test_acc": [[50], [70], [90], [95]], "grad_mean": [[[4.0] * 6]] * 2 + [[[0.1] * 6]] * 2,
            "grad_std": [[[1.0] * 6]] * 4, "kde_epochs": [0, 999], "kde_I_XT": [[ixt[0]], [ixt[-1]]]}
    s = _summary(traj, 1.0, 1000)
    assert s["compression_bits"] == 6.0 and s["compression_last"] == 6.0
    assert s["last_hidden_I_TY"] == 0.95 and s["fit_I_TY_gain"] == pytest.approx(0.75)
    assert s["peak_epoch_frac"] == pytest.approx(0.009) and s["compression_onset_epoch"] == 9
    assert s["ib_gap_last"] == pytest.approx(1.0 - 0.95) and s["grad_snr_drop"] == pytest.approx(40.0)
    assert s["snr_below_1_epoch"] == 99 and s["epochs_to_fit"] == 99 and s["kde_compression_last"] == 5.0
    assert s["train_acc"] == 99.5 and s["test_acc"] == 95 and s["I_XT_max_L4"] == 10


# ---------------------------------------------------------------- probe
@pytest.fixture(scope="module")
def mnist_small():
    from paperzoo.data import load_mnist

    test = load_mnist().test
    return test.x[:400], test.y[:400]


def test_probe_matches_estimators_on_the_paper_network():
    torch.manual_seed(0)
    x, y = sphere12()
    idx = torch.randperm(4096, generator=torch.Generator().manual_seed(0))[:1024]
    x, y = x[idx], y[idx]
    net = InfoMLP()
    out = information_plane(net, (x, y))
    assert out["I_XT@fc.0"] == pytest.approx(10.0) and out["I_TY@fc.0"] == pytest.approx(out["H_Y"])
    assert out["log2_N"] == 10.0 and out["H_Y"] == pytest.approx(entropy_bits(y.bincount()))
    hidden = net.layers(x)
    for i, h in enumerate(hidden[:-1]):                                    # input of fc.(i+1) = hidden layer i
        assert (out[f"I_XT@fc.{i + 1}"], out[f"I_TY@fc.{i + 1}"]) == pytest.approx(binned_mi(h, y, lo=None, hi=None))
    assert out["kde_I_XT@fc.3"] == pytest.approx(kde_mi(hidden[2], y)[0], abs=1e-9)
    logits = net(x)
    assert (out["I_XT@output"], out["I_TY@output"]) == pytest.approx(binned_mi(logits, y, lo=None, hi=None))
    assert out["I_XT"] == out["I_XT@output"]
    assert out["kde_I_TY@fc.3"] == pytest.approx(kde_mi(hidden[2], y)[1], abs=1e-9)
    sel = information_plane(net, (x, y), layers=["fc.2"], noise_var=None)
    assert set(sel) == {"log2_N", "H_Y", "I_XT@fc.2", "I_TY@fc.2", "I_XT", "I_TY"}
    five = information_plane(net, (x, y), layers=["fc.2"], n_bins=5, noise_var=0.5)
    assert (five["I_XT"], five["I_TY"]) == pytest.approx(binned_mi(hidden[1], y, n_bins=5, lo=None, hi=None))
    assert (five["kde_I_XT"], five["kde_I_TY"]) == pytest.approx(kde_mi(hidden[1], y, noise_var=0.5), abs=1e-9)
    bad = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3), torch.nn.Linear(3, 2))
    torch.nn.init.constant_(bad[1].weight, float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        information_plane(bad, (x, y))


def test_probe_on_another_papers_model(mnist_small):
    torch.manual_seed(0)
    model = pz.create_model("gradnoise_deep_mlp")
    out = information_plane(model, mnist_small)
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())
    first = next(k for k in out if k.startswith("I_XT@"))
    assert out[first] == pytest.approx(math.log2(400))                    # the input: 400 distinct images
    for k, v in out.items():
        if "I_XT" in k:
            assert -1e-9 <= v <= out["log2_N"] + 1e-9, k
        if "I_TY" in k and not k.startswith("kde"):
            assert -1e-9 <= v <= out["H_Y"] + 1e-9, k


def test_probe_errors(mnist_small):
    x, y = mnist_small
    model = ib_mlp(width=40)
    with pytest.raises(KeyError, match="nope"):
        information_plane(model, (x, y), layers=["nope"])
    with pytest.raises(ValueError, match="labels"):
        information_plane(model, x)
    with pytest.raises(ValueError, match="batched"):
        information_plane(model, (x[0, 0, 0], y[:28]))
    with pytest.raises(ValueError, match="one label per sample"):
        information_plane(model, (x, y[:10]))
    with pytest.raises(ValueError, match="list"):
        information_plane(model, (x, y), layers="fc.0")
    with pytest.raises(ValueError):
        information_plane(model, (x[:, :, :5], y))                        # wrong input shape for the model
    with pytest.raises(TypeError):
        information_plane("ib_mlp", (x, y))


def test_probe_through_the_face_with_a_checkpoint(tmp_path, mnist_small):
    from paperzoo.model_io import save_model
    from paperzoo.probe import run_probe

    torch.manual_seed(1)
    model = ib_mlp(width=40, depth=3)
    folder = save_model(tmp_path / "ck" / "model", model, name="ib_mlp", kwargs={"width": 40, "depth": 3})
    rec = run_probe("information-plane", str(folder), mnist_small, out=tmp_path / "out")
    direct = information_plane(model.eval(), mnist_small)
    assert rec["metrics"] == pytest.approx(direct)
    assert (tmp_path / "out").is_dir() and rec["metrics"]["I_XT@fc.0"] == pytest.approx(math.log2(400))


# ---------------------------------------------------------------- protocols
def test_tiny_full_protocol_runs_every_part(tmp_path):
    over = {"repeats": 1, "relu_repeats": 1, "epochs": 12, "n_info": 3, "kde_points": 0, "dpi_nets": 2,
            "size_fracs": (0.05, 0.45), "depth_widths": ((10,), (10, 7))}
    r = pz.reproduce("information-plane", "full", seed=0, out=tmp_path / "run", overrides=over, progress=False)
    m = r.metrics
    assert m["generator_positives"] == 2098 and m["identity_err"] < 1e-12 and m["dpi_violation_max"] <= 0.05
    assert math.isfinite(m["depth_speedup"]) and math.isfinite(m["small_data_I_TY_drop"])
    assert {"training_size", "depth", "layers_tanh", "layers_relu"} <= set(r.to_dict()["tables"])
    with pytest.raises(ValueError, match="split"):
        pz.reproduce("information-plane", "smoke", out=tmp_path / "bad", overrides={"split": "random"}, progress=False)


# ---------------------------------------------------------------- k-NN estimators vs plain loop references
def ksg_reference(a, b, k):
    """KSG estimator 1 written plainly (float64, loops), nats."""
    from scipy.special import digamma

    n = len(a)
    est = digamma(k) + digamma(n)
    acc = 0.0
    for i in range(n):
        da = np.abs(a - a[i]).max(1)
        db = np.abs(b - b[i]).max(1)
        dz = np.maximum(da, db)
        dz[i] = np.inf
        eps = np.sort(dz)[k - 1]
        na = sum(1 for j in range(n) if j != i and da[j] < eps)
        nb = sum(1 for j in range(n) if j != i and db[j] < eps)
        acc += digamma(na + 1) + digamma(nb + 1)
    return est - acc / n


def ross_reference(t, y, k):
    """Ross (2014) estimator written plainly (float64, loops), nats."""
    from scipy.special import digamma

    n = len(t)
    tot = 0.0
    for i in range(n):
        d = np.abs(t - t[i]).max(1)
        d[i] = np.inf
        r = np.sort(d[y == y[i]])[k - 1]
        m = int((d <= r).sum())
        tot += digamma(n) - digamma(int((y == y[i]).sum())) + digamma(k) - digamma(m)
    return tot / n


@pytest.mark.parametrize("k", [1, 3])
def test_knn_estimators_match_loop_references(k):
    g = torch.Generator().manual_seed(10 + k)
    a = torch.randn(150, 2, generator=g, dtype=torch.float64)
    b = a[:, :1] + 0.7 * torch.randn(150, 1, generator=g, dtype=torch.float64)
    assert ksg_mi(a, b, k=k) * LN2 == pytest.approx(ksg_reference(a.numpy(), b.numpy(), k), abs=1e-10)
    y = (a[:, 0] > 0).long() + (a[:, 1] > 1).long()
    assert knn_mi_discrete(b, y, k=k) * LN2 == pytest.approx(ross_reference(b.numpy(), y.numpy(), k), abs=1e-10)


def test_estimator_argument_errors():
    t = torch.randn(20, 2)
    y = torch.arange(20) % 2
    for bad in (True, 2.5, 0):
        with pytest.raises(ValueError, match="k must"):
            knn_mi_discrete(t, y, k=bad)
    with pytest.raises(ValueError, match="labels y"):
        knn_mi_discrete(t, None)
    with pytest.raises(ValueError, match="a contains NaN"):
        ksg_mi(t * float("nan"), t)
    with pytest.raises(ValueError, match="b needs at least 2"):
        ksg_mi(t, t[:1])
    with pytest.raises(ValueError, match="k must be in"):
        ksg_mi(t, t, k=20)
    with pytest.raises(ValueError, match="noise_var"):
        kde_mi(t, noise_var=-1.0)
    with pytest.raises(ValueError, match="bound must"):
        kde_mi(t, bound="tight")
    with pytest.raises(TypeError, match="T must be a tensor"):
        binned_mi([[0.0]], y)
    with pytest.raises(ValueError, match="at least 2 samples"):
        binned_mi(t[:1], y[:1])


def test_defaults_and_float_codes():
    g = torch.Generator().manual_seed(7)
    t = torch.tanh(2 * torch.randn(500, 3, generator=g, dtype=torch.float64))
    y = (t[:, 0] > 0).long()
    assert binned_mi(t, y) == pytest.approx(numpy_binned(t.numpy(), y.numpy()), abs=1e-12)    # 30 bins on [-1, 1]
    assert binned_mi(t, y) != binned_mi(t, y, lo=None, hi=None)
    codes = bin_codes(t)
    assert discrete_mi(codes.double(), y) == pytest.approx(discrete_mi(codes, y), abs=1e-12)
    assert discrete_mi(codes[:, :1] + 100, y) == pytest.approx(discrete_mi(codes[:, :1], y), abs=1e-12)


def test_row_keys_with_negative_codes_match_unique_rows():
    g = torch.Generator().manual_seed(8)
    codes = torch.randint(-1, 30, (3000, 3), generator=g)
    codes[:1000] = codes[1000:2000]
    y = torch.arange(3000) % 3
    _, inv = torch.unique(codes, dim=0, return_inverse=True)
    ref = discrete_mi(inv, y)
    assert discrete_mi(codes, y) == pytest.approx(ref, abs=1e-12)
    assert discrete_mi(codes.double(), y) == pytest.approx(ref, abs=1e-12)
