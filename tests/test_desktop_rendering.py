"""How the window draws: Qt Quick in software unless whoever starts the app says otherwise.

Why software is the default is measured, not asserted here: ``python -m tests.bench.launch``
prints launch-to-lobby times (README, "Start-up").
"""

from __future__ import annotations

import os

import pytest

from desktop import shell


@pytest.fixture(autouse=True)
def qt_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What prepare_qt_environment() writes is put back after each test."""
    for name in ("QT_QUICK_BACKEND", "QTWEBENGINE_CHROMIUM_FLAGS"):
        monkeypatch.delenv(name, raising=False)


def test_the_window_draws_in_software_by_default() -> None:
    shell.prepare_qt_environment()
    assert os.environ["QT_QUICK_BACKEND"] == "software"


@pytest.mark.parametrize("chosen", ["rhi", "openvg", ""])
def test_a_backend_named_by_the_environment_is_kept(monkeypatch: pytest.MonkeyPatch,
                                                    chosen: str) -> None:
    monkeypatch.setenv("QT_QUICK_BACKEND", chosen)
    shell.prepare_qt_environment()
    assert os.environ["QT_QUICK_BACKEND"] == chosen
