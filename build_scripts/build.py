"""Build LAN Chat's executables with PyInstaller: ``make build`` runs this script.

Two targets, each one ``PyInstaller.__main__.run(options)`` call with its options in one list:

- ``app``: the desktop app, a one-folder build (``dist/LANChat/LANChat``; on macOS
  ``dist/LANChat.app``; on Windows ``dist/LANChat/LANChat.exe``) with the UI files, the icon and,
  on Linux, Qt WebEngine inside. Windowed: no console on Windows and macOS.
- ``host``: the headless host (``python -m server``) as one small file, ``dist/lanchat-host``,
  with no GUI toolkit at all.

Options: ``--target app|host|all`` (default all), ``--dist DIR``, ``--work DIR`` (PyInstaller's
scratch folder, the generated icons and .spec files), ``--verbose``. Prints each build's time and
size. build_scripts/README.md says how to build on Windows and macOS.
"""

from __future__ import annotations

import argparse
import os
import plistlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from server import APP_NAME, __version__  # noqa: E402 - needs ROOT on the path first

EXE_NAME = "LANChat"
HOST_NAME = "lanchat-host"
BUNDLE_ID = "org.lanchat.LANChat"
ICON_NAME = "lanchat"
IS_WINDOWS = sys.platform.startswith("win")
IS_MACOS = sys.platform == "darwin"
IS_LINUX = sys.platform.startswith("linux")

# Never needed at run time: test tools, other GUI toolkits, and the standard library's Tk.
COMMON_EXCLUDES = [
    "tkinter", "_tkinter", "turtle", "idlelib", "pydoc_data", "lib2to3",
    "pytest", "_pytest", "pluggy", "hypothesis", "playwright", "psutil", "mypy", "ruff",
    "IPython", "matplotlib", "numpy", "PIL", "PySide2", "PySide6", "PyQt5", "setuptools", "pip",
    "tests",
]
# pywebview's backends for other systems (the PyInstaller hook would pull in whatever imports).
if IS_LINUX:
    WEBVIEW_EXCLUDES = ["gi", "webview.platforms.gtk", "webview.platforms.cef", "cefpython3",
                        "webview.platforms.winforms", "webview.platforms.edgechromium",
                        "webview.platforms.mshtml", "webview.platforms.cocoa",
                        "webview.platforms.android", "clr", "pythonnet", "objc", "AppKit",
                        "Foundation", "WebKit",
                        # pywebview's Qt window needs only Widgets + WebEngine; these bindings
                        # (and the QML plugins their hooks collect, ~40 MB) are never imported.
                        "PyQt6.QtQml", "PyQt6.QtQuick", "PyQt6.QtQuickWidgets",
                        "PyQt6.QtPositioning", "PyQt6.QtDBus", "PyQt6.QtBluetooth",
                        "PyQt6.QtMultimedia", "PyQt6.QtSql", "PyQt6.QtTest", "PyQt6.QtDesigner"]
else:  # Windows uses Edge WebView2 (pythonnet), macOS uses WKWebView (pyobjc): no Qt at all
    WEBVIEW_EXCLUDES = ["PyQt6", "qtpy", "webview.platforms.qt", "gi", "webview.platforms.gtk",
                        "webview.platforms.cef", "cefpython3", "webview.platforms.android"]
HOST_EXCLUDES = ["PyQt6", "qtpy", "webview", "desktop", "gi", "clr", "pythonnet", "objc"]


def data_arg(source: Path, dest: str) -> str:
    """``--add-data`` with an absolute source (relative ones resolve against the spec's folder)."""
    return f"--add-data={source}{os.pathsep}{dest}"


def common_options(name: str, dist: Path, work: Path, verbose: bool) -> list[str]:
    return [
        f"--name={name}",
        f"--distpath={dist}",
        f"--workpath={work / name}",
        f"--specpath={work / name}",  # the generated .spec stays out of the source tree
        f"--paths={ROOT}",
        "--noconfirm",
        f"--log-level={'INFO' if verbose else 'WARN'}",
        data_arg(ROOT / "static", "static"),
        # Unicode's confusables table, which names are compared by (read as data, not imported).
        "--hidden-import=confusable_homoglyphs",
        "--collect-data=confusable_homoglyphs",
    ]


def app_options(dist: Path, work: Path, icons: dict[str, Path], verbose: bool) -> list[str]:
    """Every PyInstaller option for the desktop app, in one list."""
    options = [
        str(HERE / "lanchat_entry.py"),
        *common_options(EXE_NAME, dist, work, verbose),
        "--onedir",  # a one-file Qt build unpacks ~600 MB on every start
        "--windowed",  # no console window (Windows), an .app bundle (macOS); ignored on Linux
        data_arg(icons["png"], "."),  # the window's own icon (paths.app_icon())
        f"--osx-bundle-identifier={BUNDLE_ID}",
        *[f"--exclude-module={m}" for m in COMMON_EXCLUDES + WEBVIEW_EXCLUDES],
    ]
    if IS_WINDOWS:  # Linux has no executable icon: the desktop entry names one
        options += [f"--icon={icons['ico']}", f"--version-file={write_version_file(work)}"]
    elif IS_MACOS:
        options.append(f"--icon={icons['icns']}")
    return options


def host_options(dist: Path, work: Path, verbose: bool) -> list[str]:
    """Every PyInstaller option for the one-file headless host, in one list."""
    return [
        str(HERE / "lanchat_host_entry.py"),
        *common_options(HOST_NAME, dist, work, verbose),
        "--onefile",
        "--console",  # it is a terminal program: it prints the URL to open
        *[f"--exclude-module={m}" for m in COMMON_EXCLUDES + HOST_EXCLUDES],
    ]


