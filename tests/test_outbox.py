"""The sender's side of the outbox: claims, stale claims, results and retries, on a frozen clock."""

from __future__ import annotations

import pytest

from store.actions import queue_reply
from store.ingest import save_batch
from store.outbox import STALE_CLAIM, claim_due, mark_failed, mark_manual, mark_sent, reply_counts, schedule_retry

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


def reply_row(store, reply_id: int) -> dict:
    names = ("state", "attempts", "uncertain", "claimed_at", "next_attempt_at", "sent_at", "remote_id",
             "remote_url", "error")
    values = store.conn.execute(f"SELECT {', '.join(names)} FROM replies WHERE id = ?", (reply_id,)).fetchone()
    return dict(zip(names, values, strict=True))


def last_event(store) -> tuple:
    return store.conn.execute("SELECT operator, action, mention_id FROM events ORDER BY id DESC LIMIT 1").fetchone()


@pytest.fixture
def queued(store, make_mention):
    [mention_id] = save_batch(store, "bluesky", [make_mention(
        network="bluesky", account="brand.bsky.social", remote_id="at://did:plc:x/app.bsky.feed.post/1",
        author_handle="ana.bsky.social", url="https://bsky.app/profile/ana/post/1",
        reply_ref={"root": {"uri": "at://r", "cid": "c1"}, "parent": {"uri": "at://p", "cid": "c2"}})], None)
    return queue_reply(store, mention_id, "Thanks Ana!", "carla"), mention_id


def test_claim_moves_pending_to_sending_uncertain_with_one_more_attempt(store, queued):
    reply, mention_id = queued
    [claimed] = claim_due(store)
    assert (claimed.id, claimed.key, claimed.text, claimed.attempts, claimed.uncertain) == (
        reply.id, reply.key, "Thanks Ana!", 1, False)
    assert (claimed.mention_id, claimed.network, claimed.account, claimed.mention_remote_id,
            claimed.mention_url, claimed.author_handle) == (
        mention_id, "bluesky", "brand.bsky.social", "at://did:plc:x/app.bsky.feed.post/1",
        "https://bsky.app/profile/ana/post/1", "ana.bsky.social")
    assert claimed.reply_ref == {"root": {"uri": "at://r", "cid": "c1"}, "parent": {"uri": "at://p", "cid": "c2"}}
    row = reply_row(store, reply.id)
    assert (row["state"], row["attempts"], row["uncertain"], row["claimed_at"]) == (
        "sending", 1, 1, "2025-03-14T09:26:53.000Z")


def test_a_fresh_claim_is_not_claimed_again(store, queued, clock):
    claim_due(store)
    assert claim_due(store) == []
    clock.advance(seconds=STALE_CLAIM.total_seconds() - 1)
    assert claim_due(store) == []
    assert reply_row(store, queued[0].id)["attempts"] == 1


def test_a_stale_claim_is_claimed_again_and_says_it_may_have_posted(store, queued, clock):
    claim_due(store)
    clock.advance(seconds=STALE_CLAIM.total_seconds())
    [again] = claim_due(store)
    assert again.id == queued[0].id
    assert again.attempts == 2
    assert again.uncertain is True  # the dead sender's attempt may have reached the network
    assert again.key == queued[0].key  # same key, so the network can deduplicate
    row = reply_row(store, again.id)
    assert (row["state"], row["attempts"], row["claimed_at"]) == ("sending", 2, "2025-03-14T09:28:53.000Z")
    assert claim_due(store) == []


def test_mark_sent_records_the_post_and_ends_the_claim(store, queued, clock):
    [claimed] = claim_due(store)
    clock.advance(seconds=3)
    mark_sent(store, claimed, "at://did:plc:brand/post/9", "https://bsky.app/x/9", adopted=True)
    row = reply_row(store, claimed.id)
    assert (row["state"], row["uncertain"], row["sent_at"], row["remote_id"], row["remote_url"], row["error"]) == (
        "sent", 0, "2025-03-14T09:26:56.000Z", "at://did:plc:brand/post/9", "https://bsky.app/x/9", None)
    assert last_event(store) == ("sender", "reply.sent", claimed.mention_id)
    clock.advance(seconds=STALE_CLAIM.total_seconds() * 10)
    assert claim_due(store) == []


