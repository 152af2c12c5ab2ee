"""Groups of near-duplicate mentions in the database: built by the ingest leader, corrected by operators."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass

from store.actions import ActionError
from store.db import Store, inserted_id
from store.events import log_event
from store.grouping import Grouper, normalised
from store.sanitize import clean_line

BATCH = 5000
WARM_HOURS = 24


@dataclass(frozen=True, slots=True)
class GroupSummary:
    id: int
    label: str
    size: int
    waiting: int  # open and not answered by anyone
    first_at: str
    last_at: str
    networks: list[str]
    authors: int


@dataclass(frozen=True, slots=True)
class Phrasing:
    text: str  # one member's text, as written
    count: int  # members saying the same after normalising


@dataclass(frozen=True, slots=True)
class GroupDetail:
    summary: GroupSummary
    member_ids: list[int]  # newest first
    phrasings: list[Phrasing]


def _set_cursor(store: Store, value: int) -> None:
    store.conn.execute("UPDATE grouping_state SET grouped_up_to = ?, updated_at = ? WHERE id = 1",
                       (value, store.now()))


def grouped_up_to(store: Store) -> int:
    """The last mention id the leader has grouped."""
    row = store.conn.execute("SELECT grouped_up_to FROM grouping_state WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


_LINKS = re.compile(r"https?://\S+|www\.\S+", re.I)
# What people put around a complaint: addressing the brand, quoting someone, tags at the end.
_LEAD = re.compile(r"^(?:\s*(?:RT\s+)?@[\w.\-@]+:?|\s*(?:hey|hi|ok|so|alors|bon)\b[,.!]?)+\s*", re.I)
_TAIL = re.compile(r"(?:\s+#\w+|\s+[^\w\s]+)+\s*$")


def _label(text: str) -> str:
    """A group's name from its first mention: the complaint itself, without handles, links or trailing tags."""
    plain = _TAIL.sub("", _LEAD.sub("", _LINKS.sub(" ", text)))
    return clean_line(" ".join(plain.split()) or " ".join(text.split()), 80)


def _create_group(store: Store, first: int, text: str, now: str) -> int:
    return inserted_id(store.conn.execute(
        "INSERT INTO mention_groups (label, representative_id, created_at, updated_at, size) VALUES (?, ?, ?, ?, 0)",
        (_label(text), first, now, now)))


def _add_member(store: Store, group_id: int, mention_id: int, score: float, now: str, manual: bool = False) -> None:
    conn = store.conn
    previous = conn.execute("SELECT group_id FROM group_members WHERE mention_id = ?", (mention_id,)).fetchone()
    conn.execute(
        """INSERT INTO group_members (mention_id, group_id, score, manual, at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (mention_id) DO UPDATE SET group_id = excluded.group_id, score = excluded.score,
           manual = excluded.manual, at = excluded.at""", (mention_id, group_id, score, int(manual), now))
    if previous and previous[0] != group_id:
        conn.execute("UPDATE mention_groups SET size = size - 1, updated_at = ? WHERE id = ?", (now, previous[0]))
    if not previous or previous[0] != group_id:
        conn.execute("UPDATE mention_groups SET size = size + 1, updated_at = ? WHERE id = ?", (now, group_id))


MERGE_EVERY = 25  # placements between looks for clusters that say the same in other words
GROUPER = "grouper"  # the operator name of the leader's own merges in the event log


def group_new_mentions(store: Store, grouper: Grouper, limit: int = BATCH) -> int:
    """Group the mentions stored since the last call (one transaction); returns how many were placed."""
    with store.write():
        after = grouped_up_to(store)
        rows = store.conn.execute(
            "SELECT id, text FROM mentions WHERE id > ? ORDER BY id LIMIT ?", (after, limit)).fetchall()
        if not rows:
            return 0
        now = store.now()
        texts = dict(rows)
        for mention_id, text in rows:
            placed = grouper.place(mention_id, text)
            if placed.seed_mention is not None:
                seed_text = texts.get(placed.seed_mention) or _text(store, placed.seed_mention)
                group_id = _create_group(store, placed.seed_mention, seed_text, now)
                _add_member(store, group_id, placed.seed_mention, 100.0, now)
                _add_member(store, group_id, mention_id, placed.score, now)
                grouper.promote(placed.cluster, group_id)
            elif placed.cluster > 0:
                _add_member(store, _live_group(store, placed.cluster), mention_id, placed.score, now)
            if mention_id % MERGE_EVERY == 0:
                _merge_similar(store, grouper)
        _merge_similar(store, grouper)
        _set_cursor(store, rows[-1][0])
    return len(rows)


