"""Claims, bands, verdicts and result records.

A paper states its claims in code (``Claim``: the metric, the paper's value, the
table or figure it comes from) and, per protocol, the ``Band`` our measured number
must land in, with the reason for that band. ``judge`` turns measured metrics into
verdicts; nobody types a verdict in. ``Result`` is what ``paperzoo.reproduce``
returns and what ``--record`` writes to ``results/<slug>/<protocol>-<device>.json``.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import platform
import subprocess
import tempfile
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any, Mapping

REPRODUCED = "reproduced"
EFFECT_SHOWN = "effect shown"
NOT_SHOWN = "not shown"
NOT_MEASURED = "not measured"
NO_BAND = "no band"
VERDICTS = (REPRODUCED, EFFECT_SHOWN, NOT_SHOWN, NOT_MEASURED, NO_BAND)


@dataclass(frozen=True)
class Band:
    """The closed range ``[lo, hi]`` a protocol's metric must land in, and why.

    Landing inside earns "reproduced" under the ``full`` protocol and "effect shown" under
    the scaled-down ones (``smoke``, ``cpu``).
    """

    lo: float | None = None
    hi: float | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.lo is None and self.hi is None:
            raise ValueError("Band needs at least one of lo, hi")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"Band lo={self.lo} > hi={self.hi}")
        if not self.reason:
            raise ValueError("Band needs a reason (from the card or the paper)")

    def contains(self, value: float) -> bool:
        if value is None or not math.isfinite(value):
            return False
        return (self.lo is None or value >= self.lo) and (self.hi is None or value <= self.hi)

    def describe(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f"[{self.lo:g}, {self.hi:g}]"
        return f">= {self.lo:g}" if self.lo is not None else f"<= {self.hi:g}"


PROTOCOL_NAMES = ("smoke", "cpu", "full")


@dataclass(frozen=True)
class Claim:
    """One checkable claim of a paper.

    ``metric`` is the key the reproduction writes into ``Result.metrics``;
    ``paper`` the paper's value (a number, or text for a qualitative claim);
    ``source`` where it is stated (table, figure, theorem); ``bands`` maps a
    protocol name, or a tuple of names, to the band that protocol's measurement must
    land in: ``bands={("cpu", "full"): Band(lo=90, reason="...")}``.
    """

    metric: str
    _: KW_ONLY
    paper: float | str | None
    source: str
    what: str = ""
    bands: Mapping[str | tuple[str, ...], Band] = field(default_factory=dict)
    unit: str = ""

    def __post_init__(self) -> None:
        flat: dict[str, Band] = {}
        for key, band in dict(self.bands).items():
            for proto in (key,) if isinstance(key, str) else tuple(key):
                if proto not in PROTOCOL_NAMES:
                    raise ValueError(f"claim {self.metric!r}: unknown protocol {proto!r} (have {PROTOCOL_NAMES})")
                if proto in flat:
                    raise ValueError(f"claim {self.metric!r}: two bands for protocol {proto!r}")
                if not isinstance(band, Band):
                    raise TypeError(f"claim {self.metric!r}: band for {proto!r} must be a Band, got {band!r}")
                flat[proto] = band
        object.__setattr__(self, "bands", flat)

    def band(self, protocol: str) -> Band | None:
        return self.bands.get(protocol)


@dataclass
class Verdict:
    metric: str
    verdict: str
    ours: float | None
    paper: float | str | None
    band: str | None
    reason: str | None
    source: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def judge(claims: tuple[Claim, ...] | list[Claim], metrics: Mapping[str, Any], protocol: str) -> list[Verdict]:
    """Compute one verdict per claim from measured ``metrics`` (never typed in)."""
    out = []
    for c in claims:
        band = c.band(protocol)
        value = metrics.get(c.metric)
        value = None if value is None else float(value)
        if band is None:
            v = NO_BAND
        elif value is None or not math.isfinite(value):
            v = NOT_MEASURED
        elif band.contains(value):
            v = REPRODUCED if protocol == "full" else EFFECT_SHOWN
        else:
            v = NOT_SHOWN
        out.append(Verdict(c.metric, v, value, c.paper, band.describe() if band else None,
                           band.reason if band else None, c.source))
    return out


def git_commit(cwd: str | os.PathLike | None = None, paths: list[str] | None = None) -> str:
    """The current git commit, with ``+dirty`` when tracked files under ``paths`` (default: the whole
    tree) differ from it, or "unknown". A reproduction passes its own code (the kernel and its
    paper's package), so another package's work in progress does not mark its record dirty."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        if not sha:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *(paths or [])],
                               cwd=cwd, capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_name(device: Any) -> str:
    """A human name for a torch device: the GPU model, or the CPU model."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"cpu ({name}, {torch.get_num_threads()} threads)"


@dataclass
class Result:
    """A reproduction's record: measured metrics, computed verdicts and provenance."""

    slug: str
    protocol: str
    seed: int
    metrics: dict[str, float]
    verdicts: list[Verdict]
    wall_seconds: float
    device: str
    device_name: str
    torch_version: str
    git_commit: str
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    config: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, dict] = field(default_factory=dict)
    curves: dict[str, dict] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        head = (f"Result({self.slug!r}, protocol={self.protocol!r}, seed={self.seed}, {self.wall_seconds:.1f} s, "
                f"{self.device_name})")
        return head + "\n" + self.table()

    @property
    def not_measured(self) -> list[str]:
        """Claims with a band for this protocol whose metric the run did not produce."""
        return [v.metric for v in self.verdicts if v.verdict == NOT_MEASURED]

    def rejudge(self, claims) -> "Result":
        """The same record judged under ``claims``' current bands (a changed band changes the verdict)."""
        return dataclasses.replace(self, verdicts=judge(claims, self.metrics, self.protocol))

    @property
    def passed(self) -> bool:
        """True when no claim that has a band for this protocol came out "not shown"/"not measured"."""
        return all(v.verdict not in (NOT_SHOWN, NOT_MEASURED) for v in self.verdicts)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["verdicts"] = [v.to_dict() for v in self.verdicts]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Result":
        d = dict(d)
        d["verdicts"] = [Verdict(**v) for v in d.get("verdicts", [])]
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def record_path(self, root: str | os.PathLike) -> Path:
        return Path(root) / self.slug / f"{self.protocol}-{self.device}.json"

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        atomic_write_text(path, json.dumps(_jsonable(self.to_dict()), indent=2, sort_keys=False) + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Result":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def table(self) -> str:
        """Plain-text table: claim, ours, paper, band, verdict."""
        rows = [("metric", "ours", "paper", "band", "verdict", "source")]
        for v in self.verdicts:
            rows.append((v.metric, _fmt(v.ours), _fmt(v.paper), v.band or "-", v.verdict, v.source))
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if hasattr(x, "item") and callable(x.item) and getattr(x, "ndim", 1) == 0:
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    return x


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a record is an ordinary file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_results(root: str | os.PathLike, slug: str | None = None) -> list[Result]:
    """Every committed result record under ``root`` (optionally for one paper)."""
    root = Path(root)
    pattern = f"{slug}/*.json" if slug else "*/*.json"
    out = []
    for p in sorted(root.glob(pattern)):
        if p.parent.name in ("bench", "arena"):
            continue
        try:
            out.append(Result.load(p))
        except (ValueError, TypeError, KeyError) as e:  # a hand-edited or foreign file
            raise ValueError(f"{p}: not a paperzoo result record ({e})") from e
    return out
