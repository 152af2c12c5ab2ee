"""Schema and forward migrations, versioned with ``PRAGMA user_version``.

Each entry of MIGRATIONS moves the schema one version forward and runs in
the same transaction as the version bump, so a crash leaves either the old
or the new schema, never half of one. Never edit a released migration:
append a new one.
"""

from __future__ import annotations

from store.search_schema import SEARCH_COMMON, SEARCH_V1

V1 = """
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    network TEXT NOT NULL,
    handle TEXT NOT NULL,
    UNIQUE (network, handle)
);
CREATE TABLE authors (
    id INTEGER PRIMARY KEY,
    network TEXT NOT NULL,
    handle TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    UNIQUE (network, handle)
);
CREATE TABLE mentions (
    id INTEGER PRIMARY KEY,
    network TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    author_id INTEGER NOT NULL REFERENCES authors(id),
    text TEXT NOT NULL,
    url TEXT,
    lang TEXT,
    created_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    parent_remote_id TEXT,
    root_remote_id TEXT,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    seen INTEGER NOT NULL DEFAULT 0,
    reply_ref TEXT NOT NULL DEFAULT '{}',
    raw TEXT,
    UNIQUE (network, remote_id)
);
CREATE INDEX mentions_by_status ON mentions (status, id);
CREATE INDEX mentions_by_author ON mentions (author_id, id);
CREATE INDEX mentions_by_root ON mentions (network, root_remote_id);
CREATE INDEX mentions_by_parent ON mentions (network, parent_remote_id);

CREATE TABLE tags (
    mention_id INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
    tag TEXT NOT NULL CHECK (tag IN ('care', 'marketing')),
    operator TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (mention_id, tag)
) WITHOUT ROWID;
CREATE INDEX tags_by_tag ON tags (tag, mention_id);

-- The outbox: a reply is a row here before anything touches the network.
CREATE TABLE replies (
    id INTEGER PRIMARY KEY,
    mention_id INTEGER NOT NULL REFERENCES mentions(id),
    text TEXT NOT NULL,
    operator TEXT NOT NULL,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'manual')),
    idem_key TEXT NOT NULL UNIQUE,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- 1 while an attempt may have reached the network without us knowing.
    uncertain INTEGER NOT NULL DEFAULT 0,
    claimed_at TEXT,
    next_attempt_at TEXT,
    sent_at TEXT,
    remote_id TEXT,
    remote_url TEXT,
    error TEXT
);
CREATE INDEX replies_by_mention ON replies (mention_id);
CREATE INDEX replies_by_state ON replies (state, next_attempt_at);

-- Every operator action, append-only.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    mention_id INTEGER,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_by_mention ON events (mention_id, id);
CREATE INDEX events_by_operator ON events (operator, at);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

-- Where each source's stream resumes, written with the batch it ends.
CREATE TABLE cursors (
    source TEXT PRIMARY KEY,
    cursor TEXT,
    updated_at TEXT NOT NULL
);
-- The shared desk: internal notes, assignment, reply claims, shift handover.
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    mention_id INTEGER NOT NULL REFERENCES mentions(id),
    operator TEXT NOT NULL,
    at TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX notes_by_mention ON notes (mention_id, id);
CREATE TABLE assignments (
    mention_id INTEGER PRIMARY KEY REFERENCES mentions(id),
    operator TEXT NOT NULL,
    by TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX assignments_by_operator ON assignments (operator, mention_id);
CREATE TABLE claims (
    mention_id INTEGER PRIMARY KEY REFERENCES mentions(id),
    operator TEXT NOT NULL,
    at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE handover_notes (
    id INTEGER PRIMARY KEY,
    operator TEXT NOT NULL,
    at TEXT NOT NULL,
    text TEXT NOT NULL
);
-- Who runs the adapters and the sender: one holder at a time, renewed.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE source_status (
    source TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    last_event_at TEXT
);
"""

# Small values an adapter keeps per account across restarts (a Bluesky session's
# refresh token; a server's limits): one row per (source, key), source being the
# adapter's cursor key ("bluesky:brand.bsky.social"). Never exported.
V2_ACCOUNT_SESSIONS = """
CREATE TABLE account_state (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source, key)
) WITHOUT ROWID;
"""

