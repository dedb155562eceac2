"""What the site takes from a paper's README: the opening paragraphs, the usage snippet and the
numbered deviations, rendered with a tiny inline-Markdown subset (code, bold, emphasis, web links)."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from markupsafe import Markup

_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def inline(text: str) -> Markup:
    """Inline Markdown to safe HTML: `code`, **bold**, *em*, [text](https://...). Links that are not
    web addresses (relative paths into the repository) keep their text only."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if len(part) >= 2 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        s = html.escape(part, quote=False)

        def link(m: re.Match) -> str:
            label, url = m.group(1), html.unescape(m.group(2))
            if re.match(r"https?://", url):
                return f'<a href="{html.escape(url)}">{label}</a>'
            return label

        s = _LINK.sub(link, s)
        s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
        s = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", s)
        out.append(s)
    return Markup("".join(out))


@dataclass
class ReadmeParts:
    intro: list[Markup] = field(default_factory=list)
    usage: str = ""
    deviations: list[tuple[int, Markup]] = field(default_factory=list)


def _section(text: str, title: str) -> str:
    m = re.search(rf"^## {title}[^\n]*\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    return m.group(1) if m else ""


def parse_readme(text: str) -> ReadmeParts:
    """The parts of a README the paper page shows (missing parts stay empty)."""
    parts = ReadmeParts()
    head = re.split(r"^## ", text, maxsplit=1, flags=re.M)[0]
    paras = [p.strip() for p in re.split(r"\n\s*\n", head)]
    for p in paras:
        if not p or p.startswith("# ") or p.startswith("```") or p.startswith("|") or p.startswith("<!--"):
            continue
        parts.intro.append(inline(" ".join(line.strip() for line in p.splitlines())))
    usage = _section(text, "Usage") or text
    m = re.search(r"```python\n(.*?)```", usage, flags=re.S)
    parts.usage = m.group(1).rstrip() if m else ""
    item: list[str] = []
    num = 0
    for line in _section(text, "Deviations").splitlines():
        m = re.match(r"^(\d+)\.\s+(.*)", line)
        if m:
            if item:
                parts.deviations.append((num, inline(" ".join(item))))
            num, item = int(m.group(1)), [m.group(2).strip()]
        elif line.strip() and item:
            item.append(line.strip())
        elif not line.strip() and item:
            parts.deviations.append((num, inline(" ".join(item))))
            item = []
    if item:
        parts.deviations.append((num, inline(" ".join(item))))
    return parts
