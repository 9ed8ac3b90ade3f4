"""The first screen's files are asked for at once: ``static/index.html`` preloads exactly the
modules ``main.js`` imports before it runs (the room's modules load when a room opens), and the
English words every language falls back on."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "static" / "js"
STATIC_IMPORT = re.compile(r"^import\s+(?:[^'\"]*?\sfrom\s+)?['\"]\./([\w.-]+)['\"]", re.M | re.S)
PRELOAD = re.compile(r'<link rel="modulepreload" href="/js/([\w.-]+)">')


def static_imports(name: str) -> set[str]:
    return set(STATIC_IMPORT.findall((JS / name).read_text(encoding="utf-8")))


def loaded_before_main_runs() -> set[str]:
    seen: set[str] = set()
    todo = ["main.js"]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(static_imports(name))
    return seen - {"main.js"}


def test_the_page_preloads_what_main_imports_and_nothing_else() -> None:
    page = (ROOT / "static" / "index.html").read_text(encoding="utf-8")
    assert set(PRELOAD.findall(page)) == loaded_before_main_runs()
    assert '<link rel="preload" href="/i18n/en.json" as="fetch" crossorigin="anonymous">' in page


def test_the_rooms_modules_are_not_loaded_for_the_lobby() -> None:
    first = loaded_before_main_runs()
    assert "room.js" not in first and "messages.js" not in first
    assert "import('./room.js')" in (JS / "main.js").read_text(encoding="utf-8")


def test_the_import_reader_sees_multi_line_and_bare_imports() -> None:
    text = ("import {\n  a,\n  b,\n} from './x.js';\nimport './y.js';\n"
            "const z = await import('./z.js');\n")
    assert set(STATIC_IMPORT.findall(text)) == {"x.js", "y.js"}