# The shared desk, per operator: who has read what ("● new" is personal; the id
# orders the change feed so an operator's other consoles follow), and who has
# used the desk (so an assignment to a misspelt name is caught).
V2_DESK = """
CREATE TABLE reads (
    id INTEGER PRIMARY KEY,
    operator TEXT NOT NULL,
    mention_id INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    UNIQUE (operator, mention_id)
);
CREATE TABLE operators (
    name TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
INSERT OR IGNORE INTO operators (name, first_seen, last_seen)
    SELECT operator, min(at), max(at) FROM events WHERE operator != 'sender' GROUP BY operator;
"""

# Fencing the leader and the outbox (issue 9): the lease's epoch, each claim's epoch,
# and replies that wait for the network rather than count attempts.
V2_LEADER = """
ALTER TABLE leases ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN prev_expires_at TEXT;
ALTER TABLE replies ADD COLUMN epoch INTEGER;
-- 1 while the last attempt provably never reached the server (refused, DNS, connect timeout).
ALTER TABLE replies ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;
-- An edited retry of a reply that may have been posted: the earlier key and text, looked up first.
ALTER TABLE replies ADD COLUMN prior_key TEXT;
ALTER TABLE replies ADD COLUMN prior_text TEXT;
"""

# Flood-day scale (issue 11). Views are counted by triggers in the writing transaction, so a
# count is one small read at any backlog and stays right with several processes writing (SQLite
# has one writer at a time). Keys: 'open', 'done', 'care', 'marketing', 'tagged' (open with a
# tag; untriaged = open - tagged) and 'mine:<operator>' (open, assigned). Tags and assignments
# only count while open. New mentions are counted by store.ingest once per batch: a trigger
# there cost about 15 us a row on the import path (measured), the others are operator-paced.
# The thread indexes cover columns that are empty for most mentions: partial, they cost nothing
# for those (about 47 bytes a mention before).
V2_VIEW_COUNTS = """
CREATE TABLE view_counts (
    name TEXT PRIMARY KEY,
    n INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO view_counts (name, n) VALUES ('open', 0), ('done', 0), ('care', 0), ('marketing', 0), ('tagged', 0);
UPDATE view_counts SET n = (SELECT count(*) FROM mentions m WHERE m.status = view_counts.name)
    WHERE name IN ('open', 'done');
UPDATE view_counts SET n = (SELECT count(*) FROM tags t JOIN mentions m ON m.id = t.mention_id
                            WHERE t.tag = view_counts.name AND m.status = 'open')
    WHERE name IN ('care', 'marketing');
UPDATE view_counts SET n = (SELECT count(*) FROM mentions m WHERE m.status = 'open'
                            AND EXISTS (SELECT 1 FROM tags t WHERE t.mention_id = m.id))
    WHERE name = 'tagged';
INSERT INTO view_counts (name, n)
    SELECT 'mine:' || s.operator, count(m.id) FROM assignments s
    LEFT JOIN mentions m ON m.id = s.mention_id AND m.status = 'open' GROUP BY s.operator;
CREATE TRIGGER view_counts_mention_out AFTER DELETE ON mentions
BEGIN
    UPDATE view_counts SET n = n - 1 WHERE name = OLD.status;
END;
CREATE TRIGGER view_counts_status AFTER UPDATE OF status ON mentions WHEN OLD.status != NEW.status
BEGIN
    UPDATE view_counts SET n = n + CASE WHEN name = OLD.status THEN -1 WHEN name = NEW.status THEN 1
                                        WHEN NEW.status = 'open' THEN 1 ELSE -1 END
        WHERE name IN (OLD.status, NEW.status)
           OR name IN (SELECT tag FROM tags WHERE mention_id = NEW.id)
           OR (name = 'tagged' AND EXISTS (SELECT 1 FROM tags WHERE mention_id = NEW.id))
           OR name = (SELECT 'mine:' || operator FROM assignments WHERE mention_id = NEW.id);
END;
CREATE TRIGGER view_counts_tag_in AFTER INSERT ON tags
    WHEN (SELECT status FROM mentions WHERE id = NEW.mention_id) = 'open'
BEGIN
    UPDATE view_counts SET n = n + 1
        WHERE name = NEW.tag
           OR (name = 'tagged' AND NOT EXISTS (SELECT 1 FROM tags WHERE mention_id = NEW.mention_id
                                                                    AND tag != NEW.tag));
END;
CREATE TRIGGER view_counts_tag_out AFTER DELETE ON tags
    WHEN (SELECT status FROM mentions WHERE id = OLD.mention_id) = 'open'
BEGIN
    UPDATE view_counts SET n = n - 1
        WHERE name = OLD.tag
           OR (name = 'tagged' AND NOT EXISTS (SELECT 1 FROM tags WHERE mention_id = OLD.mention_id));
END;
CREATE TRIGGER view_counts_assign_in AFTER INSERT ON assignments
BEGIN
    -- Not OR IGNORE: inside a trigger the outer statement's conflict policy (an upsert's) wins.
    INSERT INTO view_counts (name, n) SELECT 'mine:' || NEW.operator, 0
        WHERE NOT EXISTS (SELECT 1 FROM view_counts WHERE name = 'mine:' || NEW.operator);
    UPDATE view_counts SET n = n + 1 WHERE name = 'mine:' || NEW.operator
        AND (SELECT status FROM mentions WHERE id = NEW.mention_id) = 'open';
END;
CREATE TRIGGER view_counts_assign_out AFTER DELETE ON assignments
BEGIN
    UPDATE view_counts SET n = n - 1 WHERE name = 'mine:' || OLD.operator
        AND (SELECT status FROM mentions WHERE id = OLD.mention_id) = 'open';
END;
CREATE TRIGGER view_counts_assign_move AFTER UPDATE OF operator ON assignments
    WHEN OLD.operator != NEW.operator
BEGIN
    -- Not OR IGNORE: inside a trigger the outer statement's conflict policy (an upsert's) wins.
    INSERT INTO view_counts (name, n) SELECT 'mine:' || NEW.operator, 0
        WHERE NOT EXISTS (SELECT 1 FROM view_counts WHERE name = 'mine:' || NEW.operator);
    UPDATE view_counts SET n = n + CASE WHEN name = 'mine:' || NEW.operator THEN 1 ELSE -1 END
        WHERE name IN ('mine:' || NEW.operator, 'mine:' || OLD.operator)
          AND (SELECT status FROM mentions WHERE id = NEW.mention_id) = 'open';
END;
DROP INDEX mentions_by_root;
DROP INDEX mentions_by_parent;
CREATE INDEX mentions_by_root ON mentions (network, root_remote_id) WHERE root_remote_id IS NOT NULL;
CREATE INDEX mentions_by_parent ON mentions (network, parent_remote_id) WHERE parent_remote_id IS NOT NULL;
"""

