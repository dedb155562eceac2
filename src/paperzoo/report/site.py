"""``paperzoo report --html site/``: a static site from ``results/`` and the registry (plain HTML + CSS,
a few lines of vanilla JS for the index filter; open ``site/index.html`` directly, no server needed).

Pages: ``index.html`` (every roadmap paper, filters by group / kind / verdict), ``papers/<slug>.html``
(what it is, usage, claims vs ours per record, the config that ran, tables, plots, deviations),
``arena.html`` (``results/arena/*.csv``), ``bench.html`` (``results/bench/*.csv``) and ``models.html``
(registered models and probes). Plots are drawn at build time into ``plots/``.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import importlib
import math
from pathlib import Path
from typing import Iterable

from paperzoo.registry import Paper, list_models, list_papers, list_probes, roadmap
from paperzoo.report.plots import draw_arena, record_figures, safe_name
from paperzoo.report.readme import ReadmeParts, inline, parse_readme
from paperzoo.report.records import Judged, as_float, fmt, headline_of, judged_records, wall
from paperzoo.report.templates import CSS, TEMPLATES
from paperzoo.results import atomic_write_text

PROVENANCE = ("device_name", "torch", "commit")


def _env():
    try:
        import jinja2
    except ImportError as e:
        raise RuntimeError("the HTML site needs Jinja2: pip install 'paperzoo[site]'") from e
    return jinja2.Environment(loader=jinja2.DictLoader(TEMPLATES), autoescape=True, trim_blocks=True)


def _table(t: dict) -> dict:
    return {"columns": list(t.get("columns", [])), "rows": [[fmt(v) for v in row] for row in t.get("rows", [])],
            "caption": t.get("caption", "")}


def _readme(paper: Paper) -> ReadmeParts:
    try:
        mod = importlib.import_module(paper.package)
        path = Path(mod.__file__).parent / "README.md"
        return parse_readme(path.read_text()) if path.is_file() else ReadmeParts()
    except (ImportError, OSError):
        return ReadmeParts()


def _configs(paper: Paper) -> tuple[dict, str]:
    try:
        configs = paper.configs
    except Exception as e:  # a half-converted paper: show the error, build the rest
        return {}, f"protocols unavailable: {e}"
    out = {}
    for name, cfg in configs.items():
        fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "about"}
        out[name] = {"about": cfg.about, "fields": ", ".join(f"{k}={v!r}" for k, v in fields.items())}
    return out, ""


def _paper_page(env, paper: Paper, group: str, judged: list[Judged], out: Path, repo_url: str | None) -> Path:
    configs, err = _configs(paper)
    protocols = [p for p in ("smoke", "cpu", "full") if p in configs or any(p in c.bands for c in paper.claims)]
    claims = [{"metric": c.metric, "what": c.what, "paper": fmt(c.paper) + (f" {c.unit}" if c.unit else ""),
               "source": c.source, "bands": {k: c.bands.get(k) for k in protocols}} for c in paper.claims]
    records = []
    for j in judged:
        r = j.record
        records.append({
            "j": j, "about": r.config.get("about", ""), "wall": wall(r),
            "verdicts": [{"metric": v.metric, "ours": fmt(v.ours), "paper": fmt(v.paper), "band": v.band or "-",
                          "verdict": v.verdict, "reason": v.reason or "-", "source": v.source} for v in j.verdicts],
            "config": [(k, repr(v)) for k, v in r.config.items() if k != "about"],
            "tables": [(name, _table(t)) for name, t in r.tables.items()],
            "figures": record_figures(r, out / "plots"),
        })
    pkg_path = "src/" + paper.package.replace(".", "/") + "/"
    html = env.get_template("paper.html").render(
        up="../", built=_built(), p=paper, group=group, readme=_readme(paper), claims=claims, protocols=protocols,
        configs=configs, protocol_error=err, records=records, code_path=pkg_path,
        code_url=f"{repo_url.rstrip('/')}/tree/main/{pkg_path}" if repo_url else "")
    path = out / "papers" / f"{paper.slug}.html"
    atomic_write_text(path, html)
    return path


def _built() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _read_csvs(folder: Path) -> list[tuple[Path, list[dict]]]:
    out = []
    for f in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        with f.open(newline="") as fh:
            out.append((f, list(csv.DictReader(fh))))
    return out


def _arena(results_root: Path, out: Path) -> list[dict]:
    rows, files = [], {}
    for f, rs in _read_csvs(results_root / "arena"):
        for r in rs:
            rows.append(r)
            files.setdefault(r.get("task", "?"), set()).add(f"results/arena/{f.name}")
    tasks = []
    for task in sorted({r.get("task", "?") for r in rows}):
        sel = [r for r in rows if r.get("task", "?") == task]
        cols = [c for c in sel[0] if c not in ("task", "budget")]
        budgets = []
        for b in sorted({r.get("budget", "-") for r in sel}, key=lambda b: (as_float(b), str(b))):
            rs = sorted((r for r in sel if r.get("budget", "-") == b),
                        key=lambda r: -as_float(r.get("acc_mean")) if math.isfinite(as_float(r.get("acc_mean"))) else math.inf)
            budgets.append({"budget": b, "table": {"columns": cols, "rows": [[r.get(c, "") for c in cols] for r in rs]}})
        fig = draw_arena(sel, task, out / "plots" / f"arena-{safe_name(task)}.png")
        tasks.append({"task": task, "budgets": budgets, "figure": fig.name if fig else None,
                      "files": sorted(files[task])})
    return tasks


def _bench(results_root: Path, built: dict[str, str]) -> list[dict]:
    benches = []
    for f, rows in _read_csvs(results_root / "bench"):
        if not rows:
            continue
        cols = list(rows[0])
        const = [c for c in PROVENANCE if c in cols and len({r[c] for r in rows}) == 1]
        slug = next((s for s in sorted(built, key=len, reverse=True) if f.stem.startswith(s.replace("-", "_"))), "")
        keep = [c for c in cols if c not in const]
        benches.append({"name": f.stem, "file": f"results/bench/{f.name}", "slug": slug, "href": built.get(slug, ""),
                        "provenance": [(c, rows[0][c]) for c in const],
                        "table": {"columns": keep, "rows": [[r.get(c, "") for c in keep] for r in rows]}})
    return benches


def _first_paragraph(doc: str):
    """A docstring's first paragraph, RST ``code`` rendered as code."""
    para = doc.strip().split("\n\n", 1)[0]
    return inline(" ".join(line.strip() for line in para.splitlines()).replace("``", "`"))


