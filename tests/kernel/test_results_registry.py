"""Verdicts are computed from numbers; records round-trip; the registry finds papers and suggests names."""
import json

import pytest

from paperzoo import registry
from paperzoo.results import (
    EFFECT_SHOWN,
    NO_BAND,
    NOT_MEASURED,
    NOT_SHOWN,
    REPRODUCED,
    Band,
    Claim,
    Result,
    judge,
    load_results,
)

CLAIMS = (
    Claim("acc", paper=99.5, source="Table 1",
          bands={"cpu": Band(lo=95, reason="card"), "full": Band(99.3, 99.7, reason="paper ± 0.2")}),
    Claim("err", paper=0.0, source="Thm 1", bands={"cpu": Band(hi=1e-3, reason="theorem")}),
    Claim("aux", paper="qualitative", source="Fig 2"),
)


def test_judge_is_computed_from_the_band():
    v = {x.metric: x.verdict for x in judge(CLAIMS, {"acc": 96.0, "err": 0.5}, "cpu")}
    assert v == {"acc": EFFECT_SHOWN, "err": NOT_SHOWN, "aux": NO_BAND}
    v = {x.metric: x.verdict for x in judge(CLAIMS, {"acc": 99.5}, "full")}
    assert v["acc"] == REPRODUCED
    v = {x.metric: x.verdict for x in judge(CLAIMS, {"acc": 99.8}, "full")}
    assert v["acc"] == NOT_SHOWN
    v = {x.metric: x.verdict for x in judge(CLAIMS, {"acc": float("nan")}, "cpu")}
    assert v["acc"] == NOT_MEASURED and v["err"] == NOT_MEASURED


def test_band_validation():
    with pytest.raises(ValueError, match="reason"):
        Band(lo=1)
    with pytest.raises(ValueError, match="lo=2 > hi=1"):
        Band(2, 1, reason="x")
    with pytest.raises(ValueError, match="at least one"):
        Band(reason="x")
    assert Band(lo=0, hi=1, reason="r").contains(1.0) and not Band(lo=0, reason="r").contains(float("nan"))


def test_result_record_roundtrip(tmp_path):
    r = Result("demo", "cpu", 0, {"acc": 96.0}, judge(CLAIMS, {"acc": 96.0}, "cpu"), 1.5, "cpu", "cpu (x)",
               "2.x", "abc", details={"curve": [1.0, float("inf")]})
    p = r.save(r.record_path(tmp_path))
    assert p == tmp_path / "demo" / "cpu-cpu.json"
    back = load_results(tmp_path)[0]
    assert back.metrics == r.metrics and [v.verdict for v in back.verdicts] == [v.verdict for v in r.verdicts]
    assert json.loads(p.read_text())["details"]["curve"] == [1.0, "inf"]
    assert not r.passed  # "err" was not measured at cpu
    assert not list(tmp_path.rglob("*.tmp"))


def test_paper_and_claim_validation():
    with pytest.raises(ValueError, match="kind"):
        registry.Paper("x", "t", "gizmo", ())
    with pytest.raises(ValueError, match="main_metric 'b' names no claim"):
        registry.Paper("x", "t", "layer", (Claim("a", paper=1, source="s"),), main_metric="b")
    with pytest.raises(TypeError):
        Claim("a", 1, "s")  # keyword-only after the metric
    with pytest.raises(ValueError, match="unknown protocol 'medium'"):
        Claim("a", paper=1, source="s", bands={"medium": Band(lo=0, reason="r")})
    with pytest.raises(ValueError, match="two bands for protocol 'cpu'"):
        Claim("a", paper=1, source="s", bands={("smoke", "cpu"): Band(lo=0, reason="r"), "cpu": Band(lo=1, reason="r")})
    c = Claim("a", paper=1, source="s", bands={("smoke", "cpu"): Band(lo=0, reason="r"), "full": Band(lo=1, reason="q")})
    assert c.band("smoke") is c.band("cpu") and c.band("full").reason == "q"


def test_rejudge_follows_the_current_bands():
    r = Result("demo", "cpu", 0, {"acc": 96.0}, judge(CLAIMS, {"acc": 96.0}, "cpu"), 1.5, "cpu", "cpu (x)", "2", "abc")
    stricter = (Claim("acc", paper=99.5, source="Table 1", bands={"cpu": Band(lo=97, reason="r")}),)
    assert r.rejudge(stricter).verdicts[0].verdict == NOT_SHOWN
    assert "acc" in repr(r) and "effect shown" in repr(r)  # the repr is the table


def test_unknown_names_get_did_you_mean():
    with pytest.raises(KeyError, match="did you mean 'gradient-noise'"):
        registry.get_paper("gradient-nose")
    with pytest.raises(KeyError, match="unknown model 'no_such_model_xyz'"):
        registry.create_model("no_such_model_xyz")


def test_foundation_papers_are_registered():
    slugs = {p.slug for p in registry.list_papers()}
    assert {"hopfield", "neural-collapse", "gradient-noise", "noprop"} <= slugs
    for p in registry.list_papers():
        assert p.claims and "smoke" in p.protocols and "cpu" in p.protocols
        for c in p.claims:
            for b in c.bands.values():
                assert b.reason.strip()
