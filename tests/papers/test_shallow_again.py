"""Make Deep Networks Shallow Again: float64 parity of both layouts (conv and dense) with references written
here, the parallel sum vs the sequential composition, the second-order Taylor gap, equal and closed-form
parameter counts, the determination ratio and its bins, the layout comparisons, and a learning effect."""
import math

import pytest
import torch
import torch.nn.functional as F

import paperzoo as pz
from paperzoo.data import TensorSet
from paperzoo.nn import count_params
from paperzoo.papers.shallow_again import (
    ConvClassifier,
    MLPClassifier,
    ResidualConvStack,
    ResidualDenseStack,
    bin_gaps,
    binned_table,
    compare_layouts,
    conv_params,
    determination_ratio,
    mlp_params,
    q_bin,
    set_mode,
    single_layer_error,
    stack_params,
    taylor_gap,
    taylor_order_ratio,
    truncation_gap,
    twin,
)
from paperzoo.papers.shallow_again.analysis import bin_labels, linear_gap, pair_runs
from paperzoo.papers.shallow_again.reproduce import evaluate, exact_checks
from paperzoo.train import fit

ACT = {"relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda t: t}


def _rand(module, seed=0, scale=0.3):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)
    return module


def ref_conv_stack(h, w, b, act, mode):
    """Reference written from the card's equations: deep h_i = h_{i-1} + F_i(h_{i-1}); shallow h_0 + sum F_i(h_0)."""
    f = ACT[act]
    pad = w.shape[-1] // 2
    if mode == "sequential":
        for i in range(w.shape[0]):
            h = h + f(F.conv2d(h, w[i], b[i], padding=pad))
        return h
    out = h.clone()
    for i in range(w.shape[0]):
        out = out + f(F.conv2d(h, w[i], b[i], padding=pad))
    return out


def ref_dense_stack(h, w, b, act, mode):
    f = ACT[act]
    if mode == "sequential":
        for i in range(w.shape[0]):
            h = h + f(h @ w[i].T + b[i])
        return h
    return h + sum(f(h @ w[i].T + b[i]) for i in range(w.shape[0]))