def test_mark_failed_keeps_the_reason_and_is_never_claimed(store, queued, clock):
    [claimed] = claim_due(store)
    mark_failed(store, claimed, "HTTP 400: reply too long")
    row = reply_row(store, claimed.id)
    assert (row["state"], row["uncertain"], row["error"]) == ("failed", 0, "HTTP 400: reply too long")
    assert last_event(store) == ("sender", "reply.failed", claimed.mention_id)
    clock.advance(hours=1)
    assert claim_due(store) == []


def test_mark_manual_hands_the_reply_to_the_operator(store, queued, clock):
    [claimed] = claim_due(store)
    mark_manual(store, claimed, "network read-only")
    assert reply_row(store, claimed.id)["state"] == "manual"
    assert last_event(store) == ("sender", "reply.manual", claimed.mention_id)
    clock.advance(hours=1)
    assert claim_due(store) == []


@pytest.mark.parametrize("uncertain", [False, True])
def test_schedule_retry_waits_for_next_attempt_at(store, queued, clock, uncertain):
    [claimed] = claim_due(store)
    schedule_retry(store, claimed, 30, "HTTP 503", uncertain=uncertain)
    row = reply_row(store, claimed.id)
    assert (row["state"], row["next_attempt_at"], row["uncertain"], row["error"]) == (
        "pending", "2025-03-14T09:27:23.000Z", int(uncertain), "HTTP 503")
    assert last_event(store) == ("sender", "reply.retry_scheduled", claimed.mention_id)
    clock.advance(seconds=29.999)
    assert claim_due(store) == []
    clock.advance(seconds=0.001)
    [again] = claim_due(store)
    assert (again.id, again.attempts, again.uncertain) == (claimed.id, 2, uncertain)


def test_claims_go_oldest_first_and_respect_the_limit(store, make_mention):
    ids = save_batch(store, "demo", [make_mention() for _ in range(5)], None)
    replies = [queue_reply(store, mention_id, "hi", "ana").id for mention_id in ids]
    assert [r.id for r in claim_due(store, limit=2)] == replies[:2]
    assert [r.id for r in claim_due(store, limit=10)] == replies[2:]


def test_manual_replies_are_never_claimed(store, make_mention):
    [mention_id] = save_batch(store, "demo", [make_mention()], None)
    queue_reply(store, mention_id, "copy me", "ana", manual=True)
    assert claim_due(store) == []


def test_claims_can_be_limited_to_some_networks(store, make_mention):
    ids = save_batch(store, "x", [make_mention(network="mastodon"), make_mention(network="bluesky"),
                                  make_mention(network="mastodon")], None)
    replies = [queue_reply(store, mention_id, "hi", "ana").id for mention_id in ids]
    assert [r.id for r in claim_due(store, networks={"bluesky"})] == [replies[1]]
    assert reply_row(store, replies[0])["state"] == "pending"
    assert [r.id for r in claim_due(store, networks={"mastodon"})] == [replies[0], replies[2]]


def test_other_networks_backlog_does_not_starve_a_network(store, make_mention):
    mastodon = save_batch(store, "m", [make_mention(network="mastodon") for _ in range(4)], None)
    [bluesky] = save_batch(store, "b", [make_mention(network="bluesky")], None)
    for mention_id in mastodon:
        queue_reply(store, mention_id, "hi", "ana")
    wanted = queue_reply(store, bluesky, "hi", "ana")
    assert [r.id for r in claim_due(store, networks={"bluesky"}, limit=1)] == [wanted.id]


def test_reply_counts(store, make_mention):
    ids = save_batch(store, "demo", [make_mention() for _ in range(3)], None)
    for mention_id in ids:
        queue_reply(store, mention_id, "hi", "ana")
    queue_reply(store, ids[0], "copy", "ana", manual=True)
    first, _ = claim_due(store, limit=2)
    mark_sent(store, first, "r1", None)
    assert reply_counts(store) == {"sent": 1, "sending": 1, "pending": 1, "manual": 1}
