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