def _merge_similar(store: Store, grouper: Grouper) -> None:
    for source, target, _cosine in grouper.similar_pairs():
        if source > 0 and target > 0 and source in grouper.clusters and target in grouper.clusters:
            grouper.merge(source, target)
            merge_groups(store, source, target, GROUPER)


def _live_group(store: Store, group_id: int) -> int:
    """The group that now holds a merged group's members (merges may chain)."""
    for _ in range(20):
        row = store.conn.execute("SELECT merged_into FROM mention_groups WHERE id = ?", (group_id,)).fetchone()
        if row is None or row[0] is None:
            return group_id
        group_id = row[0]
    return group_id


def _text(store: Store, mention_id: int) -> str:
    row = store.conn.execute("SELECT text FROM mentions WHERE id = ?", (mention_id,)).fetchone()
    return row[0] if row else ""


def warm_grouper(store: Store, grouper: Grouper, *, hours: float = WARM_HOURS, seeds: int = 5000) -> None:
    """Rebuild the leader's index after a start: recent groups' exemplars, then recent lone mentions as seeds."""
    since = _ago(store, hours)
    conn = store.conn
    for group_id, text in conn.execute(
        """SELECT g.id, m.text FROM mention_groups g JOIN mentions m ON m.id = g.representative_id
           WHERE g.updated_at >= ? AND g.merged_into IS NULL ORDER BY g.updated_at""", (since,)):
        grouper.add_exemplar(group_id, text)
    for group_id, text in conn.execute(
        """SELECT gm.group_id, m.text FROM group_members gm JOIN mentions m ON m.id = gm.mention_id
           JOIN mention_groups g ON g.id = gm.group_id
           WHERE gm.manual = 1 AND g.updated_at >= ? ORDER BY gm.at""", (since,)):
        grouper.add_exemplar(group_id, text)
    after = grouped_up_to(store)
    for mention_id, text in reversed(conn.execute(
        """SELECT m.id, m.text FROM mentions m WHERE m.id <= ? AND m.created_at >= ?
           AND NOT EXISTS (SELECT 1 FROM group_members gm WHERE gm.mention_id = m.id)
           ORDER BY m.id DESC LIMIT ?""", (after, since, seeds)).fetchall()):
        grouper.add_exemplar(-mention_id, text)
        grouper.clusters[-mention_id].members = [mention_id]


def _ago(store: Store, hours: float) -> str:
    from datetime import timedelta

    from store.db import iso
    return iso(store.clock() - timedelta(hours=hours))


_SUMMARY = """
SELECT g.id, g.label, g.size,
       (SELECT count(*) FROM group_members gm JOIN mentions m ON m.id = gm.mention_id
        WHERE gm.group_id = g.id AND m.status = 'open'
          AND NOT EXISTS (SELECT 1 FROM replies r WHERE r.mention_id = m.id AND r.state != 'failed')),
       (SELECT min(m.created_at) FROM group_members gm JOIN mentions m ON m.id = gm.mention_id
        WHERE gm.group_id = g.id),
       (SELECT max(m.created_at) FROM group_members gm JOIN mentions m ON m.id = gm.mention_id
        WHERE gm.group_id = g.id),
       (SELECT group_concat(DISTINCT m.network) FROM group_members gm JOIN mentions m ON m.id = gm.mention_id
        WHERE gm.group_id = g.id),
       (SELECT count(DISTINCT m.author_id) FROM group_members gm JOIN mentions m ON m.id = gm.mention_id
        WHERE gm.group_id = g.id)
FROM mention_groups g
"""


def _summary(row: tuple) -> GroupSummary:
    gid, label, size, waiting, first, last, networks, authors = row
    return GroupSummary(gid, clean_line(label, 80), size, waiting or 0, first or "", last or "",
                        sorted((networks or "").split(",")) if networks else [], authors or 0)


def list_groups(store: Store, *, min_size: int = 2, since: str | None = None, limit: int = 200) -> list[GroupSummary]:
    """Live groups, biggest first (merged ones are gone into their target)."""
    rows = store.conn.execute(
        f"""{_SUMMARY} WHERE g.merged_into IS NULL AND g.size >= ? AND g.updated_at >= ?
            ORDER BY g.size DESC, g.updated_at DESC LIMIT ?""", (min_size, since or "", limit)).fetchall()
    return [_summary(row) for row in rows]


