"""Random-feature attention: features against a per-head, per-key float64 reference, frozen draws and their
moments, key-permutation invariance, ridge parity with scikit-learn, the targets, the summary metrics and
learning effects with margins (biased RFA on a correlation target, RFA vs RF-MLP on a key target)."""
from __future__ import annotations

import math

import pytest
import torch

from paperzoo.nn import count_params
from paperzoo.papers import random_feature_attention as rfa_pkg
from paperzoo.papers.random_feature_attention.data import raw_target, rfa_data, sphere_tokens, target
from paperzoo.papers.random_feature_attention.experiment import heldout_mse, key_shuffle_change, make_model
from paperzoo.papers.random_feature_attention.models import RandomFeatureAttention, RandomFeatureMLP
from paperzoo.papers.random_feature_attention.reproduce import Config, summarise

D = torch.float64


def _tokens(n=6, N=5, d=4, seed=0):
    return sphere_tokens(n, N, d, torch.Generator().manual_seed(seed))


def _reference_features(model: RandomFeatureAttention, x0, X):
    n, N, d = X.shape
    out = torch.zeros(n, model.num_heads, d + 1, dtype=D)
    for b in range(n):
        q = torch.cat([x0[b], torch.ones(1, dtype=D)])
        keys = [torch.cat([X[b, i], torch.ones(1, dtype=D)]) for i in range(N)]
        for m in range(model.num_heads):
            s = torch.stack([q @ model.qk[m] @ k for k in keys])
            if model.activation == "softmax":
                a = torch.softmax(s, 0)
            else:
                a = (torch.relu(s) if model.activation == "relu" else torch.exp(s)) / N
            out[b, m] = sum(a[i] * keys[i] for i in range(N))
    return out.flatten(1)


