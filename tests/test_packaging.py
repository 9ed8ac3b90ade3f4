"""The built executables, run as a user runs them.

Once per session, ``build_scripts/build.py`` (what ``make build`` runs) builds the desktop app
(one folder, Qt WebEngine inside) and the one-file headless host from this checkout into a
temporary folder outside the source tree. The tests then start those executables as processes:
``--version``; ``--headless`` with a real WebSocket chat and a file round trip; the window under
a virtual X screen, screenshotted (test-artifacts/packaging-lobby.png) and closed; the sizes
against their limits; build_scripts/smoke.py (what CI runs on Windows and macOS); and, as root,
the .deb the same build made: installed with apt-get, used from the PATH, removed.

Every run uses --no-discovery and talks to 127.0.0.1 only; every process is stopped by its PID.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server import __version__
from tests.conftest import (
    ROOT,
    Chatter,
    OnLoopback,
    artifact_path,
    need_tool,
    stop_process,
    wait_until,
)
from tests.desktop_helpers import Xvfb, app_env, free_port
from tests.window_driver import AppWindow, need_window_tools

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(not sys.platform.startswith("linux"),
                       reason="builds and runs the Linux executable"),
    pytest.mark.timeout(900),  # the first test's setup includes the build (1-3 min here)
]

BUILD_TIMEOUT = 780


@dataclass
class Build:
    dist: Path
    seconds: float

    @property
    def app_dir(self) -> Path:
        return self.dist / "LANChat"

    @property
    def app(self) -> Path:
        return self.app_dir / "LANChat"

    @property
    def host(self) -> Path:
        return self.dist / "lanchat-host"

    @property
    def deb(self) -> Path:
        found = sorted(self.dist.glob("lanchat_*.deb"))
        assert len(found) == 1, f"expected one .deb in {self.dist}: {found}"
        return found[0]


def du(path: Path) -> int:
    """Bytes on disk, as ``du`` counts them (what a user's download unpacks to)."""
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    """Build both executables once for this module, exactly as ``make build`` does.

    ``LANCHAT_PACKAGING_DIST=<dist folder>`` tests an existing build instead (while iterating).
    """
    reuse = os.environ.get("LANCHAT_PACKAGING_DIST")
    if reuse:
        yield Build(Path(reuse).resolve(), 0.0)
        return
    out = tmp_path_factory.mktemp("packaging")
    dist = out / "dist"
    log = artifact_path("packaging-build.log")
    t0 = time.monotonic()
    with open(log, "wb") as f:
        result = subprocess.run(
            [sys.executable, str(ROOT / "build_scripts" / "build.py"), "--dist", str(dist),
             "--work", str(out / "work")], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
            timeout=BUILD_TIMEOUT)
    seconds = time.monotonic() - t0
    if result.returncode != 0:
        pytest.fail(f"build failed ({result.returncode}); see {log}:\n"
                    f"{log.read_text(errors='replace')[-3000:]}")
    built = Build(dist, seconds)
    print(f"\nbuild: {seconds:.0f} s for both and the .deb; desktop app folder "
          f"{du(built.app_dir) / 1e6:.0f} MB, one-file host {du(built.host) / 1e6:.0f} MB, "
          f".deb {built.deb.stat().st_size / 1e6:.0f} MB")
    yield built
    shutil.rmtree(out, ignore_errors=True)  # ~0.5 GB


class Process(OnLoopback):
    """A built executable as a user's process, with its own home folders and a free port."""

    def __init__(self, exe: Path, home: Path, *args: str, display: str | None = None,
                 devtools_port: int | None = None) -> None:
        self.home = home
        self.port = free_port()
        home.mkdir(parents=True, exist_ok=True)
        self.out = home / "output.txt"
        env = app_env(home, display, devtools_port)
        if os.geteuid() == 0:
            env["QTWEBENGINE_CHROMIUM_FLAGS"] = "--no-sandbox --disable-gpu"
        cmd = [str(exe), "--no-discovery", "--port", str(self.port), *args]
        self.started = time.monotonic()
        with open(self.out, "wb") as f:
            self.proc = subprocess.Popen(cmd, cwd=home, env=env, stdout=f,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def wait_answering(self, timeout: float = 30) -> float:
        """Seconds from the process's start until the server answered /api/health."""
        def answers() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited with {self.proc.returncode}: {self.output()}")
            try:
                return httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False
        wait_until(answers, timeout=timeout, interval=0.02, what="the server to answer")
        return time.monotonic() - self.started

    def output(self) -> str:
        text = self.out.read_text(errors="replace") if self.out.exists() else ""
        return text[-3000:] + "\n--- log ---\n" + self.log()[-3000:]

    def log(self) -> str:
        path = self.home / "state" / "LANChat" / "log" / "lanchat.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def terminate(self, timeout: float = 10) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        stop_process(self.proc)


Run = Callable[..., Process]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    """Start a built executable (``run(exe, *args, display=..., devtools_port=...)``)."""
    started: list[Process] = []

    def start(exe: Path, *args: str, display: str | None = None,
              devtools_port: int | None = None) -> Process:
        p = Process(exe, tmp_path / f"home{len(started)}", *args, display=display,
                    devtools_port=devtools_port)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_version_is_printed_even_without_a_console(build: Build) -> None:
    for exe in (build.app, build.host):
        out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"LAN Chat {__version__}"
        # No stdout at all, as in a windowed build on Windows/macOS (Python sets sys.stdout to
        # None when its descriptor is closed): it still exits cleanly.
        quiet = subprocess.run(["sh", "-c", 'exec "$0" --version 1>&- 2>&-', str(exe)],
                               timeout=60)
        assert quiet.returncode == 0


def test_headless_app_chats_and_shares_a_file_with_data_in_the_given_folder(
        build: Build, run: Run, tmp_path: Path) -> None:
    before = snapshot(build.app_dir)
    data = tmp_path / "chat-data"
    app = run(build.app, "--headless", "--data-dir", str(data), "--room", "Frozen room")
    seconds = app.wait_answering()
    print(f"\ndesktop app --headless: server answering {seconds:.2f} s after start")
    room = httpx.get(f"{app.url}/api/room", timeout=10).json()
    assert room["room"] == "Frozen room" and room["version"] == __version__
    assert room["hosting"] is True
    page = httpx.get(f"{app.url}/", timeout=10)
    assert page.status_code == 200
    assert page.text == (build.app_dir / "_internal" / "static" / "index.html").read_text()

    ann = Chatter(app, "Ann")  # type: ignore[arg-type]
    bob = Chatter(app, "Bob")  # type: ignore[arg-type]
    ann.say("hello from the frozen app")
    got = bob.recv_type("message", text="hello from the frozen app")
    assert got["user"]["name"] == "Ann"

    payload = os.urandom(300_000) + "résumé ✓".encode()
    with httpx.Client(base_url=app.url, timeout=30) as http:
        meta = http.post("/api/files", files={"file": ("notes.bin", payload)})
        assert meta.status_code == 201, meta.text
        file_id = meta.json()["id"]
        ann.say("here is the file", file_id=file_id)
        shared = bob.recv_type("message", text="here is the file")
        assert shared["file"]["id"] == file_id and shared["file"]["name"] == "notes.bin"
        back = http.get(f"/api/files/{file_id}")
        assert back.status_code == 200
        assert hashlib.sha256(back.content).digest() == hashlib.sha256(payload).digest()
    ann.close()
    bob.close()

    assert (data / "history.sqlite3").exists()
    assert [p.name for p in (data / "files").iterdir()] == [file_id]
    assert app.terminate() == 0, app.output()
    assert f"LAN Chat {__version__} starting" in app.log()  # the log file, not a console
    assert snapshot(build.app_dir) == before, "the app wrote beside its executable"


def test_one_file_host_keeps_data_in_the_users_data_folder(build: Build, run: Run) -> None:
    host = run(build.host, "--host", "127.0.0.1", "--room", "Host room")
    seconds = host.wait_answering()
    print(f"\none-file host: server answering {seconds:.2f} s after start")
    ann = Chatter(host, "Ann")  # type: ignore[arg-type]
    ann.say("one file")
    assert ann.recv_type("message", text="one file")["user"]["name"] == "Ann"
    ann.close()
    assert httpx.get(f"{host.url}/", timeout=10).status_code == 200  # the UI, from the bundle
    assert (host.home / "data" / "LANChat" / "history.sqlite3").exists()
    # uvicorn shuts down cleanly, then re-raises the signal it caught: killed by SIGTERM is the
    # conventional exit status here (the same as `python -m server`).
    assert host.terminate() in (0, -signal.SIGTERM), host.output()
    assert "Application shutdown complete" in host.output()
    assert not (build.dist / "history.sqlite3").exists()


def test_double_click_opens_the_lobby_window_and_closing_it_ends_the_app(
        build: Build, run: Run, xvfb: Xvfb) -> None:
    """The built app is looked into from outside only (tests/window_driver.py): Qt WebEngine's
    DevTools endpoint for the page, the X server for the window, the app's log and server."""
    need_tool("/usr/bin/import", "imagemagick")
    need_window_tools()
    devtools_port = free_port()
    # As from a desktop launcher: no --headless, a display, nothing else that matters.
    app = run(build.app, display=xvfb.display, devtools_port=devtools_port)
    window = AppWindow(app.proc, xvfb.display, devtools_port, app.port,
                       app.home / "state" / "LANChat" / "log" / "lanchat.log", app.started)
    try:
        check_the_lobby_window(app, window, xvfb)
    finally:
        window.stop_driving()


def check_the_lobby_window(app: Process, window: AppWindow, xvfb: Xvfb) -> None:
    answering = app.wait_answering()
    state = window.wait_loaded(timeout=60)
    visible = time.monotonic() - app.started
    js = window.eval
    wait_until(lambda: "LAN Chat" in str(js("document.body.innerText") or "")
               and js("document.styleSheets.length > 0"), timeout=20,
               what="the lobby to render with its styles")
    time.sleep(0.5)  # let the first paint settle before the screenshot
    print(f"\nwindowed app: server answering {answering:.2f} s, lobby loaded "
          f"{visible:.2f} s after start ({state['first_load_seconds']:.2f} s inside the app)")
    assert state["url"] == f"http://127.0.0.1:{app.port}/#lobby"
    assert state["title"] == "LAN Chat" and state["hosting"] is False

    shot = xvfb.screenshot(artifact_path("packaging-lobby.png"))
    spread = subprocess.run(["/usr/bin/convert", str(shot), "-format",
                             "%[fx:standard_deviation]", "info:"], capture_output=True,
                            text=True, timeout=30).stdout
    assert float(spread or 0) > 0.01, "the screenshot is blank"

    # The menu entry's StartupWMClass and the window's icon.
    props = subprocess.run(["xprop", "-display", xvfb.display, "-name", "LAN Chat", "WM_CLASS",
                            "_NET_WM_ICON"], capture_output=True, text=True, timeout=30).stdout
    assert 'WM_CLASS(STRING) = "LANChat", "LANChat"' in props, props[:500]
    assert "_NET_WM_ICON(CARDINAL) = " in props and "not found" not in props, props[:500]

    took = window.close(timeout=15)
    assert app.proc.returncode == 0, app.output()
    print(f"window closed: process ended {took:.2f} s later")
    log = app.log()
    assert "first page loaded" in log and "window closed" in log
    assert "Traceback" not in log, log


def test_a_second_double_click_brings_the_built_app_forward_instead_of_a_second_copy(
        build: Build, run: Run, xvfb: Xvfb) -> None:
    need_window_tools()
    devtools_port = free_port()
    first = run(build.app, display=xvfb.display, devtools_port=devtools_port)
    window = AppWindow(first.proc, xvfb.display, devtools_port, first.port,
                       first.home / "state" / "LANChat" / "log" / "lanchat.log", first.started)
    try:
        window.wait_loaded(timeout=60)
        # The same user (the same home folders) double-clicks again.
        env = app_env(first.home, xvfb.display, None)
        t0 = time.monotonic()
        second = subprocess.run([str(build.app), "--no-discovery", "--port", str(free_port())],
                                env=env, capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t0
        print(f"\nsecond launch of the built app exited {second.returncode} after {took:.2f} s")
        assert second.returncode == 0, second.stdout + second.stderr
        wait_until(lambda: "window brought forward" in first.log(), timeout=15,
                   what="the running app to come forward")
        assert first.proc.poll() is None
        took_to_close = window.close(timeout=15)
        assert first.proc.returncode == 0, first.output()
        print(f"first app closed {took_to_close:.2f} s after being asked")
    finally:
        window.stop_driving()


def strings_in(code: types.CodeType) -> Iterator[str]:
    """Every string constant in a module's code, nested functions and classes included."""
    for const in code.co_consts:
        if isinstance(const, str):
            yield const
        elif isinstance(const, types.CodeType):
            yield from strings_in(const)


def test_the_built_app_carries_no_test_code(build: Build) -> None:
    """No test module and no test hook in what users get: the modules inside the app's
    archive, and the strings in the desktop shell's (where the window is)."""
    from PyInstaller.archive.readers import CArchiveReader

    package = CArchiveReader(str(build.app))
    pyz_name = next(name for name in package.toc if name.endswith(".pyz"))
    pyz = package.open_embedded_archive(pyz_name)
    modules = set(pyz.toc)
    assert {"desktop.shell", "desktop.bridge", "server.app"} <= modules, sorted(modules)[:20]
    test_only = {m for m in modules if m.split(".")[0] in ("tests", "pytest", "_pytest",
                                                           "playwright")
                 or m.endswith("testcontrol")}
    assert not test_only, sorted(test_only)
    shell = sorted(m for m in modules if m.split(".")[0] in ("desktop", "server"))
    hooks = {m for m in shell for text in strings_in(pyz.extract(m))
             if "LANCHAT_TEST_CONTROL" in text or "TEST ONLY" in text}
    print(f"\n{len(modules)} modules in the app's archive, {len(shell)} of them LAN Chat's")
    assert not hooks, sorted(hooks)


def test_desktop_entry_puts_the_app_in_the_application_menu(build: Build,
                                                             tmp_path: Path) -> None:
    folder = build.app_dir
    entry_template = configparser.ConfigParser(interpolation=None)
    entry_template.read(folder / "lanchat.desktop")
    assert entry_template["Desktop Entry"]["Exec"] == "LANChat"
    assert (folder / "lanchat.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = tmp_path / "share"
    out = subprocess.run([str(folder / "install-desktop-entry.sh")], capture_output=True,
                         text=True, timeout=30, env={**os.environ, "XDG_DATA_HOME": str(data)})
    assert out.returncode == 0, out.stderr
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(data / "applications" / "lanchat.desktop")
    section = entry["Desktop Entry"]
    assert section["Exec"] == f'"{build.app}"'
    assert section["TryExec"] == str(build.app)
    assert section["Name"] == "LAN Chat" and section["Icon"] == "lanchat"
    assert section["Type"] == "Application" and section["Terminal"] == "false"
    icon = data / "icons" / "hicolor" / "256x256" / "apps" / "lanchat.png"
    assert icon.read_bytes() == (folder / "lanchat.png").read_bytes()
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(data / "applications" /
                                                             "lanchat.desktop")],
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
    subprocess.run([str(folder / "install-desktop-entry.sh"), "--remove"], check=True,
                   capture_output=True, timeout=30,
                   env={**os.environ, "XDG_DATA_HOME": str(data)})
    assert not (data / "applications" / "lanchat.desktop").exists()


# What the build may weigh (bytes on disk, as ``du`` counts). The desktop folder was 488 MB
# before the cuts in build_scripts/build.py (LINUX_CUTS, strip) and is about 395 MB after;
# Qt WebEngine's Chromium alone is 204 MB of it. A new dependency or a cut undone fails here.
MAX_APP_BYTES = 420_000_000
MAX_HOST_BYTES = 40_000_000


def test_the_builds_stay_within_their_size_limits(build: Build) -> None:
    app, host = du(build.app_dir), du(build.host)
    print(f"\ndesktop app folder {app / 1e6:.1f} MB (limit {MAX_APP_BYTES / 1e6:.0f}), "
          f"one-file host {host / 1e6:.1f} MB (limit {MAX_HOST_BYTES / 1e6:.0f})")
    assert app <= MAX_APP_BYTES
    assert host <= MAX_HOST_BYTES
    internal = build.app_dir / "_internal"
    assert not list(internal.rglob("translations/*.qm")), "Qt translations are back"
    assert not list(internal.rglob("qtwebengine_devtools_resources.pak"))


def test_the_smoke_script_that_ci_runs_on_every_system_passes_here(build: Build) -> None:
    """build_scripts/smoke.py is what the Windows and macOS jobs run after their builds
    (.github/workflows/build.yml): run here against the Linux build, it is known to work."""
    out = subprocess.run([sys.executable, str(ROOT / "build_scripts" / "smoke.py"), "--dist",
                          str(build.dist)], capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    print("\n" + out.stdout)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "smoke test passed" in out.stdout


def apt_get(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=120", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def deb_files(deb: Path) -> set[str]:
    """The paths a package installs (``dpkg-deb -c``), as absolute paths."""
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                             check=True, timeout=120).stdout
    paths = set()
    for line in listing.splitlines():
        if " ./" in line and not line.endswith(" ./"):
            relative = line.split(" ./", 1)[1].split(" -> ")[0].rstrip("/")
            paths.add("/" + relative)
    return paths


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("apt-get") is None
                    or shutil.which("dpkg-deb") is None,
                    reason="installs a Debian package: root on Debian or Ubuntu")
def test_the_debian_package_installs_hosts_a_room_and_leaves_nothing_on_removal(
        build: Build, run: Run, tmp_path: Path) -> None:
    deb = build.deb
    fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Architecture"],
                            capture_output=True, text=True, check=True, timeout=60).stdout
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert deb.name == f"lanchat_{__version__}_{arch}.deb"
    assert fields.split("\n")[:3] == ["Package: lanchat", f"Version: {__version__}",
                                      f"Architecture: {arch}"], fields
    files = deb_files(deb)
    assert {"/opt/lanchat/LANChat", "/usr/bin/lanchat", "/usr/share/applications/lanchat.desktop",
            "/usr/share/icons/hicolor/256x256/apps/lanchat.png"} <= files
    if subprocess.run(["dpkg", "-s", "lanchat"], capture_output=True).returncode == 0:
        pytest.skip("a lanchat package is already installed on this machine: not touching it")
    t0 = time.monotonic()
    installed = apt_get("install", "--no-install-recommends", str(deb))
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    print(f"\napt-get install: {time.monotonic() - t0:.1f} s")
    try:
        use_the_installed_package(run, tmp_path)
    finally:
        removed = apt_get("remove", "--purge", "lanchat")
    assert removed.returncode == 0, removed.stdout[-2000:] + removed.stderr[-2000:]
    assert subprocess.run(["dpkg", "-s", "lanchat"], capture_output=True).returncode != 0
    left = sorted(path for path in files if os.path.lexists(path)
                  and not (os.path.isdir(path) and not path.startswith("/opt/lanchat")))
    assert left == [], f"left behind after removal: {left[:20]}"
    assert not os.path.lexists("/opt/lanchat")


def use_the_installed_package(run: Run, tmp_path: Path) -> None:
    """``lanchat`` from the PATH, as a user types it: its version, then a headless room that
    two people chat in (WebSocket) and share a file through."""
    lanchat = shutil.which("lanchat")
    assert lanchat == "/usr/bin/lanchat"
    version = subprocess.run([lanchat, "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == f"LAN Chat {__version__}", version
    entry = configparser.ConfigParser(interpolation=None)
    entry.read("/usr/share/applications/lanchat.desktop")
    assert entry["Desktop Entry"]["Exec"] == "lanchat"
    assert entry["Desktop Entry"]["Icon"] == "lanchat"
    data = tmp_path / "deb-data"
    app = run(Path(lanchat), "--headless", "--data-dir", str(data), "--room", "Packaged room")
    seconds = app.wait_answering()
    print(f"installed lanchat --headless: answering {seconds:.2f} s after start")
    assert httpx.get(f"{app.url}/api/room", timeout=10).json()["room"] == "Packaged room"
    ann = Chatter(app, "Ann")  # type: ignore[arg-type]
    bob = Chatter(app, "Bob")  # type: ignore[arg-type]
    ann.say("hello from the installed package")
    assert bob.recv_type("message", text="hello from the installed package")["user"]["name"] \
        == "Ann"
    ann.close()
    bob.close()
    assert app.terminate() == 0, app.output()
    assert (data / "history.sqlite3").exists()
