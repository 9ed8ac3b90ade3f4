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


def system_of(platform: str) -> str:
    """``linux``, ``windows`` or ``macos`` for a ``sys.platform`` value: every step that differs
    between systems asks this, so that tests can check each system's plan on any machine."""
    if platform.startswith("win"):
        return "windows"
    if platform == "darwin":
        return "macos"
    return "linux"


# Never needed at run time: test tools, other GUI toolkits, and the standard library's Tk.
COMMON_EXCLUDES = [
    "tkinter", "_tkinter", "turtle", "idlelib", "pydoc_data", "lib2to3",
    "pytest", "_pytest", "pluggy", "hypothesis", "playwright", "psutil", "mypy", "ruff",
    "IPython", "matplotlib", "numpy", "PIL", "PySide2", "PySide6", "PyQt5", "setuptools", "pip",
    "tests",
    # uvicorn's optional extras the app never uses: YAML log configs and --reload; and
    # websockets' optional router, whose werkzeug would bring cryptography (14 MB) along.
    "yaml", "watchfiles", "werkzeug", "websockets.asyncio.router", "websockets.sync.router",
    "websockets.trio.router",
]


def webview_excludes(platform: str) -> list[str]:
    """pywebview's backends for other systems (the PyInstaller hook would pull in whatever
    imports). Windows uses Edge WebView2 (pythonnet), macOS WKWebView (pyobjc): no Qt at all."""
    if system_of(platform) != "linux":
        return ["PyQt6", "qtpy", "webview.platforms.qt", "gi", "webview.platforms.gtk",
                "webview.platforms.cef", "cefpython3", "webview.platforms.android"]
    return ["gi", "webview.platforms.gtk", "webview.platforms.cef", "cefpython3",
            "webview.platforms.winforms", "webview.platforms.edgechromium",
            "webview.platforms.mshtml", "webview.platforms.cocoa",
            "webview.platforms.android", "clr", "pythonnet", "objc", "AppKit",
            "Foundation", "WebKit",
            # pywebview's Qt window needs only Widgets + WebEngine; these bindings
            # (and the QML plugins their hooks collect, ~40 MB) are never imported.
            "PyQt6.QtQml", "PyQt6.QtQuick", "PyQt6.QtQuickWidgets",
            "PyQt6.QtPositioning", "PyQt6.QtDBus", "PyQt6.QtBluetooth",
            "PyQt6.QtMultimedia", "PyQt6.QtSql", "PyQt6.QtTest", "PyQt6.QtDesigner"]


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


def app_options(dist: Path, work: Path, icons: dict[str, Path], verbose: bool,
                platform: str = sys.platform) -> list[str]:
    """Every PyInstaller option for the desktop app, in one list."""
    options = [
        str(HERE / "lanchat_entry.py"),
        *common_options(EXE_NAME, dist, work, verbose),
        "--onedir",  # a one-file Qt build unpacks ~600 MB on every start
        "--windowed",  # no console window (Windows), an .app bundle (macOS); ignored on Linux
        data_arg(icons["png"], "."),  # the window's own icon (paths.app_icon())
        f"--osx-bundle-identifier={BUNDLE_ID}",
        *[f"--exclude-module={m}" for m in COMMON_EXCLUDES + webview_excludes(platform)],
    ]
    system = system_of(platform)
    if system == "windows":  # Linux has no executable icon: the desktop entry names one
        options += [f"--icon={icons['ico']}", f"--version-file={write_version_file(work)}"]
    elif system == "macos":
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


def products(dist: Path, platform: str = sys.platform) -> dict[str, Path]:
    """Where each build lands: ``app`` (what a person starts), ``app_dir`` (what is measured
    and shipped) and ``host``."""
    system = system_of(platform)
    exe = ".exe" if system == "windows" else ""
    if system == "macos":
        app_dir = dist / f"{EXE_NAME}.app"
        app = app_dir / "Contents" / "MacOS" / EXE_NAME
    else:
        app_dir = dist / EXE_NAME
        app = app_dir / f"{EXE_NAME}{exe}"
    return {"app": app, "app_dir": app_dir, "host": dist / f"{HOST_NAME}{exe}"}


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


