"""The command line: listing, errors with suggestions, impossible combinations, report generation."""
import json
import subprocess
import sys

import pytest

from paperzoo import reproduce
from paperzoo.cli import main


def test_unknown_paper_exit_2_with_suggestion(capsys):
    assert main(["show", "hopfeld"]) == 2
    assert "did you mean 'hopfield'" in capsys.readouterr().out


def test_list_shows_papers(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for slug in ("hopfield", "noprop", "gradient-noise", "neural-collapse"):
        assert slug in out


def test_reproduce_unknown_protocol_and_cuda_without_gpu(tmp_path):
    import torch

    with pytest.raises(ValueError, match="unknown protocol 'medium'"):
        reproduce("hopfield", "medium", out=tmp_path)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            reproduce("hopfield", "smoke", device="cuda", out=tmp_path)


def test_resume_needs_an_existing_matching_run(tmp_path):
    with pytest.raises(ValueError, match="no run directory"):
        reproduce("hopfield", "smoke", out=tmp_path / "nope", resume=True)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text(json.dumps({"slug": "noprop", "protocol": "smoke", "seed": 0}))
    with pytest.raises(ValueError, match="holds a run of"):
        reproduce("hopfield", "smoke", out=tmp_path / "r", resume=True)


def test_report_regenerates_tables(tmp_path):
    from paperzoo.registry import get_paper
    from paperzoo.report import BEGIN, END, write_report
    from paperzoo.results import Result, judge

    p = get_paper("gradient-noise")
    m = {c.metric: 0.0 for c in p.claims}
    r = Result(p.slug, "cpu", 0, m, judge(p.claims, m, "cpu"), 1.0, "cpu", "cpu (t)", "2", "abc")
    r.save(r.record_path(tmp_path / "results"))
    (tmp_path / "README.md").write_text(f"# x\n\n{BEGIN}\nstale\n{END}\n\ntail\n")
    write_report(tmp_path)
    text = (tmp_path / "README.md").read_text()
    assert "stale" not in text and "gradient-noise" in text and text.endswith("tail\n")
    assert "results/gradient-noise/cpu-cpu.json" in (tmp_path / "docs" / "results.md").read_text()


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "paperzoo.cli", "reproduce", "nopropp"], capture_output=True, text=True)
    assert r.returncode == 2 and "did you mean 'noprop'" in r.stdout


def test_show_prints_claims_and_deviations(capsys):
    assert main(["show", "noprop"]) == 0
    out = capsys.readouterr().out
    assert "gap_vs_backprop" in out and "Deviations from the paper" in out and "1. **Noise schedule.**" in out


@pytest.fixture
def fake_paper():
    from paperzoo.registry import _REG, _discover, register_paper
    from tests.kernel.fakepaper import PAPER

    _discover()
    register_paper(PAPER, module="tests.kernel.fakepaper")
    yield PAPER
    _REG.papers.pop(PAPER.slug, None)
    _REG.modules.pop(PAPER.slug, None)


def test_overrides_are_stored_and_resume_checks_them(fake_paper, tmp_path):
    r = reproduce("fake-paper", "cpu", overrides={"steps": "3"}, out=tmp_path / "r", progress=False)
    assert r.config["steps"] == 3 and r.metrics["steps_run"] == 3 and "means" in r.curves
    assert any("overrides" in n for n in r.notes) and r.protocol in repr(r)
    with pytest.raises(ValueError, match="holds a run of"):
        reproduce("fake-paper", "cpu", overrides={"steps": 4}, out=tmp_path / "r", resume=True)
    again = reproduce("fake-paper", "cpu", overrides={"steps": 3}, out=tmp_path / "r", resume=True)
    assert again.metrics == r.metrics
    with pytest.raises(KeyError, match="did you mean 'steps'"):
        reproduce("fake-paper", "cpu", overrides={"step": 3}, out=tmp_path / "x")


def test_cli_set_and_not_measured_exit_code(fake_paper, tmp_path, capsys):
    assert main(["reproduce", "fake-paper", "--protocol", "cpu", "--set", "steps=2", "--out", str(tmp_path / "a"),
                 "--no-progress"]) == 0
    assert main(["reproduce", "fake-paper", "--protocol", "cpu", "--set", "steps=1", "--out", str(tmp_path / "b"),
                 "--no-progress", "--strict"]) == 1  # steps_run 1 < band: not shown, strict fails
    assert main(["reproduce", "fake-paper", "--protocol", "full", "--out", str(tmp_path / "c"), "--no-progress"]) == 1
    assert "not measured by this run: missing" in capsys.readouterr().out
    assert main(["show", "fake-paper"]) == 0
    out = capsys.readouterr().out
    assert "tiny mean of uniforms" in out and "steps=2" in out


def test_models_probes_and_bench_commands(capsys):
    assert main(["models", "--task", "mnist"]) == 0
    assert main(["probes"]) == 0
    assert main(["models", "--task", "mnsit"]) == 2
    assert "did you mean 'mnist'" in capsys.readouterr().out
    assert main(["bench", "nopaper"]) == 2


def test_installed_package_runs_go_to_the_user_cache(monkeypatch, tmp_path):
    from paperzoo import api

    monkeypatch.setattr(api, "checkout_root", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert api.runs_root() == tmp_path / "paperzoo" / "runs"
