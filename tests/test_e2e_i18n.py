"""Languages in real Chromium: the lobby in Japanese, the join prompt in Arabic (mirrored right to
left), the picker that switches and is remembered, and the plural forms each language needs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import chromium_path, need_tool
from tests.e2e_helpers import DESKTOP, PHONE, launch_browser, new_page, shot, wait_connected
from tests.test_i18n import languages

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return dict(found)


def text_box(page: Any, selector: str) -> dict[str, float]:
    """Where the words of an element are drawn (a label's box spans the card; its text does not)."""
    found: dict[str, float] = page.locator(selector).first.evaluate(
        "el => { const r = document.createRange(); r.selectNodeContents(el);"
        " const b = r.getBoundingClientRect(); return { x: b.x, width: b.width }; }")
    return found


def test_every_plural_key_has_each_form_the_language_needs(make_host: Any, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    host = make_host(hosting=False)
    _, page, _ = new_page(browser)
    page.goto(host.url + "/#lobby")
    langs = languages()
    needed: dict[str, list[str]] = page.evaluate(
        "codes => Object.fromEntries(codes.map((c) => "
        "[c, new Intl.PluralRules(c).resolvedOptions().pluralCategories]))", list(langs))
    print("\nplural forms per language:", json.dumps(needed, ensure_ascii=False))
    assert set(needed["ar"]) == {"zero", "one", "two", "few", "many", "other"}
    missing = [f"{code}: {key} lacks {form}"
               for code, strings in langs.items()
               for key, value in strings.items() if isinstance(value, dict)
               for form in needed[code] if form not in value]
    assert missing == []


def test_lobby_in_japanese_from_the_browser_language(make_host: Any, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    lobby = make_host(hosting=False)
    room = make_host(room="会議室 A")
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "360")):
        _, page, errors = new_page(browser, viewport=viewport, locale="ja-JP")
        page.goto(lobby.url + "/#lobby")
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        expect(page.get_by_role("heading", name="近くのルーム")).to_be_visible()
        expect(page.get_by_text("ルームを探していません")).to_be_visible()
        # The host's own hint, by its code, in Japanese rather than the host's English.
        expect(page.locator(".host-hints")).to_have_text(
            "このホストではルームの検出がオフになっています。参加するにはルームのアドレスを入力してください。")
        expect(page.get_by_text("LAN Chat のデスクトップアプリが必要です",
                                exact=False)).to_be_visible()
        expect(page.locator("#language-picker")).to_have_value("ja")
        if name == "desktop":
            # A mistyped address is refused in Japanese, the example kept as written.
            page.locator("#join-address").fill("not an address")
            page.locator("#join-address").press("Enter")
            expect(page.locator(".form-error:visible")).to_contain_text("アドレスの形式ではないようです")
            expect(page.locator(".form-error:visible")).to_contain_text("192.168.1.20:8765")
        # No key shows through, and nothing English is left in the converted parts.
        body = page.locator("body").inner_text()
        assert "lobby." not in body and "Looking for rooms" not in body
        shot(page, f"i18n-lobby-ja-{name}.png")
        assert not errors.real_errors(), errors.real_errors()
        page.context.close()
    # The room's own prompt in Japanese too: a count through the plural rules, the host's name.
    _, page, _ = new_page(browser, locale="ja")
    page.goto(room.url + "/")
    expect(page.locator("#join-title")).to_have_text("会議室 A")
    expect(page.get_by_text("まだ誰もいません")).to_be_visible()


def test_join_prompt_in_arabic_mirrors_right_to_left(make_host: Any, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    room = make_host(room="غرفة الصف", password="sesame")
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "360")):
        _, page, errors = new_page(browser, viewport=viewport, locale="ar-EG")
        page.goto(room.url + "/")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("html")).to_have_attribute("lang", "ar")
        expect(page.locator("label[for=join-name]")).to_have_text("اسمك")
        expect(page.locator("label[for=join-password]")).to_have_text("كلمة مرور الغرفة")
        direction = page.locator(".join-card").evaluate("el => getComputedStyle(el).direction")
        assert direction == "rtl"
        # Mirrored: the brand starts at the right, the picker ends at the left; labels hug the
        # right edge of their fields; the Join arrow points left.
        card, brand = box(page, ".join-card"), box(page, ".join-card .brand")
        picker = box(page, "#language-picker")
        assert brand["x"] > picker["x"], (brand, picker)
        assert abs((brand["x"] + brand["width"]) - (card["x"] + card["width"])) < 40
        label, field = text_box(page, "label[for=join-name]"), box(page, "#join-name")
        label_end, field_end = label["x"] + label["width"], field["x"] + field["width"]
        assert abs(label_end - field_end) < 4, (label, field)
        assert label["x"] > field["x"] + 20
        arrow = page.locator(".join-card button[type=submit] .flip-rtl")
        assert "matrix(-1" in arrow.evaluate("el => getComputedStyle(el).transform")
        # A wrong password is refused in Arabic.
        page.locator("#join-name").fill("ليلى")
        page.locator("#join-password").fill("wrong")
        page.locator("#join-password").press("Enter")
        expect(page.locator("#join-error")).to_have_text(
            "كلمة المرور خاطئة. اطلبها من المضيف ثم حاول مجددًا.")
        shot(page, f"i18n-join-ar-{name}.png")
        assert not errors.real_errors(), errors.real_errors()
        if name == "360":
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            page.locator("#join-password").fill("sesame")
            page.locator("#join-password").press("Enter")
            wait_connected(page)
        page.context.close()


def test_the_picker_switches_language_and_it_is_remembered(make_host: Any, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    lobby = make_host(hosting=False)
    _, page, errors = new_page(browser, locale="en-US")
    page.goto(lobby.url + "/#lobby")
    expect(page.get_by_role("heading", name="Rooms nearby")).to_be_visible()
    picker = page.get_by_label("Language")
    with page.expect_navigation():
        picker.select_option("de")
    expect(page.get_by_role("heading", name="Räume in der Nähe")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.reload()
    expect(page.get_by_role("heading", name="Räume in der Nähe")).to_be_visible()
    expect(page.get_by_label("Sprache")).to_have_value("de")
    # Right to left and back: the direction follows the language.
    with page.expect_navigation():
        page.get_by_label("Sprache").select_option("ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    with page.expect_navigation():
        page.get_by_label("اللغة").select_option("en")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.get_by_role("heading", name="Rooms nearby")).to_be_visible()
    assert not errors.real_errors(), errors.real_errors()
