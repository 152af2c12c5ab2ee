"""Imported history gets its signals (language, sentiment, needs-reply): after the import, or resumed later."""

from __future__ import annotations

import json
from concurrent.futures import Future

import pytest

from store.db import open_store
from store.search import search
from store.signals import Signals
from store.signals_backfill import backfill, pending
from tests.support import cli_in_process

TEXTS = {
    "fr-complaint": "Bonjour, ma commande n'est toujours pas arrivée, c'est inadmissible. Vous comptez me "
                    "rembourser quand ?",
    "en-praise": "Absolutely love my new buds, best purchase this year!",
    "en-question": "Hi, does the charging case work with a USB-C cable from another brand?",
}


def history(tmp_path):
    source = tmp_path / "history.jsonl"
    source.write_text("".join(json.dumps({"network": "demo", "remote_id": key, "author_handle": "@ana", "text": text,
                                          "created_at": "2025-03-14T09:00:00.000Z"}) + "\n"
                              for key, text in TEXTS.items()))
    return str(source)


def signals_of(path: str) -> dict[str, tuple]:
    store = open_store(path)
    try:
        return {remote_id: (lang, sentiment, needs) for remote_id, lang, sentiment, needs in store.conn.execute(
            "SELECT remote_id, sig_lang, sentiment, needs_reply FROM mentions")}
    finally:
        store.close()


def test_import_fills_signals_and_the_filters_find_imported_mentions(monkeypatch, capsys, tmp_path):
    path = str(tmp_path / "desk.db")
    code, _, err = cli_in_process(monkeypatch, capsys, tmp_path, "--db", path, "import", history(tmp_path))
    assert code == 0 and err.splitlines() == ["imported 3, skipped 0 duplicate(s), 0 bad line(s)"]
    found = signals_of(path)
    assert found["fr-complaint"] == ("fr", -1, 1)
    assert found["en-praise"] == ("en", 1, 0)
    assert found["en-question"][0] == "en" and found["en-question"][2] == 1
    store = open_store(path)
    try:
        assert [hit.mention_id for hit in search(store, "lang:fr sentiment:neg needs:reply")] == [
            store.conn.execute("SELECT id FROM mentions WHERE remote_id = 'fr-complaint'").fetchone()[0]]
    finally:
        store.close()


def test_no_signals_leaves_them_for_backfill(monkeypatch, capsys, tmp_path):
    path = str(tmp_path / "desk.db")
    code, _, err = cli_in_process(monkeypatch, capsys, tmp_path, "--db", path, "import", "--no-signals",
                                  history(tmp_path))
    assert code == 0 and "signals" not in err
    assert set(signals_of(path).values()) == {(None, None, None)}
    code, out, _ = cli_in_process(monkeypatch, capsys, tmp_path, "--db", path, "signals", "status")
    assert code == 0 and out.strip() == "3 mention(s) without signals"
    code, _, err = cli_in_process(monkeypatch, capsys, tmp_path, "--db", path, "signals", "backfill")
    assert code == 0 and "signals filled for 3 mention(s)" in err
    assert signals_of(path)["fr-complaint"] == ("fr", -1, 1)


class Interrupted(Exception):
    pass


def test_an_interrupted_backfill_keeps_what_it_wrote_and_the_next_run_does_the_rest(tmp_path):
    from store.ingest import insert_mentions
    from tests.conftest import new_mention

    store = open_store(str(tmp_path / "desk.db"))
    insert_mentions(store, [new_mention(remote_id=f"r{i}", text=f"text {i}") for i in range(10)])
    calls = []

    def failing_on_the_third(texts: list[str]) -> Future[list[Signals]]:
        calls.append(len(texts))
        future: Future[list[Signals]] = Future()
        if len(calls) == 3:
            future.set_exception(Interrupted())
        else:
            future.set_result([Signals("en", 0, False)] * len(texts))
        return future

    with pytest.raises(Interrupted):
        backfill(store, failing_on_the_third, batch=3)  # batches of 3: the first two are written
    assert pending(store) == 4
    assert backfill(store, lambda texts: done([Signals("en", 1, False)] * len(texts)), batch=3) == 4
    assert pending(store) == 0
    sentiments = [row[0] for row in store.conn.execute("SELECT sentiment FROM mentions ORDER BY id")]
    assert sentiments == [0] * 6 + [1] * 4  # the rows written before the stop were not computed again
    store.close()


def done(value: list[Signals]) -> Future[list[Signals]]:
    future: Future[list[Signals]] = Future()
    future.set_result(value)
    return future
