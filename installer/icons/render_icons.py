"""Render possync.svg into the PNG (the app's window icon, also the Linux menu's), the ICO
(the Windows installer's) and the Odoo addon's icon (its Apps menu tile) files.

    QT_QPA_PLATFORM=offscreen .venv/bin/python installer/icons/render_icons.py

Run it after editing possync.svg; the outputs are committed (small), so neither the Linux
build nor the Windows build needs an SVG renderer. Uses Qt's own SVG renderer (PySide6,
through QtPy, is already in the venv); the ICO holds PNG-compressed images, as Windows
Vista and later read.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The one PNG: the app shows it as its window icon; the Linux package installs it too.
PNG = HERE.parents[1] / "shell" / "static" / "possync.png"
ADDON_ICON = HERE.parents[1] / "addon/pos_restaurant_sync/static/description/icon.png"
ADDON_ICON_SIZE = 128
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def render(size: int) -> bytes:
    from qtpy.QtCore import QBuffer, QIODevice
    from qtpy.QtGui import QImage, QPainter
    from qtpy.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(HERE / "possync.svg")).render(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(buffer.data())


def ico(images: dict[int, bytes]) -> bytes:
    """An ICO file whose entries are PNG images (size 256 is written as 0)."""
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries, blobs = b"", b""
    for size, png in sorted(images.items()):
        dim = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset)
        blobs += png
        offset += len(png)
    return header + entries + blobs


def main() -> int:
    from qtpy.QtGui import QGuiApplication

    app = QGuiApplication(sys.argv[:1])  # noqa: F841 - QPainter needs an application
    images = {size: render(size) for size in ICO_SIZES}
    PNG.write_bytes(images[256])
    (HERE / "possync.ico").write_bytes(ico(images))
    ADDON_ICON.write_bytes(images[ADDON_ICON_SIZE])
    print(f"wrote {PNG}, {HERE / 'possync.ico'} and {ADDON_ICON}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