# Saved views (issue 12): searches the desk keeps on keys 7-9, shared by every operator;
# and each operator's own choices (a view's order, the theme), kept per operator.
V2_SAVED_VIEWS = """
CREATE TABLE saved_views (
    name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
    key TEXT NOT NULL UNIQUE CHECK (key IN ('7', '8', '9')),
    query TEXT NOT NULL,
    operator TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE operator_preferences (
    operator TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (operator, name)
) WITHOUT ROWID;
"""

# Reports, spikes and the handover read periods of arrival time (covering what they group by
# without reading the rows, which hold the texts), and the oldest waiting mentions first.
V2_REPORTS = """
CREATE INDEX mentions_by_created ON mentions (created_at, network, status);
CREATE INDEX tags_by_time ON tags (at);
"""

# The operator's daily kit (issue 12): replies the whole desk saved (name, language, tags, a body
# with {variables}), drafts per mention and operator (a console that dies loses none), and snoozes
# (a mention leaves the open views until `until`, or until its author posts again in the thread).
V2_SAVED_REPLIES = """
CREATE TABLE saved_replies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    lang TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE drafts (
    mention_id INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
    operator TEXT NOT NULL,
    text TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (mention_id, operator)
) WITHOUT ROWID;
CREATE TABLE snoozes (
    mention_id INTEGER PRIMARY KEY REFERENCES mentions(id) ON DELETE CASCADE,
    until TEXT NOT NULL,
    operator TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX snoozes_by_until ON snoozes (until);
"""

