"""The ``paperzoo`` command: list, show, reproduce, report, data."""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table


def _make_console() -> Console:
    # Piped output (CI logs, tests) gets a wide console so tables are not cropped.
    return Console() if sys.stdout.isatty() else Console(width=200)


class _LazyConsole:
    def __getattr__(self, name):
        return getattr(_make_console(), name)


console = _LazyConsole()


def _cmd_list(a) -> int:
    from paperzoo.api import project_root
    from paperzoo.registry import list_papers
    from paperzoo.report import best_records, headline

    recs = best_records(project_root() / "results")
    t = Table(title="paperzoo: papers")
    for col in ("slug", "kind", "status", "headline metric", "ours", "paper", "verdict"):
        t.add_column(col)
    papers = list_papers(a.pattern)
    for p in papers:
        metric, ours, paper_v, verdict = headline(p, recs.get(p.slug, {}))
        t.add_row(p.slug, p.kind, p.status, metric, ours, paper_v, verdict)
    if a.all:
        from paperzoo.registry import roadmap

        done = {p.slug for p in papers}
        for r in roadmap():
            if r["slug"] not in done and (a.pattern == "*" or a.pattern in r["slug"]):
                t.add_row(r["slug"], "-", "planned", "-", "-", "-", "-")
    console.print(t)
    if not papers and not a.all:
        console.print(f"no paper matches {a.pattern!r}")
    return 0


