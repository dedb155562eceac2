"""``paperzoo report``: everything readers see of the results, generated from ``results/`` (never typed).

- ``write_report(root)``: the table between the markers in ``README.md``, ``docs/results.md``, each
  paper README's results block (between the same markers), and ``docs/plots/`` (every stored curve,
  drawn generically, plus a paper's own ``reproduce.plot``). Verdicts are re-judged under the
  current bands; stale records are flagged (``rejudge=True`` rewrites their stored verdicts).
- ``build_site(out, results_root)``: the static HTML site (``paperzoo report --html site/``).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from paperzoo.registry import list_papers
from paperzoo.report.markdown import detail_page, paper_block, readme_path, rel_prefix, summary_table
from paperzoo.report.plots import Figure, available, draw_curve, record_figures
from paperzoo.report.records import (
    BEGIN,
    END,
    Judged,
    best_records,
    fmt,
    headline,
    headline_of,
    judged_records,
    rejudge,
    replace_block,
)
from paperzoo.results import atomic_write_text

__all__ = ["BEGIN", "END", "Judged", "best_records", "build_site", "draw_curve", "fmt", "headline", "headline_of",
           "judged_records", "rejudge", "replace_block", "serve", "stale_records", "write_report"]


def build_site(out, results_root, **kwargs) -> list[Path]:
    """The static HTML site (see ``paperzoo.report.site.build_site``; needs Jinja2)."""
    from paperzoo.report.site import build_site as _build

    return _build(out, results_root, **kwargs)


def serve(folder, port: int = 8000) -> None:
    from paperzoo.report.site import serve as _serve

    _serve(folder, port)


def stale_records(results_root: Path) -> list[Judged]:
    """Records whose stored verdicts differ from a re-judgement under the current bands."""
    return [j for js in judged_records(results_root).values() for j in js if j.stale]


def _rewrite_verdicts(root: Path, j: Judged) -> Path:
    path = root / j.file
    r = dataclasses.replace(j.record, verdicts=j.verdicts,
                            notes=[*j.record.notes, "verdicts re-judged by `paperzoo report --rejudge` under the "
                                   "bands of a later commit than the run's"])
    r.save(path)
    return path


def _write_if_changed(path: Path, text: str, written: list[Path]) -> None:
    if not path.is_file() or path.read_text() != text:
        atomic_write_text(path, text)
        written.append(path)


def write_report(root: Path, plots: bool = True, *, rejudge: bool = False) -> list[Path]:
    """Regenerate, under the checkout ``root``: the table between the markers in ``README.md``,
    ``docs/results.md``, the results block of every paper README that has the markers, and the
    plots in ``docs/plots/``. Returns the files written."""
    root = Path(root)
    results_root = root / "results"
    written: list[Path] = []
    if rejudge:
        for j in stale_records(results_root):
            written.append(_rewrite_verdicts(root, j))
    recs = judged_records(results_root)
    plots_dir = root / "docs" / "plots"
    figures: dict[str, dict[str, list[Figure]]] = {}
    if plots and available():  # without matplotlib the existing figures stay
        before = set(plots_dir.glob("*.png")) if plots_dir.is_dir() else set()
        for slug, js in recs.items():
            for j in js:
                figures.setdefault(slug, {})[j.key] = record_figures(j.record, plots_dir)
        drawn = {plots_dir / f.name for per in figures.values() for fs in per.values() for f in fs}
        for old in before - drawn:  # figures of records or curves that no longer exist
            old.unlink()
        written += sorted(drawn)
    readme = root / "README.md"
    if readme.is_file():
        text = readme.read_text()
        new = replace_block(text, summary_table(recs))
        if new is None:
            new = text.rstrip() + f"\n\n## Results\n\n{BEGIN}\n{summary_table(recs)}\n{END}\n"
        _write_if_changed(readme, new, written)
    docs = root / "docs" / "results.md"
    atomic_write_text(docs, detail_page(recs, figures))
    written.append(docs)
    for p in list_papers():
        path = readme_path(root, p)
        if not path.is_file():
            continue
        text = path.read_text()
        new = replace_block(text, paper_block(p, recs.get(p.slug, []), figures.get(p.slug, {}),
                                              rel_prefix(path, plots_dir)))
        if new is not None:
            _write_if_changed(path, new, written)
    return written