# ---------------------------------------------------------------- layouts: float64 parity
@pytest.mark.parametrize("mode", ["sequential", "parallel"])
@pytest.mark.parametrize("act,k,L", [("relu", 3, 3), ("tanh", 5, 2), ("sigmoid", 3, 4)])
def test_conv_stack_matches_reference(mode, act, k, L):
    stack = _rand(ResidualConvStack(5, L, k, act=act, mode=mode).double(), seed=L)
    h = torch.randn(3, 5, 9, 7, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ref = ref_conv_stack(h, stack.weight, stack.bias, act, mode)
    assert torch.allclose(stack(h), ref, atol=1e-12, rtol=0)
    other = ref_conv_stack(h, stack.weight, stack.bias, act, "parallel" if mode == "sequential" else "sequential")
    assert (stack(h) - other).abs().max() > 1e-3  # the two layouts really differ at L >= 2


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
@pytest.mark.parametrize("act", ["relu", "tanh", "identity"])
def test_dense_stack_matches_reference(mode, act):
    stack = _rand(ResidualDenseStack(6, 3, act=act, mode=mode).double(), seed=2, scale=0.5)
    h = torch.randn(4, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert torch.allclose(stack(h), ref_dense_stack(h, stack.weight, stack.bias, act, mode), atol=1e-12, rtol=0)


def test_branches_are_the_individual_layers_and_parallel_is_their_sum():
    stack = _rand(ResidualConvStack(4, 3, 3).double())
    h = torch.randn(2, 4, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    br = stack.branches(h)
    assert br.shape == (2, 3, 4, 6, 6)
    for i in range(3):
        ref = F.relu(F.conv2d(h, stack.weight[i], stack.bias[i], padding=1))
        assert torch.allclose(br[:, i], ref, atol=1e-12) and torch.allclose(stack.branch(h, i), ref, atol=1e-12)
    assert torch.allclose(stack.parallel(h), h + br.sum(1), atol=1e-12)


def test_no_bias_stack_and_linear_second_order_expansion():
    stack = _rand(ResidualDenseStack(5, 2, act="identity", bias=False).double(), scale=0.2)
    assert stack.bias is None and count_params(stack) == stack_params(5, 2, bias=False) == 50
    h = torch.randn(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a0, a1 = stack.weight[0].T, stack.weight[1].T
    # (I + A_1)(I + A_0) = I + A_0 + A_1 + A_1 A_0: the layouts differ exactly by the cross term
    assert torch.allclose(stack.sequential(h) - stack.parallel(h), h @ a0 @ a1, atol=1e-12)


def test_init_is_pytorch_default_per_layer():
    torch.manual_seed(0)
    stack = ResidualConvStack(16, 4, 3)
    bound = 1 / math.sqrt(16 * 9)
    for p in (stack.weight, stack.bias):
        assert p.abs().max() <= bound and p.max() > 0.8 * bound and p.min() < -0.8 * bound
    assert abs(stack.bias.mean().item()) < 0.3 * bound
    assert abs(stack.weight.std().item() - bound / math.sqrt(3)) < 0.05 * bound
    assert abs(stack.weight.mean().item()) < 0.05 * bound


def test_twin_and_set_mode_share_weights():
    torch.manual_seed(0)
    model = ConvClassifier(1, 10, 4, 3, 3, mode="sequential")
    par = twin(model, "parallel")
    assert model.mode == "sequential" and par.mode == "parallel" and par is not model
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), par.state_dict().values()))
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(par(x), set_mode(model, "parallel")(x)) and model.mode == "parallel"
    assert torch.equal(twin(par, "sequential")(x), set_mode(model, "sequential")(x))
    with pytest.raises(ValueError, match="mode"):
        twin(model, "deep")


# ---------------------------------------------------------------- classifiers
def test_conv_classifier_matches_reference_float64():
    model = _rand(ConvClassifier(2, 3, 4, 2, 3, mode="parallel", head_grid=4, act="tanh").double(), seed=4)
    x = torch.rand(2, 2, 8, 8, dtype=torch.float64)
    h0 = torch.tanh(F.conv2d(x, model.stem.weight, model.stem.bias, padding=1))
    h = ref_conv_stack(h0, model.stack.weight, model.stack.bias, "tanh", "parallel")
    ref = F.max_pool2d(h, 2).flatten(1) @ model.head.weight.T + model.head.bias
    assert torch.allclose(model(x), ref, atol=1e-12)
    assert torch.allclose(model.features(x), h0, atol=1e-12)


def test_head_grid_equal_to_the_image_side_is_no_pooling():
    model = _rand(ConvClassifier(1, 10, 3, 2, 3, head_grid=6).double())
    x = torch.rand(2, 1, 6, 6, dtype=torch.float64)
    h = ref_conv_stack(F.relu(F.conv2d(x, model.stem.weight, model.stem.bias, padding=1)), model.stack.weight,
                       model.stack.bias, "relu", "sequential")
    assert torch.allclose(model(x), h.flatten(1) @ model.head.weight.T + model.head.bias, atol=1e-12)


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_mlp_classifier_matches_reference_float64(act):
    model = _rand(MLPClassifier(12, 4, 6, 3, mode="sequential", act=act).double(), seed=5)
    x = torch.rand(3, 3, 2, 2, dtype=torch.float64)
    h0 = ACT[act](x.flatten(1) @ model.stem.weight.T + model.stem.bias)
    h = ref_dense_stack(h0, model.stack.weight, model.stack.bias, act, "sequential")
    assert torch.allclose(model(x), h @ model.head.weight.T + model.head.bias, atol=1e-12)


@pytest.mark.parametrize("c,n,C,L,k,g", [(1, 10, 16, 2, 3, 14), (3, 10, 8, 6, 5, 32), (1, 7, 5, 1, 1, 1)])
def test_conv_counts_equal_and_closed_form(c, n, C, L, k, g):
    seq = ConvClassifier(c, n, C, L, k, mode="sequential", head_grid=g)
    par = ConvClassifier(c, n, C, L, k, mode="parallel", head_grid=g)
    assert count_params(seq) == count_params(par) == conv_params(c, n, C, L, k, g)


@pytest.mark.parametrize("d,n,W,L", [(784, 10, 128, 3), (3072, 10, 17, 1), (5, 3, 4, 6)])
def test_mlp_counts_closed_form(d, n, W, L):
    assert count_params(MLPClassifier(d, n, W, L)) == count_params(MLPClassifier(d, n, W, L, mode="parallel")) \
        == mlp_params(d, n, W, L)


def test_class_defaults():
    assert count_params(ConvClassifier()) == conv_params(1, 10, 16, 2, 3, 14) and ConvClassifier().mode == "sequential"
    assert count_params(MLPClassifier()) == mlp_params(784, 10, 128, 3) and MLPClassifier().mode == "sequential"
    assert ResidualConvStack(4, 2).kernel_size == 3 and ResidualConvStack(4, 2).weight.shape == (2, 4, 4, 3, 3)


@pytest.mark.parametrize("bad", ["in_chans", "num_classes", "channels", "n_layers", "kernel_size", "head_grid"])
def test_conv_classifier_refuses_non_positive_sizes(bad):
    with pytest.raises(ValueError, match=f"{bad}=0"):
        ConvClassifier(**{bad: 0})


@pytest.mark.parametrize("bad", ["in_dim", "num_classes", "width", "n_layers"])
def test_mlp_classifier_refuses_non_positive_sizes(bad):
    with pytest.raises(ValueError, match=f"{bad}=0"):
        MLPClassifier(**{bad: 0})


def test_registered_models_and_their_layouts():
    for name, mode in (("sequential_resnet_conv", "sequential"), ("parallel_resnet_conv", "parallel"),
                       ("sequential_resnet_mlp", "sequential"), ("parallel_resnet_mlp", "parallel")):
        model = pz.create_model(name)
        assert model.mode == mode and model.stack.n_layers == 3 and model.stack.act_name == "relu"
    assert count_params(pz.create_model("parallel_resnet_conv")) == conv_params(1, 10, 16, 3, 3, 7)
    assert count_params(pz.create_model("sequential_resnet_conv")) == conv_params(1, 10, 16, 3, 3, 7)
    assert count_params(pz.create_model("sequential_resnet_mlp")) == mlp_params(784, 10, 128, 3)
    assert count_params(pz.create_model("parallel_resnet_mlp")) == mlp_params(784, 10, 128, 3)
    assert "n_layers=3" in repr(pz.create_model("parallel_resnet_mlp")) and "mode=parallel" in repr(model)
    cifar = pz.create_model("parallel_resnet_conv", in_chans=3)
    assert cifar(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert pz.create_model("sequential_resnet_mlp", in_dim=3072)(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="mode"):
        ResidualConvStack(4, 2, mode="deep")
    with pytest.raises(ValueError, match="act"):
        ResidualDenseStack(4, 2, act="gelu")
    with pytest.raises(ValueError, match="n_layers"):
        ResidualDenseStack(4, 0)
    with pytest.raises(ValueError, match="ResidualConvStack: width"):
        ResidualConvStack(0, 2)
    assert ResidualConvStack(1, 1)(torch.rand(1, 1, 3, 3)).shape == (1, 1, 3, 3)
    with pytest.raises(ValueError, match="positive"):
        MLPClassifier(width=0)
    with pytest.raises(ValueError, match="kernel_size"):
        ResidualConvStack(4, 2, 0)
    with pytest.raises(ValueError, match=r"\(B, 4, H, W\)"):
        ResidualConvStack(4, 2)(torch.rand(1, 3, 5, 5))
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        ResidualDenseStack(4, 2)(torch.rand(1, 5))
    with pytest.raises(ValueError, match="batch"):
        MLPClassifier()(torch.rand(784))
    with pytest.raises(ValueError, match="in_dim=784"):
        MLPClassifier()(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match="head_grid"):
        ConvClassifier(head_grid=14)(torch.rand(1, 1, 10, 10))
    with pytest.raises(ValueError, match="images"):
        ConvClassifier(in_chans=3)(torch.rand(1, 1, 28, 28))
    with pytest.raises(ValueError, match="positive"):
        ConvClassifier(channels=0)


# ---------------------------------------------------------------- Taylor truncation
def test_taylor_gap_is_second_order_and_vanishes_for_one_layer():
    r = taylor_order_ratio()
    assert 90 < r < 110 and r == taylor_order_ratio(1e-2)
    kw = {"channels": 3, "n_layers": 2, "seed": 5}
    assert taylor_order_ratio(1e-2, **kw) == linear_gap(1e-2, **kw) / linear_gap(1e-3, **kw) != r
    assert linear_gap(1e-2, n_layers=1) == 0.0
    assert linear_gap(1e-1) > 50 * linear_gap(1e-2)
    torch.manual_seed(0)
    assert single_layer_error(ConvClassifier(1, 10, 4, 1, 3), torch.rand(2, 1, 28, 28)) == 0.0
    assert single_layer_error(_rand(ConvClassifier(1, 10, 4, 2, 3)), torch.rand(2, 1, 28, 28)) > 1e-3


def test_taylor_gap_formula():
    stack = _rand(ResidualDenseStack(4, 3, act="tanh").double(), seed=7).requires_grad_(False)
    h = torch.randn(5, 4, dtype=torch.float64)
    s = ref_dense_stack(h, stack.weight, stack.bias, "tanh", "sequential")
    p = ref_dense_stack(h, stack.weight, stack.bias, "tanh", "parallel")
    ref = math.sqrt(float(((s - p) ** 2).sum())) / math.sqrt(float(((s - h) ** 2).sum()))
    assert truncation_gap(stack, h) == pytest.approx(ref, rel=1e-12)
    assert taylor_gap(twin(stack, "sequential"), twin(stack, "parallel"), h) == pytest.approx(ref, rel=1e-12)
    assert stack.mode == "sequential"


def test_exact_checks_of_the_smoke_protocol():
    out = exact_checks(0)
    assert out["param_count_diff"] == 0.0 and out["single_layer_err"] == 0.0 and 90 < out["taylor_order_ratio"] < 110


# ---------------------------------------------------------------- determination ratio and bins
def test_determination_ratio_against_float64_reference():
    model = ConvClassifier(1, 10, 16, 2, 3, head_grid=14)
    n_params = sum(p.numel() for p in model.parameters())  # head included
    assert determination_ratio(model, 10_000, 10) == pytest.approx(10_000 * 10 / n_params, rel=1e-15)
    assert determination_ratio(1_000, 300, 10) == 3.0
    assert determination_ratio(4_000, 300, 10) == 0.75
    assert determination_ratio(4_000, 0, 10) == 0.0
    assert determination_ratio(1, 10, 10) == 100.0 and determination_ratio(10, 10, 1) == 1.0
    for bad in ((0, 10, 10), (100, -1, 10), (100, 10, 0)):
        with pytest.raises(ValueError, match="determination_ratio: need"):
            determination_ratio(*bad)


@pytest.mark.parametrize("q,label", [(0.0, "[0,1)"), (0.999, "[0,1)"), (1.0, "[1,3)"), (2.999, "[1,3)"), (3.0, "[3,10)"),
                                     (9.99, "[3,10)"), (10.0, ">=10"), (1e6, ">=10")])
def test_q_bins_are_table_2s(q, label):
    assert q_bin(q) == label
    assert bin_labels() == ["[0,1)", "[1,3)", "[3,10)", ">=10"]


def test_q_bin_refuses_negative_and_nan():
    for q in (-0.1, math.nan):
        with pytest.raises(ValueError, match="Q must be"):
            q_bin(q)
    assert q_bin(4.0, edges=(2.0, 5.0)) == "[2,5)" and q_bin(7.0, edges=(2.0, 5.0)) == ">=5"


def _row(ds, q, mode, tr, va, acc=90.0, depth=2, seed=0):
    return {"dataset": ds, "q": q, "mode": mode, "train_loss": tr, "val_loss": va, "val_acc": acc, "depth": depth,
            "seed": seed}


def test_binned_table_means_per_bin_and_layout():
    rows = [_row("mnist", 0.5, "sequential", 0.1, 1.0), _row("mnist", 0.7, "sequential", 0.3, 2.0),
            _row("mnist", 0.2, "parallel", 0.5, 4.0), _row("mnist", 2.0, "sequential", 1.0, 1.0),
            _row("mnist", 12.0, "parallel", 1.0, 1.0), _row("mnist", 11.0, "sequential", 2.0, 3.0),
            _row("cifar10", 5.0, "sequential", 1.0, 1.5), _row("cifar10", 4.0, "parallel", 2.0, 1.0)]
    table = binned_table(rows)
    assert [(r["dataset"], r["q_bin"], r["runs"]) for r in table] == [("mnist", "[0,1)", 3), ("mnist", ">=10", 2),
                                                                      ("cifar10", "[3,10)", 2)]
    first = table[0]
    assert (first["train_seq"], first["train_par"], first["val_seq"], first["val_par"]) == pytest.approx((0.2, 0.5, 1.5, 4.0))
    assert bin_gaps(table, "mnist") == pytest.approx(2.5)
    assert bin_gaps(table, "mnist", min_q=1.0) == pytest.approx(2.0)
    assert bin_gaps(table, "cifar10", min_q=3.0) == pytest.approx(0.5)
    assert bin_gaps(table, "mnist", min_q=10.0) == pytest.approx(2.0)
    assert math.isnan(bin_gaps(table, "cifar10", min_q=10.0)) and math.isnan(bin_gaps(table, "svhn"))


def test_compare_layouts_on_hand_made_runs():
    S, P = "sequential", "parallel"
    rows = [_row("m", 1, S, 0.10, 1.0, 90.0, depth=2, seed=0), _row("m", 1, P, 0.20, 1.2, 89.0, depth=2, seed=0),
            _row("m", 1, S, 0.30, 1.0, 92.0, depth=2, seed=1), _row("m", 1, P, 0.20, 1.4, 90.0, depth=2, seed=1),
            _row("m", 1, S, 0.10, 2.0, 80.0, depth=4, seed=0), _row("m", 1, P, 0.15, 1.8, 80.5, depth=4, seed=0),
            _row("m", 1, P, 0.15, 9.0, 10.0, depth=6, seed=0)]  # unpaired: ignored
    assert len(pair_runs(rows, ["depth", "seed"])) == 3
    out = compare_layouts(rows, ("dataset", "depth"))
    assert out["val_loss_ratio_dev"] == pytest.approx(0.3)          # depth 2: 1.3 / 1.0
    assert out["val_acc_gap"] == pytest.approx(1.5)                 # depth 2: 89.5 vs 91
    assert out["seq_train_wins"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="^compare_layouts: no"):
        compare_layouts(rows[-1:], ("dataset", "depth"))
    tie = [_row("m", 1, S, 0.2, 1.0, 90.0), _row("m", 1, P, 0.2, 1.0, 90.0)]
    assert compare_layouts(tie, ("dataset", "depth")) == {"val_loss_ratio_dev": 0.0, "val_acc_gap": 0.0, "seq_train_wins": 1.0}
    assert binned_table(tie, edges=(0.5,))[0]["q_bin"] == ">=0.5"


# ---------------------------------------------------------------- evaluation, learning effect, protocol
def test_evaluate_is_mean_cross_entropy_and_accuracy():
    model = _rand(MLPClassifier(6, 3, 4, 2))
    x, y = torch.rand(25, 6), torch.arange(25) % 3
    loss, acc = evaluate(model, TensorSet(x, y), batch=7)
    with torch.no_grad():
        out = model(x)
    assert loss == pytest.approx(float(F.cross_entropy(out, y)), rel=1e-5)
    assert acc == pytest.approx(100.0 * float((out.argmax(1) == y).float().mean()))


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
def test_both_layouts_learn_separable_blobs(mode):
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 1, 6, 6, generator=g) * 2
    y = torch.arange(400) % 4
    x = centres[y] + 0.5 * torch.randn(400, 1, 6, 6, generator=g)
    torch.manual_seed(0)
    model = ConvClassifier(1, 4, 4, 3, 3, mode=mode, head_grid=3)
    data = TensorSet(x, y)
    before = evaluate(model, data)[0]
    fit(model, data, epochs=5, batch_size=50, progress=False)
    loss, acc = evaluate(model, data)
    assert acc > 95.0 and loss < 0.3 * before


def test_tiny_full_protocol_runs(tmp_path):
    r = pz.reproduce("shallow-again", "full", out=tmp_path, progress=False,
                     overrides={"datasets": ("mnist",), "n_trains": (256, 64), "n_val": 128, "depths": (1, 2),
                                "channels": (3,), "kernels": (3,), "pools": (4,), "epochs": 1, "batch_size": 32})
    runs = r.tables["runs"]
    assert len(runs["rows"]) == 2 * 2 * 2 and r.metrics["param_count_diff"] == 0.0
    cols = runs["columns"]
    one = [dict(zip(cols, row)) for row in runs["rows"] if row[cols.index("depth")] == 1]
    assert all(row["taylor_gap"] == 0.0 for row in one)  # L = 1: the trained stack has no higher-order terms
    assert {row[cols.index("q_bin")] for row in runs["rows"]} == {"[0,1)", "[1,3)"}
    assert math.isnan(r.metrics["cifar10_bin_val_gap"]) and "q_bins" in r.tables and "val_loss_by_q" in r.curves