# What the Linux app never loads, found by running the built app under Xvfb and listing the
# files mapped by it and its QtWebEngineProcess (/proc/PID/maps). Paths are globs under
# ``_internal``; each entry is one row of the size table the build prints.
LINUX_CUTS: dict[str, list[str]] = {
    "Qt's own translations (the UI is English)": ["PyQt6/Qt6/translations/*.qm"],
    "Chromium's DevTools front end (never opened)": [
        "PyQt6/Qt6/resources/qtwebengine_devtools_resources.pak"],
    "Qt's GTK theme plugin, and the GTK 3 stack only it needs": [
        "PyQt6/Qt6/plugins/platformthemes/libqgtk3.so"],
    "Qt image formats (Chromium decodes the page's images itself)": [
        "PyQt6/Qt6/plugins/imageformats/*", "PyQt6/Qt6/plugins/iconengines/*"],
    "Qt plugins for screens and devices a desktop does not use": [
        "PyQt6/Qt6/plugins/platforms/libqlinuxfb.so", "PyQt6/Qt6/plugins/platforms/libqvnc.so",
        "PyQt6/Qt6/plugins/platforms/libqeglfs.so", "PyQt6/Qt6/plugins/platforms/libqminimalegl.so",
        "PyQt6/Qt6/plugins/platforms/libqvkkhrdisplay.so", "PyQt6/Qt6/plugins/generic/*",
        "PyQt6/Qt6/plugins/egldeviceintegrations/*"],
    "Qt printing, TLS and network-status plugins (Chromium has its own)": [
        "PyQt6/Qt6/plugins/printsupport/*", "PyQt6/Qt6/plugins/tls/*",
        "PyQt6/Qt6/plugins/networkinformation/*"],
}


def needed_libraries(path: Path) -> set[str]:
    """The DT_NEEDED entries of an ELF file (empty for anything else)."""
    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            return set()
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True,
                         check=False).stdout
    return {line.rsplit("[", 1)[1].rstrip("]") for line in out.splitlines()
            if "(NEEDED)" in line}


def elf_files(folder: Path) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def remove_orphans(internal: Path, were_needed: set[str]) -> int:
    """Delete bundled libraries that only removed files needed; returns the bytes removed.

    Only names in ``were_needed`` are candidates: a library nothing links to may still be
    opened with dlopen (NSS's modules are), so it stays unless a cut made it an orphan.
    """
    removed = 0
    while True:
        still = set().union(*(needed_libraries(p) for p in elf_files(internal)))
        orphans = [internal / name for name in sorted(were_needed - still)
                   if (internal / name).exists() or (internal / name).is_symlink()]
        if not orphans:
            return removed
        for lib in orphans:
            target = lib.resolve()
            were_needed |= needed_libraries(target) if target.is_file() else set()
            removed += target.stat().st_size if target.is_file() else 0
            lib.unlink()
            if target != lib and target.is_file():
                target.unlink()
        were_needed -= {lib.name for lib in orphans}


def apply_cut(internal: Path, globs: list[str]) -> int:
    """Delete what ``globs`` match, then the bundled libraries only those files needed."""
    removed, were_needed = 0, set()
    for pattern in globs:
        for path in internal.glob(pattern):
            if path.is_file():
                were_needed |= needed_libraries(path)
                removed += path.stat().st_size
                path.unlink()
    return removed + remove_orphans(internal, were_needed)


def strip_debug_symbols(internal: Path) -> int:
    """``strip --strip-debug`` every bundled ELF file still carrying debug sections.

    libpython and uvloop ship with theirs (36 MB between them). Only files inside
    ``_internal``: the executable itself carries PyInstaller's archive at its end.
    """
    before = folder_size(internal)
    for path in elf_files(internal):
        sections = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True,
                                  text=True, check=False).stdout
        if ".debug_" in sections or ".symtab" in sections:
            subprocess.run(["strip", "--strip-debug", str(path)], check=True)
    return before - folder_size(internal)


def slim_linux(folder: Path) -> list[tuple[str, int]]:
    """Apply LINUX_CUTS and strip debug symbols; returns (cut, bytes saved) in order."""
    internal = folder / "_internal"
    table = [(cut, apply_cut(internal, globs)) for cut, globs in LINUX_CUTS.items()]
    table.append(("debug symbols (strip --strip-debug)", strip_debug_symbols(internal)))
    return table