# Flood mode (issue 13): near-duplicate groups built by the ingest leader, and incidents (surges).
V2_FLOOD = """
CREATE TABLE mention_groups (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL,
    representative_id INTEGER NOT NULL REFERENCES mentions(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    merged_into INTEGER REFERENCES mention_groups(id)
);
CREATE INDEX mention_groups_by_update ON mention_groups (updated_at);
CREATE TABLE group_members (
    mention_id INTEGER PRIMARY KEY REFERENCES mentions(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES mention_groups(id),
    score REAL NOT NULL,
    -- 1: put here by an operator (a correction new arrivals are compared with)
    manual INTEGER NOT NULL DEFAULT 0,
    at TEXT NOT NULL
);
CREATE INDEX group_members_by_group ON group_members (group_id, mention_id);
-- The last mention id the leader has grouped (grouping resumes there after a restart or a new leader).
CREATE TABLE grouping_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    grouped_up_to INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
-- An existing history is not grouped after the fact: flood mode is about what arrives from now on.
INSERT INTO grouping_state (id, grouped_up_to, updated_at) SELECT 1, coalesce(max(id), 0), '' FROM mentions;
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('volume', 'topic')),
    topic TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'closed')),
    started_at TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    closed_at TEXT,
    baseline REAL NOT NULL,
    peak REAL NOT NULL,
    mentions INTEGER NOT NULL DEFAULT 0,
    group_id INTEGER REFERENCES mention_groups(id),
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX incidents_by_state ON incidents (state, id);
"""

# Undo (issue 12): each operator's last actions, newest last, with what each changed
# (JSON, per kind: store.undo), so `u` works after the toast, across restarts and
# from the CLI. Not the event log: an undone or expired entry is deleted; the
# compensating change is what the log records.
V2_UNDO = """
CREATE TABLE undo_entries (
    id INTEGER PRIMARY KEY,
    operator TEXT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX undo_by_operator ON undo_entries (operator, id);
"""

# Local signals computed at ingest (store/signals.py) and what triage rules set (store/rules*.py):
# the detected language (among the desk's), sentiment -1/0/1 and needs-reply 0/1 (NULL: not computed);
# a priority (low, normal, high, urgent) and a saved reply suggested by name.
V2_SIGNALS = """
ALTER TABLE mentions ADD COLUMN sig_lang TEXT;
ALTER TABLE mentions ADD COLUMN sentiment INTEGER CHECK (sentiment IN (-1, 0, 1));
ALTER TABLE mentions ADD COLUMN needs_reply INTEGER CHECK (needs_reply IN (0, 1));
ALTER TABLE mentions ADD COLUMN priority TEXT CHECK (priority IN ('low', 'normal', 'high', 'urgent'));
ALTER TABLE mentions ADD COLUMN suggested_reply TEXT;
"""

# A reply that is part of one answer to many (a group answer, issue 13) names that answer; single
# replies typed by an operator keep NULL and jump the queue ahead of them.
V2_GROUP_OUTBOX = """
ALTER TABLE replies ADD COLUMN answer_id INTEGER;
CREATE INDEX replies_by_answer ON replies (answer_id) WHERE answer_id IS NOT NULL;
"""

