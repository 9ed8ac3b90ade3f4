"""The build script's choices, checked without building: what goes in, what stays out, icons.

The Windows and macOS builds cannot run here; these tests at least keep their options honest
(the Windows version resource parses, the icons are what each system expects).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from server import __version__
from tests.conftest import ROOT


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"lanchat_{name}",
                                                  ROOT / "build_scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build() -> ModuleType:
    return load("build")


def icons(tmp_path: Path) -> dict[str, Path]:
    return {kind: tmp_path / f"lanchat.{kind}" for kind in ("png", "ico", "icns")}


def test_app_options_bundle_the_ui_by_absolute_path_and_leave_out_tests_and_tk(
        build: ModuleType, tmp_path: Path) -> None:
    opts = build.app_options(tmp_path / "dist", tmp_path / "work", icons(tmp_path), False)
    assert opts[0].endswith("lanchat_entry.py") and Path(opts[0]).is_absolute()
    assert "--onedir" in opts and "--windowed" in opts and "--name=LANChat" in opts
    assert f"--add-data={ROOT / 'static'}{os.pathsep}static" in opts
    assert "--osx-bundle-identifier=org.lanchat.LANChat" in opts
    excluded = {o.split("=", 1)[1] for o in opts if o.startswith("--exclude-module=")}
    assert {"tkinter", "pytest", "playwright", "tests"} <= excluded
    assert "PyQt6.QtWebEngineWidgets" not in excluded and "webview" not in excluded
    # Output stays where the caller said: nothing written into the source tree.
    assert f"--specpath={tmp_path / 'work' / 'LANChat'}" in opts
    assert f"--distpath={tmp_path / 'dist'}" in opts


def test_host_options_make_one_file_with_no_gui_toolkit(build: ModuleType,
                                                         tmp_path: Path) -> None:
    opts = build.host_options(tmp_path / "dist", tmp_path / "work", False)
    assert "--onefile" in opts and "--console" in opts and "--name=lanchat-host" in opts
    assert opts[0].endswith("lanchat_host_entry.py")
    excluded = {o.split("=", 1)[1] for o in opts if o.startswith("--exclude-module=")}
    assert {"PyQt6", "webview", "desktop"} <= excluded
    assert f"--add-data={ROOT / 'static'}{os.pathsep}static" in opts


def test_windows_version_resource_parses_and_carries_the_version(build: ModuleType,
                                                                  tmp_path: Path) -> None:
    text = build.write_version_file(tmp_path).read_text()
    call = ast.parse(text, mode="eval").body
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "VSVersionInfo"
    major, minor, patch = (int(p) for p in __version__.split(".")[:3])
    assert f"filevers=({major}, {minor}, {patch}, 0)" in text
    assert f"'ProductVersion', '{__version__}'" in text
    assert "'OriginalFilename', 'LANChat.exe'" in text


def test_only_english_chromium_strings_are_kept(build: ModuleType, tmp_path: Path) -> None:
    locales = tmp_path / "_internal" / "PyQt6" / "Qt6" / "translations" / "qtwebengine_locales"
    locales.mkdir(parents=True)
    for name in ("en-US.pak", "de.pak", "fr.pak"):
        (locales / name).write_bytes(b"x" * 10)
    assert build.prune_webengine_locales(tmp_path) == 20
    assert [p.name for p in locales.iterdir()] == ["en-US.pak"]


def test_icons_come_out_as_png_ico_and_icns(tmp_path: Path) -> None:
    pytest.importorskip("PyQt6.QtGui")
    # In a child process, as the build does: Qt's application object stays out of this one.
    subprocess.run([sys.executable, str(ROOT / "build_scripts" / "icon.py"), str(tmp_path)],
                   check=True, capture_output=True, timeout=60,
                   env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    written = {kind: tmp_path / f"lanchat.{kind}" for kind in ("png", "ico", "icns")}
    png = written["png"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (256, 256)
    ico = written["ico"].read_bytes()
    assert ico[:4] == b"\x00\x00\x01\x00" and struct.unpack("<H", ico[4:6])[0] >= 1
    assert written["icns"].read_bytes()[:4] == b"icns"
    for size in (16, 32, 48, 128, 512):
        assert (tmp_path / f"lanchat-{size}.png").exists()


def test_no_test_hook_ships_in_the_app(build: ModuleType, tmp_path: Path) -> None:
    """The desktop shell, which the build bundles, has no test-only code: no control module, no
    variable that would open one, nothing taken from tests/. Tests drive the built window from
    outside (tests/window_driver.py)."""
    opts = build.app_options(tmp_path / "dist", tmp_path / "work", icons(tmp_path), False)
    excluded = {o.split("=", 1)[1] for o in opts if o.startswith("--exclude-module=")}
    assert {"tests", "pytest", "playwright"} <= excluded
    assert not [o for o in opts if str(ROOT / "tests") in o]
    shipped = [*(ROOT / "desktop").rglob("*.py"), ROOT / "build_scripts" / "lanchat_entry.py"]
    assert not [p for p in shipped if "testcontrol" in p.name]
    for path in shipped:
        text = path.read_text(encoding="utf-8")
        for hook in ("LANCHAT_TEST_CONTROL", "testcontrol", "TEST ONLY"):
            assert hook not in text, f"{path.relative_to(ROOT)} mentions {hook}"


# Each system's plan, checked on this machine ------------------------------------------------

SYSTEMS = ["linux", "win32", "darwin"]


@pytest.mark.parametrize("platform", SYSTEMS)
def test_each_system_gets_its_own_window_toolkit_icon_and_products(
        build: ModuleType, tmp_path: Path, platform: str) -> None:
    opts = build.app_options(tmp_path / "dist", tmp_path / "work", icons(tmp_path), False,
                             platform=platform)
    excluded = {o.split("=", 1)[1] for o in opts if o.startswith("--exclude-module=")}
    where = build.products(tmp_path / "dist", platform)
    if platform == "linux":  # Qt WebEngine inside; no executable icon (the menu entry has it)
        assert "PyQt6" not in excluded and {"pythonnet", "objc"} <= excluded
        assert not [o for o in opts if o.startswith(("--icon", "--version-file"))]
        assert where["app"] == tmp_path / "dist" / "LANChat" / "LANChat"
        assert where["host"] == tmp_path / "dist" / "lanchat-host"
    elif platform == "win32":  # Edge WebView2 through pythonnet: no Qt at all
        assert {"PyQt6", "qtpy", "webview.platforms.qt"} <= excluded
        assert "pythonnet" not in excluded and "clr" not in excluded
        assert f"--icon={tmp_path / 'lanchat.ico'}" in opts
        assert any(o.startswith("--version-file=") for o in opts)
        assert where["app"] == tmp_path / "dist" / "LANChat" / "LANChat.exe"
        assert where["host"] == tmp_path / "dist" / "lanchat-host.exe"
    else:  # WKWebView through pyobjc, in an .app bundle
        assert {"PyQt6", "qtpy"} <= excluded and "objc" not in excluded
        assert f"--icon={tmp_path / 'lanchat.icns'}" in opts
        assert where["app_dir"] == tmp_path / "dist" / "LANChat.app"
        assert where["app"] == where["app_dir"] / "Contents" / "MacOS" / "LANChat"
    assert {"yaml", "watchfiles", "tests", "pytest"} <= excluded


@pytest.mark.parametrize(("platform", "name"), [
    ("linux", f"lanchat_{__version__}_amd64.deb"),
    ("win32", f"LANChat-{__version__}-windows-amd64.zip"),
    ("darwin", f"LANChat-{__version__}-macos-amd64.dmg"),
])
def test_each_system_is_packaged_as_its_people_install_software(
        build: ModuleType, platform: str, name: str) -> None:
    assert build.package_name(platform, arch="amd64") == name


def test_the_windows_zip_holds_the_app_folder_and_the_host(build: ModuleType,
                                                           tmp_path: Path) -> None:
    """The Windows packaging step is plain Python: run it here on a stand-in build."""
    import zipfile

    dist = tmp_path / "dist"
    (dist / "LANChat" / "_internal").mkdir(parents=True)
    (dist / "LANChat" / "LANChat.exe").write_bytes(b"MZ app")
    (dist / "LANChat" / "_internal" / "python311.dll").write_bytes(b"MZ dll")
    (dist / "lanchat-host.exe").write_bytes(b"MZ host")
    out = build.package(dist, tmp_path / "work", platform="win32")
    assert out.parent == dist and out.name.endswith(".zip")
    top = f"LANChat-{__version__}"
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        assert {f"{top}/LANChat/LANChat.exe", f"{top}/LANChat/_internal/python311.dll",
                f"{top}/lanchat-host.exe"} <= names
        assert z.read(f"{top}/lanchat-host.exe") == b"MZ host"


def test_the_linux_cuts_leave_out_unused_files_and_only_their_orphaned_libraries(
        build: ModuleType, tmp_path: Path) -> None:
    """A cut removes what its globs match, then the bundled libraries only those files
    linked to; a library something else still links to, or that nothing links to (it may be
    opened with dlopen), stays."""
    internal = tmp_path / "LANChat" / "_internal"
    plugin_dir = internal / "PyQt6" / "Qt6" / "plugins" / "platformthemes"
    plugin_dir.mkdir(parents=True)
    lib = Path(sys.executable).resolve()  # any real ELF file stands in for the libraries
    needed = build.needed_libraries(lib)
    shared = next(iter(needed), None)
    if shared is None:
        pytest.skip("this Python links to no shared library")
    import shutil
    shutil.copy2(lib, plugin_dir / "libqgtk3.so")
    (internal / shared).write_bytes((Path("/lib/x86_64-linux-gnu") / shared).read_bytes()
                                    if (Path("/lib/x86_64-linux-gnu") / shared).exists()
                                    else b"\x7fELF stand-in")
    (internal / "libdlopened.so").write_bytes(b"\x7fELF stand-in")
    saved = build.apply_cut(internal, ["PyQt6/Qt6/plugins/platformthemes/libqgtk3.so"])
    assert not (plugin_dir / "libqgtk3.so").exists()
    assert not (internal / shared).exists(), "the orphaned library stayed"
    assert (internal / "libdlopened.so").exists()
    assert saved > 0


def test_the_ci_workflow_builds_on_windows_and_macos_with_the_build_scripts_only() -> None:
    """Every platform-specific step is in build.py (checked above); the workflow's own steps
    are the same commands on every runner, and the build README points at it."""
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "build.yml").read_text())
    job = workflow["jobs"]["build"]
    assert set(job["strategy"]["matrix"]["os"]) == {"windows-latest", "macos-latest"}
    commands = [step["run"] for step in job["steps"] if "run" in step]
    assert "python build_scripts/build.py" in commands
    assert "python build_scripts/smoke.py" in commands
    assert all(c.startswith("python ") for c in commands), commands
    assert not any("if" in step for step in job["steps"]), "a step only for one system"
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith(
        "actions/upload-artifact"))
    assert "dist/*.zip" in upload["with"]["path"] and "dist/*.dmg" in upload["with"]["path"]
    readme = (ROOT / "build_scripts" / "README.md").read_text()
    assert ".github/workflows/build.yml" in readme