def finish_linux(folder: Path, icons: dict[str, Path], all_locales: bool) -> None:
    """Leave out what the app never loads, and put the desktop entry, its icon and the script
    that installs them beside the executable."""
    cuts = [] if all_locales else [("Chromium's translations except en-US (--all-locales "
                                    "keeps them)", prune_webengine_locales(folder))]
    cuts += slim_linux(folder)
    print(f"{'cut':<70} MB saved")
    for cut, saved in cuts:
        print(f"{cut:<70} {saved / 1e6:8.1f}")
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


DEB_PACKAGE = "lanchat"
DEB_PREFIX = "opt/lanchat"  # the app's folder, as installed (FHS: add-on software)
MAINTAINER = "LAN Chat developers <lanchat@localhost>"  # LANCHAT_DEB_MAINTAINER replaces it


def deb_architecture() -> str:
    """dpkg's name for this machine's architecture (amd64, arm64, ...)."""
    if shutil.which("dpkg"):
        return subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                              text=True, check=True).stdout.strip()
    machine = platform_machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def system_libraries(folder: Path) -> set[str]:
    """Libraries the bundle links to but does not carry (glibc, libGL, ...)."""
    files = elf_files(folder)
    carried = {p.name for p in folder.rglob("*")}
    return set().union(*(needed_libraries(p) for p in files)) - carried


def debian_depends(libraries: set[str]) -> list[str]:
    """The Debian packages that provide ``libraries`` on this (the build) machine, found with
    ``ldconfig -p`` and ``dpkg -S``; glibc at least the build machine's version."""
    paths = {}
    for line in subprocess.run(["ldconfig", "-p"], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        name, _, path = line.strip().partition(" => ")
        name = name.split(" ", 1)[0]
        if name in libraries and name not in paths:  # the first is this machine's own
            paths[name] = path
    packages = set()
    for name in sorted(libraries):
        if name not in paths:
            print(f"warning: no system package found for {name}")
            continue
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(paths[name])],
                               capture_output=True, text=True, check=False).stdout
        owner = owner or subprocess.run(["dpkg", "-S", paths[name]], capture_output=True,
                                        text=True, check=False).stdout
        if owner:
            packages.add(owner.split(":", 1)[0].split(",")[0].strip())
    glibc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    return sorted(f"libc6 (>= {glibc.split()[-1]})" if p == "libc6" and glibc else p
                  for p in packages)


def link_or_copy(source: str, target: str) -> object:
    """A hard link when dist/ and the staging folder share a file system (no 400 MB copy)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target


def deb_tree(app_dir: Path, root: Path) -> None:
    """The files the package installs: the app under /opt, ``lanchat`` on the PATH, the menu
    entry and its icon; every folder and file readable by every user."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(app_dir, root / DEB_PREFIX, symlinks=True, copy_function=link_or_copy)
    for helper in ("install-desktop-entry.sh", "lanchat.desktop"):  # for the unpacked folder
        (root / DEB_PREFIX / helper).unlink(missing_ok=True)
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "lanchat").symlink_to(f"/{DEB_PREFIX}/{EXE_NAME}")
    entry = (HERE / "linux" / "lanchat.desktop").read_text(encoding="utf-8")
    entry = entry.replace(f"Exec={EXE_NAME}", "Exec=lanchat").replace(
        f"TryExec={EXE_NAME}", "TryExec=lanchat")
    apps = root / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    (apps / "lanchat.desktop").write_text(entry, encoding="utf-8")
    icons = root / "usr" / "share" / "icons" / "hicolor" / "256x256" / "apps"
    icons.mkdir(parents=True)
    shutil.copy2(app_dir / f"{ICON_NAME}.png", icons / f"{ICON_NAME}.png")
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(0o755 if path.is_dir() or mode & 0o100 else 0o644)


def make_deb(app_dir: Path, staging: Path, out: Path) -> Path:
    """Build ``out`` with dpkg-deb alone (no packaging helper): see :func:`deb_tree`."""
    root = staging / "root"
    deb_tree(app_dir, root)
    control = root / "DEBIAN" / "control"
    control.parent.mkdir()
    depends = debian_depends(system_libraries(root / DEB_PREFIX))
    installed_kib = (folder_size(root) + 1023) // 1024
    control.write_text(
        f"Package: {DEB_PACKAGE}\nVersion: {__version__}\nArchitecture: {deb_architecture()}\n"
        f"Maintainer: {os.environ.get('LANCHAT_DEB_MAINTAINER', MAINTAINER)}\n"
        f"Installed-Size: {installed_kib}\n"
        f"Depends: {', '.join(depends)}\nSection: net\nPriority: optional\n"
        f"Description: {APP_NAME}: chat and share files on your local network\n"
        " No internet, no account, no server to install: one person hosts a room, the others\n"
        " on the same network find it in their lobby and join.\n", encoding="utf-8")
    control.chmod(0o644)
    out.unlink(missing_ok=True)
    # gzip: a third of the time xz takes here, for a package about 15% larger.
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", str(root),
                    str(out)], check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(root, ignore_errors=True)
    return out