def _cmd_show(a) -> int:
    from paperzoo.api import project_root
    from paperzoo.registry import get_paper
    from paperzoo.report import best_records

    p = get_paper(a.slug)
    console.print(f"[bold]{p.title}[/bold] ({p.slug})\n{p.authors} {p.year or ''} · arXiv {p.arxiv or '-'} · "
                  f"kind: {p.kind} · data: {', '.join(p.data) or '-'}")
    t = Table(title="claims")
    for col in ("metric", "paper", "source", *[f"band {k}" for k in p.protocols]):
        t.add_column(col)
    for c in p.claims:
        t.add_row(c.metric, str(c.paper), c.source, *[(c.bands[k].describe() if k in c.bands else "-")
                                                       for k in p.protocols])
    console.print(t)
    for name, cfg in p.configs.items():
        console.print(f"  [bold]{name}[/bold]: {cfg.about}")
        fields = {k: v for k, v in __import__("dataclasses").asdict(cfg).items() if k != "about"}
        console.print("    config: " + ", ".join(f"{k}={v!r}" for k, v in fields.items()), markup=False,
                      highlight=False)
    for proto, r in sorted(best_records(project_root() / "results").get(p.slug, {}).items()):
        console.print(f"\n[bold]recorded {proto}[/bold] on {r.device_name}, seed {r.seed}, {r.wall_seconds:.0f} s, "
                      f"commit {r.git_commit[:12]}")
        console.print(r.table(), markup=False)
        if r.config:
            console.print("config that ran: " + ", ".join(f"{k}={v!r}" for k, v in r.config.items() if k != "about"),
                          markup=False, highlight=False)
    readme = Path(__file__).parent / "papers" / p.slug.replace("-", "_") / "README.md"
    if readme.is_file():
        text = readme.read_text()
        m = re.search(r"^## Deviations[^\n]*\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
        if m:
            console.print("\n[bold]Deviations from the paper[/bold] (from the README)")
            console.print(m.group(1).strip(), markup=False, highlight=False)
    console.print(f"\nREADME (usage, results, deviations): {readme}")
    return 0


def _cmd_reproduce(a) -> int:
    from paperzoo.api import reproduce
    from paperzoo.config import parse_sets

    r = reproduce(a.slug, a.protocol, a.seed, overrides=parse_sets(a.set), device=a.device, out=a.out,
                  resume=a.resume, record=a.record, progress=False if a.no_progress else None)
    console.print(f"\n[bold]{r.slug}[/bold] · protocol {r.protocol} · seed {r.seed} · {r.device_name} · "
                  f"{r.wall_seconds:.1f} s")
    console.print(r.table(), markup=False)
    for n in r.notes:
        console.print(f"note: {n}", markup=False)
    if a.record:
        console.print(f"recorded: results/{r.slug}/{r.protocol}-{r.device}.json")
    if r.not_measured:
        console.print(f"[bold red]error:[/bold red] claims not measured by this run: {', '.join(r.not_measured)}")
        return 1
    return 0 if (r.passed or not a.strict) else 1


def _cmd_models(a) -> int:
    from paperzoo.nn.budget import count_params
    from paperzoo.registry import list_models

    t = Table(title="registered models" + (f" for task {a.task}" if a.task else ""))
    for col in ("name", "paper", "tasks", "budget knob", "params (defaults)", "what"):
        t.add_column(col)
    for m in list_models(a.task):
        try:
            n = f"{count_params(m.factory()):,}"
        except Exception as e:  # a model that cannot build from defaults is a bug; show it, do not hide the list
            n = f"error: {e}"
        t.add_row(m.name, m.paper, ", ".join(x.name for x in m.tasks), m.knob or "-", n,
                  (m.doc.splitlines() or [""])[0])
    console.print(t)
    return 0


def _cmd_probes(a) -> int:
    from paperzoo.registry import list_probes

    t = Table(title="registered probes: paperzoo probe NAME --model ...")
    for col in ("name", "paper", "task kinds", "two models", "what"):
        t.add_column(col)
    for p in list_probes():
        t.add_row(p.name, p.paper, ", ".join(p.kinds), "yes" if p.pair else "-", (p.doc.splitlines() or [""])[0])
    console.print(t)
    return 0


def _cmd_arena(a) -> int:
    import dataclasses

    from paperzoo.api import project_root, runs_root
    from paperzoo.arena import Recipe, run_arena, write_arena
    from paperzoo.arena.operators import BENCHMARKS, OperatorRecipe

    given = {k: v for k, v in (("epochs", a.epochs), ("n_train", a.n_train), ("n_test", a.n_test)) if v is not None}
    operator = a.task in BENCHMARKS
    recipe = dataclasses.replace(OperatorRecipe() if operator else Recipe(), **given)
    rows = run_arena(a.task, a.params, seeds=a.seeds, recipe=recipe, models=a.models,
                     out=Path(a.out) if a.out else runs_root() / "arena", resume=a.resume,
                     progress=False if a.no_progress else None)
    key, head, sign = ("rel_l2", "test rel. L2 (mean +- std)", 1) if operator else ("acc", "acc % (mean +- std)", -1)
    t = Table(title=f"arena: {a.task} at {a.params:,} parameters (+-10%), {a.seeds} seed(s)")
    for col in ("model", "paper", "params", head, "train s", "samples/s", "status"):
        t.add_column(col)
    for r in sorted(rows, key=lambda r: sign * (r[f"{key}_mean"] or 0) if r["status"] == "ok" else 1e9):
        acc = (f"{r[f'{key}_mean']:.4g} +- {r[f'{key}_std']:.2g}" if operator else
               f"{r['acc_mean']:.2f} +- {r['acc_std']:.2f}") if r["status"] == "ok" else "-"
        t.add_row(r["model"], r["paper"], f"{r['params']:,}" if r["params"] != "" else "-", acc,
                  str(r["train_seconds"]), str(r["samples_per_s"]), r["status"] if r["status"] == "ok" else r["reason"])
    console.print(t)
    if a.record:
        csv_path, png = write_arena(rows, project_root())
        console.print(f"wrote {csv_path}" + (f" and {png}" if png else ""))
    return 0


def _cmd_probe(a) -> int:
    from paperzoo.api import runs_root
    from paperzoo.probe import run_probe

    rec = run_probe(a.name, a.model, a.data, other=a.other, layers=a.layers, n=a.n,
                    out=Path(a.out) if a.out else runs_root() / "probes")
    from paperzoo.probe import short_name

    t = Table(title=f"probe {a.name} on {short_name(a.model)}" + (f" vs {short_name(a.other)}" if a.other else "")
              + f" ({a.data}, n={rec['n']})")
    t.add_column("metric")
    t.add_column("value")
    for k, v in rec["metrics"].items():
        t.add_row(k, f"{v:.5g}")
    console.print(t)
    console.print(f"wrote {rec['json']}" + (f" and {rec['png']}" if rec.get("png") else ""))
    return 0


def _cmd_bench(a) -> int:
    from paperzoo.bench import find_bench

    run = find_bench(a.name)
    kwargs = {"against": a.against} if a.against else {}
    path = run(**kwargs)
    console.print(f"wrote {path}")
    return 0


def _cmd_report(a) -> int:
    from paperzoo.api import project_root
    from paperzoo.report import build_site, serve, stale_records, write_report

    root = Path(a.root) if a.root else project_root()
    results = Path(a.results) if a.results else root / "results"
    if a.serve and not a.html:
        a.html = str(root / "site")
    if a.html:  # the site only: README files and docs/ are left alone
        pages = build_site(a.html, results, repo_url=a.repo_url)
        console.print(f"wrote {len(pages)} pages under {a.html} (open {Path(a.html) / 'index.html'})")
        if a.serve:
            serve(a.html, a.port)
        return 0
    for j in stale_records(results):
        console.print(f"stale record {j.file}: " + "; ".join(j.stale), markup=False, highlight=False)
    for p in write_report(root, rejudge=a.rejudge):
        console.print(f"wrote {p}")
    return 0


def _cmd_data(a) -> int:
    from paperzoo.data import DATASETS, DataError, data_dir, load, verify_file
    from paperzoo.data.datasets import _LOADERS

    if a.action == "path":
        print(data_dir())
        return 0
    if a.action == "fetch":
        from paperzoo.data.fetch import fetch

        if not a.name:
            raise SystemExit("paperzoo data fetch NAME (one of: " + ", ".join(DATASETS) + ")")
        for p in fetch(a.name):
            console.print(f"fetched {p}")
        return 0
    names = [a.name] if a.name else list(DATASETS)
    t = Table(title=f"data sets under {data_dir()}")
    for col in ("name", "files present", "status", "description"):
        t.add_column(col)
    bad = 0
    for n in names:
        if n not in DATASETS:
            raise KeyError(f"unknown data set {n!r}; known: {', '.join(DATASETS)}")
        ds = DATASETS[n]
        present = sum(p is not None for _, p in ds.paths())
        status = "-"
        if a.action == "verify":
            try:
                if n in _LOADERS:
                    s = load(n)
                    status = f"ok ({len(s.train)} train / {len(s.test)} test)" + (f"; {s.note}" if s.note else "")
                else:  # files without a split loader: checksums only
                    for rel, path in ds.paths():
                        if path is None:
                            raise DataError(f"missing {data_dir() / rel}")
                        verify_file(path, rel)
                    status = "ok (checksums)"
            except (DataError, KeyError) as e:
                status, bad = f"FAILED: {e}", bad + 1
        t.add_row(n, f"{present}/{len(ds.files)}", status, ds.description)
    console.print(t)
    if a.action == "list" and not a.name:
        from paperzoo.data.pde import list_generated, pde_dir

        gen = list_generated()
        g = Table(title=f"generated sets under {pde_dir()} ({len(gen)})")
        for col in ("name", "parameters", "arrays", "MB", "created"):
            g.add_column(col)
        for m in gen:
            g.add_row(m["name"], ", ".join(f"{k}={v}" for k, v in m.get("params", {}).items()),
                      ", ".join(f"{k} {tuple(v)}" for k, v in m.get("shapes", {}).items()), f"{m['bytes'] / 1e6:.1f}",
                      m.get("created", "-"))
        console.print(g)
    return 1 if bad else 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="paperzoo", description="Neural-network papers, reproduced.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("list", help="every paper: kind, status, our number vs the paper's")
    s.add_argument("pattern", nargs="?", default="*")
    s.add_argument("--all", action="store_true", help="also list the planned papers of the roadmap")
    s.set_defaults(fn=_cmd_list)
    s = sub.add_parser("show", help="claims, protocols, recorded results of one paper")
    s.add_argument("slug")
    s.set_defaults(fn=_cmd_show)
    s = sub.add_parser("reproduce", help="run a paper's protocol and print ours vs the paper's")
    s.add_argument("slug")
    s.add_argument("--protocol", default="cpu", choices=("smoke", "cpu", "full"))
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    s.add_argument("--out", default=None, help="run directory (default runs/<slug>/<protocol>-seed<N>)")
    s.add_argument("--resume", action="store_true", help="continue a killed run in --out")
    s.add_argument("--record", action="store_true", help="write results/<slug>/<protocol>-<device>.json")
    s.add_argument("--strict", action="store_true", help="exit 1 when a claim is not shown")
    s.add_argument("--no-progress", action="store_true")
    s.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="replace a field of the protocol's config (repeatable); stored in the result")
    s.set_defaults(fn=_cmd_reproduce)
    s = sub.add_parser("models", help="registered models: task, budget knob, parameters")
    s.add_argument("--task", default=None, help="a task name (mnist, cifar10, operator-2d, ...) or kind")
    s.set_defaults(fn=_cmd_models)
    s = sub.add_parser("probes", help="registered probes that run on any model")
    s.set_defaults(fn=_cmd_probes)
    s = sub.add_parser("arena", help="every classifier of a task (or neural operator of a PDE benchmark: darcy) at one "
                                     "parameter budget, one recipe")
    s.add_argument("task", help="mnist | fashion-mnist | cifar10")
    s.add_argument("--params", type=int, required=True, help="the parameter budget (each model within +-10%%)")
    s.add_argument("--seeds", type=int, default=1)
    s.add_argument("--epochs", type=int, default=None)
    s.add_argument("--n-train", type=int, default=None, help="train on the first N images (default: all)")
    s.add_argument("--n-test", type=int, default=None)
    s.add_argument("--models", nargs="*", default=None, help="only these registered models")
    s.add_argument("--out", default=None, help="run folder (default runs/arena)")
    s.add_argument("--resume", action="store_true", help="reuse finished models/seeds in --out")
    s.add_argument("--record", action="store_true", help="write results/arena/<task>-<N>.csv and .png")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(fn=_cmd_arena)
    s = sub.add_parser("probe", help="a registered probe on any model or saved checkpoint")
    s.add_argument("name", help="probe name (paperzoo probes lists them)")
    s.add_argument("--model", required=True, help="registered model name (fresh init) or saved-model folder")
    s.add_argument("--other", default=None, help="second model for probes that compare two")
    s.add_argument("--data", required=True, help="data set whose test split is probed (mnist, fashion-mnist, cifar10)")
    s.add_argument("--layers", nargs="*", default=None, help="module names to read (default: the probe's choice)")
    s.add_argument("--n", type=int, default=2000, help="number of test images")
    s.add_argument("--out", default=None, help="folder for the JSON and PNG (default runs/probes)")
    s.set_defaults(fn=_cmd_probe)
    s = sub.add_parser("bench", help="a paper's side-by-side benchmark (its bench.py), CSV under results/bench/")
    s.add_argument("name", help="paper slug (papers with a bench.py: see `make bench`)")
    s.add_argument("--against", default=None, help="the library to compare with (the paper's bench names it)")
    s.set_defaults(fn=_cmd_bench)
    s = sub.add_parser("report", help="regenerate README results blocks, docs/results.md and plots; --html: a static site")
    s.add_argument("--root", default=None, help="the checkout to write into (default: this one)")
    s.add_argument("--results", default=None, help="records folder (default ROOT/results)")
    s.add_argument("--rejudge", action="store_true", help="rewrite stale stored verdicts under the current bands")
    s.add_argument("--html", default=None, metavar="DIR", help="build the static site into DIR instead (e.g. site/)")
    s.add_argument("--serve", action="store_true", help="build the site (default ROOT/site) and serve it locally")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--repo-url", default=None, help="link paper pages to the code at this repository URL")
    s.set_defaults(fn=_cmd_report)
    s = sub.add_parser("data", help="data sets (downloaded, and generated PDE sets): list | verify | path | fetch NAME")
    s.add_argument("action", choices=("list", "verify", "path", "fetch"))
    s.add_argument("name", nargs="?")
    s.set_defaults(fn=_cmd_data)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except (KeyError, ValueError, RuntimeError, FileNotFoundError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        console.print(f"[bold red]error:[/bold red] {msg}", markup=True, highlight=False)
        if os.environ.get("PAPERZOO_DEBUG"):
            raise
        return 2


if __name__ == "__main__":
    sys.exit(main())
