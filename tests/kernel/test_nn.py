"""Shared blocks: the MLP's init, and feature hooks equal to a manual forward pass."""
import pytest
import torch
from torch import nn

from paperzoo.nn import MLP, collect_features


def test_mlp_structure_and_init():
    m = MLP([10, 50, 50, 3], init_std=0.1)
    lin = m.linears
    assert [l.weight.shape for l in lin] == [(50, 10), (50, 50), (3, 50)]
    w = torch.cat([l.weight.flatten() for l in lin])
    assert abs(w.std().item() - 0.1) < 0.01 and all((l.bias == 0).all() for l in lin)
    with pytest.raises(ValueError, match="dims"):
        MLP([10])


def test_collect_features_matches_manual_forward():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 7), nn.ReLU(), nn.Linear(7, 3))
    x = torch.randn(25, 3, 4)
    feats = collect_features(model, x, ["3", model[1]], batch_size=10)
    h = torch.relu(model[1](x.flatten(1)))
    torch.testing.assert_close(feats["3"], h)
    torch.testing.assert_close(feats["1"], x.flatten(1))
    out = collect_features(model, [(x[:5], None), (x[5:], None)], ["3"], which="output")["3"]
    torch.testing.assert_close(out, model(x))
    with pytest.raises(KeyError, match="no submodule 'fc'"):
        collect_features(model, x, ["fc"])


# ---------------------------------------------------------------- ridge
@pytest.mark.parametrize("n,m", [(30, 10), (10, 30)])
def test_ridge_loo_is_brute_force_leave_one_out_and_sklearn_ridge(n, m):
    from sklearn.linear_model import Ridge

    from paperzoo.nn import ridge_loo, ridge_solve

    g = torch.Generator().manual_seed(0)
    phi, y = torch.randn(n, m, generator=g, dtype=torch.float64), torch.randn(n, 2, generator=g, dtype=torch.float64)
    lams = (1e-3, 1e-1, 1.0)
    fit = ridge_loo(phi, y, lams)
    for li, lam in enumerate(lams):  # refit without row i, same penalty n * lam
        errs = []
        for i in range(n):
            keep = torch.arange(n) != i
            a = torch.linalg.solve(phi[keep].T @ phi[keep] + n * lam * torch.eye(m, dtype=torch.float64),
                                   phi[keep].T @ y[keep])
            errs.append((phi[i] @ a - y[i]) ** 2)
        assert (torch.stack(errs).mean(0) - fit.loo[li]).abs().max() < 1e-10
    assert torch.equal(fit.lam, torch.tensor(lams, dtype=torch.float64)[fit.loo.argmin(0)])
    for t in range(2):
        torch.testing.assert_close(fit.coef[:, t], ridge_solve(phi, y[:, t], float(fit.lam[t])), rtol=1e-9, atol=1e-11)
    sk = Ridge(alpha=n * 0.1, fit_intercept=False).fit(phi.numpy(), y.numpy()).coef_.T
    assert abs(ridge_solve(phi, y, 0.1).numpy() - sk).max() < 1e-10


def test_ridge_rejects_bad_input():
    from paperzoo.nn import ridge_loo, ridge_solve

    with pytest.raises(ValueError, match="lam"):
        ridge_solve(torch.ones(3, 2), torch.ones(3), 0.0)
    with pytest.raises(ValueError, match="y must be"):
        ridge_loo(torch.ones(3, 2), torch.ones(4))
    with pytest.raises(ValueError, match="phi"):
        ridge_loo(torch.ones(3), torch.ones(3))
