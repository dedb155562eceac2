"""`paperzoo probe`: any registered probe on a registered model or a saved checkpoint; clear errors."""
import json

import pytest
import torch
from torch import nn

from paperzoo.model_io import load_model, save_model
from paperzoo.nn import as_xy, collect_features, last_linear
from paperzoo.probe import run_probe
from paperzoo.registry import _REG, register_model, register_probe


def _net(in_dim=784, num_classes=10, *, width=8):
    return nn.Sequential(nn.Flatten(), nn.Linear(in_dim, width), nn.ReLU(), nn.Linear(width, num_classes))


def _feature_norm(model, data, *, layers=None):
    x, _ = as_xy(data)
    layers = layers or [last_linear(model)]
    return {f"norm/{k}": float(v.norm(dim=1).mean()) for k, v in collect_features(model, x, layers).items()}


def _distance(model, data, *, other, layers=None):
    return {"weight_dist": float(sum((a - b).square().sum() for a, b in zip(model.parameters(), other.parameters())))}


@pytest.fixture
def registered():
    register_model("_probe_net", task="mnist", paper="p")(_net)
    register_model("_probe_net_wide", task="mnist", paper="p")(lambda in_dim=784, num_classes=10, *, width=16:
                                                                _net(in_dim, num_classes, width=width))
    register_probe("_norm", paper="p")(_feature_norm)
    register_probe("_dist", paper="p", pair=True)(_distance)
    yield
    for k in ("_probe_net", "_probe_net_wide"):
        _REG.models.pop(k, None)
    for k in ("_norm", "_dist"):
        _REG.probes.pop(k, None)


def test_probe_on_fresh_model_and_checkpoint(registered, tmp_path):
    x, y = torch.rand(32, 1, 28, 28), torch.arange(32) % 10
    torch.manual_seed(0)
    m = _net(width=8)
    save_model(tmp_path / "a", m, name="_probe_net", kwargs={"width": 8}, input_norm=(0.5, 2.0))
    rec = run_probe("_norm", str(tmp_path / "a"), (x, y), out=tmp_path / "out")
    ref = m[1](x.flatten(1)).relu().norm(dim=1).mean()
    assert rec["metrics"] == {"norm/3": pytest.approx(float(ref), rel=1e-6)}
    assert json.loads((tmp_path / "out" / "_norm-a.json").read_text())["metrics"] == rec["metrics"]
    loaded, meta = load_model(tmp_path / "a")
    assert meta["input_norm"] == [0.5, 2.0] and torch.equal(loaded[1].weight, m[1].weight)
    assert run_probe("_norm", "_probe_net", (x, y), layers=["1"])["metrics"].keys() == {"norm/1"}


def test_probe_errors_are_clear(registered, tmp_path):
    x = torch.rand(8, 1, 28, 28)
    save_model(tmp_path / "a", _net(width=8), name="_probe_net", kwargs={"width": 8})
    save_model(tmp_path / "b", _net(width=16), name="_probe_net_wide", kwargs={"width": 16})
    with pytest.raises(ValueError, match="not the same architecture"):
        run_probe("_dist", str(tmp_path / "a"), x, other=str(tmp_path / "b"))
    with pytest.raises(ValueError, match="--other"):
        run_probe("_dist", str(tmp_path / "a"), x)
    assert run_probe("_dist", str(tmp_path / "a"), x, other=str(tmp_path / "a"))["metrics"]["weight_dist"] == 0.0
    with pytest.raises(KeyError, match="no submodule 'fc9'"):
        run_probe("_norm", str(tmp_path / "a"), x, layers=["fc9"])
    with pytest.raises(KeyError, match="did you mean '_probe_net'"):
        run_probe("_norm", "_probe_nett", x)
    (tmp_path / "a" / "model.json").write_text(json.dumps({"model": "_probe_net", "kwargs": {"width": 9}}))
    with pytest.raises(ValueError, match="do not fit"):
        load_model(tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="model.json"):
        load_model(tmp_path)
