"""``paperzoo report``: re-judged verdicts, generic curves and tables, README blocks between markers,
and the site's pages, all built from records the test writes for a toy paper (the registry is
replaced by that one paper for each test, so the real papers' state does not matter)."""
from __future__ import annotations

import math
import re

import pytest

from paperzoo import registry
from paperzoo.registry import Paper
from paperzoo.report import BEGIN, END, build_site, headline, rejudge, replace_block, stale_records, write_report
from paperzoo.report.plots import curve_figure, draw_curve
from paperzoo.report.readme import parse_readme
from paperzoo.results import Band, Claim, Result, judge

TOY = Paper(slug="toy-paper", title="A Toy Paper", kind="layer", main_metric="acc", arxiv="2401.00001",
            claims=(Claim("acc", paper=99.0, source="Table 1", unit="%", what="test accuracy",
                          bands={"cpu": Band(lo=90, reason="card: the cpu ladder reaches 90")}),
                    Claim("err", paper=0.0, source="Eq. 3",
                          bands={("smoke", "cpu"): Band(hi=1e-6, reason="exact identity in float64")})))
CURVE = {"x": [1, 2, 3, 4], "ys": {"ours": [0.5, "nan", 0.7, "inf"], "base": ["-inf", 0.4, 0.45, 0.5]},
         "xlabel": "epoch", "ylabel": "acc", "title": "learning", "logx": False, "logy": True, "hline": 0.9}


@pytest.fixture
def toy(monkeypatch):
    registry.list_papers()  # discover first, then replace the registry's papers by the toy one
    monkeypatch.setattr(registry._REG, "papers", {TOY.slug: TOY})
    return TOY


def record(acc=95.0, *, protocol="cpu", stored=None, curves=True, paper=TOY) -> Result:
    m = {"acc": acc, "err": 0.0}
    verdicts = judge(paper.claims, m, protocol)
    if stored is not None:
        verdicts[0].verdict = stored
    return Result(paper.slug, protocol, 0, m, verdicts, 150.0, "cpu", "cpu (Test CPU, 2 threads)", "2.13", "0123456789abcdef",
                  created="2026-11-29T10:00:00+00:00", config={"about": "toy protocol", "epochs": 3},
                  tables={"sweep": {"columns": ["width", "acc"], "rows": [[8, 0.25], [16, "nan"]], "caption": "widths"}},
                  curves={"w8/learning": CURVE} if curves else {})


def test_stale_verdict_is_rejudged(toy):
    r = record(95.0, stored="not shown")  # the band says 95 >= 90: effect shown; the file says otherwise
    j = rejudge(r)
    assert [v.verdict for v in j.verdicts] == ["effect shown", "effect shown"]
    assert len(j.stale) == 1 and j.stale[0].startswith("acc: stored not shown") and "now effect shown" in j.stale[0]
    assert rejudge(record(95.0)).stale == []
    assert headline(toy, {"cpu": r}) == ("acc", "95 (cpu)", "99", "effect shown")
    assert headline(toy, {"cpu": record(80.0)})[3] == "not shown"
    tighter = Paper(slug="toy-paper", title="t", kind="layer", main_metric="acc", claims=(
        Claim("acc", paper=99.0, source="Table 1", bands={"cpu": Band(lo=96, reason="tighter")}),))
    j = rejudge(record(95.0), tighter)  # a band changed after the run: the verdict follows the band
    assert j.verdicts[0].verdict == "not shown" and j.stale and "err: claim no longer declared" in j.stale[-1]