def group_detail(store: Store, group_id: int) -> GroupDetail | None:
    row = store.conn.execute(f"{_SUMMARY} WHERE g.id = ?", (group_id,)).fetchone()
    if row is None:
        return None
    members = store.conn.execute(
        """SELECT gm.mention_id, m.text FROM group_members gm JOIN mentions m ON m.id = gm.mention_id
           WHERE gm.group_id = ? ORDER BY gm.mention_id DESC""", (group_id,)).fetchall()
    shapes: Counter[str] = Counter()
    example: dict[str, str] = {}
    for _mid, text in members[:2000]:  # phrasings from the newest 2000: enough to see the wording
        key = normalised(text)
        shapes[key] += 1
        example.setdefault(key, text)
    phrasings = [Phrasing(clean_line(" ".join(example[k].split()), 200), n) for k, n in shapes.most_common(5)]
    return GroupDetail(_summary(row), [mid for mid, _ in members], phrasings)


def _require_group(store: Store, group_id: int) -> None:
    found = store.conn.execute("SELECT merged_into FROM mention_groups WHERE id = ?", (group_id,)).fetchone()
    if found is None:
        raise ActionError(f"no group with id {group_id}")
    if found[0] is not None:
        raise ActionError(f"group {group_id} was merged into group {found[0]}")


def move_member(store: Store, mention_id: int, group_id: int, operator: str) -> None:
    """Put a mention in another group by hand: it becomes an example new arrivals are compared with."""
    with store.write():
        _require_group(store, group_id)
        if not store.conn.execute("SELECT 1 FROM mentions WHERE id = ?", (mention_id,)).fetchone():
            raise ActionError(f"no mention with id {mention_id}")
        _add_member(store, group_id, mention_id, 100.0, store.now(), manual=True)
        log_event(store, operator, "group.move", mention_id, group=group_id)


def split_member(store: Store, mention_id: int, operator: str) -> int:
    """Take a mention out of its group into a new group of its own (a different complaint)."""
    with store.write():
        text = _text(store, mention_id)
        if not store.conn.execute("SELECT 1 FROM group_members WHERE mention_id = ?", (mention_id,)).fetchone():
            raise ActionError(f"mention {mention_id} is in no group")
        group_id = _create_group(store, mention_id, text, store.now())
        _add_member(store, group_id, mention_id, 100.0, store.now(), manual=True)
        log_event(store, operator, "group.split", mention_id, group=group_id)
    return group_id


def merge_groups(store: Store, source: int, target: int, operator: str) -> int:
    """Move every member of `source` into `target`; `source` is kept, pointing at `target`."""
    if source == target:
        raise ActionError("a group cannot be merged into itself")
    with store.write():
        _require_group(store, source)
        _require_group(store, target)
        now = store.now()
        moved = store.conn.execute("UPDATE group_members SET group_id = ?, at = ? WHERE group_id = ?",
                                   (target, now, source)).rowcount
        store.conn.execute("UPDATE mention_groups SET size = size + ?, updated_at = ? WHERE id = ?",
                           (moved, now, target))
        store.conn.execute("UPDATE mention_groups SET size = 0, merged_into = ?, updated_at = ? WHERE id = ?",
                           (target, now, source))
        log_event(store, operator, "group.merge", None, group=source, into=target, members=moved)
    return moved


def rename_group(store: Store, group_id: int, label: str, operator: str) -> None:
    label = _label(label)
    if not label:
        raise ActionError("a group needs a name")
    with store.write():
        _require_group(store, group_id)
        store.conn.execute("UPDATE mention_groups SET label = ? WHERE id = ?", (label, group_id))
        log_event(store, operator, "group.rename", None, group=group_id, label=label)


@dataclass(frozen=True, slots=True)
class Corrections:
    newest_event: int  # pass it to the next call
    examples: list[tuple[int, str]]  # (group, text of a mention an operator put there)


def corrections_since(store: Store, event_id: int) -> Corrections:
    """Hand corrections made since `event_id`, by any console: examples new arrivals are compared with."""
    rows = store.conn.execute(
        """SELECT e.id, e.action, e.detail, m.text FROM events e LEFT JOIN mentions m ON m.id = e.mention_id
           WHERE e.id > ? AND e.action IN ('group.move', 'group.split', 'group.merge') ORDER BY e.id""",
        (event_id,)).fetchall()
    top = store.conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    out = []
    for _eid, action, detail, text in rows:
        info = json.loads(detail or "{}")
        if action == "group.merge":
            rep = store.conn.execute(
                "SELECT m.text FROM mention_groups g JOIN mentions m ON m.id = g.representative_id WHERE g.id = ?",
                (info.get("group"),)).fetchone()
            if rep:
                out.append((int(info.get("into", 0)), rep[0]))
        elif text is not None and info.get("group"):
            out.append((int(info["group"]), text))
    return Corrections(top, out)
