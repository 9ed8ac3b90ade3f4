"""A browser refused for joining too often waits as long as the host asks, then comes back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Host
from tests.e2e_helpers import join, launch_browser, new_page, shot

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def test_a_page_refused_for_joining_too_often_waits_retry_after_then_joins(
        make_host: Any, browser: Any) -> None:
    # One join, then one every 12 s: the reload below is refused with retry_after of 11-12 s,
    # longer than the page's own first back-off (4-8 s after a 4429).
    host: Host = make_host(join_burst_per_person=1, joins_per_second_per_person=1 / 12)
    context, page, errors = new_page(browser)
    join(page, host.url, "Ada")
    opened: list[float] = []
    page.on("websocket", lambda ws: opened.append(time.monotonic()))
    page.reload()
    started = time.monotonic()
    banner = page.locator(".banner-text")
    banner.wait_for(timeout=10_000)
    # The wait it shows is the host's retry_after, not the page's own shorter back-off.
    secs = int(banner.inner_text().rsplit(" ", 2)[-2])
    assert secs >= 9, banner.inner_text()
    shot(page, "join-limit-waiting.png")
    page.locator(".conn-online").wait_for(timeout=30_000)
    waited = time.monotonic() - started
    shot(page, "join-limit-back-online.png")
    assert len(opened) == 2, f"{len(opened)} connections: it knocked again before retry_after"
    assert opened[1] - opened[0] >= 10, opened
    print(f"\nrefused, then back online after {waited:.1f} s with one retry")
    assert errors.real_errors() == []
    context.close()
