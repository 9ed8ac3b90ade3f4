"""The README's map of the code names every Python module of the host and the shell, and
nothing that is gone: a newcomer can trust it."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _layout_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## How the code is laid out")
    return readme[start:readme.index("\n## ", start + 1)]


def test_the_readme_layout_matches_the_tree() -> None:
    section = _layout_section()
    named: set[str] = set()
    folder: list[tuple[int, str]] = []
    for line in section.splitlines():
        m = re.match(r"^( {4,})(\S+)", line)
        if not m:
            continue
        indent, name = len(m.group(1)), m.group(2)
        while folder and folder[-1][0] >= indent:
            folder.pop()
        path = "/".join([f.rstrip("/") for _, f in folder] + [name.rstrip("/")])
        if name.endswith("/"):
            folder.append((indent, name))
        named.add(path)
    modules = {str(p.relative_to(ROOT)) for top in ("server", "desktop")
               for p in (ROOT / top).rglob("*.py") if p.name != "__init__.py"}
    assert modules - named == set(), "modules missing from the README's layout"
    gone = {p for p in named if p.endswith(".py") and not (ROOT / p).exists()}
    assert gone == set(), "the README's layout names files that do not exist"
