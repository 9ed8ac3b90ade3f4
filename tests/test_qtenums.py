"""pywebview's Qt backend starts without qtpy copying every enum of Qt onto its class
(desktop/qtenums.py), and still finds every unscoped enum name it uses.

Each side runs in its own Python (the copying happens once per process, at import): one with
qtpy's full copying, one with ours; every dotted ``Q...`` name in pywebview's backend that
resolves with the first must resolve with the second."""

from __future__ import annotations

import json
import os
import subprocess
import sys

RESOLVE = r"""
import json, re, sys
if sys.argv[1] == "ours":
    from desktop.qtenums import promote_only_what_pywebview_uses
    promote_only_what_pywebview_uses()
from webview.platforms import qt
from PyQt6 import QtWidgets
names = sorted(set(re.findall(r"\b(Q\w*(?:\.\w+)+)", open(qt.__file__).read())))
found = []
for name in names:
    try:
        eval(name, vars(qt))
        found.append(name)
    except Exception:
        pass
print(json.dumps({"found": found,
                  "sample_unscoped": hasattr(QtWidgets.QSizePolicy, "Expanding")}))
"""


def resolve(side: str) -> dict[str, object]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", RESOLVE, side], capture_output=True, text=True,
                         env=env, timeout=120, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_every_unscoped_name_pywebview_uses_is_still_there() -> None:
    full, ours = resolve("full"), resolve("ours")
    missing = sorted(set(full["found"]) - set(ours["found"]))  # type: ignore[arg-type]
    assert not missing, f"add these classes to desktop/qtenums.py UNSCOPED: {missing}"
    assert len(ours["found"]) > 20  # type: ignore[arg-type]
    # And the copying really is limited: a class pywebview never names unscoped is left alone.
    assert full["sample_unscoped"] is True and ours["sample_unscoped"] is False