# One answer to many (issue 13): a group's members (or a marked selection) each get the body filled
# for them, one reply each, queued in one transaction (store.group_answers). `members` lists the
# mention ids of a selection (JSON; empty for a group). Over `approve_over` replies, a second
# operator approves it. Replies derive their keys from `key_base` and the mention id, and the
# unique index below makes a second reply of one answer to one mention impossible.
V2_GROUP_ANSWERS = """
CREATE TABLE group_answers (
    id INTEGER PRIMARY KEY,
    group_id INTEGER REFERENCES mention_groups(id),
    members TEXT NOT NULL DEFAULT '[]',
    body TEXT NOT NULL,
    reply_name TEXT,
    one_per_author INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'draft'
        CHECK (state IN ('draft', 'awaiting_approval', 'queued', 'paused', 'cancelled')),
    drafted_by TEXT NOT NULL,
    approved_by TEXT,
    approve_over INTEGER NOT NULL,
    key_base INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    queued_at TEXT,
    planned INTEGER NOT NULL DEFAULT 0,
    skipped TEXT NOT NULL DEFAULT '{}',
    cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX group_answers_by_state ON group_answers (state, id);
-- Who an answer skipped and why (answer_plan.REASONS), as decided when it was queued.
CREATE TABLE answer_skips (
    answer_id INTEGER NOT NULL REFERENCES group_answers(id),
    mention_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (answer_id, mention_id)
) WITHOUT ROWID;
CREATE INDEX answer_skips_by_mention ON answer_skips (mention_id);
CREATE INDEX group_answers_by_group ON group_answers (group_id) WHERE group_id IS NOT NULL;
CREATE UNIQUE INDEX replies_one_per_answer ON replies (answer_id, mention_id) WHERE answer_id IS NOT NULL;
"""

# The Priority view (store/priority.py): open mentions by first-reply due time, then needs-reply, then
# negativity. `due_key` packs that order into one integer (so the view pages by keyset like the others,
# from an index on (status, due_key)): due minute << 37 | not-needs-reply << 36 | sentiment+1 << 34 | id. No target, or
# answered already: the largest minute (last). `paused`: seconds spent snoozed (they do not count).
# `sla_targets` is the desk's [sla] as the last console or leader started read it; triggers keep the key
# true as tags, replies, signals and snoozes change.
_DUE_KEY = """(coalesce(CASE WHEN EXISTS (SELECT 1 FROM replies r WHERE r.mention_id = mentions.id
                                         AND r.state != 'failed') THEN NULL
    ELSE (CAST(strftime('%s', mentions.created_at) AS INTEGER) + mentions.paused
          + coalesce((SELECT min(s.seconds) FROM sla_targets s
                      WHERE (s.kind = 'tag' AND s.name IN (SELECT t.tag FROM tags t WHERE t.mention_id = mentions.id))
                         OR (s.kind = 'network' AND s.name = mentions.network)),
                     (SELECT s.seconds FROM sla_targets s WHERE s.kind = 'default'))) / 60 END,
    67108863) << 37) | ((1 - coalesce(mentions.needs_reply, 0)) << 36)
    | ((coalesce(mentions.sentiment, 0) + 1) << 34) | mentions.id"""
DUE_KEY_UPDATE = f"UPDATE mentions SET due_key = {_DUE_KEY}"
# A new mention's key, in its INSERT (a trigger's UPDATE would count as a change of its own, and cost a second
# write per row): no tags or replies yet; ?1 its id, ?2 its network, ?9 its created_at, ?18 its sentiment and
# ?19 its needs-reply (NULL: no signals yet).
DUE_KEY_NEW = """(coalesce((CAST(strftime('%s', ?9) AS INTEGER)
    + coalesce((SELECT min(s.seconds) FROM sla_targets s WHERE s.kind = 'network' AND s.name = ?2),
               (SELECT s.seconds FROM sla_targets s WHERE s.kind = 'default'))) / 60, 67108863) << 37)
    | ((1 - coalesce(CAST(?19 AS INTEGER), 0)) << 36) | ((coalesce(CAST(?18 AS INTEGER), 0) + 1) << 34) | ?1"""
