"""The UI's language files and the code that uses them, checked without a browser.

Every language has every key, keeps every placeholder, and the UI code shows no sentence of its
own: user-visible string literals go through ``t()``. The plural forms each language needs are
checked against real Chromium's ``Intl.PluralRules`` in ``test_e2e_i18n.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
I18N = STATIC / "i18n"
JS = STATIC / "js"

# Modules whose words are still to go through t(): the scan skips them and says so. Empty now;
# a module put here must still exist.
NOT_YET_CONVERTED: tuple[str, ...] = ()
# Forms in which a language may spell the number out ("شخصان", two people) instead of {count}.
EXACT_FORMS = {"zero", "one", "two"}
PLACEHOLDER = re.compile(r"\{([a-zA-Z][a-zA-Z0-9_]*)\}")


def languages() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text("utf-8")) for p in sorted(I18N.glob("*.json"))}


def placeholders(value: str | dict[str, str]) -> set[str]:
    texts = value.values() if isinstance(value, dict) else [value]
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


def test_the_picker_offers_exactly_the_languages_there_are_files_for() -> None:
    source = (JS / "i18n.js").read_text("utf-8")
    offered = set(re.findall(r"\{ code: '([a-zA-Z-]+)'", source))
    assert offered == set(languages()), (offered, set(languages()))
    assert len(offered) >= 10 and {"en", "ar", "zh-CN", "ja", "hi", "es", "fr", "de", "pt",
                                    "ru"} <= offered


def missing_keys(langs: dict[str, dict[str, Any]]) -> list[str]:
    english = langs["en"]
    problems = []
    for code, strings in langs.items():
        problems += [f"{code}: no {key}" for key in english if key not in strings]
        problems += [f"{code}: {key} is not an English key" for key in strings
                     if key not in english]
    return problems


def test_every_language_has_every_key() -> None:
    langs = languages()
    assert missing_keys(langs) == []
    # The check itself: a language without a key is caught.
    broken = {**langs, "de": {k: v for k, v in langs["de"].items() if k != "form.join"}}
    assert missing_keys(broken) == ["de: no form.join"]


def placeholder_problems(langs: dict[str, dict[str, Any]]) -> list[str]:
    english = langs["en"]
    problems = []
    for code, strings in langs.items():
        for key, value in strings.items():
            want = placeholders(english.get(key, ""))
            if isinstance(english.get(key), dict) != isinstance(value, dict):
                plural = isinstance(english.get(key), dict)
                problems.append(f"{code}: {key} must {'' if plural else 'not '}have plural forms")
                continue
            forms = value.items() if isinstance(value, dict) else [("", value)]
            for form, text in forms:
                have = placeholders(text)
                allowed_missing = {"count"} if form in EXACT_FORMS else set()
                if have - want:
                    problems.append(f"{code}: {key} {form} adds {sorted(have - want)}")
                if want - have - allowed_missing:
                    dropped = sorted(want - have - allowed_missing)
                    problems.append(f"{code}: {key} {form} drops {dropped}")
    return problems


def test_no_translation_drops_or_adds_a_placeholder() -> None:
    langs = languages()
    assert placeholder_problems(langs) == []
    dropped = {**langs, "fr": {**langs["fr"], "closed.by": "Le salon a été fermé à {time}"}}
    assert placeholder_problems(dropped) == ["fr: closed.by  drops ['name']"]
    added = {**langs, "ja": {**langs["ja"], "form.join": "{name} 参加"}}
    assert placeholder_problems(added) == ["ja: form.join  adds ['name']"]
    # A form for exactly one may spell the number out; a form for many numbers may not.
    forms = {**langs["ru"]["lobby.rowPeople"], "one": "один человек", "few": "несколько человек"}
    plural = {**langs, "ru": {**langs["ru"], "lobby.rowPeople": forms}}
    assert placeholder_problems(plural) == ["ru: lobby.rowPeople few drops ['count']"]


def keys_in_code() -> set[str]:
    """Every key-shaped string literal in the converted code, and index.html's data-i18n."""
    english = languages()["en"]
    found = set(re.findall(r'data-i18n="([^"]+)"', (STATIC / "index.html").read_text("utf-8")))
    for path in JS.glob("*.js"):
        found |= {k for k in re.findall(r"'([a-z]+\.[a-zA-Z]+)'", path.read_text("utf-8"))
                  if k in english or re.search(rf"\bt\('{re.escape(k)}'", path.read_text("utf-8"))}
    return found


def test_every_key_the_code_asks_for_exists_and_every_key_is_used() -> None:
    english = languages()["en"]
    used = keys_in_code()
    asked = set()
    for path in JS.glob("*.js"):
        asked |= set(re.findall(r"\bt\('([^']+)'", path.read_text("utf-8")))
    assert sorted(asked - set(english)) == []
    assert sorted(set(english) - used) == []


# --- The scan: user-visible literals that bypass t() ----------------------------------------