def folder_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build(target: str, dist: Path, work: Path, verbose: bool = False,
          all_locales: bool = False) -> Path:
    """Build one target; returns what a person starts (the executable inside the .app on
    macOS)."""
    import PyInstaller.__main__

    t0 = time.monotonic()
    where = products(dist)
    system = system_of(sys.platform)
    if target == "app":
        icons = make_icons(work)
        PyInstaller.__main__.run(app_options(dist, work, icons, verbose))
        if system == "macos":
            finish_macos(dist)
        elif system == "linux":
            finish_linux(where["app_dir"], icons, all_locales)
        product, measured = where["app"], where["app_dir"]
    else:
        PyInstaller.__main__.run(host_options(dist, work, verbose))
        product = measured = where["host"]
    seconds = time.monotonic() - t0
    print(f"built {target}: {product} in {seconds:.0f} s, "
          f"{folder_size(measured) / 1e6:.0f} MB ({measured})", flush=True)
    return product


def package_name(platform: str = sys.platform, arch: str | None = None) -> str:
    """The file a person downloads: a .deb on Linux, a .zip on Windows, a .dmg on macOS."""
    system = system_of(platform)
    if system == "linux":
        return f"lanchat_{__version__}_{arch or deb_architecture()}.deb"
    machine = arch or platform_machine()
    return f"LANChat-{__version__}-{system}-{machine}.{'zip' if system == 'windows' else 'dmg'}"


def platform_machine() -> str:
    import platform as platform_module
    return platform_module.machine().lower() or "unknown"


def package(dist: Path, work: Path, platform: str = sys.platform) -> Path | None:
    """Wrap the built app for its system (see :func:`package_name`); None when this machine
    lacks the tool (a Linux without dpkg-deb)."""
    system = system_of(platform)
    where = products(dist, platform)
    out = dist / package_name(platform)
    if system == "linux":
        if shutil.which("dpkg-deb") is None:
            print("dpkg-deb not found: no .deb made")
            return None
        return make_deb(where["app_dir"], work / "deb", out)
    out.unlink(missing_ok=True)
    if system == "windows":  # the folder and the host, zipped: unzip anywhere and run
        staging = work / "zip" / f"LANChat-{__version__}"
        shutil.rmtree(staging.parent, ignore_errors=True)
        shutil.copytree(where["app_dir"], staging / EXE_NAME)
        shutil.copy2(where["host"], staging)
        shutil.make_archive(str(out.with_suffix("")), "zip", staging.parent, staging.name)
    else:  # a compressed disk image holding LANChat.app, as Mac users install apps
        subprocess.run(["hdiutil", "create", "-volname", APP_NAME, "-srcfolder",
                        str(where["app_dir"]), "-ov", "-format", "UDZO", str(out)], check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=f"Build {APP_NAME} {__version__} with PyInstaller.")
    p.add_argument("--target", choices=["app", "host", "all"], default="all")
    p.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    p.add_argument("--work", type=Path, default=ROOT / "build", help="scratch folder")
    p.add_argument("--verbose", action="store_true", help="PyInstaller's full log")
    p.add_argument("--all-locales", action="store_true",
                   help="keep Qt WebEngine's translations of Chromium's menus (Linux, +44 MB)")
    p.add_argument("--no-package", action="store_true",
                   help="skip the .deb (Linux), .zip (Windows) or .dmg (macOS)")
    args = p.parse_args(argv)
    dist, work = args.dist.resolve(), args.work.resolve()
    targets = ["app", "host"] if args.target == "all" else [args.target]
    for target in targets:
        build(target, dist, work, args.verbose, args.all_locales)
    if "app" in targets and not args.no_package:
        t0 = time.monotonic()
        made = package(dist, work)
        if made is not None:
            print(f"packaged: {made} in {time.monotonic() - t0:.0f} s, "
                  f"{made.stat().st_size / 1e6:.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
