"""Reading the inbox: quick views, rows for the visible window, one mention in full."""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass, field, replace

from store.db import Store
from store.drafts import Draft, drafts_on
from store.lease import current_holder
from store.view_counts import view_counts  # noqa: F401  (re-exported: callers count views here)


@dataclass(frozen=True, slots=True)
class View:
    label: str
    source: str  # FROM ... WHERE ... selecting the view's mentions
    id_column: str
    # The list's order when it is not by id (newest first): an integer column, unique per mention.
    order_key: str | None = None


# A snoozed mention is out of the work queues until it wakes (store.snooze).
_AWAKE = "NOT EXISTS (SELECT 1 FROM snoozes z WHERE z.mention_id = m.id)"
_TAGGED = "FROM tags t JOIN mentions m ON m.id = t.mention_id WHERE t.tag = '{}' AND m.status = 'open' AND " + _AWAKE

# Quick views, in key order 1..5 (then "all"): work queues, so tag views show open mentions.
VIEWS: dict[str, View] = {
    "open": View("Open", f"FROM mentions m WHERE status = 'open' AND {_AWAKE}", "id"),
    "care": View("Care", _TAGGED.format("care"), "t.mention_id"),
    "marketing": View("Marketing", _TAGGED.format("marketing"), "t.mention_id"),
    "untriaged": View("Untriaged", "FROM mentions m WHERE status = 'open' AND NOT EXISTS "
                                   f"(SELECT 1 FROM tags t WHERE t.mention_id = m.id) AND {_AWAKE}", "id"),
    "done": View("Done", "FROM mentions WHERE status = 'done'", "id"),
    "mine": View("Mine", "FROM assignments s JOIN mentions m ON m.id = s.mention_id "
                         f"WHERE s.operator = :operator AND m.status = 'open' AND {_AWAKE}", "s.mention_id"),
    "all": View("All", "FROM mentions WHERE 1 = 1", "id"),
    # Open mentions by first-reply due time, then needs-reply, then negativity (store.priority).
    "priority": View("Priority", f"FROM mentions m WHERE status = 'open' AND {_AWAKE}", "id", "m.due_key"),
    "snoozed": View("Snoozed", "FROM snoozes z JOIN mentions m ON m.id = z.mention_id WHERE 1 = 1", "z.mention_id"),
}


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    network: str
    author_handle: str
    text: str
    created_at: str
    status: str
    seen: bool
    tags: frozenset[str]
    reply_state: str | None  # state of the latest reply, if any
    assignee: str | None = None
    claimed_by: str | None = None
    claim_expires: str | None = None
    # A live ingest leader holds the lease: queued replies are really going out.
    sender_alive: bool = True
    has_draft: bool = False  # some operator keeps a draft reply on it
    snoozed_until: str | None = None
    # Signals from ingest (None: not computed) and a priority a rule or operator set.
    lang: str | None = None
    sentiment: int | None = None
    needs_reply: bool | None = None
    priority: str | None = None
    paused: int = 0  # seconds spent snoozed: the first-reply clock leaves them out

    @property
    def state(self) -> str:
        """new / open / queued / replied / done, as the inbox shows it.

        "queued": a reply is in the outbox but not yet on the network.
        """
        if self.status == "done":
            return "done"
        if self.reply_state in ("pending", "sending", "waiting"):  # waiting: for the network to return
            return "queued"
        if self.reply_state in ("sent", "manual"):
            return "replied"
        if not self.seen:
            return "new"
        return "open"


@dataclass(frozen=True, slots=True)
class ThreadEntry:
    kind: str  # "mention" or "reply"
    mention_id: int | None
    who: str
    text: str
    at: str
    state: str = ""
    is_focus: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    id: int
    text: str
    operator: str
    created_at: str
    state: str
    attempts: int
    sent_at: str | None
    remote_url: str | None
    error: str | None
    #: the last attempt never reached the server: pending until the network returns
    waiting: bool = False
    #: an attempt may have posted it (looked up before any resend)
    uncertain: bool = False

    @property
    def shown_state(self) -> str:
        return "waiting for network" if self.state == "pending" and self.waiting else self.state


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    at: str
    operator: str
    action: str
    detail: dict


@dataclass(frozen=True, slots=True)
class Note:
    id: int
    operator: str
    at: str
    text: str