@pytest.mark.parametrize("activation", ["relu", "exp", "softmax"])
def test_rfa_features_match_the_per_head_per_key_sum(activation):
    model = RandomFeatureAttention(4, 3, activation=activation, qk_mean=0.7, seed=1).double()
    x0, X = _tokens()
    torch.testing.assert_close(model.features(x0, X), _reference_features(model, x0, X), rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        model.weight.normal_()
    torch.testing.assert_close(model(x0, X), model.features(x0, X) @ model.weight.reshape(-1))


def test_query_key_draws_are_frozen_with_the_card_moments():
    d, M = 10, 4000
    model = RandomFeatureAttention(d, M, qk_mean=2.0, seed=3)
    assert [n for n, _ in model.named_parameters()] == ["weight"] and count_params(model) == M * (d + 1)
    w = model.qk.double()
    mean, std = w.mean(0), w.std(0)
    assert (mean[:d, :d] - 2.0 / math.sqrt(d) * torch.eye(d, dtype=D)).abs().max() < 4 / d / math.sqrt(M) * 1.5
    assert mean[d].abs().max() < 4 / math.sqrt(d * M) and mean[:, d].abs().max() < 4 / math.sqrt(d * M)
    assert (std[:d, :d] / (1 / d) - 1).abs().max() < 0.1 and (std[d] * math.sqrt(d) - 1).abs().max() < 0.1
    x0, X = sphere_tokens(200, 1, d, torch.Generator().manual_seed(0))
    s = RandomFeatureAttention(d, 2000, seed=0).double().scores(x0, X)  # zero-mean: var 1 + 1 + 1 + 1/d
    assert abs(float(s.var()) - (3 + 1 / d)) < 0.15
    assert torch.equal(RandomFeatureAttention(d, 5, seed=7).qk, RandomFeatureAttention(d, 5, seed=7).qk)


def test_rf_mlp_features_flatten_the_augmented_sequence():
    x0, X = _tokens(n=3, N=2, d=3)
    model = RandomFeatureMLP(3 * 4, 7, seed=0).double()
    z = torch.cat([x0, torch.ones(3, 1, dtype=D), X[:, 0], torch.ones(3, 1, dtype=D), X[:, 1],
                   torch.ones(3, 1, dtype=D)], 1)
    torch.testing.assert_close(model.features(x0, X), torch.relu(z @ model.w.T))
    assert abs(float(model.w.double().var()) * 12 - 1) < 0.6 and count_params(model) == 7


def test_keys_permute_freely_in_rfa_but_not_in_the_mlp():
    data = rfa_data(40, 6, 5, seed=0)
    nets = {k: make_model(k, 5, 6, 8, seed=0) for k in ("rfa", "rfa_biased", "rf_mlp")}
    for net in nets.values():
        with torch.no_grad():
            net.weight.normal_(generator=torch.Generator().manual_seed(0))
    assert key_shuffle_change(nets["rfa"], data.x0_train, data.X_train) < 1e-12
    assert key_shuffle_change(nets["rfa_biased"], data.x0_train, data.X_train) < 1e-12
    assert key_shuffle_change(nets["rf_mlp"], data.x0_train, data.X_train) > 1e-2


def test_fit_ridge_is_sklearn_ridge():
    from sklearn.linear_model import Ridge

    data = rfa_data(80, 3, 4, "corr_poly_2", seed=1)
    model = make_model("rfa_biased", 4, 3, 6, kappa=1.0)
    y = data.y_train[:, 0]
    model.fit_ridge(data.x0_train, data.X_train, y, lam=1e-2)
    phi = model.features(data.x0_train, data.X_train).detach().numpy()
    sk = Ridge(alpha=80 * 1e-2, fit_intercept=False).fit(phi, y.numpy())
    pred = model(data.x0_test, data.X_test).detach().numpy()
    assert abs(pred - sk.predict(model.features(data.x0_test, data.X_test).detach().numpy())).max() < 1e-6


def test_targets_are_the_card_formulas_and_standardised():
    x0, X = _tokens(n=4, N=3, d=6, seed=2)
    z = torch.einsum("nd,nkd->nk", x0, X) / math.sqrt(6)
    torch.testing.assert_close(raw_target("corr_poly_3", x0, X), (z ** 3 - 3 * z).mean(1))
    torch.testing.assert_close(raw_target("corr_poly_4", x0, X), (z ** 4 - 6 * z ** 2 + 3).mean(1))
    torch.testing.assert_close(raw_target("corr_cos", x0, X), torch.cos(2 * z).mean(1))
    b = X @ rfa_pkg.data.beta(6)
    torch.testing.assert_close(raw_target("value_weighted", x0, X), (z * b).mean(1))
    assert (x0.norm(dim=1) - math.sqrt(6)).abs().max() < 1e-12 and (X.norm(dim=2) - math.sqrt(6)).abs().max() < 1e-12
    x0, X = sphere_tokens(20000, 4, 8, torch.Generator().manual_seed(9))  # fresh draw, not the reference one
    for name in ("corr_poly_2", "key_only"):
        y = target(name, x0, X)
        assert abs(float(y.mean())) < 0.05 and abs(float(y.var()) - 1) < 0.05
    clean, noisy = rfa_data(3000, 2, 4, seed=0, noise=0.0), rfa_data(3000, 2, 4, seed=0, noise=0.5)
    assert torch.equal(clean.y_test, noisy.y_test)  # noise on training labels only
    assert abs(float((noisy.y_train - clean.y_train).std()) - 0.5) < 0.03


def test_learning_effects_with_margins():
    data = rfa_data(1500, 4, 8, ("corr_poly_2", "key_only"), n_test=500, seed=0)
    mse = {k: heldout_mse(make_model(k, 8, 4, 64, kappa=2.0), data, (1500,))[0][0] for k in ("rfa", "rfa_biased", "rf_mlp")}
    assert mse["rfa_biased"][0] < 0.8 * mse["rfa"][0]  # biased draws learn the correlation target
    assert mse["rfa"][1] < 0.5 * mse["rf_mlp"][1]  # attention beats the flattened MLP on a key target


def test_summary_metrics_from_known_curves():
    cfg = Config("t", num_keys=(4, 32), kappas=(1.0,), ns=(500, 1000, 2000), targets=("corr_poly_2", "corr_poly_3"))
    base = torch.tensor([[[0.8, 0.9], [0.5, 0.8], [0.2, 0.6]], [[0.8, 0.9], [0.5, 0.8], [0.2, 0.6]]], dtype=D)
    mse = {"rfa": base[None], "rfa_k1": 0.5 * base[None], "rf_mlp": torch.stack([base[0], 2 * base[1]])[None]}
    mse["rf_mlp"][0, 1, 2, 1] = 0.9  # N = 32, largest n, corr_poly_3: 1.2 -> 0.9
    mse["rfa"] = mse["rfa"].clone()
    mse["rfa"][0, 0, 2, 0] = 0.55  # 0.5 -> 0.55: a 10 % rise with n
    m = summarise(mse, cfg)
    assert m["monotone_violation"] == pytest.approx(0.1)
    assert m["biased_gain_k1"] == pytest.approx(0.5)  # (0.55 - 0.1) / 0.55 elsewhere is larger
    assert m["rfa_N_change"] == pytest.approx((abs(0.2 - 0.55) / 0.55 + 0) / 2)
    assert m["mlp_N_rise"] == pytest.approx(((0.4 - 0.2) / 0.2 + (0.9 - 0.6) / 0.6) / 2)
    assert m["mlp_minus_rfa_Nmax"] == pytest.approx(((0.4 - 0.2) + (0.9 - 0.6)) / 2)
    assert m["n_to_0.3_corr_poly_2"] == 1000 and m["n_to_0.3_corr_poly_3"] == 2000  # best model: rfa_k1
    assert m["p3_needs_more_n"] == 1.0


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="activation"):
        RandomFeatureAttention(4, 2, activation="tanh")
    with pytest.raises(ValueError, match="expected x0"):
        RandomFeatureAttention(4, 2)(torch.randn(3, 5), torch.randn(3, 2, 4))
    with pytest.raises(ValueError, match="expected z"):
        RandomFeatureMLP(10, 3)(torch.randn(2, 9))
    with pytest.raises(ValueError, match="did you mean"):
        rfa_data(10, 2, 3, "corr_poly2")
    with pytest.raises(ValueError, match="kinds"):
        make_model("mlp", 4, 2, 3)
    with pytest.raises(ValueError, match="n >= 2"):
        rfa_data(1, 2, 3)
