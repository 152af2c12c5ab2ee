"""lang: sentiment: needs: in search: find what they say, alone, with words, and with other filters."""

from __future__ import annotations

from store.ingest import save_batch
from store.query import parse_query
from store.search import search
from store.signals import Signals
from tests.conftest import new_mention

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

ROWS = [
    ("ma commande n'est jamais arrivée, remboursement svp", Signals("fr", -1, True)),
    ("merci pour la livraison rapide", Signals("fr", 1, False)),
    ("my refund never arrived", Signals("en", -1, True)),
    ("love the new mug", Signals("en", 1, False)),
    ("où est ma commande ?", Signals("fr", 0, True)),
]


def seed(store) -> list[int]:
    mentions = [new_mention(text=text) for text, _ in ROWS]
    return save_batch(store, "demo", mentions, None, signals=[signal for _, signal in ROWS])


def ids(store, query: str) -> set[int]:
    return {hit.mention_id for hit in search(store, query, limit=50)}


def test_the_issue_query_finds_what_it_says(store):
    a, b, c, d, e = seed(store)
    assert ids(store, "lang:fr sentiment:neg needs:reply") == {a}
    assert ids(store, "lang:fr needs:reply") == {a, e}
    assert ids(store, "sentiment:positive") == {b, d}
    assert ids(store, "needs:none") == {b, d}
    assert ids(store, "lang:en sentiment:neg") == {c}


def test_signal_filters_combine_with_words_and_other_filters(store):
    a, b, c, d, e = seed(store)
    assert ids(store, "commande lang:fr") == {a, e}
    assert ids(store, "comande needs:reply sentiment:neg") == {a}  # a typo still finds it
    assert ids(store, "refund lang:fr") == set()
    store.conn.execute("UPDATE mentions SET status = 'done' WHERE id = ?", (a,))
    assert ids(store, "lang:fr needs:reply status:open") == {e}


def test_parsing_takes_known_values_only():
    parsed = parse_query("lang:FR sentiment:neg sentiment:negative needs:reply lang:french sentiment:meh")
    assert parsed.filters.langs == ("fr",)
    assert parsed.filters.sentiments == (-1,)
    assert parsed.filters.needs_reply is True
    assert parsed.text == "lang:french sentiment:meh"  # what is not a filter is searched as words
    both = parse_query("needs:reply needs:none")
    assert both.filters.needs_reply is None


def test_mentions_stored_before_signals_match_by_their_network_language(store):
    [old] = save_batch(store, "demo", [new_mention(text="bonjour", lang="fr-CA")], None)
    assert ids(store, "lang:fr") == {old}


def test_rows_carry_signals_and_show_them_as_compact_badges(store):
    from store.inbox import rows_by_id
    from store.rules_apply import set_priority
    from tui.render import signal_badges

    a, b, *_ = seed(store)
    set_priority(store, a, "urgent", "ana")
    rows = rows_by_id(store, [a, b])
    assert (rows[a].lang, rows[a].sentiment, rows[a].needs_reply, rows[a].priority) == ("fr", -1, True, "urgent")
    assert signal_badges(rows[a]).plain == "!! FR − ? "
    assert signal_badges(rows[b]).plain == "FR + "
    [plain] = save_batch(store, "demo", [new_mention(text="no signals")], None)
    assert signal_badges(rows_by_id(store, [plain])[plain]).plain == ""