def test_curve_with_nan_strings_draws(tmp_path):
    fig = curve_figure(CURVE)
    try:
        ax = fig.axes[0]
        ours, base, hline = ax.lines[:3]
        y = list(ours.get_ydata())
        assert y[0] == 0.5 and math.isnan(y[1]) and y[2] == 0.7 and y[3] == math.inf
        assert list(base.get_ydata())[0] == -math.inf and list(ours.get_xdata()) == [1.0, 2.0, 3.0, 4.0]
        assert list(hline.get_ydata()) == [0.9, 0.9] and ax.get_yscale() == "log"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ours", "base", "paper"]
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    fig = curve_figure({"x": ["a", "b"], "ys": {"s": ["nan", 1]}, "title": "cats"})  # categorical x
    try:
        assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "b"]
    finally:
        plt.close(fig)
    path = draw_curve(CURVE, tmp_path / "c.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_replace_block_touches_nothing_outside_the_markers():
    text = f"# T\n\nbefore {BEGIN} inline\n\n{BEGIN}\nold\nstuff\n{END}\nafter\n{END}\n"
    new = replace_block(text, "NEW")
    i = text.index(BEGIN)
    assert new == text[:i] + BEGIN + "\nNEW\n" + text[text.index(END):]
    assert replace_block("no markers", "x") is None and replace_block(f"{BEGIN} only", "x") is None


def _tree(tmp_path):
    pkg = tmp_path / "src" / "paperzoo" / "papers" / "toy_paper"
    pkg.mkdir(parents=True)
    head, tail = "# A Toy Paper\n\nIntro with `code`.\n\n## Results\n\n", "\n\n## Deviations\n\n1. **One.** why.\n"
    (pkg / "README.md").write_text(f"{head}{BEGIN}\nstale 123 text\n{END}{tail}")
    top_head, top_tail = "# paperzoo\n\nintro 42\n", "\n\nmore 7\n"
    (tmp_path / "README.md").write_text(f"{top_head}{BEGIN}\nold table 3.14\n{END}{top_tail}")
    return pkg / "README.md", head, tail, top_head, top_tail


def test_readme_blocks_are_regenerated_from_records(toy, tmp_path):
    readme, head, tail, top_head, top_tail = _tree(tmp_path)
    record(93.25, stored="not shown").save(tmp_path / "results" / "toy-paper" / "cpu-cpu.json")
    record(0.5, protocol="smoke", curves=False).save(tmp_path / "results" / "toy-paper" / "smoke-cpu.json")
    written = write_report(tmp_path)
    text = readme.read_text()
    assert text.startswith(head + BEGIN + "\n") and text.endswith(END + tail) and "stale 123" not in text
    block = text[len(head):-len(tail)]
    assert block.index("`smoke` on cpu") < block.index("`cpu` on cpu: toy protocol")
    assert "| `acc` | 93.25 | 99 | >= 90 | **effect shown** | card: the cpu ladder reaches 90 | Table 1 |" in block
    assert "results/toy-paper/cpu-cpu.json" in block and "2.5 min" in block and "`0123456789ab`" in block
    assert "Stale record" in block and "acc: stored not shown" in block and "`epochs=3`" in block
    assert "| 16 | nan |" in block  # the stored table
    img = "../../../../docs/plots/toy-paper-cpu-cpu-w8_learning.png"
    assert f"]({img})" in block and (readme.parent / img).resolve().is_file()
    top = (tmp_path / "README.md").read_text()
    assert top.startswith(top_head) and top.endswith(top_tail) and "3.14" not in top and "| 93.25 (cpu) |" in top
    assert "(stale record)" in top
    assert "plots/toy-paper-cpu-cpu-w8_learning.png" in (tmp_path / "docs" / "results.md").read_text()
    assert readme in written
    assert readme not in write_report(tmp_path)  # idempotent: nothing new to write


def test_no_record_no_number(toy, tmp_path):
    readme, head, tail, *_ = _tree(tmp_path)
    write_report(tmp_path)
    block = readme.read_text()[len(head):-len(tail)]
    assert "No recorded run yet" in block and not re.search(r"\d", block.replace(BEGIN, "").replace(END, ""))


def test_rejudge_rewrites_only_stale_verdicts(toy, tmp_path):
    record(95.0, stored="not shown").save(tmp_path / "results" / "toy-paper" / "cpu-cpu.json")
    assert len(stale_records(tmp_path / "results")) == 1
    write_report(tmp_path, plots=False, rejudge=True)
    assert stale_records(tmp_path / "results") == []
    r = Result.load(tmp_path / "results" / "toy-paper" / "cpu-cpu.json")
    assert r.metrics == {"acc": 95.0, "err": 0.0} and r.verdicts[0].verdict == "effect shown" and "re-judged" in r.notes[-1]


def _row(html: str, slug: str) -> str:
    m = re.search(rf'<tr data-slug="{slug}".*?</tr>', html, flags=re.S)
    assert m, f"no index row for {slug}"
    return m.group(0)


def test_site_index_row_and_paper_page_show_the_record(toy, tmp_path):
    pytest.importorskip("jinja2")
    res = tmp_path / "results"
    record(91.5, stored="not shown").save(res / "toy-paper" / "cpu-cpu.json")
    (res / "arena").mkdir(parents=True)
    (res / "arena" / "a.csv").write_text("task,budget,model,paper,params,acc_mean,acc_std\nmnist,1000,m,toy-paper,990,0.9,0.01\n")
    pages = build_site(tmp_path / "site", res, count_params=False)
    names = {p.relative_to(tmp_path / "site").as_posix() for p in pages}
    assert names == {"index.html", "arena.html", "bench.html", "models.html", "papers/toy-paper.html"}
    index = (tmp_path / "site" / "index.html").read_text()
    row = _row(index, "toy-paper")
    assert '<td class="ours">91.5</td>' in row and '<td class="theirs">99</td>' in row and "effect shown" in row
    assert 'class="stale"' in row and 'href="papers/toy-paper.html"' in row and 'data-kind="layer"' in row
    planned = next(e["slug"] for e in registry.roadmap() if e["slug"] != "toy-paper")
    assert 'data-verdict="planned"' in _row(index, planned)
    page = (tmp_path / "site" / "papers" / "toy-paper.html").read_text()
    assert re.search(r'<tr data-metric="acc"><td><code>acc</code></td><td class="ours">91.5</td>', page)
    assert "Stale record" in page and "toy protocol" in page and "<caption>widths</caption>" in page
    assert 'src="../plots/toy-paper-cpu-cpu-w8_learning.png"' in page
    assert (tmp_path / "site" / "plots" / "toy-paper-cpu-cpu-w8_learning.png").stat().st_size > 0
    assert (tmp_path / "site" / "plots" / "arena-mnist.png").is_file()
    record(97.0).save(res / "toy-paper" / "cpu-cpu.json")  # a changed record changes the page
    build_site(tmp_path / "site", res, count_params=False)
    row = _row((tmp_path / "site" / "index.html").read_text(), "toy-paper")
    assert '<td class="ours">97</td>' in row and 'class="stale"' not in row


def test_readme_parts_escape_and_number():
    text = ("# T\n\nWhat it is: <script>x</script> see [docs](../../docs/a.md) and [arXiv](https://arxiv.org/abs/1).\n\n"
            "## Usage\n\n```python\nimport paperzoo  # <ok>\n```\n\n## Deviations from the paper\n\n"
            "1. **First.** one\n   continued `a<b`.\n2. Second.\n\n## Other\n\n3. not a deviation\n")
    parts = parse_readme(text)
    assert parts.usage == "import paperzoo  # <ok>"
    assert "&lt;script&gt;" in parts.intro[0] and "docs" in parts.intro[0] and "../../docs" not in parts.intro[0]
    assert '<a href="https://arxiv.org/abs/1">arXiv</a>' in parts.intro[0]
    assert [n for n, _ in parts.deviations] == [1, 2]
    assert parts.deviations[0][1] == "<strong>First.</strong> one continued <code>a&lt;b</code>."


def test_cli_report_html(toy, tmp_path, capsys):
    pytest.importorskip("jinja2")
    from paperzoo.cli import main

    record().save(tmp_path / "results" / "toy-paper" / "cpu-cpu.json")
    assert main(["report", "--root", str(tmp_path), "--html", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "papers" / "toy-paper.html").is_file() and not (tmp_path / "docs").exists()
    assert "pages under" in capsys.readouterr().out
