"""The static site as a person sees it: built from a temporary copy of records the test controls,
opened in headless Chromium (Debian's ``chromium`` + ``chromium-driver``) through Selenium.

Every page reachable from the index loads without console errors, every internal link resolves,
every image loads with a nonzero size, the rows of the index and of the paper pages match the
record files, and the index filter hides what it should. Screenshots go to ``site/screenshots/``.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from paperzoo import registry
from paperzoo.results import Result, judge

ROOT = Path(__file__).resolve().parents[2]
HOW = "install headless Chromium: `apt-get install chromium chromium-driver` (Debian) and `pip install selenium jinja2`"


def _which(*names: str) -> str | None:
    return next((p for p in map(shutil.which, names) if p), None)


CHROME, DRIVER = _which("chromium", "chromium-browser", "google-chrome"), _which("chromedriver")
try:
    import jinja2  # noqa: F401
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
except ImportError:
    pytest.skip(f"selenium/jinja2 not installed: {HOW}", allow_module_level=True)
if not (CHROME and DRIVER):
    pytest.skip(f"no chromium/chromedriver on PATH: {HOW}", allow_module_level=True)

HEADLINE_VALUE = 0.123456  # what the test writes into its own record; the pages must show 0.1235


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site from a copy of results/: one record written by the test (with a table, a curve
    with "nan" strings and a deliberately stale stored verdict), the records of up to two other
    registered papers, the bench CSVs and a small arena CSV."""
    papers = registry.list_papers()
    if not papers:
        pytest.skip("no registered paper imports right now")
    tmp = tmp_path_factory.mktemp("site")
    results = tmp / "results"
    mine = papers[0]
    others = [p for p in papers[1:] if (ROOT / "results" / p.slug).is_dir()][:2]
    for p in others:
        shutil.copytree(ROOT / "results" / p.slug, results / p.slug)
    if (ROOT / "results" / "bench").is_dir():
        shutil.copytree(ROOT / "results" / "bench", results / "bench")
    (results / "arena").mkdir(parents=True)
    (results / "arena" / "mnist-test.csv").write_text(
        "task,budget,model,paper,params,acc_mean,acc_std,train_seconds,samples_per_s,status\n"
        "mnist,100000,model_a,a,98000,0.97,0.002,10.5,5000,ok\nmnist,100000,model_b,b,101000,0.95,nan,9.0,4000,ok\n"
        "mnist,50000,model_a,a,51000,0.96,0.003,8.0,6000,ok\n")
    metrics = {c.metric: 1.0 for c in mine.claims}
    metrics[mine.headline.metric] = HEADLINE_VALUE
    verdicts = judge(mine.claims, metrics, "cpu")
    hv = next(v for v in verdicts if v.metric == mine.headline.metric)
    hv.verdict = "not shown" if hv.verdict != "not shown" else "effect shown"  # stale on purpose
    r = Result(mine.slug, "cpu", 0, metrics, verdicts, 12.5, "cpu", "cpu (test, 1 threads)", "2.x", "abcdef123456",
               config={"about": "browser-test protocol", "epochs": 1},
               tables={"sweep": {"columns": ["width", "acc"], "rows": [[8, 0.5], [16, "nan"]], "caption": "a sweep"}},
               curves={"sub/learning": {"x": [1, 2, 3], "ys": {"ours": [0.1, "nan", 0.3], "base": ["inf", 0.2, 0.25]},
                                        "xlabel": "epoch", "ylabel": "acc", "title": "learning", "logx": False,
                                        "logy": False, "hline": 0.3}})
    r.save(r.record_path(results))
    from paperzoo.report import build_site

    out = tmp / "site"
    pages = build_site(out, results, papers=[mine.slug] + [p.slug for p in others], count_params=False)
    return {"out": out, "results": results, "pages": pages, "mine": mine, "papers": [mine, *others]}


@pytest.fixture(scope="module")
def driver():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROME
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
              "--allow-file-access-from-files"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=DRIVER))
    yield d
    d.quit()


ROWS_JS = """return Array.from(document.querySelectorAll(arguments[0])).map(tr => Object.assign(
  {key: tr.dataset.metric || tr.dataset.slug, cells: Array.from(tr.cells).map(td => td.innerText.trim())},
  Object.fromEntries(Array.from(tr.querySelectorAll("td[class]")).map(td => [td.className, td.innerText.trim()]))));"""


def _rows(driver, selector: str) -> list[dict]:
    """The rows under ``selector`` as the browser renders them: ``{key, <td class>: text}`` (one round trip)."""
    return driver.execute_script(ROWS_JS, selector)


def _open(driver, path: Path) -> list[dict]:
    driver.get(path.as_uri())
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def crawl(site, driver):
    """Visit every page reachable from the index: console errors, internal links, images."""
    out, seen, todo, info = site["out"], set(), [site["out"] / "index.html"], {}
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        errors = _open(driver, page)
        hrefs = [a.get_attribute("href") for a in driver.find_elements(By.TAG_NAME, "a")]
        internal = [h for h in hrefs if h and h.startswith("file://")]
        imgs = driver.execute_script(
            "return Array.from(document.images).map(i => [i.src, i.complete && i.naturalWidth > 0, i.naturalWidth]);")
        info[page] = {"errors": errors, "links": internal, "images": imgs}
        for h in internal:
            target = Path(unquote(urlparse(h).path))
            if target.suffix == ".html" and target.is_file() and out in target.parents:
                todo.append(target)
    return info


