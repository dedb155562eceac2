"""Kernel pieces of the zoo contract: config overrides, child contexts, typed outputs, budgets, stats, tasks."""
import dataclasses
import math

import pytest
import torch
from torch import nn

from paperzoo.config import apply_overrides, check_config, parse_sets
from paperzoo.data.synthetic import blobs
from paperzoo.names import did_you_mean
from paperzoo.nn import BudgetError, at_budget, count_params
from paperzoo.stats import mean_ci, roc_auc, wilson_interval
from paperzoo.tasks import TASKS, get_task
from paperzoo.train import RunContext
from paperzoo.train.context import derive_seed


@dataclasses.dataclass(frozen=True)
class Cfg:
    about: str
    epochs: int = 3
    lr: float = 0.1
    widths: tuple[int, ...] = (8, 16)
    name: str = "adam"
    amp: bool = False
    n_train: int | None = None


def test_overrides_parse_to_the_field_type_and_refuse_unknown_keys():
    c = Cfg("x")
    d = apply_overrides(c, parse_sets(["epochs=5", "lr=1", "widths=(4, 8, 32)", "name=sgd", "amp=true", "n_train=100"]))
    assert (d.epochs, d.lr, d.widths, d.name, d.amp, d.n_train) == (5, 1.0, (4, 8, 32), "sgd", True, 100)
    assert isinstance(d.lr, float) and apply_overrides(c, {"widths": "64"}).widths == (64,)
    assert apply_overrides(c, {"epochs": 7}).epochs == 7 and c.epochs == 3
    with pytest.raises(KeyError, match="did you mean 'epochs'"):
        apply_overrides(c, {"epoch": "2"})
    with pytest.raises(ValueError, match="expected int"):
        apply_overrides(c, {"epochs": "'a'"})
    with pytest.raises(ValueError, match="boolean"):
        apply_overrides(c, {"amp": "maybe"})
    with pytest.raises(ValueError, match="key=value"):
        parse_sets(["epochs"])
    check_config(c)
    with pytest.raises(TypeError, match="frozen"):
        check_config(dataclasses.make_dataclass("C", [("about", str)])("x"))


def test_sub_contexts_derive_stable_seeds_and_share_outputs(tmp_path):
    ctx = RunContext("smoke", seed=3, out=tmp_path)
    a, b = ctx.sub("a"), ctx.sub("b")
    assert a.seed == derive_seed(3, "a") == RunContext("smoke", seed=3, out=tmp_path / "x").sub("a").seed
    assert a.seed != b.seed and a.seed != derive_seed(4, "a") and a.out == tmp_path / "a" and a.out.is_dir()
    a.table("t", [{"k": 1, "v": torch.tensor(0.5)}, {"k": 2, "v": float("nan")}])
    a.sub("c").curve("loss", [1, 2], {"ours": [0.5, 0.25]}, ylabel="loss")
    assert ctx.tables["a/t"] == {"columns": ["k", "v"], "rows": [[1, 0.5], [2, "nan"]], "caption": ""}
    assert ctx.curves["a/c/loss"]["ys"] == {"ours": [0.5, 0.25]}
    with pytest.raises(ValueError, match="columns"):
        ctx.table("bad", [{"a": 1}, {"b": 2}])
    with pytest.raises(ValueError, match="has 1 points"):
        ctx.curve("bad", [1, 2], {"y": [1]})
    with pytest.raises(ValueError, match="plain folder name"):
        ctx.sub("../x")
    n = torch.get_num_threads()
    with ctx.threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == n


class Net(nn.Module):
    def __init__(self, in_dim=10, *, width=4, depth=2):
        super().__init__()
        self.body = nn.Sequential(*[nn.Linear(in_dim if i == 0 else width, width) for i in range(depth)], nn.Linear(width, 3))


def test_at_budget_finds_the_closest_width_and_says_when_it_cannot():
    for target in (500, 5_000, 123_456):
        m = at_budget(Net, target)
        n = count_params(m)
        assert abs(n - target) <= 0.1 * target
        w = m.body[0].out_features  # no other width is closer
        assert all(abs(count_params(Net(width=k)) - target) >= abs(n - target) for k in (w - 1, w + 1))
    with pytest.raises(BudgetError, match="width=1"):
        at_budget(Net, 12)
    with pytest.raises(BudgetError):
        at_budget(Net, 600, knob="depth", width=50)  # depth steps are too coarse here
    with pytest.raises(ValueError, match="searched knob"):
        at_budget(Net, 600, width=3)


def test_wilson_interval_and_roc_auc_and_mean_ci():
    lo, hi = wilson_interval(81, 263)  # Wilson (1927) style check: known closed form
    p, n, z = 81 / 263, 263, 1.959964
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    assert math.isclose((lo + hi) / 2, c, rel_tol=1e-12) and lo < p < hi
    assert wilson_interval(0, 10)[0] == 0.0 and math.isclose(wilson_interval(10, 10)[1], 1.0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    s = torch.tensor([0.1, 0.4, 0.35, 0.8, 0.4])
    y = torch.tensor([0, 0, 1, 1, 1])
    pairs = [(float(a > b) + 0.5 * float(a == b)) for a, ya in zip(s, y) for b, yb in zip(s, y) if ya == 1 and yb == 0]
    assert math.isclose(roc_auc(s, y), sum(pairs) / len(pairs))
    assert math.isnan(roc_auc(s, torch.ones(5)))
    m, lo, hi = mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and math.isclose(hi - m, 1.959964 * 1.0 / math.sqrt(3))


def test_blobs_tasks_and_names():
    a, b = blobs(200, seed=1), blobs(200, seed=1)
    assert torch.equal(a.x, b.x) and set(a.y.tolist()) == {0, 1}
    assert (a.x[a.y == 1, 0].mean() - a.x[a.y == 0, 0].mean()) > 4
    k = blobs(300, seed=0, num_classes=3, dim=5)
    assert k.x[k.y == 2, 2].mean() > 2
    assert get_task("mnist").example(2).shape == (2, 1, 28, 28) and TASKS["cifar10"].out_dim == 10
    x, y = get_task("fashion-mnist").example_batch(20)
    assert set(y.tolist()) == set(range(10))
    with pytest.raises(KeyError, match="did you mean 'mnist'"):
        get_task("mnsit")
    with pytest.raises(ValueError, match="example"):
        get_task("regression").example()
    assert did_you_mean("hopfeld", ["hopfield", "noprop"]) == "; did you mean 'hopfield'?"
