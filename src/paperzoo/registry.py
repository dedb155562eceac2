"""How the faces find the zoo: papers, models and probes by name.

Papers are discovered, not imported by hand: every sub-package of
``paperzoo.papers`` that defines ``PAPER`` is registered on first use. Models and
probes register themselves with decorators when their paper's package is imported.
Unknown names raise ``KeyError`` with a "did you mean" list.
"""
from __future__ import annotations

import difflib
import fnmatch
import importlib
import pkgutil
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .results import Claim

KINDS = ("layer", "architecture", "probe", "training technique", "learning rule", "theory", "system")


@dataclass(frozen=True)
class Paper:
    """A paper's registry entry: what it claims, and how to reproduce it.

    ``package`` is the import path of the paper's package; its ``reproduce``
    module must define ``run(ctx) -> dict[str, float]`` for every protocol named
    in ``protocols`` (name -> one-line description).
    """

    slug: str
    title: str
    kind: str
    package: str
    claims: tuple[Claim, ...]
    protocols: Mapping[str, str]
    arxiv: str = ""
    authors: str = ""
    year: int | None = None
    status: str = "implemented"
    main_metric: str | None = None
    data: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Paper {self.slug!r}: kind {self.kind!r} not in {KINDS}")
        for p in self.protocols:
            if p not in ("smoke", "cpu", "full"):
                raise ValueError(f"Paper {self.slug!r}: unknown protocol {p!r}")
        metrics = [c.metric for c in self.claims]
        if len(set(metrics)) != len(metrics):
            raise ValueError(f"Paper {self.slug!r}: duplicate claim metrics {metrics}")
        for c in self.claims:
            for proto in c.bands:
                if proto not in self.protocols:
                    raise ValueError(f"Paper {self.slug!r}: claim {c.metric!r} has a band for "
                                     f"protocol {proto!r}, which the paper does not define")

    @property
    def headline(self) -> Claim | None:
        if self.main_metric:
            return next(c for c in self.claims if c.metric == self.main_metric)
        return self.claims[0] if self.claims else None

    def runner(self) -> Callable[..., dict]:
        return importlib.import_module(f"{self.package}.reproduce").run


@dataclass(frozen=True)
class ModelEntry:
    name: str
    factory: Callable[..., Any]
    paper: str
    tasks: tuple[str, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class ProbeEntry:
    name: str
    fn: Callable[..., Any]
    paper: str
    doc: str = ""


@dataclass
class _Registry:
    papers: dict[str, Paper] = field(default_factory=dict)
    models: dict[str, ModelEntry] = field(default_factory=dict)
    probes: dict[str, ProbeEntry] = field(default_factory=dict)
    discovered: bool = False


_REG = _Registry()


def _discover() -> None:
    if _REG.discovered:
        return
    _REG.discovered = True
    from . import papers as _papers

    for info in sorted(pkgutil.iter_modules(_papers.__path__), key=lambda m: m.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        try:
            mod = importlib.import_module(f"{_papers.__name__}.{info.name}")
        except Exception as e:  # one broken paper must not hide the whole zoo
            warnings.warn(f"paperzoo: cannot import paper package {info.name!r}: {e!r}", RuntimeWarning)
            continue
        paper = getattr(mod, "PAPER", None)
        if isinstance(paper, Paper) and paper.slug not in _REG.papers:
            register_paper(paper)


def register_paper(paper: Paper) -> Paper:
    """Add a paper (done automatically for ``paperzoo.papers.*``; use it for plug-ins)."""
    if paper.slug in _REG.papers and _REG.papers[paper.slug] is not paper:
        raise ValueError(f"paper {paper.slug!r} is already registered")
    _REG.papers[paper.slug] = paper
    return paper


def register_model(name: str, *, paper: str, tasks: tuple[str, ...] = ()):
    """Decorator: register a model factory under ``name`` (e.g. for ``create_model``/the arena)."""

    def deco(factory):
        if name in _REG.models and _REG.models[name].factory is not factory:
            raise ValueError(f"model {name!r} is already registered")
        _REG.models[name] = ModelEntry(name, factory, paper, tuple(tasks), (factory.__doc__ or "").strip())
        return factory

    return deco


def register_probe(name: str, *, paper: str):
    """Decorator: register a probe (a function that runs on any model's features)."""

    def deco(fn):
        _REG.probes[name] = ProbeEntry(name, fn, paper, (fn.__doc__ or "").strip())
        return fn

    return deco


def _unknown(kind: str, name: str, known) -> KeyError:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return KeyError(f"unknown {kind} {name!r}{hint} (known: {len(list(known))}; "
                    f"`paperzoo list` shows them)")


def get_paper(slug: str) -> Paper:
    _discover()
    slug_n = slug.replace("_", "-")
    if slug_n not in _REG.papers:
        raise _unknown("paper", slug, _REG.papers)
    return _REG.papers[slug_n]


def list_papers(pattern: str = "*") -> list[Paper]:
    """Registered papers whose slug or title matches the glob ``pattern``."""
    _discover()
    pat = pattern.lower()
    return [p for s, p in sorted(_REG.papers.items())
            if fnmatch.fnmatch(s, pat) or fnmatch.fnmatch(p.title.lower(), pat) or pat in s]


def roadmap() -> list[dict]:
    """All papers the project plans (slug, title, group), implemented or not."""
    import json
    from importlib import resources

    return json.loads(resources.files(__package__).joinpath("roadmap.json").read_text())


def create_model(name: str, **kwargs) -> Any:
    """Build a registered model: ``create_model("hopfield_pooling", d_in=500)``."""
    _discover()
    if name not in _REG.models:
        raise _unknown("model", name, _REG.models)
    return _REG.models[name].factory(**kwargs)


def list_models(task: str | None = None) -> list[ModelEntry]:
    _discover()
    return [m for _, m in sorted(_REG.models.items()) if task is None or task in m.tasks]


def get_probe(name: str) -> ProbeEntry:
    _discover()
    if name not in _REG.probes:
        raise _unknown("probe", name, _REG.probes)
    return _REG.probes[name]


def list_probes() -> list[ProbeEntry]:
    _discover()
    return [p for _, p in sorted(_REG.probes.items())]
