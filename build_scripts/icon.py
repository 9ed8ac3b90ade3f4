"""Draw LAN Chat's icon with Qt and write it as PNG (Linux), ICO (Windows) and ICNS (macOS).

The icon is drawn, not stored: a rounded square in the app's blue with two speech bubbles,
the front one holding three dots. Run it on its own to look at the result:

    python build_scripts/icon.py OUT_DIR

It needs a Qt platform plugin but no display (``QT_QPA_PLATFORM=offscreen`` is set here).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PyQt6.QtGui import QImage

SIZES = (16, 32, 48, 64, 128, 256, 512)
NAME = "lanchat"


def _draw(size: int) -> QImage:
    """The icon at ``size`` px (PyQt6 is imported here: the module loads without it)."""
    from PyQt6.QtCore import QPointF, QRectF, Qt
    from PyQt6.QtGui import QBrush, QColor, QImage, QLinearGradient, QPainter, QPainterPath

    img = QImage(size, size, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 100.0  # the drawing is laid out on a 100 x 100 grid

    # Background: a rounded square with a top-to-bottom blue gradient.
    bg = QLinearGradient(QPointF(0, 0), QPointF(0, size))
    bg.setColorAt(0.0, QColor("#3b82f6"))
    bg.setColorAt(1.0, QColor("#1e40af"))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(bg))
    p.drawRoundedRect(QRectF(4 * s, 4 * s, 92 * s, 92 * s), 20 * s, 20 * s)

    def bubble(x: float, y: float, w: float, h: float, tail_left: bool) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(x * s, y * s, w * s, h * s), 10 * s, 10 * s)
        tail = QPainterPath()
        if tail_left:
            tail.moveTo((x + 8) * s, (y + h - 2) * s)
            tail.lineTo((x + 2) * s, (y + h + 10) * s)
            tail.lineTo((x + 22) * s, (y + h - 2) * s)
        else:
            tail.moveTo((x + w - 8) * s, (y + h - 2) * s)
            tail.lineTo((x + w - 2) * s, (y + h + 10) * s)
            tail.lineTo((x + w - 22) * s, (y + h - 2) * s)
        tail.closeSubpath()
        return path.united(tail)

    # Back bubble (the other person), pale; front bubble (you), white with three dots.
    p.setBrush(QColor("#93c5fd"))
    p.drawPath(bubble(40, 18, 46, 32, tail_left=False))
    p.setBrush(QColor("#ffffff"))
    p.drawPath(bubble(14, 38, 52, 34, tail_left=True))
    p.setBrush(QColor("#1e40af"))
    for cx in (28, 40, 52):
        p.drawEllipse(QPointF(cx * s, 55 * s), 4.2 * s, 4.2 * s)
    p.end()
    return img


def write_icons(out_dir: Path) -> dict[str, Path]:
    """Write ``lanchat.png`` (256 px), ``lanchat-<n>.png`` for every size, ``.ico`` and ``.icns``.

    Returns the paths by kind: ``png``, ``ico``, ``icns``.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtGui import QGuiApplication, QImageWriter

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for size in SIZES:
        path = out_dir / f"{NAME}-{size}.png"
        if not _draw(size).save(str(path), "PNG"):
            raise RuntimeError(f"could not write {path}")
    written["png"] = out_dir / f"{NAME}.png"
    written["png"].write_bytes((out_dir / f"{NAME}-256.png").read_bytes())
    # Qt's ico and icns image plugins ship with PyQt6; each file holds one (large) image,
    # which Windows and macOS scale down themselves.
    for kind, size in (("ico", 256), ("icns", 512)):
        path = out_dir / f"{NAME}.{kind}"
        writer = QImageWriter(str(path), kind.encode())
        if not writer.write(_draw(size)):
            raise RuntimeError(f"could not write {path}: {writer.errorString()}")
        written[kind] = path
    del app
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python build_scripts/icon.py OUT_DIR")
    for kind, path in write_icons(Path(sys.argv[1])).items():
        print(f"{kind}: {path}")
