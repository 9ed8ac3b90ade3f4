"""What a page that followed its room to another host may do there, and nothing more: the page's
policy names the room's successors (so it may fetch from them), a host answers CORS only to its
room's former hosts' pages, and the room's session token works as a header where the page's
cookies do not reach."""

from __future__ import annotations

from typing import Any

import httpx

from server.security import SESSION_COOKIE
from tests.conftest import Host, wait_until

HEADERS = "content-type, upload-offset, x-lanchat-client, x-lanchat-session"


def successors(host: Host) -> list[str]:
    with host.http() as http:
        return list(http.get("/api/room").json().get("successors") or [])


def connect_src(host: Host) -> str:
    with host.http() as http:
        policy = http.get("/").headers["content-security-policy"]
    return next(p for p in policy.split("; ") if p.startswith("connect-src "))


def preflight(host: Host, origin: str, method: str = "POST") -> httpx.Response:
    with host.http() as http:
        return http.options("/api/files/uploads", headers={
            "origin": origin, "access-control-request-method": method,
            "access-control-request-headers": "content-type, x-lanchat-client"})


def test_the_page_may_reach_the_successors_and_the_new_host_answers_only_former_hosts(
        make_host: Any) -> None:
    first: Host = make_host()
    assert connect_src(first) == "connect-src 'self' ws: wss:"  # no successor yet
    standby: Host = make_host(standby_url=first.url)
    wait_until(lambda: successors(first), timeout=15, what="the standby to be a successor")
    # The room's page may fetch from its successor, and from nowhere else.
    assert connect_src(first) == f"connect-src 'self' ws: wss: {standby.url}"

    first.stop()  # hands the room over
    wait_until(lambda: standby.http().get("/api/events").status_code == 200, timeout=15,
               what="the standby to serve the room")
    # The first host's page is answered, with what it may send; no credentials.
    answer = preflight(standby, first.url)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == first.url
    assert answer.headers["access-control-allow-headers"] == HEADERS
    assert "PATCH" in answer.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in answer.headers
    with standby.http() as http:
        events = http.get("/api/events", headers={"origin": first.url})
        assert events.status_code == 200
        assert events.headers["access-control-allow-origin"] == first.url
        # Any other site's page gets no CORS answer: its browser keeps the response from it.
        foreign = http.get("/api/events", headers={"origin": "http://evil.test"})
        assert "access-control-allow-origin" not in foreign.headers
        # Nor outside /api/ (the app's files are the host's own page).
        page = http.get("/", headers={"origin": first.url})
        assert "access-control-allow-origin" not in page.headers
    refused = preflight(standby, "http://evil.test")
    assert "access-control-allow-origin" not in refused.headers
    # The moved room's page, served by the new host, may fetch from the former host.
    assert first.url in connect_src(standby)


def test_the_session_token_works_as_a_header_where_cookies_do_not_reach(
        make_host: Any) -> None:
    host: Host = make_host(password="correct horse")
    with host.http() as http:
        token = http.post("/api/login", json={"password": "correct horse"}).cookies[
            SESSION_COOKIE]
    with httpx.Client(base_url=host.url, timeout=10) as bare:  # no cookie jar of the host's
        assert bare.get("/api/events").status_code == 401
        assert bare.get("/api/events", headers={"x-lanchat-session": "1.2"}).status_code == 401
        assert bare.get("/api/events",
                        headers={"x-lanchat-session": token}).status_code == 200
