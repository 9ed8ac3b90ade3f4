"""The pure rules of conversations: emoji, mentions, search queries, and search at a size a
normal test run affords (the million-event run is ``python -m tests.bench.search``)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from server import protocol
from server.protocol import ProtocolError
from server.store import HistoryStore
from tests.bench.search import fill


@pytest.mark.parametrize("emoji", ["👍", "👍🏽", "❤️", "🇫🇷", "1️⃣", "👩‍👩‍👧", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "✔"])
def test_one_emoji_is_accepted(emoji: str) -> None:
    assert protocol.clean_emoji(emoji) == emoji


@pytest.mark.parametrize("bad", ["", "a", "ok", "<b>", " ", "👍 yes", "1", "\u200d", 5, None,
                                 "👍" * 17])
def test_text_and_blanks_are_not_emoji(bad: object) -> None:
    with pytest.raises(ProtocolError) as refused:
        protocol.clean_emoji(bad)
    assert refused.value.code == "bad_emoji"


def test_mentions_take_the_longest_known_name_and_end_at_a_word() -> None:
    people = {"1": "Ada", "2": "Ada Lovelace", "3": "Bob", "4": "Zoë"}
    assert protocol.mentions("@ada lovelace hi", people) == ["2"]
    assert protocol.mentions("@Ada, and @bob!", people) == ["1", "3"]
    assert protocol.mentions("@Bobby and mail@bob", people) == []
    assert protocol.mentions("@zoë @Zoë @BOB @bob", people) == ["4", "3"]
    assert protocol.mentions("no names here", people) == []


def test_search_words_become_a_safe_fts_query() -> None:
    assert protocol.fts_query('lunch "OR" NEAR(x) rep*') == '"lunch" "OR" "NEAR" "x" "rep"*'
    assert protocol.fts_query("don't") == '"don" "t"'
    assert protocol.fts_query("  ***  ") is None
    assert protocol.fts_query("ab a* report") == '"ab" "a" "report"'


def test_search_over_many_events_is_newest_first_and_prints_its_time(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history.sqlite3")
    try:
        fill(store, 50_000)
        for q in ("meeting", "zebra", "lunch report"):
            query = protocol.fts_query(q)
            assert query is not None
            times = []
            for _ in range(20):
                t0 = time.perf_counter()
                page = store.search(query, 20, None, None)
                times.append(time.perf_counter() - t0)
            ids = [int(p.split('"id":')[1].split(",")[0]) for p in page.payloads]
            assert ids == sorted(ids, reverse=True) and ids
            print(f"\nsearch {q!r} over 50,000 events: median "
                  f"{statistics.median(times) * 1000:.2f} ms, max {max(times) * 1000:.2f} ms")
    finally:
        store.close()
