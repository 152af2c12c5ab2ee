"""The lease's epoch and the claims fenced by it, on a frozen clock (issue 9)."""

from __future__ import annotations

import pytest

from store.actions import queue_reply
from store.ingest import save_batch
from store.lease import LeaseLost, acquire, release
from store.outbox import Fence, adopt_after, claim_due, mark_failed, schedule_retry

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

TTL = 45.0
REQUEST = 30.0


@pytest.fixture
def reply(store, make_mention):
    [mention_id] = save_batch(store, "demo:@brand", [make_mention()], None)
    return queue_reply(store, mention_id, "On it", "carla")


def fence(lease, request: float = REQUEST) -> Fence:
    return Fence(lease.holder, lease.epoch, request, adopt_after(lease, request))


def test_every_change_of_holder_and_every_lapse_starts_a_new_epoch(store, clock):
    first = acquire(store, "a", TTL)
    assert acquire(store, "b", TTL) is None
    assert acquire(store, "a", TTL).epoch == first.epoch  # a renewal
    clock.advance(seconds=TTL + 1)
    again = acquire(store, "a", TTL)  # its own lapsed lease: someone may have held it meanwhile
    assert again.epoch == first.epoch + 1 and again.prev_expires_at == first.expires_at
    release(store, "a")
    taken = acquire(store, "b", TTL)
    assert taken.epoch == again.epoch + 1


def test_a_claim_needs_the_lease_with_more_time_left_than_a_request(store, clock, reply):
    lease = acquire(store, "a", TTL)
    with pytest.raises(LeaseLost):
        claim_due(store, fence=Fence("b", lease.epoch, REQUEST, None))  # not the holder
    clock.advance(seconds=TTL - REQUEST)
    with pytest.raises(LeaseLost):
        claim_due(store, fence=fence(lease))  # ours, but a request could outlive it
    lease = acquire(store, "a", TTL)
    [claimed] = claim_due(store, fence=fence(lease))
    assert claimed.epoch == lease.epoch
    assert store.conn.execute("SELECT state, epoch FROM replies").fetchone() == ("sending", lease.epoch)


def test_an_older_epochs_claim_is_adopted_only_after_its_lease_and_longest_request(store, clock, reply):
    old = acquire(store, "a", TTL)
    [claimed] = claim_due(store, fence=fence(old))
    clock.advance(seconds=TTL)  # "a" froze; its lease ends now
    new = acquire(store, "b", TTL)
    assert claim_due(store, fence=fence(new)) == []  # "a"'s request may still be open
    clock.advance(seconds=REQUEST - 1)
    assert claim_due(store, fence=fence(acquire(store, "b", TTL))) == []
    clock.advance(seconds=1)
    [adopted] = claim_due(store, fence=fence(acquire(store, "b", TTL)))
    assert (adopted.id, adopted.uncertain, adopted.epoch) == (claimed.id, True, new.epoch)
    # "a" wakes up and reports its attempt: too late, the reply is "b"'s now.
    assert schedule_retry(store, claimed, 5, "timed out", uncertain=True) is False
    assert mark_failed(store, claimed, "gave up") is False
    assert store.conn.execute("SELECT state, epoch FROM replies").fetchone() == ("sending", new.epoch)