def test_every_page_loads_without_console_errors(site, crawl):
    assert {p.resolve() for p in site["pages"]} <= {p.resolve() for p in crawl}, "a built page is unreachable"
    bad = {str(p.relative_to(site["out"])): i["errors"] for p, i in crawl.items() if i["errors"]}
    assert not bad, bad


def test_every_internal_link_resolves(site, driver, crawl):
    broken = []
    for page, i in crawl.items():
        for h in i["links"]:
            u = urlparse(h)
            target = Path(unquote(u.path))
            if not target.is_file():
                broken.append((page.name, h))
            elif u.fragment and f'id="{u.fragment}"' not in target.read_text():
                broken.append((page.name, h))
    assert not broken, broken


def test_images_load_with_nonzero_size(site, crawl):
    imgs = [(p.name, src, ok) for p, i in crawl.items() for src, ok, _ in i["images"]]
    assert all(ok for _, _, ok in imgs), [x for x in imgs if not x[2]]
    mine = site["out"] / "papers" / f"{site['mine'].slug}.html"
    srcs = [src for src, _, _ in crawl[mine]["images"]]
    assert any(s.endswith("sub_learning.png") for s in srcs), srcs  # the curve with "nan" strings was drawn
    assert any("arena-mnist.png" in s for p, i in crawl.items() for s, _, _ in i["images"])


def _expected_headline(paper, recs: list[Result]):
    by = {r.protocol: r for r in recs}
    for proto in ("full", "cpu", "smoke"):
        if proto in by:
            v = next(v for v in by[proto].rejudge(paper.claims).verdicts if v.metric == paper.headline.metric)
            return _fmt(v.ours), v.verdict, proto
    return "not run", "not run", "-"


def _records(site, slug) -> list[Result]:
    return [Result.from_dict(json.loads(f.read_text())) for f in sorted((site["results"] / slug).glob("*.json"))]


def test_index_rows_match_the_record_files(site, driver):
    _open(driver, site["out"] / "index.html")
    rows = {r["key"]: r for r in _rows(driver, "#papers tbody tr")}
    assert set(rows) >= {e["slug"] for e in registry.roadmap()} | {p.slug for p in registry.list_papers()}
    for p in site["papers"]:
        ours, verdict, proto = _expected_headline(p, _records(site, p.slug))
        row = rows[p.slug]
        assert (row["ours"], row["theirs"], row["protocol"]) == (ours, _fmt(p.headline.paper), proto), row
        assert row["verdict"].startswith(verdict), row
    mine = rows[site["mine"].slug]
    assert mine["ours"] == "0.1235" and "stale" in mine["verdict"]  # the record the test wrote, re-judged


def test_paper_page_rows_match_the_record_files(site, driver):
    for p in site["papers"]:
        _open(driver, site["out"] / "papers" / f"{p.slug}.html")
        for r in _records(site, p.slug):
            fresh = {v.metric: v for v in r.rejudge(p.claims).verdicts}
            rows = _rows(driver, f"#verdicts-{r.protocol}-{r.device} tbody tr")
            assert [row["key"] for row in rows] == list(fresh)
            for row in rows:
                v = fresh[row["key"]]
                got = [row["ours"], row["theirs"], row["band"], row["verdict"]]
                assert got == [_fmt(v.ours), _fmt(v.paper), v.band or "-", v.verdict], (p.slug, r.protocol, got)
            for i, t in enumerate(r.tables.values(), start=1):  # the stored tables, cell by cell
                rows = _rows(driver, f"#table-{r.protocol}-{r.device}-{i} tbody tr")
                assert [row["cells"] for row in rows] == [[_fmt(v) for v in row] for row in t["rows"]], (p.slug, i)
    _open(driver, site["out"] / "papers" / f"{site['mine'].slug}.html")
    body = driver.find_element(By.TAG_NAME, "body").text
    assert "Stale record" in body and "a sweep" in body and "browser-test protocol" in body


def test_index_filter(site, driver):
    _open(driver, site["out"] / "index.html")
    rows = driver.find_elements(By.CSS_SELECTOR, "#papers tbody tr")
    kind = site["mine"].kind
    Select(driver.find_element(By.ID, "filter-kind")).select_by_value(kind)
    shown = [r for r in rows if r.is_displayed()]
    assert shown and all(r.get_attribute("data-kind") == kind for r in shown)
    assert len(shown) < len(rows) and driver.find_element(By.ID, "shown").text == str(len(shown))
    Select(driver.find_element(By.ID, "filter-kind")).select_by_value("")
    mine = next(r for r in rows if r.get_attribute("data-slug") == site["mine"].slug)
    other = next(o.get_attribute("value") for o in Select(driver.find_element(By.ID, "filter-verdict")).options
                 if o.get_attribute("value") not in ("", mine.get_attribute("data-verdict")))
    Select(driver.find_element(By.ID, "filter-verdict")).select_by_value(other)
    shown = [r for r in rows if r.is_displayed()]
    assert shown and all(r.get_attribute("data-verdict") == other for r in shown) and not mine.is_displayed()
    Select(driver.find_element(By.ID, "filter-verdict")).select_by_value("")
    assert all(r.is_displayed() for r in rows)


def test_screenshots(site, driver):
    shots = ROOT / "site" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    _open(driver, site["out"] / "index.html")
    assert driver.save_screenshot(str(shots / "index.png"))
    _open(driver, site["out"] / "papers" / f"{site['mine'].slug}.html")
    assert driver.save_screenshot(str(shots / "paper.png"))
    assert (shots / "index.png").stat().st_size > 1000 and (shots / "paper.png").stat().st_size > 1000