def version_tuple() -> tuple[int, int, int, int]:
    parts = [int(p) for p in __version__.split(".")[:4] if p.isdigit()]
    return tuple((parts + [0, 0, 0, 0])[:4])  # type: ignore[return-value]


def write_version_file(work: Path) -> Path:
    """The Windows version resource (Explorer's Properties > Details), in PyInstaller's format."""
    v = version_tuple()
    strings = {"CompanyName": "LAN Chat", "FileDescription": APP_NAME,
               "FileVersion": __version__, "InternalName": EXE_NAME,
               "OriginalFilename": f"{EXE_NAME}.exe", "ProductName": APP_NAME,
               "ProductVersion": __version__, "LegalCopyright": "MIT License"}
    table = ",\n          ".join(f"StringStruct({k!r}, {s!r})" for k, s in strings.items())
    text = f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers={v}, prodvers={v}, mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([StringTable('040904B0', [
          {table}])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""
    path = work / "version_info.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_icons(work: Path) -> dict[str, Path]:
    """Draw the icons in a child process (Qt wants its own application object)."""
    out = work / "icons"
    subprocess.run([sys.executable, str(HERE / "icon.py"), str(out)], check=True,
                   stdout=subprocess.DEVNULL,
                   env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    return {"png": out / f"{ICON_NAME}.png", "ico": out / f"{ICON_NAME}.ico",
            "icns": out / f"{ICON_NAME}.icns"}


def prune_webengine_locales(folder: Path) -> int:
    """Keep Chromium's en-US strings only (the UI is English); returns the bytes removed.

    They translate Chromium's own context menus and dialogs: 44 MB for 50-odd languages. Chromium
    falls back to en-US when the user's language is missing.
    """
    removed = 0
    for pak in folder.rglob("qtwebengine_locales/*.pak"):
        if pak.name != "en-US.pak":
            removed += pak.stat().st_size
            pak.unlink()
    return removed


def finish_linux(folder: Path, icons: dict[str, Path], all_locales: bool) -> None:
    """Put the desktop entry, its icon and the script that installs them beside the executable."""
    if not all_locales:
        print(f"pruned {prune_webengine_locales(folder) / 1e6:.0f} MB of Chromium translations "
              "(--all-locales keeps them)")
    shutil.copy2(icons["png"], folder / f"{ICON_NAME}.png")
    shutil.copy2(HERE / "linux" / "lanchat.desktop", folder / "lanchat.desktop")
    script = folder / "install-desktop-entry.sh"
    shutil.copy2(HERE / "linux" / "install-desktop-entry.sh", script)
    script.chmod(0o755)


def finish_macos(dist: Path) -> None:
    """Info.plist keys the CLI cannot set, then sign again (editing the plist breaks a signature).

    macOS 14+ asks before an app talks to the local network; without these keys it never asks
    and discovery silently finds nothing.
    """
    app = dist / f"{EXE_NAME}.app"
    plist_path = app / "Contents" / "Info.plist"
    with open(plist_path, "rb") as f:
        info = plistlib.load(f)
    info.update({
        "CFBundleDisplayName": APP_NAME,
        "CFBundleShortVersionString": __version__,
        "CFBundleVersion": __version__,
        "NSHighResolutionCapable": True,
        "NSLocalNetworkUsageDescription":
            "LAN Chat finds rooms and hosts them on your local network.",
        "NSBonjourServices": ["_lanchat._tcp"],
    })
    with open(plist_path, "wb") as f:
        plistlib.dump(info, f)
    identity = os.environ.get("LANCHAT_CODESIGN_IDENTITY", "-")  # "-" = ad hoc
    # A real identity signs for notarization: hardened runtime and a secure timestamp.
    extra = [] if identity == "-" else ["--options", "runtime", "--timestamp"]
    subprocess.run(["codesign", "--force", "--deep", *extra, "--sign", identity, str(app)],
                   check=True)


def folder_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build(target: str, dist: Path, work: Path, verbose: bool = False,
          all_locales: bool = False) -> Path:
    """Build one target; returns the executable (or the .app on macOS)."""
    import PyInstaller.__main__

    t0 = time.monotonic()
    if target == "app":
        icons = make_icons(work)
        PyInstaller.__main__.run(app_options(dist, work, icons, verbose))
        if IS_MACOS:
            finish_macos(dist)
            product, measured = dist / f"{EXE_NAME}.app", dist / f"{EXE_NAME}.app"
        else:
            if IS_LINUX:
                finish_linux(dist / EXE_NAME, icons, all_locales)
            exe = EXE_NAME + (".exe" if IS_WINDOWS else "")
            product, measured = dist / EXE_NAME / exe, dist / EXE_NAME
    else:
        PyInstaller.__main__.run(host_options(dist, work, verbose))
        product = measured = dist / (HOST_NAME + (".exe" if IS_WINDOWS else ""))
    seconds = time.monotonic() - t0
    print(f"built {target}: {product} in {seconds:.0f} s, "
          f"{folder_size(measured) / 1e6:.0f} MB ({measured})", flush=True)
    return product


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=f"Build {APP_NAME} {__version__} with PyInstaller.")
    p.add_argument("--target", choices=["app", "host", "all"], default="all")
    p.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    p.add_argument("--work", type=Path, default=ROOT / "build", help="scratch folder")
    p.add_argument("--verbose", action="store_true", help="PyInstaller's full log")
    p.add_argument("--all-locales", action="store_true",
                   help="keep Qt WebEngine's translations of Chromium's menus (Linux, +44 MB)")
    args = p.parse_args(argv)
    dist, work = args.dist.resolve(), args.work.resolve()
    targets = ["app", "host"] if args.target == "all" else [args.target]
    for target in targets:
        build(target, dist, work, args.verbose, args.all_locales)
    return 0


if __name__ == "__main__":
    sys.exit(main())