def js_strings(source: str) -> list[tuple[int, str]]:
    """(offset, static text) of every string literal in ``source``, comments and regexes skipped.

    Template literals contribute their text outside ``${...}``. A small lexer, enough for the
    code here: a ``/`` after an operator or an opening bracket starts a regex literal.
    """
    out: list[tuple[int, str]] = []
    i, n = 0, len(source)
    last = ""  # the last significant character, to tell a regex from a division
    while i < n:
        ch = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i) if "\n" in source[i:] else n
        elif source.startswith("/*", i):
            i = source.find("*/", i + 2) + 2
        elif ch == "/" and (last == "" or last in "(,=:[!&|?{};+-*%<>~^"):
            i += 1
            in_class = False
            while i < n and (source[i] != "/" or in_class):
                if source[i] == "\\":
                    i += 1
                elif source[i] == "[":
                    in_class = True
                elif source[i] == "]":
                    in_class = False
                i += 1
            i += 1
            last = "/"
        elif ch in "'\"`":
            start, i = i, i + 1
            text, depth = [], 0
            while i < n and not (source[i] == ch and depth == 0):
                if source[i] == "\\":
                    text.append(source[i:i + 2])
                    i += 2
                    continue
                if ch == "`" and source.startswith("${", i):
                    depth += 1
                    i += 2
                    continue
                if depth and source[i] == "}":
                    depth -= 1
                elif depth == 0:
                    text.append(source[i])
                i += 1
            out.append((start, "".join(text)))
            i += 1
            last = "'"
        else:
            if not ch.isspace():
                last = ch
            i += 1
    return out


# Where a literal reaches the person: h()'s text/title/placeholder/alt/aria-label props, the same
# DOM properties and attributes, native dialogs, and errors thrown up to the UI.
SHOWN = re.compile(
    r"(\btext|\btitle|\bplaceholder|\balt|'aria-label'|'aria-description')\s*:\s*([^,;\n{}()]*[?:]\s*)?$"
    r"|\.(textContent|innerText|title|placeholder|alt|value)\s*=\s*([^;\n()]*[?:]\s*)?$"
    r"|setAttribute\(\s*'(aria-label|title|placeholder|alt)'\s*,\s*$"
    r"|\b(alert|confirm|prompt|announce|say|new Error|new UploadFailed\([^,]*,)\(?\s*$")
SENTENCE = re.compile(r"[A-Z][a-z’']+(\s+[\w’'“”,.…:;!?()-]+){2,}")
LETTER = re.compile(r"[^\W\d_]")


def bypasses(source: str) -> list[str]:
    """The literals in ``source`` a person would read without a translation."""
    found = []
    for offset, text in js_strings(source):
        before = source[max(0, offset - 60):offset]
        line = source.count("\n", 0, offset) + 1
        if re.search(r"\b(console\.\w+|from)\(?\s*$", before):
            continue
        key_like = re.fullmatch(r"[a-z][\w.-]*", text)
        shown = SHOWN.search(before) and LETTER.search(text) and not key_like
        if shown or SENTENCE.search(text):
            found.append(f"{line}: {text!r}")
    return found


def test_the_scan_catches_what_it_must() -> None:
    sample = """
      const a = h('span', { text: 'Copy' });
      el.textContent = ok ? 'Copied' : 'Press Ctrl+C to copy';
      btn.setAttribute('aria-label', 'Close');
      input.placeholder = `Message ${room}`;
      throw new Error('The desktop app did not start the room.');
      alert("Really leave?");
      return 'Wrong password. Ask the host.';
      // Comments may say anything: 'Not shown to anyone'.
      const re = /["']+/g; const c = h('div', { class: 'card join-card', role: 'alert' });
      t('form.join'); console.warn(`desktop bridge ${method} failed`);
      const ok2 = h('input', { type: 'text', placeholder: '192.168.1.20:8765' });
    """
    assert [hit.split(": ", 1)[1] for hit in bypasses(sample)] == [
        "'Copy'", "'Copied'", "'Press Ctrl+C to copy'", "'Close'", "'Message '",
        "'The desktop app did not start the room.'", "'Really leave?'",
        "'Wrong password. Ask the host.'"]


def test_no_user_visible_literal_bypasses_t() -> None:
    print(f"\nnot yet converted (skipped by the scan): {', '.join(NOT_YET_CONVERTED)}")
    problems = []
    for path in sorted(JS.glob("*.js")):
        if path.name in NOT_YET_CONVERTED or path.name == "i18n.js":
            continue
        problems += [f"{path.name}:{hit}" for hit in bypasses(path.read_text("utf-8"))]
    assert problems == []
    # The list is honest: each file on it still has words of its own to convert.
    assert all(p.exists() for p in (JS / name for name in NOT_YET_CONVERTED))


def test_index_html_words_are_keys() -> None:
    html = (STATIC / "index.html").read_text("utf-8")
    app = re.search(r'<div id="app"[^>]*>(.*?)</div>', html, re.S)
    assert app is not None
    for element in re.findall(r"<p[^>]*>[^<]+</p>", app.group(1)):
        assert "data-i18n=" in element, element
