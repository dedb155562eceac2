"""Figures drawn from the records: every stored curve generically (matplotlib, Agg), plus a paper's
own ``reproduce.plot(result, path)`` when a figure needs custom code, plus the arena's
accuracy-vs-parameters plots. Files are named after the record: ``<slug>-<protocol>-<device>-<curve>.png``.
"""
from __future__ import annotations

import importlib
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from paperzoo.report.records import as_float
from paperzoo.results import Result


@dataclass(frozen=True)
class Figure:
    """A drawn figure: its file name (in the plots folder) and a caption."""

    name: str
    caption: str


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def available() -> bool:
    """True when matplotlib can be imported (figures are skipped without it)."""
    return _pyplot() is not None


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def record_stem(r: Result) -> str:
    return f"{r.slug}-{r.protocol}-{r.device}"


def draw_curve(curve: dict, path: Path) -> Path:
    """Draw one stored curve (``{"x", "ys", "xlabel", "ylabel", "title", "logx", "logy", "hline"}``)
    to ``path`` (PNG). Non-finite values (stored as "nan"/"inf") leave gaps; a non-numeric x axis is
    drawn as categories."""
    plt = _pyplot()
    fig = curve_figure(curve)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def curve_figure(curve: dict):
    """The matplotlib figure of one stored curve (the caller closes it)."""
    plt = _pyplot()
    if plt is None:
        raise RuntimeError("drawing plots needs matplotlib: pip install 'paperzoo[plots]'")
    xs = list(curve.get("x", []))
    xf = [as_float(v) for v in xs]
    categorical = bool(xs) and all(isinstance(v, str) for v in xs) and all(math.isnan(v) for v in xf)
    pos = list(range(len(xs))) if categorical else xf
    fig, ax = plt.subplots(figsize=(5.2, 3.4), dpi=100)
    try:
        for label, ys in dict(curve.get("ys", {})).items():
            ax.plot(pos, [as_float(v) for v in ys], marker="o" if len(xs) <= 30 else None, ms=3, label=str(label))
        hline = curve.get("hline")
        if hline is not None and math.isfinite(as_float(hline)):
            ax.axhline(as_float(hline), color="grey", ls="--", lw=1, label="paper")
        if categorical:
            ax.set_xticks(pos, [str(v) for v in xs], rotation=30 if len(xs) > 5 else 0)
        with warnings.catch_warnings():  # non-positive values on a log axis are masked (not drawn)
            warnings.simplefilter("ignore")
            if curve.get("logx") and not categorical:
                ax.set_xscale("log")
            if curve.get("logy"):
                ax.set_yscale("log")
        ax.set_xlabel(str(curve.get("xlabel", "x")))
        ax.set_ylabel(str(curve.get("ylabel", "y")))
        ax.set_title(str(curve.get("title", "")), fontsize=10)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        fig.tight_layout()
    except BaseException:
        plt.close(fig)
        raise
    return fig


def custom_plot(r: Result, path: Path) -> bool:
    """Call the paper's ``reproduce.plot(result, path)`` if it defines one; True when it drew."""
    from paperzoo.registry import get_paper

    try:
        mod = importlib.import_module(f"{get_paper(r.slug).package}.reproduce")
    except (KeyError, ImportError):
        return False
    fn = getattr(mod, "plot", None)
    if fn is None or _pyplot() is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        ok = fn(r, path)
    except Exception as e:  # a paper's custom figure must not break the whole report
        warnings.warn(f"{r.slug} {r.protocol}: reproduce.plot failed: {e!r}", RuntimeWarning, stacklevel=2)
        return False
    return ok is not False and path.is_file()


def record_figures(r: Result, plots_dir: Path, *, custom: bool = True) -> list[Figure]:
    """Draw every curve of record ``r`` (and its paper's custom plot) into ``plots_dir``."""
    if _pyplot() is None:
        return []
    out = []
    stem = record_stem(r)
    if custom and custom_plot(r, plots_dir / f"{stem}.png"):
        out.append(Figure(f"{stem}.png", f"{r.slug} {r.protocol} ({r.device}): the paper's figure"))
    for name, curve in r.curves.items():
        fname = f"{stem}-{safe_name(name)}.png"
        try:
            draw_curve(curve, plots_dir / fname)
        except (ValueError, TypeError, AttributeError) as e:  # a malformed curve: say so, draw the rest
            warnings.warn(f"{stem}: cannot draw curve {name!r}: {e}", RuntimeWarning, stacklevel=2)
            continue
        out.append(Figure(fname, f"{curve.get('title') or name} ({r.protocol}, {r.device})"))
    return out


def draw_arena(rows: list[dict], task: str, path: Path) -> Path | None:
    """Accuracy vs parameters for one task: one line per model across the budgets (error bars: acc_std), with a
    colour-and-marker legend outside the axes so that two dozen models stay readable."""
    plt = _pyplot()
    pts = [r for r in rows if math.isfinite(as_float(r.get("params"))) and math.isfinite(as_float(r.get("acc_mean")))]
    if plt is None or not pts:
        return None
    import matplotlib.ticker as mticker

    models = sorted({str(r.get("model")) for r in pts})
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=100, layout="constrained")
    try:
        cmap, markers = plt.get_cmap("tab20"), "osD^v<>Ph"
        for i, model in enumerate(models):
            sel = sorted((r for r in pts if str(r.get("model")) == model), key=lambda r: as_float(r["params"]))
            std = [as_float(r.get("acc_std")) for r in sel]
            ax.errorbar([as_float(r["params"]) for r in sel], [as_float(r["acc_mean"]) for r in sel],
                        yerr=[0.0 if math.isnan(s) else s for s in std], marker=markers[i // 20 % len(markers)],
                        color=cmap(i % 20), ms=4, capsize=2, lw=1, label=model)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
        ax.xaxis.set_minor_formatter(mticker.NullFormatter())
        budgets = sorted({b for b in (as_float(r.get("budget")) for r in pts) if math.isfinite(b)})
        if budgets:
            ax.set_xticks(budgets)
        ax.set_xlabel("parameters")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"arena: {task}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2 if len(models) > 14 else 1, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
