"""How the faces find the zoo: papers, models and probes by name.

Papers are discovered, not imported by hand: every sub-package of ``paperzoo.papers`` that
defines ``PAPER`` is registered on first use. Models and probes register themselves with
decorators when their paper's package is imported. Unknown names raise ``KeyError`` with a
"did you mean" list.
"""
from __future__ import annotations

import fnmatch
import importlib
import pkgutil
import types
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from paperzoo.config import check_config
from paperzoo.names import unknown
from paperzoo.nn.budget import at_budget
from paperzoo.results import PROTOCOL_NAMES, Claim
from paperzoo.tasks import TASKS, Task, get_task

KINDS = ("layer", "architecture", "probe", "training technique", "learning rule", "theory", "system")


@dataclass(frozen=True)
class Paper:
    """A paper's registry entry: what it claims (``claims``, each with its bands per protocol).

    Its protocols live beside it in ``reproduce.py`` (``PROTOCOLS``: name -> frozen ``Config``,
    ``run(ctx, cfg) -> dict[str, float]``); ``paper.protocols`` reads them from there.
    """

    slug: str
    title: str
    kind: str
    claims: tuple[Claim, ...]
    arxiv: str = ""
    authors: str = ""
    year: int | None = None
    code: str = ""
    status: str = "implemented"
    main_metric: str | None = None
    data: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Paper {self.slug!r}: kind {self.kind!r} not in {KINDS}")
        metrics = [c.metric for c in self.claims]
        if len(set(metrics)) != len(metrics):
            raise ValueError(f"Paper {self.slug!r}: duplicate claim metrics {metrics}")
        if self.main_metric is not None and self.main_metric not in metrics:
            raise ValueError(f"Paper {self.slug!r}: main_metric {self.main_metric!r} names no claim")

    @property
    def package(self) -> str:
        return _REG.modules.get(self.slug) or f"{__package__}.papers.{self.slug.replace('-', '_')}"

    @property
    def headline(self) -> Claim | None:
        if self.main_metric:
            return next(c for c in self.claims if c.metric == self.main_metric)
        return self.claims[0] if self.claims else None

    @property
    def reproduce_module(self) -> types.ModuleType:
        return importlib.import_module(f"{self.package}.reproduce")

    @property
    def configs(self) -> dict[str, Any]:
        """``protocol -> Config`` from the paper's ``reproduce.PROTOCOLS`` (validated)."""
        protos = getattr(self.reproduce_module, "PROTOCOLS", None)
        if not isinstance(protos, dict) or not protos:
            raise TypeError(f"{self.package}.reproduce must define PROTOCOLS = {{'smoke': Config(...), ...}}")
        for name, cfg in protos.items():
            if name not in PROTOCOL_NAMES:
                raise ValueError(f"{self.slug}: unknown protocol {name!r} (have {PROTOCOL_NAMES})")
            check_config(cfg, f"{self.slug} protocol {name!r}")
        for c in self.claims:
            for proto in c.bands:
                if proto not in protos:
                    raise ValueError(f"{self.slug}: claim {c.metric!r} has a band for protocol {proto!r}, "
                                     f"which the paper does not define")
        return dict(protos)

    @property
    def protocols(self) -> dict[str, str]:
        """``protocol -> one-line description`` (the configs' ``about``)."""
        return {k: v.about for k, v in self.configs.items()}

    def runner(self) -> Callable[..., dict]:
        return self.reproduce_module.run


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: ``factory(**kw) -> nn.Module`` builds from defaults; ``task`` names the
    task vocabulary entry (``paperzoo.tasks``); ``example()`` returns an input for a forward pass;
    ``knob`` is the integer keyword ``at_budget`` turns to hit a parameter count."""

    name: str
    factory: Callable[..., Any]
    paper: str
    tasks: tuple[Task, ...]
    knob: str | None = "width"
    example_fn: Callable[[], Any] | None = None
    doc: str = ""

    @property
    def task(self) -> Task:
        """The first (primary) task the model is registered for."""
        return self.tasks[0]

    def example(self, batch: int = 4) -> Any:
        if self.example_fn is not None:
            return self.example_fn()
        return self.task.example(batch)

    def at_budget(self, n_params: int, **kwargs) -> Any:
        if self.knob is None:
            raise ValueError(f"model {self.name!r} declares no budget knob")
        return at_budget(self.factory, n_params, knob=self.knob, **kwargs)


@dataclass(frozen=True)
class ProbeEntry:
    """A registered probe: ``fn(model, data, *, layers=None, **kw) -> dict[str, float]``.

    ``pair=True`` probes compare two models (``fn(model, data, *, other, layers=None)``), by default two
    checkpoints of one architecture; ``same_arch=False`` lets a pair probe compare different architectures
    (a target and its guide). ``kinds`` are the task kinds whose models it accepts.
    """

    name: str
    fn: Callable[..., Any]
    paper: str
    kinds: tuple[str, ...] = ("classification",)
    pair: bool = False
    doc: str = ""
    same_arch: bool = True


@dataclass
class _Registry:
    papers: dict[str, Paper] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)
    models: dict[str, ModelEntry] = field(default_factory=dict)
    probes: dict[str, ProbeEntry] = field(default_factory=dict)
    discovered: bool = False


_REG = _Registry()


def _discover() -> None:
    if _REG.discovered:
        return
    _REG.discovered = True
    from paperzoo import papers as _papers

    for info in sorted(pkgutil.iter_modules(_papers.__path__), key=lambda m: m.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        name = f"{_papers.__name__}.{info.name}"
        try:
            mod = importlib.import_module(name)
        except Exception as e:  # one broken paper must not hide the whole zoo
            warnings.warn(f"paperzoo: cannot import paper package {info.name!r}: {e!r}", RuntimeWarning, stacklevel=2)
            continue
        paper = getattr(mod, "PAPER", None)
        if isinstance(paper, Paper) and paper.slug not in _REG.papers:
            register_paper(paper, module=name)


def _paper_of(module: str) -> str:
    """``paperzoo.papers.neural_collapse.models`` -> ``neural-collapse``."""
    parts = module.split(".")
    if "papers" in parts and parts.index("papers") + 1 < len(parts):
        return parts[parts.index("papers") + 1].replace("_", "-")
    return module


def register_paper(paper: Paper, *, module: str | None = None) -> Paper:
    """Add a paper (done automatically for ``paperzoo.papers.*``; use it for plug-ins)."""
    if paper.slug in _REG.papers and _REG.papers[paper.slug] is not paper:
        raise ValueError(f"paper {paper.slug!r} is already registered")
    _REG.papers[paper.slug] = paper
    if module:
        _REG.modules[paper.slug] = module
    return paper


def register_model(name: str, *, task: str | tuple[str, ...], example: Callable[[], Any] | None = None,
                   knob: str | None = "width", paper: str | None = None):
    """Decorator: register a model factory under ``name`` for ``create_model`` and the arena.

    ``task`` is a name from ``paperzoo.tasks.TASKS`` (or a tuple of them: a classifier that takes
    ``in_dim``/``in_chans`` and ``num_classes`` can serve several); ``example`` a zero-argument function that
    returns an input (tensor, tuple of inputs, or dict of keywords), needed when the task has no
    fixed shape; ``knob`` the integer keyword that ``at_budget`` turns (``None``: no budget).
    """
    tasks = tuple(get_task(t) for t in ((task,) if isinstance(task, str) else task))
    if not tasks:
        raise ValueError(f"model {name!r}: give at least one task")

    def deco(factory):
        if name in _REG.models and _REG.models[name].factory is not factory:
            raise ValueError(f"model {name!r} is already registered")
        if example is None and tasks[0].in_shape is None:
            raise ValueError(f"model {name!r}: task {tasks[0].name!r} has no fixed input shape; pass example=...")
        _REG.models[name] = ModelEntry(name, factory, paper or _paper_of(factory.__module__), tasks, knob, example,
                                       (factory.__doc__ or "").strip())
        return factory

    return deco


def register_probe(name: str, *, kinds: tuple[str, ...] = ("classification",), pair: bool = False,
                   same_arch: bool = True, paper: str | None = None):
    """Decorator: register a probe ``fn(model, data, *, layers=None) -> dict[str, float]``."""

    def deco(fn):
        _REG.probes[name] = ProbeEntry(name, fn, paper or _paper_of(fn.__module__), tuple(kinds), pair,
                                       (fn.__doc__ or "").strip(), same_arch)
        return fn

    return deco


def get_paper(slug: str) -> Paper:
    _discover()
    slug_n = slug.replace("_", "-")
    if slug_n not in _REG.papers:
        raise unknown("paper", slug, _REG.papers, "`paperzoo list` shows them")
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


def get_model(name: str) -> ModelEntry:
    _discover()
    if name not in _REG.models:
        raise unknown("model", name, _REG.models, "`paperzoo models` shows them")
    return _REG.models[name]


def create_model(name: str, *, params: int | None = None, **kwargs) -> Any:
    """Build a registered model: ``create_model("mlp_linear_head", width=256)``; with
    ``params=N`` the model's budget knob is searched for N parameters (+-10%)."""
    entry = get_model(name)
    if params is not None:
        return entry.at_budget(params, **kwargs)
    return entry.factory(**kwargs)


def list_models(task: str | None = None) -> list[ModelEntry]:
    """Registered models, optionally only those of ``task`` (a name or a task kind)."""
    _discover()
    if task is not None and task not in TASKS and task not in {t.kind for t in TASKS.values()}:
        get_task(task)  # raises with did-you-mean
    return [m for _, m in sorted(_REG.models.items())
            if task is None or any(task in (t.name, t.kind) for t in m.tasks)]


def get_probe(name: str) -> ProbeEntry:
    _discover()
    if name not in _REG.probes:
        raise unknown("probe", name, _REG.probes, "`paperzoo probes` shows them")
    return _REG.probes[name]


def list_probes() -> list[ProbeEntry]:
    _discover()
    return [p for _, p in sorted(_REG.probes.items())]
