"""What a matching rule would change on a mention, and the priority and reply suggestion it sets.

What a rule would change (the dry run), and the priority and suggested reply
that rules set (an operator's `priority` verb too); at ingest the rules'
actions on a whole batch are written together (store.rules_batch).
"""

from __future__ import annotations

from dataclasses import dataclass

from store.db import Store
from store.events import log_event
from store.rules_file import Rule


@dataclass(frozen=True, slots=True)
class Triaged:
    """What rules may change on a mention, as stored."""

    tags: frozenset[str]
    assignee: str | None
    status: str
    priority: str | None
    suggested: str | None


def current_state(store: Store, mention_id: int) -> Triaged:
    tags = frozenset(row[0] for row in store.conn.execute("SELECT tag FROM tags WHERE mention_id = ?",
                                                          (mention_id,)))
    row = store.conn.execute("SELECT operator FROM assignments WHERE mention_id = ?", (mention_id,)).fetchone()
    status, priority, suggested = store.conn.execute(
        "SELECT status, priority, suggested_reply FROM mentions WHERE id = ?", (mention_id,)).fetchone()
    return Triaged(tags, row[0] if row else None, status, priority, suggested)


def planned_changes(store: Store, rule: Rule, mention_id: int) -> list[str]:
    """What the rule would change on this mention now (nothing is written): the dry run's count."""
    now = current_state(store, mention_id)
    tags, assignee, status, priority, suggested = now.tags, now.assignee, now.status, now.priority, now.suggested
    changes = [f"tag {tag}" for tag in rule.tags if tag not in tags]
    if rule.assign and rule.assign != assignee:
        changes.append(f"assign {rule.assign}")
    if rule.priority and rule.priority != priority:
        changes.append(f"priority {rule.priority}")
    if rule.done and status != "done":
        changes.append("done")
    if rule.note and not store.conn.execute(
            "SELECT 1 FROM notes WHERE mention_id = ? AND operator = ? AND text = ?",
            (mention_id, rule.operator, rule.note)).fetchone():
        changes.append("note")  # the rule's note is there already once it ran
    if rule.suggest and rule.suggest != suggested:
        changes.append(f"suggest {rule.suggest}")
    return changes


def set_priority(store: Store, mention_id: int, priority: str | None, operator: str) -> bool:
    """Set (None: clear) a mention's priority; logged as priority.set."""
    with store.write():
        changed = store.conn.execute(
            "UPDATE mentions SET priority = ? WHERE id = ? AND priority IS NOT ?", (priority, mention_id, priority)
        ).rowcount
        if changed:
            log_event(store, operator, "priority.set", mention_id, priority=priority)
    return bool(changed)


def suggest_reply(store: Store, mention_id: int, name: str | None, operator: str) -> bool:
    """Suggest a saved reply by its name (linked to the saved replies once they exist); logged as reply.suggest."""
    with store.write():
        changed = store.conn.execute(
            "UPDATE mentions SET suggested_reply = ? WHERE id = ? AND suggested_reply IS NOT ?",
            (name, mention_id, name),
        ).rowcount
        if changed:
            log_event(store, operator, "reply.suggest", mention_id, name=name)
    return bool(changed)
