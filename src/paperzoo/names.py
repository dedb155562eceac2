"""One "did you mean" helper for every unknown name (papers, models, probes, data sets, config keys)."""
from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(name: str, known: Iterable[str], *, n: int = 3, cutoff: float = 0.5) -> str:
    """``"; did you mean 'a', 'b'?"`` for the closest of ``known`` to ``name``, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=n, cutoff=cutoff)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def unknown(kind: str, name: str, known: Iterable[str], hint: str = "") -> KeyError:
    """A ``KeyError`` naming the unknown ``kind`` ``name`` with suggestions from ``known``."""
    known = list(known)
    return KeyError(f"unknown {kind} {name!r}{did_you_mean(name, known)} (known: {len(known)}"
                    + (f"; {hint}" if hint else "") + ")")