V2_PRIORITY = f"""
CREATE TABLE sla_targets (
    kind TEXT NOT NULL CHECK (kind IN ('tag', 'network', 'default')),
    name TEXT NOT NULL,
    seconds INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);
ALTER TABLE mentions ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mentions ADD COLUMN due_key INTEGER;
{DUE_KEY_UPDATE} WHERE status = 'open';
CREATE INDEX mentions_by_due ON mentions (status, due_key);
CREATE TRIGGER due_on_change AFTER UPDATE OF sentiment, needs_reply, paused, status ON mentions
WHEN (NEW.status = 'open' AND OLD.status != 'open') OR NEW.sentiment IS NOT OLD.sentiment
     OR NEW.needs_reply IS NOT OLD.needs_reply OR NEW.paused != OLD.paused BEGIN
    {DUE_KEY_UPDATE} WHERE id = NEW.id;
END;
CREATE TRIGGER due_on_tag AFTER INSERT ON tags BEGIN
    {DUE_KEY_UPDATE} WHERE id = NEW.mention_id;
END;
CREATE TRIGGER due_on_untag AFTER DELETE ON tags BEGIN
    {DUE_KEY_UPDATE} WHERE id = OLD.mention_id;
END;
CREATE TRIGGER due_on_reply AFTER INSERT ON replies BEGIN
    {DUE_KEY_UPDATE} WHERE id = NEW.mention_id;
END;
CREATE TRIGGER due_on_reply_state AFTER UPDATE OF state ON replies WHEN NEW.state IS NOT OLD.state BEGIN
    {DUE_KEY_UPDATE} WHERE id = NEW.mention_id;
END;
CREATE TRIGGER due_on_reply_gone AFTER DELETE ON replies BEGIN
    {DUE_KEY_UPDATE} WHERE id = OLD.mention_id;
END;
-- Woken: the time since it was first snoozed (after the last wake) is paused time.
CREATE TRIGGER paused_on_wake AFTER INSERT ON events WHEN NEW.action IN ('unsnooze', 'snooze.wake') BEGIN
    UPDATE mentions SET paused = paused + max(0, coalesce(
        CAST(strftime('%s', NEW.at) AS INTEGER) - CAST(strftime('%s', (
            SELECT min(e.at) FROM events e WHERE e.mention_id = NEW.mention_id AND e.action = 'snooze'
            AND e.id > coalesce((SELECT max(w.id) FROM events w WHERE w.mention_id = NEW.mention_id
                                 AND w.action IN ('unsnooze', 'snooze.wake') AND w.id < NEW.id), 0)))
            AS INTEGER), 0))
    WHERE id = NEW.mention_id;
END;
"""

# Reports count volume by sentiment too (issue 14 item 4): the period scan stays on one covering index.
V2_REPORT_SENTIMENT = """
DROP INDEX mentions_by_created;
CREATE INDEX mentions_by_created ON mentions (created_at, network, status, sentiment);
"""

# PostgreSQL only (store/pg_schema.py: mentiondesk_epoch): the Unix time of a stored time that is not ISO
# (a hostile or odd created_at) is NULL there, as strftime('%s', ...) gives without failing here.
V2_LENIENT_TIMES = """
-- nothing to change on SQLite
"""

# Search on PostgreSQL: how many mentions hold each indexed term, kept by the index's writes, and
# each mention's id bucket (store/pg_search_counts.py). Nothing on SQLite, whose FTS5 index knows both.
V2_SEARCH_COUNTS = """
-- PostgreSQL only: search_counts and id buckets (store/pg_search_counts.py).
"""

# Mentions per common search term, so search need not count them through FTS5 (store/search_schema.py).
V2_SEARCH_COMMON = SEARCH_COMMON

MIGRATIONS: list[str] = [V1 + SEARCH_V1, V2_ACCOUNT_SESSIONS, V2_DESK, V2_LEADER, V2_REPORTS, V2_SAVED_REPLIES,
                         V2_FLOOD, V2_VIEW_COUNTS, V2_UNDO, V2_SIGNALS, V2_SAVED_VIEWS, V2_GROUP_OUTBOX,
                         V2_GROUP_ANSWERS, V2_PRIORITY, V2_REPORT_SENTIMENT,
                         V2_LENIENT_TIMES, V2_SEARCH_COUNTS, V2_SEARCH_COMMON]
SCHEMA_VERSION = len(MIGRATIONS)
