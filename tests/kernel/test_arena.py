"""The arena: budget-matched builds, one recipe, listed skips, resumable runs, CSV with provenance."""
import csv

import pytest
import torch
from torch import nn

import paperzoo.arena as arena
from paperzoo.arena import Recipe, run_arena, write_arena
from paperzoo.data import TensorSet
from paperzoo.registry import _REG, register_model


def _mlp(in_dim=784, num_classes=10, *, width=16):
    return nn.Sequential(nn.Flatten(), nn.Linear(in_dim, width), nn.ReLU(), nn.Linear(width, num_classes))


def _linear(in_dim=784, num_classes=10, *, width=1):  # width does not change the count: cannot hit a budget
    return nn.Sequential(nn.Flatten(), nn.Linear(in_dim, num_classes))


@pytest.fixture
def fake_models():
    register_model("_arena_mlp", task="mnist", paper="paper-a")(_mlp)
    register_model("_arena_linear", task="mnist", paper="paper-b")(_linear)
    yield ["_arena_mlp", "_arena_linear"]
    for k in ("_arena_mlp", "_arena_linear"):
        _REG.models.pop(k, None)


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = torch.rand(n, 1, 28, 28, generator=g) * 0.5
    x.view(n, -1)[torch.arange(n), y * 70] += 10.0  # one bright pixel per class: learnable
    return TensorSet(x, y)


def test_arena_trains_at_budget_lists_skips_and_resumes(fake_models, tmp_path, monkeypatch):
    data = (_data(512, 0), _data(200, 1), "", (0.0, 1.0))
    recipe = Recipe(epochs=4, batch_size=32, lr=1e-2, threads=1)
    rows = run_arena("mnist", 20_000, seeds=2, recipe=recipe, models=fake_models, out=tmp_path, data=data,
                     progress=False)
    by = {r["model"]: r for r in rows}
    ok, skipped = by["_arena_mlp"], by["_arena_linear"]
    assert ok["status"] == "ok" and abs(ok["params"] - 20_000) <= 2_000 and ok["seeds"] == 2
    assert ok["acc_mean"] > 60 and ok["acc_std"] >= 0 and ok["samples_per_s"] > 0
    assert skipped["status"] == "skipped" and "20,000" in skipped["reason"]
    # resume: finished (model, seed) units are read back, not retrained
    monkeypatch.setattr(arena, "fit", lambda *a, **k: pytest.fail("retrained a finished unit"))
    again = run_arena("mnist", 20_000, seeds=2, recipe=recipe, models=fake_models, out=tmp_path, data=data,
                      resume=True, progress=False)
    assert [r["acc_mean"] for r in again] == [r["acc_mean"] for r in rows]
    from paperzoo.model_io import load_model

    (folder,) = tmp_path.glob("mnist-20000-*")
    saved, meta = load_model(folder / "_arena_mlp-seed1" / "model")
    assert meta["kwargs"]["width"] == saved[1].out_features and meta["input_norm"] == [0.0, 1.0]
    path, png = write_arena(rows, tmp_path)
    assert path == tmp_path / "results" / "arena" / "mnist-20000.csv"
    got = list(csv.DictReader(path.open()))
    assert {r["model"] for r in got} == set(fake_models) and got[0]["device_name"] and got[0]["recipe"]
    assert png is None or png.stat().st_size > 0
    if png is not None:  # the committed PNG can be re-drawn from the CSV alone (string cells, a skipped model too)
        from paperzoo.arena import plot_arena_csv

        with path.open("a") as f:
            f.write("mnist,20000,_too_big,toy,width,,2,,,,,,skipped,no width fits,,,,,,,\n")
        png.unlink()
        assert plot_arena_csv(path) == png and png.stat().st_size > 0
        empty = tmp_path / "empty.csv"
        empty.write_text(path.read_text().splitlines()[0] + "\n")
        with pytest.raises(ValueError, match="no rows"):
            plot_arena_csv(empty)


def test_arena_refuses_non_classification_and_unknown_models(fake_models, tmp_path):
    with pytest.raises(ValueError, match="classifiers"):
        run_arena("operator-2d", 1000, out=tmp_path)
    with pytest.raises(KeyError, match="not registered"):
        run_arena("mnist", 1000, models=["nope"], out=tmp_path, data=(_data(10, 0), _data(10, 1), "", None))


def test_operator_arena_on_darcy_trains_every_2d_operator_at_the_budget(tmp_path, monkeypatch):
    from paperzoo.arena import run_arena, write_arena
    from paperzoo.arena.operators import OperatorRecipe
    from paperzoo.registry import list_models

    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path / "cache"))
    names = [m.name for m in list_models("operator-2d")][:2]
    assert len(names) == 2
    recipe = OperatorRecipe(epochs=1, res=32, n_train=16, n_test=8)
    rows = run_arena("darcy", 20_000, recipe=recipe, models=names, out=tmp_path / "runs", progress=False)
    ok = [r for r in rows if r["status"] == "ok"]
    assert ok and all(abs(r["params"] - 20_000) <= 2_000 and 0 < r["rel_l2_mean"] < 10 for r in ok)
    again = run_arena("darcy", 20_000, recipe=recipe, models=names, out=tmp_path / "runs", progress=False, resume=True)
    assert [r["rel_l2_mean"] for r in again] == [r["rel_l2_mean"] for r in rows]  # resumed, not retrained
    csv_path, png = write_arena(rows, tmp_path)
    assert csv_path.name == "darcy-20000.csv" and "rel_l2_mean" in csv_path.read_text().splitlines()[0]
    with pytest.raises(TypeError, match="OperatorRecipe"):
        run_arena("darcy", 20_000, recipe=object(), models=names)