@dataclass(frozen=True, slots=True)
class MentionDetail:
    row: InboxRow
    account: str
    author_name: str
    url: str | None
    lang: str | None
    received_at: str
    remote_id: str
    reply_ref: dict
    thread: list[ThreadEntry]
    author_history: list[InboxRow]
    author_total: int
    replies: list[Reply]
    events: list[Event] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    assignee: str | None = None
    claimed_by: str | None = None
    claim_expires: str | None = None
    drafts: list[Draft] = field(default_factory=list)  # every operator's, newest first


def view_ids(store: Store, view: str, operator: str = "", limit: int | None = None) -> array:
    """Ids in a view, newest first, as a compact array (8 bytes per mention).

    `limit` gives the first screenful fast; the whole view of a million-row
    history takes about a second and is loaded after it.
    """
    spec = VIEWS[view]
    ids = array("q")
    tail = f" LIMIT {int(limit)}" if limit is not None else ""
    cursor = store.conn.execute(f"SELECT {spec.id_column} {spec.source} ORDER BY {spec.id_column} DESC{tail}",
                                {"operator": operator})
    while chunk := cursor.fetchmany(50_000):
        ids.extend(row[0] for row in chunk)
    return ids


def view_ids_after(store: Store, view: str, after_id: int, operator: str = "") -> list[int]:
    """Ids in a view newer than `after_id`, newest first (for live arrivals)."""
    spec = VIEWS[view]
    sql = (f"SELECT {spec.id_column} {spec.source} AND {spec.id_column} > :after "
           f"ORDER BY {spec.id_column} DESC")
    return [row[0] for row in store.conn.execute(sql, {"after": after_id, "operator": operator})]


def view_ids_between(store: Store, view: str, first: int, last: int, operator: str = "") -> list[int]:
    """Ids in a view from one mention to another, both included, newest first: a range marked with `V`
    across rows the windowed list has not loaded (views list by id, so the range is an id interval)."""
    spec = VIEWS[view]
    sql = (f"SELECT {spec.id_column} {spec.source} AND {spec.id_column} BETWEEN :low AND :high "
           f"ORDER BY {spec.id_column} DESC")
    low, high = sorted((first, last))
    return [row[0] for row in store.conn.execute(sql, {"low": low, "high": high, "operator": operator})]


# "seen": handled by anyone (replied, done, imported) or read by this operator.
_ROW_SQL = """
SELECT m.id, m.network, a.handle, m.text, m.created_at, m.status,
       m.seen != 0 OR EXISTS (SELECT 1 FROM reads r WHERE r.operator = :operator AND r.mention_id = m.id),
       (SELECT group_concat(tag) FROM tags WHERE mention_id = m.id),
       (SELECT CASE WHEN state = 'pending' AND waiting = 1 THEN 'waiting' ELSE state END
        FROM replies WHERE mention_id = m.id ORDER BY id DESC LIMIT 1),
       (SELECT operator FROM assignments WHERE mention_id = m.id),
       c.operator, c.expires_at,
       EXISTS (SELECT 1 FROM drafts d WHERE d.mention_id = m.id),
       (SELECT until FROM snoozes WHERE mention_id = m.id), m.sig_lang, m.sentiment, m.needs_reply, m.priority,
       m.paused
FROM mentions m JOIN authors a ON a.id = m.author_id LEFT JOIN claims c ON c.mention_id = m.id
"""


def _row(values: tuple) -> InboxRow:
    (mid, network, handle, text, created, status, seen, tags, reply_state, assignee, claimer, expires,
     drafted, snoozed, lang, sentiment, needs_reply, priority, paused) = values
    return InboxRow(mid, network, handle, text, created, status, bool(seen),
                    frozenset(tags.split(",")) if tags else frozenset(), reply_state, assignee, claimer, expires,
                    has_draft=bool(drafted), snoozed_until=snoozed, lang=lang, sentiment=sentiment,
                    needs_reply=None if needs_reply is None else bool(needs_reply), priority=priority,
                    paused=paused or 0)


def rows_by_id(store: Store, ids: list[int], operator: str = "") -> dict[int, InboxRow]:
    """Rows for the given ids (the visible window) as `operator` sees them, keyed by id."""
    found: dict[int, InboxRow] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        params = {"operator": operator, **{f"i{n}": mention_id for n, mention_id in enumerate(chunk)}}
        marks = ",".join(f":i{n}" for n in range(len(chunk)))
        for values in store.conn.execute(f"{_ROW_SQL} WHERE m.id IN ({marks})", params):
            row = _row(values)
            found[row.id] = row
    return found


