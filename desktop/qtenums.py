"""A quicker start for pywebview's Qt backend on PyQt6.

pywebview reaches Qt through qtpy, which on PyQt6 copies every member of every enum of every class
in QtCore, QtGui and QtWidgets onto its class when first imported, so that PyQt5's unscoped names
(``Qt.AlignLeft`` beside ``Qt.AlignmentFlag.AlignLeft``) keep working. That touches thousands of
attributes and made each enum on the way: measured 0.17 s alone and 0.3-0.4 s while the lobby's
server starts beside it, all of it before the window can open. pywebview's backend uses unscoped
names of a handful of classes only (:data:`UNSCOPED`); :func:`promote_only_what_pywebview_uses`
makes qtpy copy those and no others. ``tests/test_qtenums.py`` reads pywebview's backend to check
that the list still covers every unscoped name it uses.
"""

from __future__ import annotations

import enum
import logging
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

# Per PyQt6 module: the classes whose enum members pywebview's Qt backend names unscoped.
UNSCOPED = {
    "PyQt6.QtCore": ("Qt", "QEvent", "QFile"),
    "PyQt6.QtGui": (),
    "PyQt6.QtWidgets": ("QMessageBox", "QFileDialog"),
}


def promote_class(klass: Any) -> None:
    """Copy the members of ``klass``'s enums onto ``klass`` (as qtpy does for every class)."""
    for name in dir(klass):
        if not name[:1].isupper():
            continue
        attr = getattr(klass, name)
        if isinstance(attr, enum.EnumMeta):
            members: dict[str, Any] = dict(attr.__members__)
            for member_name, member in members.items():
                setattr(klass, member_name, member)


def promote_listed(module: ModuleType) -> None:
    for class_name in UNSCOPED.get(module.__name__, ()):
        promote_class(getattr(module, class_name))


def promote_only_what_pywebview_uses() -> None:
    """Call before anything imports qtpy's Qt modules (pywebview's Qt backend does)."""
    try:
        from qtpy import enums_compat
    except ImportError:  # qtpy not installed, or not on PyQt6: nothing to make quicker
        return
    if hasattr(enums_compat, "promote_enums"):
        enums_compat.promote_enums = promote_listed
    else:
        log.info("qtpy promotes no enums here: nothing to make quicker")
