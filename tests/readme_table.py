"""``python -m tests.readme_table``: rewrite the README's table of settings from the code.

The table is made by :func:`server.config.settings_table` (every ``Settings`` field with its
variable, default and meaning); ``tests/test_config.py`` fails while the README differs.
"""

from __future__ import annotations

from server.config import settings_table
from tests.conftest import ROOT

START = "<!-- settings table"
END = "<!-- end of settings table -->"


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start = text.index("\n", text.index(START)) + 1
    end = text.index(END)
    readme.write_text(text[:start] + settings_table() + text[end:], encoding="utf-8")
    print(f"updated the settings table in {readme.name}")


if __name__ == "__main__":
    main()