def _models(built: dict[str, str], count: bool) -> tuple[list[dict], list[dict]]:
    from paperzoo.nn.budget import count_params

    models = []
    for m in list_models():
        params = "-"
        if count:
            try:
                params = f"{count_params(m.factory()):,}"
            except Exception as e:  # shown, not hidden: a model that cannot build from defaults is a bug
                params = f"error: {type(e).__name__}"
        models.append({"name": m.name, "paper": m.paper, "href": built.get(m.paper, ""),
                       "tasks": ", ".join(t.name for t in m.tasks), "knob": m.knob or "-", "params": params,
                       "what": _first_paragraph(m.doc)})
    probes = [{"name": p.name, "paper": p.paper, "href": built.get(p.paper, ""), "kinds": ", ".join(p.kinds),
               "pair": "yes" if p.pair else "-", "what": _first_paragraph(p.doc)} for p in list_probes()]
    return models, probes


def build_site(out: str | Path, results_root: str | Path, *, papers: Iterable[str] | None = None,
               repo_url: str | None = None, count_params: bool = True) -> list[Path]:
    """Write the static site into ``out`` from the records under ``results_root``; returns the pages
    written (HTML). ``papers`` limits the paper pages built (default: every registered paper; the
    index still lists the whole roadmap, linking the pages that exist)."""
    out, results_root = Path(out), Path(results_root)
    env = _env()
    recs = judged_records(results_root)
    registered = {p.slug: p for p in list_papers()}
    only = set(registered) if papers is None else {s.replace("_", "-") for s in papers}
    plan = roadmap()
    groups = {r["slug"]: r.get("group", "-") for r in plan}
    pages: list[Path] = []
    built: dict[str, str] = {}
    for slug, p in registered.items():
        if slug in only:
            pages.append(_paper_page(env, p, groups.get(slug, "-"), recs.get(slug, []), out, repo_url))
            built[slug] = f"papers/{slug}.html"
    rows = []
    for entry in plan + [{"slug": s, "title": p.title, "group": "-"} for s, p in registered.items() if s not in groups]:
        p = registered.get(entry["slug"])
        row = {"slug": entry["slug"], "title": entry.get("title", ""), "group": entry.get("group", "-"),
               "href": built.get(entry["slug"], "")}
        if p is None:
            row.update(kind="planned", metric="-", ours="-", paper="-", verdict="planned", protocol="-", device="-",
                       date="-", stale=False)
        else:
            h = headline_of(p, recs.get(p.slug, []))
            row.update(kind=p.kind, metric=h.metric, ours=h.ours, paper=h.paper, protocol=h.protocol,
                       device=h.device, date=h.date, stale=h.stale,
                       verdict=h.verdict if h.verdict != "-" else "not run")
        rows.append(row)
    filters = [(key, label, sorted({r[key] for r in rows})) for key, label in
               (("group", "group"), ("kind", "kind"), ("verdict", "verdict"))]
    common = {"up": "", "built": _built()}
    pages.append(out / "index.html")
    atomic_write_text(pages[-1], env.get_template("index.html").render(
        rows=rows, filters=filters, n_impl=len(registered), **common))
    pages.append(out / "arena.html")
    atomic_write_text(pages[-1], env.get_template("arena.html").render(tasks=_arena(results_root, out), **common))
    pages.append(out / "bench.html")
    atomic_write_text(pages[-1], env.get_template("bench.html").render(benches=_bench(results_root, built), **common))
    models, probes = _models(built, count_params)
    pages.append(out / "models.html")
    atomic_write_text(pages[-1], env.get_template("models.html").render(models=models, probes=probes, **common))
    atomic_write_text(out / "style.css", CSS.lstrip())
    return pages


def serve(folder: str | Path, port: int = 8000) -> None:
    """Serve ``folder`` on http://127.0.0.1:PORT until interrupted (the site also works without it)."""
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
        print(f"serving {folder} at http://127.0.0.1:{httpd.server_address[1]}/ (Ctrl-C stops)")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
