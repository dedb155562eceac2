"""The benchmark kernel: timing statistics, CSV provenance, and the shared start of a paper's bench.run."""
from __future__ import annotations

import csv
import sys
import types

import pytest
import torch

from paperzoo.bench import bench_csv_path, bench_start, time_fn, write_csv


def test_time_fn_counts_calls_and_orders_statistics():
    calls = []
    stats = time_fn(lambda: calls.append(1), repeats=7, warmup=2)
    assert len(calls) == 9 and stats["repeats"] == 7
    assert 0 <= stats["min_ms"] <= stats["median_ms"] and stats["min_ms"] <= stats["mean_ms"]


def test_csv_gets_provenance_and_keeps_row_values(tmp_path):
    path = bench_csv_path(tmp_path, "toy_vs_lib")
    assert path == tmp_path / "results" / "bench" / "toy_vs_lib-cpu.csv"
    write_csv(path, [{"impl": "ours", "ms": 1.5}, {"impl": "lib", "ms": 3.0, "device_name": "kept"}])
    rows = list(csv.DictReader(path.open()))
    assert [r["impl"] for r in rows] == ["ours", "lib"] and rows[1]["ms"] == "3.0"
    assert rows[0]["torch"] == torch.__version__ and rows[0]["commit"] and rows[0]["device_name"]
    assert rows[1]["device_name"] == "kept"  # a row's own value wins over the provenance default
    assert not list(path.parent.glob("*.tmp*"))  # written atomically, no temporary left behind
    with pytest.raises(ValueError, match="no rows"):
        write_csv(path, [])


def test_bench_start_checks_the_library_and_resolves_the_root(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="--against must be 'lib', got 'other'"):
        bench_start("toy", "other", "lib", tmp_path)
    monkeypatch.setitem(sys.modules, "fake_lib_for_bench", None)  # None in sys.modules: import raises ImportError
    with pytest.raises(ImportError, match="toy bench needs lib: pip install fake-lib==1.0"):
        bench_start("toy", None, "lib", tmp_path, module="fake_lib_for_bench", install="fake-lib==1.0")
    monkeypatch.setitem(sys.modules, "fake_lib_for_bench", types.ModuleType("fake_lib_for_bench"))
    assert bench_start("toy", "lib", "lib", str(tmp_path), module="fake_lib_for_bench") == tmp_path
    from paperzoo.api import project_root

    assert bench_start("toy", None, "lib") == project_root()