def latest_id(store: Store) -> int:
    return store.conn.execute("SELECT coalesce(max(id), 0) FROM mentions").fetchone()[0]


def mention_detail(store: Store, mention_id: int, operator: str = "", *, history: int = 20,
                   events: int = 50) -> MentionDetail | None:
    conn = store.conn
    found = conn.execute(
        """SELECT m.network, m.remote_id, m.root_remote_id, m.author_id, m.url, m.lang, m.received_at,
                  m.reply_ref, acc.handle, a.display_name
           FROM mentions m JOIN authors a ON a.id = m.author_id JOIN accounts acc ON acc.id = m.account_id
           WHERE m.id = ?""",
        (mention_id,),
    ).fetchone()
    if not found:
        return None
    network, remote_id, root, author_id, url, lang, received, reply_ref, account, author_name = found
    row = rows_by_id(store, [mention_id], operator)[mention_id]
    root = root or remote_id
    members = conn.execute(
        # Two index searches: an OR here would not use the partial mentions_by_root index.
        f"""{_ROW_SQL} WHERE m.id IN (SELECT id FROM mentions WHERE network = :network AND remote_id = :root
                                   UNION ALL SELECT id FROM mentions WHERE network = :network
                                                                    AND root_remote_id = :root)
            ORDER BY m.created_at, m.id LIMIT 200""",
        {"network": network, "root": root, "operator": operator},
    ).fetchall()
    thread: list[ThreadEntry] = []
    member_ids = []
    for values in members:
        member = _row(values)
        member_ids.append(member.id)
        thread.append(ThreadEntry("mention", member.id, member.author_handle, member.text,
                                  member.created_at, member.state, member.id == mention_id))
    if mention_id not in member_ids:
        member_ids.append(mention_id)
        thread.append(ThreadEntry("mention", mention_id, row.author_handle, row.text, row.created_at,
                                  row.state, True))
    marks = ",".join("?" * len(member_ids))
    for _rid, mid, text, operator, created, state, sent_at in conn.execute(
        f"""SELECT id, mention_id, text, operator, created_at, state, sent_at FROM replies
            WHERE mention_id IN ({marks}) ORDER BY id""",
        member_ids,
    ):
        thread.append(ThreadEntry("reply", mid, f"{account} ({operator})", text, sent_at or created, state))
    thread.sort(key=lambda entry: entry.at)
    history_rows = [
        _row(values)
        for values in conn.execute(
            f"{_ROW_SQL} WHERE m.author_id = :author AND m.id != :id ORDER BY m.id DESC LIMIT :n",
            {"author": author_id, "id": mention_id, "n": history, "operator": operator},
        )
    ]
    total = conn.execute("SELECT count(*) FROM mentions WHERE author_id = ?", (author_id,)).fetchone()[0]
    replies = [
        Reply(*values[:9], *(bool(flag) for flag in values[9:]))  # waiting, uncertain
        for values in conn.execute(
            """SELECT id, text, operator, created_at, state, attempts, sent_at, remote_url, error, waiting, uncertain
               FROM replies WHERE mention_id = ? ORDER BY id""",
            (mention_id,),
        )
    ]
    event_rows = [
        Event(eid, at, operator, action, json.loads(detail or "{}"))
        for eid, at, operator, action, detail in conn.execute(
            "SELECT id, at, operator, action, detail FROM events WHERE mention_id = ? ORDER BY id DESC LIMIT ?",
            (mention_id, events),
        )
    ]
    notes = [Note(*values) for values in conn.execute(
        "SELECT id, operator, at, text FROM notes WHERE mention_id = ? ORDER BY id", (mention_id,))]
    assigned = conn.execute("SELECT operator FROM assignments WHERE mention_id = ?", (mention_id,)).fetchone()
    claimed = conn.execute("SELECT operator, expires_at FROM claims WHERE mention_id = ? AND expires_at > ?",
                           (mention_id, store.now())).fetchone()
    row = replace(row, sender_alive=current_holder(store) is not None)
    return MentionDetail(row, account, author_name, url, lang, received, remote_id,
                         json.loads(reply_ref or "{}"), thread, history_rows, total - 1, replies, event_rows,
                         notes, assigned[0] if assigned else None,
                         claimed[0] if claimed else None, claimed[1] if claimed else None,
                         drafts_on(store, mention_id))
