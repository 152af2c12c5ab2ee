"""Near-duplicate grouping: quality on the labelled flood, the database side, and operators' corrections."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.actions import ActionError
from store.grouping import Grouper, concepts, normalised
from store.groups import (
    group_detail,
    group_new_mentions,
    list_groups,
    merge_groups,
    move_member,
    split_member,
    warm_grouper,
)
from store.ingest import insert_mentions
from tests.conftest import new_mention

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

FLOOD = Path(__file__).parent / "fixtures" / "flood_labelled.jsonl"


def labelled() -> list[dict]:
    return [json.loads(line) for line in FLOOD.read_text(encoding="utf-8").splitlines()]


def quality(truth: dict[int, str], predicted: dict[int, int]) -> tuple[float, float, float]:
    """Pairwise precision and recall, and the share of mentions in their complaint's main group."""
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(truth), 2):
        same_truth, same_pred = truth[a] == truth[b], predicted[a] == predicted[b]
        tp += same_truth and same_pred
        fp += same_pred and not same_truth
        fn += same_truth and not same_pred
    by_label: dict[str, list[int]] = defaultdict(list)
    for mention_id, label in truth.items():
        by_label[label].append(predicted[mention_id])
    right = sum(Counter(groups).most_common(1)[0][1] for groups in by_label.values())
    return tp / (tp + fp), tp / (tp + fn), right / len(truth)


def test_the_labelled_flood_is_grouped_as_people_would(store):
    lines = labelled()
    ids = insert_mentions(store, [new_mention(text=line["text"]) for line in lines])
    grouper = Grouper()
    while group_new_mentions(store, grouper, limit=100):
        pass
    member_of = dict(store.conn.execute(
        """SELECT gm.mention_id, coalesce(g.merged_into, g.id) FROM group_members gm
           JOIN mention_groups g ON g.id = gm.group_id"""))
    truth = {mention_id: line["label"] for mention_id, line in zip(ids, lines, strict=True)}
    predicted = {mention_id: member_of.get(mention_id, -mention_id) for mention_id in ids}
    precision, recall, right = quality(truth, predicted)
    assert right >= 0.9, (precision, recall, right)
    assert precision >= 0.9 and recall >= 0.8, (precision, recall, right)


def test_copies_retweets_and_french_wording_join_the_same_group(store):
    texts = ["the show is cancelled, I want a refund for my tickets",
             "RT @ana: the show is cancelled, I want a refund for my tickets 😡",
             "THE SHOW IS CANCELLED, I WANT A REFUND FOR MY TICKETS",
             "spectacle annulé, je veux le remboursement de mes billets",
             "love the new lamp, it looks great in the kitchen"]
    ids = insert_mentions(store, [new_mention(text=t) for t in texts])
    group_new_mentions(store, Grouper())
    groups = list_groups(store)
    assert len(groups) == 1 and groups[0].size == 4
    detail = group_detail(store, groups[0].id)
    assert detail is not None and set(detail.member_ids) == set(ids[:4])
    assert detail.phrasings[0].count == 3  # the copy, the retweet and the shouting say the same words
    assert store.conn.execute("SELECT count(*) FROM mention_groups").fetchone()[0] == 1  # no row for one-offs


def test_a_correction_holds_for_new_arrivals_and_survives_a_leader_restart(store):
    first = insert_mentions(store, [new_mention(text=t) for t in (
        "my order never arrived, where is my parcel",
        "order never arrived, parcel lost?",
        "the app crashes when I open my order page",
    )])
    grouper = Grouper()
    group_new_mentions(store, grouper)
    (parcel,) = list_groups(store)
    assert parcel.size == 2
    move_member(store, first[2], parcel.id, "ana")  # an operator says the crash report belongs here
    assert group_detail(store, parcel.id).summary.size == 3
    split = split_member(store, first[2], "ana")  # ...and changes her mind: its own group
    assert group_detail(store, parcel.id).summary.size == 2
    restarted = Grouper()
    warm_grouper(store, restarted)
    later = insert_mentions(store, [new_mention(text="app crashes when I open the order page again")])
    group_new_mentions(store, restarted)
    member = store.conn.execute("SELECT group_id FROM group_members WHERE mention_id = ?", (later[0],)).fetchone()
    assert member == (split,)


def test_merge_moves_members_and_later_arrivals_follow(store):
    ids = insert_mentions(store, [new_mention(text=t) for t in (
        "refund please for the cancelled show", "refund for the cancelled show please",
        "the shuttle never came to the airport", "no shuttle at the airport")])
    grouper = Grouper()
    group_new_mentions(store, grouper)
    a, b = sorted(g.id for g in list_groups(store))
    assert merge_groups(store, b, a, "ana") == 2
    with pytest.raises(ActionError, match="merged into"):
        move_member(store, ids[0], b, "ana")
    later = insert_mentions(store, [new_mention(text="no shuttle at the airport still")])
    group_new_mentions(store, grouper)
    assert store.conn.execute("SELECT group_id FROM group_members WHERE mention_id = ?", (later[0],)).fetchone() == (a,)
    assert [e[0] for e in store.conn.execute("SELECT action FROM events WHERE action LIKE 'group.%'")] == [
        "group.merge"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_can_be_placed(text):
    grouper = Grouper()
    grouper.place(1, text)
    placed = grouper.place(2, text)
    assert isinstance(concepts(text), set) and isinstance(normalised(text), str)
    if concepts(text):
        assert placed.cluster == -1 and placed.seed_mention == 1  # the same text twice is one group
