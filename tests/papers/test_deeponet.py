"""DeepONet: the network equation against a float64 layer-by-layer reference (linear last branch layer, activated
trunk, scalar bias), stacked = p independent branch nets, the official parameter count, the branch-scaling
invariant, the best-training-loss checkpoint, the metrics, and a learning effect with a margin."""
from __future__ import annotations

import pytest
import torch

from paperzoo.data.pde import OperatorData, antiderivative_data
from paperzoo.nn import count_params
from paperzoo.papers.deeponet import (
    DeepONet,
    FNNOperator,
    mse,
    mse_without_outliers,
    power_law_slope,
    scaling_invariant_error,
    subsample_sensors,
    train,
)

D = torch.float64


def _ref(model: DeepONet, u, y):
    def dense(layer, x, k, last_act):
        ws, bs = layer.weights, layer.biases
        for i, (w, b) in enumerate(zip(ws, bs)):
            x = x @ w[k] + b[k, 0]
            if i < len(ws) - 1 or last_act:
                x = torch.relu(x)
        return x

    t = dense(model.trunk, y, 0, True)
    b = torch.cat([dense(model.branch, u, k, False) for k in range(model.p)], 1) if model.stacked else \
        dense(model.branch, u, 0, False)
    return b @ t.T + model.b0


@pytest.mark.parametrize("stacked", [False, True])
def test_network_equation_against_layer_by_layer_reference(stacked):
    torch.manual_seed(0)
    model = DeepONet(12, dim=2, width=7, depth=3, stacked=stacked).double()
    with torch.no_grad():
        model.b0.fill_(0.25)
        for b in list(model.branch.biases) + list(model.trunk.biases):
            b.normal_()
    u, y = torch.randn(5, 12, dtype=D), torch.rand(4, 2, dtype=D)
    torch.testing.assert_close(model(u, y), _ref(model, u, y), rtol=1e-12, atol=1e-12)
    yy = torch.rand(5, 2, dtype=D)
    torch.testing.assert_close(model.pointwise(u, yy), torch.diagonal(model(u, yy)), rtol=1e-12, atol=1e-12)


def test_official_parameter_count_and_init():
    model = DeepONet(100)
    assert count_params(model) == 7401  # card: 5 680 + 1 720 + 1
    assert model.b0.item() == 0.0 and all(b.abs().max().item() == 0 for b in model.branch.biases)
    stacked = DeepONet(100, stacked=True)
    assert count_params(stacked) == 40 * (100 * 40 + 40 + 40 + 1) + 1720 + 1
    w = DeepONet(400, width=300).branch.weights[0]
    assert abs(w.detach().std().item() - (2 / 700) ** 0.5) < 0.002  # Glorot normal
    assert count_params(FNNOperator(100)) == 101 * 100 + 100 + 100 * 100 + 100 + 101


def test_branch_scaling_invariant_holds_and_detects_an_activated_last_layer():
    torch.manual_seed(1)
    model = DeepONet(10).double()
    with torch.no_grad():
        model.b0.fill_(0.7)
    u, y = torch.randn(6, 10, dtype=D), torch.rand(5, 1, dtype=D)
    assert scaling_invariant_error(model, u, y) < 1e-12
    assert torch.equal(model(u, y), model(u, y))  # weights restored
    model.branch.last_act = True  # a ReLU on the last branch layer breaks homogeneity only for c < 0
    assert scaling_invariant_error(model, u, y, c=-2.0) > 1e-3


def test_training_learns_the_antiderivative_and_keeps_the_best_training_state():
    tr, te = antiderivative_data(400, m=20, seed=0), antiderivative_data(300, m=20, seed=1)
    torch.manual_seed(0)
    model = DeepONet(20)
    res = train(model, tr, steps=600, lr=2e-3, eval_every=100)
    assert res.best_train_mse == pytest.approx(mse(model, tr), rel=1e-6)
    assert res.best_train_mse == min(v for _, v in res.history)
    zero = float((te.s ** 2).mean())
    assert mse(model, te) < zero / 20
    ignore_y = DeepONet(20)
    with torch.no_grad():
        for w in ignore_y.trunk.weights:
            w.zero_()  # a trunk that ignores y: constant basis, cannot follow G(u)(y) in y
    train(ignore_y, tr, steps=600, lr=2e-3, eval_every=100)
    assert mse(ignore_y, te) > 3 * mse(model, te)


def test_metrics_and_helpers():
    e2 = torch.cat([torch.ones(999), torch.tensor([1000.0])])
    assert mse_without_outliers(e2) == 1.0 and mse_without_outliers(e2, frac=0.0) == pytest.approx(1.999)
    assert power_law_slope([1, 10, 100], [1, 1e-2, 1e-4]) == pytest.approx(-2.0)
    d = OperatorData(torch.arange(200.0).view(2, 100), torch.zeros(2, 1, 1), torch.zeros(2, 1))
    sub = subsample_sensors(d, 5)
    assert sub.u[0].tolist() == [0.0, 25.0, 50.0, 74.0, 99.0]  # equispaced, both ends kept


def test_bad_shapes_are_clear_errors():
    model = DeepONet(10)
    with pytest.raises(ValueError, match=r"u must be \(B, 10\)"):
        model(torch.randn(3, 9), torch.rand(4, 1))
    with pytest.raises(ValueError, match="one query point per function"):
        model.pointwise(torch.randn(3, 10), torch.rand(4, 1))
    with pytest.raises(ValueError, match="activation"):
        DeepONet(10, activation="swish")
    with pytest.raises(ValueError, match="steps"):
        train(model, antiderivative_data(3, m=10), steps=0)


def test_deepxde_state_loads_into_our_deeponet_exactly():
    """bench.py starts ours from DeepXDE's weights: a DeepONetCartesianProd state (Linear layout) must give the same
    function (branch linear last layer, trunk activated last layer, scalar bias), checked against a hand forward."""
    from paperzoo.papers.deeponet.bench import load_deepxde_init

    g = torch.Generator().manual_seed(0)
    shapes = {"branch.linears.0": (40, 100), "branch.linears.1": (40, 40), "trunk.linears.0": (40, 1),
              "trunk.linears.1": (40, 40)}
    st = {}
    for k, (o, i) in shapes.items():
        st[f"{k}.weight"] = torch.randn(o, i, generator=g, dtype=torch.float64) / i ** 0.5
        st[f"{k}.bias"] = torch.randn(o, generator=g, dtype=torch.float64) * 0.1
    st["b.0"] = torch.tensor(0.3, dtype=torch.float64)
    model = load_deepxde_init(DeepONet(100).double(), st)
    u, y = torch.randn(5, 100, generator=g, dtype=torch.float64), torch.rand(7, 1, generator=g, dtype=torch.float64)
    lin = lambda k, x: x @ st[f"{k}.weight"].T + st[f"{k}.bias"]  # noqa: E731
    br = lin("branch.linears.1", torch.relu(lin("branch.linears.0", u)))
    tr = torch.relu(lin("trunk.linears.1", torch.relu(lin("trunk.linears.0", y))))
    assert torch.allclose(model(u, y), br @ tr.T + 0.3, atol=1e-12)
