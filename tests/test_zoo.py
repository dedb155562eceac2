"""The zoo contract, checked across the whole registry: a paper is checked the moment it is discovered.

Per paper: its smoke protocol runs and every claim with a smoke band is measured and shown;
``main_metric`` names a claim; every committed record re-judges to its stored verdicts under the
current bands; the README has usage, a generated results block and numbered deviations; the package
imports without warnings and imports no other paper. Per model: it builds from defaults, runs
forward and backward with finite gradients, and its budget search lands within 10% at two budgets.
Per probe: it runs on two registered models from different papers.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib
import math
import re
import warnings
from pathlib import Path

import pytest
import torch

import paperzoo as pz
from paperzoo import registry
from paperzoo.config import check_config
from paperzoo.nn.budget import count_params
from paperzoo.results import EFFECT_SHOWN, NO_BAND, NOT_MEASURED, PROTOCOL_NAMES, load_results
from paperzoo.tasks import call_model

ROOT = Path(__file__).resolve().parents[1]
PAPERS_DIR = ROOT / "src" / "paperzoo" / "papers"
PAPERS = registry.list_papers()
MODELS = registry.list_models()
PROBES = registry.list_probes()
SLUGS = [p.slug for p in PAPERS]


def test_every_paper_folder_is_a_registered_paper():
    pkgs = sorted(d.name for d in PAPERS_DIR.iterdir() if (d / "__init__.py").is_file())
    assert sorted(s.replace("-", "_") for s in SLUGS) == pkgs


@pytest.mark.parametrize("slug", SLUGS)
def test_protocols_are_frozen_configs(slug):
    paper = registry.get_paper(slug)
    configs = paper.configs  # validates names, frozen dataclasses, `about`, bands vs protocols
    assert {"smoke", "cpu"} <= set(configs) <= set(PROTOCOL_NAMES)
    types = {type(c) for c in configs.values()}
    assert len(types) == 1, f"{slug}: one Config class for all protocols, got {types}"
    for name, cfg in configs.items():
        check_config(cfg, name)
        assert len(cfg.about) > 20, f"{slug} {name}: describe the protocol in `about`"
        with pytest.raises(dataclasses.FrozenInstanceError):
            cfg.about = "x"
    run = paper.runner()
    assert list(__import__("inspect").signature(run).parameters)[:2] == ["ctx", "cfg"]


@pytest.mark.parametrize("slug", SLUGS)
def test_paper_declaration(slug):
    paper = registry.get_paper(slug)
    assert paper.claims and paper.main_metric in {c.metric for c in paper.claims}
    for c in paper.claims:
        assert c.source.strip(), f"{slug}: claim {c.metric} needs a source"
        for proto, band in c.bands.items():
            assert band.reason.strip(), f"{slug}: {c.metric} band {proto} needs a reason"


@pytest.mark.parametrize("slug", SLUGS)
def test_smoke_protocol_runs_and_shows_its_claims(slug, tmp_path):
    r = pz.reproduce(slug, "smoke", seed=0, out=tmp_path / "run", progress=False)
    smoke_claims = [c.metric for c in registry.get_paper(slug).claims if "smoke" in c.bands]
    by_metric = {v.metric: v for v in r.verdicts}
    bad = {m: (by_metric[m].verdict, by_metric[m].ours, by_metric[m].band) for m in smoke_claims
           if by_metric[m].verdict != EFFECT_SHOWN}
    assert not bad, f"{slug}: smoke claims not shown: {bad}"
    assert r.config and r.config["about"]
    assert all(math.isfinite(v) or math.isnan(v) or math.isinf(v) for v in r.metrics.values())


@pytest.mark.parametrize("slug", SLUGS)
def test_committed_records_rejudge_to_their_verdicts(slug):
    paper = registry.get_paper(slug)
    records = load_results(ROOT / "results", slug)
    protos = {r.protocol for r in records}
    assert {"smoke", "cpu"} <= protos, f"{slug}: commit smoke and cpu records (have {sorted(protos)})"
    for r in records:
        fresh = {v.metric: v.verdict for v in r.rejudge(paper.claims).verdicts}
        stored = {v.metric: v.verdict for v in r.verdicts}
        assert fresh == stored, f"{slug} {r.protocol}-{r.device}: stale verdicts: re-record, or `paperzoo report --rejudge`"
        assert NOT_MEASURED not in stored.values(), f"{slug} {r.protocol}: a claim was not measured"
        assert r.config, f"{slug} {r.protocol}: the record must store the config that ran"
        assert r.git_commit and r.device_name and r.wall_seconds > 0


@pytest.mark.parametrize("slug", SLUGS)
def test_readme_has_usage_results_and_numbered_deviations(slug):
    text = (PAPERS_DIR / slug.replace("-", "_") / "README.md").read_text()
    assert "```python" in text, f"{slug}: README needs a python usage example"
    assert "<!-- results:begin" in text and "<!-- results:end -->" in text, f"{slug}: README needs the generated block"
    m = re.search(r"^## Deviations[^\n]*\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert m and re.search(r"^1\. ", m.group(1), flags=re.M), f"{slug}: README needs '## Deviations' with a numbered list"


@pytest.mark.parametrize("slug", SLUGS)
def test_package_imports_without_warnings(slug):
    name = f"paperzoo.papers.{slug.replace('-', '_')}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mod = importlib.reload(importlib.import_module(name))
    assert mod.PAPER.slug == slug


@pytest.mark.parametrize("slug", SLUGS)
def test_no_paper_imports_another(slug):
    pkg = slug.replace("-", "_")
    others = {d.name for d in PAPERS_DIR.iterdir() if d.is_dir() and d.name != pkg and not d.name.startswith("_")}
    for f in (PAPERS_DIR / pkg).rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level >= 2:  # from ..other import x  /  from .. import other
                    names = [mod] if mod else [a.name for a in node.names]
                    names = [f"paperzoo.papers.{n}" for n in names]
                elif node.level == 0:
                    names = [mod] + [f"{mod}.{a.name}" for a in node.names]
            for n in names:
                parts = n.split(".")
                if parts[:2] == ["paperzoo", "papers"] and len(parts) > 2:
                    assert parts[2] not in others, f"{f}: imports paper {parts[2]!r}"
                    assert parts[2] == pkg, f"{f}: imports {n}"


# ---------------------------------------------------------------- models
@pytest.mark.parametrize("name", [m.name for m in MODELS])
def test_model_builds_runs_and_backprops(name):
    entry = registry.get_model(name)
    torch.manual_seed(0)
    model = pz.create_model(name)
    out = call_model(model, entry.example())
    out = out[0] if isinstance(out, (tuple, list)) else out
    assert torch.is_tensor(out) and torch.isfinite(out).all()
    (out.float().sum() + out.float().square().mean()).backward()  # nonzero even at a zero-initialised head
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", [m.name for m in MODELS if m.knob])
def test_model_budget_search(name):
    base = count_params(pz.create_model(name))
    for budget in (int(base * 0.5), int(base * 2)):
        model = pz.create_model(name, params=budget)
        assert abs(count_params(model) - budget) <= 0.10 * budget, f"{name} at {budget}"


# ---------------------------------------------------------------- probes
@pytest.mark.parametrize("name", [p.name for p in PROBES])
def test_probe_runs_on_models_of_two_papers(name):
    probe = registry.get_probe(name)
    pairs = {}
    for m in MODELS:
        if m.task.kind in probe.kinds and m.task.in_shape is not None and m.paper not in pairs:
            pairs[m.paper] = m
    assert len(pairs) >= 2, f"probe {name}: fewer than two papers register a {probe.kinds} model"
    for m in list(pairs.values())[:2]:
        torch.manual_seed(0)
        model = pz.create_model(m.name)
        data = m.task.example_batch(64)
        kw = {"other": pz.create_model(m.name)} if probe.pair else {}
        out = probe.fn(model, data, **kw)
        assert out and all(isinstance(v, float) for v in out.values()), f"probe {name} on {m.name}: {out}"


@pytest.mark.parametrize("name", [p.name for p in PROBES])
def test_probe_face_on_checkpoints_of_two_papers(name, tmp_path):
    """`paperzoo probe NAME --model CKPT [--other CKPT]`: JSON and PNG written; a pair of different
    architectures is a clear error."""
    from paperzoo.model_io import save_model
    from paperzoo.probe import run_probe

    probe = registry.get_probe(name)
    picks = {}
    for m in MODELS:
        if m.task.kind in probe.kinds and m.task.in_shape is not None and m.paper not in picks:
            picks[m.paper] = m
    ckpts = []
    for i, m in enumerate(list(picks.values())[:2]):
        torch.manual_seed(i)
        for tag in ("a", "b"):
            save_model(tmp_path / f"{m.name}-{tag}", pz.create_model(m.name), name=m.name)
        ckpts.append((m, tmp_path / f"{m.name}-a", tmp_path / f"{m.name}-b"))
    for m, a, b in ckpts:
        data = m.task.example_batch(64)
        rec = run_probe(name, str(a), data, other=str(b) if probe.pair else None, out=tmp_path / "out")
        assert rec["metrics"] and all(isinstance(v, float) for v in rec["metrics"].values())
        assert Path(rec["json"]).is_file() and (rec.get("png") is None or Path(rec["png"]).is_file())
    if probe.pair and probe.same_arch:
        with pytest.raises(ValueError, match="not the same architecture"):
            run_probe(name, str(ckpts[0][1]), ckpts[0][0].task.example_batch(8), other=str(ckpts[1][1]))
    elif probe.pair:  # declared cross-architecture: two papers' models compare
        rec = run_probe(name, str(ckpts[0][1]), ckpts[0][0].task.example_batch(8), other=str(ckpts[1][1]))
        assert rec["metrics"] and all(isinstance(v, float) for v in rec["metrics"].values())


def test_no_band_verdicts_only_for_claims_without_a_band():
    for p in PAPERS:
        for r in load_results(ROOT / "results", p.slug):
            for v in r.verdicts:
                claim = next((c for c in p.claims if c.metric == v.metric), None)
                assert claim is not None, f"{p.slug} {r.protocol}: record judges {v.metric!r}, which is no claim"
                assert (v.verdict == NO_BAND) == (r.protocol not in claim.bands)
