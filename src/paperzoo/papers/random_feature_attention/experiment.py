"""The card's checks and its sample-complexity sweep (test MSE vs n for RFA, biased RFA and RF-MLP).

Every fit is ridge regression on the frozen features, the penalty picked per (model, n, target) by exact
leave-one-out error (``paperzoo.nn.ridge_loo``; the card asks for a validation split, README deviation 2).
Features are computed once per (model, N, seed) on the largest training set and the test set; smaller n
use the first n rows (nested training sets), and all targets are fitted from one eigendecomposition.
"""
from __future__ import annotations

from typing import Callable

import torch

from paperzoo.nn import RELATIVE_LAMS, ridge_loo
from paperzoo.papers.random_feature_attention.data import RFAData, rfa_data
from paperzoo.papers.random_feature_attention.models import RandomFeatureAttention, RandomFeatureMLP

KINDS = ("rfa", "rfa_biased", "rf_mlp")


def make_model(kind: str, d: int, num_keys: int, num_heads: int, *, kappa: float = 1.0, activation: str = "relu",
               seed: int = 0) -> RandomFeatureAttention | RandomFeatureMLP:
    """One of ``KINDS`` at matched trainable count ``M (d + 1)``, float64."""
    if kind == "rfa":
        m = RandomFeatureAttention(d, num_heads, activation=activation, qk_mean=0.0, seed=seed)
    elif kind == "rfa_biased":
        m = RandomFeatureAttention(d, num_heads, activation=activation, qk_mean=kappa, seed=seed)
    elif kind == "rf_mlp":
        m = RandomFeatureMLP((num_keys + 1) * (d + 1), num_heads * (d + 1), activation=activation, seed=seed)
    else:
        raise ValueError(f"unknown model kind {kind!r}; kinds: {', '.join(KINDS)}")
    return m.double()


def heldout_mse(model, data: RFAData, ns: tuple[int, ...], lams: tuple[float, ...] = RELATIVE_LAMS
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Test MSE (len(ns), targets) and the chosen penalties, fitting on the first n training rows."""
    if not ns or max(ns) > len(data.y_train):
        raise ValueError(f"heldout_mse: ns must be non-empty and <= {len(data.y_train)}, got {ns}")
    with torch.no_grad():
        phi_tr = model.features(data.x0_train, data.X_train).double()
        phi_te = model.features(data.x0_test, data.X_test).double()
    mse, lam = [], []
    for n in ns:
        fit = ridge_loo(phi_tr[:n], data.y_train[:n].double(), lams, relative=True)
        mse.append(((phi_te @ fit.coef - data.y_test.double()) ** 2).mean(0))
        lam.append(fit.lam)
    return torch.stack(mse), torch.stack(lam)


def sample_complexity_curve(model_factory: Callable[[int], torch.nn.Module], target: str, ns: tuple[int, ...], *,
                            reps: int = 3, num_keys: int = 8, d: int = 16, n_test: int = 2000, noise: float = 0.1,
                            seed: int = 0) -> torch.Tensor:
    """Card API: mean test MSE per n over ``reps`` draws of data and features (``model_factory(seed)``)."""
    out = []
    for r in range(reps):
        data = rfa_data(max(ns), num_keys, d, target, n_test=n_test, noise=noise, seed=seed + r)
        out.append(heldout_mse(model_factory(seed + r), data, ns)[0][:, 0])
    return torch.stack(out).mean(0)


def key_shuffle_change(model, x0: torch.Tensor, X: torch.Tensor, seed: int = 0) -> float:
    """max |f(x0, X) - f(x0, X[:, pi])| over the batch for a random key permutation pi."""
    pi = torch.randperm(X.shape[1], generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return float((model(x0, X) - model(x0, X[:, pi])).abs().max())


def r2(pred: torch.Tensor, y: torch.Tensor) -> float:
    """1 - MSE / Var(y) on the given set."""
    return float(1 - ((pred - y) ** 2).mean() / y.var(unbiased=False))


def learnability(d: int, num_keys: int, num_heads: int, n: int, *, kappa: float = 1.0, target: str = "corr_poly_1",
                 n_test: int = 2000, noise: float = 0.1, seed: int = 0) -> tuple[float, float]:
    """Card smoke (b): test R^2 of biased RFA fitted by ridge, and of the same fit to shuffled training labels."""
    data = rfa_data(n, num_keys, d, target, n_test=n_test, noise=noise, seed=seed)
    model = make_model("rfa_biased", d, num_keys, num_heads, kappa=kappa, seed=seed)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))
    data.y_train = torch.cat([data.y_train, data.y_train[perm]], 1)  # column 2: shuffled-label control
    data.y_test = data.y_test.repeat(1, 2)
    mse = heldout_mse(model, data, (n,))[0][0]
    var = data.y_test[:, 0].var(unbiased=False)
    return float(1 - mse[0] / var), float(1 - mse[1] / var)


def sweep(d: int, num_keys: int, num_heads: int, ns: tuple[int, ...], targets: tuple[str, ...], *, kappa: float,
          n_test: int, noise: float, seed: int, lams: tuple[float, ...] = RELATIVE_LAMS) -> dict[str, list]:
    """Test MSE (len(ns), targets) per model kind, one data draw shared by the three models (one seed)."""
    data = rfa_data(max(ns), num_keys, d, targets, n_test=n_test, noise=noise, seed=seed)
    out = {}
    for kind in KINDS:
        mse, lam = heldout_mse(make_model(kind, d, num_keys, num_heads, kappa=kappa, seed=seed), data, ns, lams)
        out[kind] = mse.tolist()
        out[f"{kind}_lam"] = lam.tolist()
    return out
