"""The desk's one SLA policy: set by `mentiondesk sla set` (logged: who and when), seeded by a config.

The targets live in `sla_targets`, which the Priority view's order is computed
from; the Priority clocks, reports and handover read them from there too, so
every console on a desk sees the same due times. A console's (or the CLI's)
config [sla] only seeds a desk that has none; a config that differs is told
so and changes nothing, where every console used to copy its own targets in
as it started and two operators took turns re-keying the view.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from store.db import Store, StoreError
from store.errors import ActionError
from store.events import log_event
from store.priority import rekey, store_targets
from store.sla import SlaPolicy

SET_ACTION = "sla.set"
# A seed is logged as "config:ana", not "ana": it is no action of hers (the handover's "since you were
# here" reads her last event), as a rule's changes are logged as "rule:NAME".
SEED_PREFIX = "config:"


@dataclass(frozen=True, slots=True)
class DeskSla:
    """The desk's policy and who set it when (None: before the desk kept who did, or never set)."""

    policy: SlaPolicy
    set_by: str | None = None
    set_at: str | None = None
    seeded: bool = False  # it came from a console's config, not `sla set`


@dataclass(frozen=True, slots=True)
class Seeded:
    """What a console (or a CLI verb) goes by: the desk's policy, and whether its own config differs."""

    desk: DeskSla
    config_differs: bool

    def notice(self) -> str:
        """The one line for an operator whose config [sla] is not the desk's ('' when they agree)."""
        if not self.config_differs:
            return ""
        return (f"this desk's SLA is {describe(self.desk.policy) or 'none'}; your config's [sla] differs "
                "and is not used (`mentiondesk sla set` changes the desk's)")


def stored_policy(store: Store) -> SlaPolicy:
    by_tag, by_network, default = {}, {}, None
    for kind, name, seconds in store.conn.execute("SELECT kind, name, seconds FROM sla_targets"):
        if kind == "tag":
            by_tag[name] = float(seconds)
        elif kind == "network":
            by_network[name] = float(seconds)
        else:
            default = float(seconds)
    return SlaPolicy(by_tag, by_network, default)


def desk_sla(store: Store) -> DeskSla | None:
    """The desk's policy, or None when it has none yet."""
    policy = stored_policy(store)
    if not policy:
        return None
    row = store.conn.execute("SELECT operator, at, detail FROM events WHERE action = ? AND mention_id IS NULL "
                             "ORDER BY id DESC LIMIT 1", (SET_ACTION,)).fetchone()
    if row is None:
        return DeskSla(policy)
    seeded = bool(json.loads(row[2] or "{}").get("seeded"))
    return DeskSla(policy, row[0].removeprefix(SEED_PREFIX) if seeded else row[0], row[1], seeded)


def set_desk_sla(store: Store, policy: SlaPolicy, operator: str) -> int:
    """Make `policy` the desk's (logged as sla.set); returns how many open mentions were re-keyed."""
    if not policy:
        raise ActionError("an SLA needs at least one target, e.g. `sla set care 1h marketing 4h default 8h`")
    with store.write():
        log_event(store, operator, SET_ACTION, None, targets=as_table(policy), seeded=False)
        changed = store_targets(store, policy)
    return rekey(store) if changed else 0


def seed_desk_sla(store: Store, config: SlaPolicy, operator: str) -> Seeded:
    """The desk's policy; a desk with none takes `config`'s (when it has targets), logged as seeded."""
    try:
        with store.write():  # the check and the seed in one transaction: two consoles starting at once
            desk = desk_sla(store)
            if desk is None and config:
                log_event(store, SEED_PREFIX + operator, SET_ACTION, None, targets=as_table(config), seeded=True)
                store_targets(store, config)
    except sqlite3.IntegrityError:  # PostgreSQL: the other console's seed committed first
        desk = desk_sla(store)
    if desk is None:
        if config:
            rekey(store)
            desk = desk_sla(store)
        return Seeded(desk or DeskSla(SlaPolicy()), False)
    return Seeded(desk, _differs(config, desk.policy))


def read_desk_sla(store: Store, config: SlaPolicy, operator: str) -> Seeded:
    """`seed_desk_sla` where the desk may be written; on a desk this user may only read, what it holds
    (still none: the config's, for this reader only)."""
    try:
        return seed_desk_sla(store, config, operator)
    except (sqlite3.Error, StoreError):
        desk = desk_sla(store)
        if desk is None:
            return Seeded(DeskSla(config), False)
        return Seeded(desk, _differs(config, desk.policy))


def _differs(config: SlaPolicy, desk: SlaPolicy) -> bool:
    return bool(config) and as_table(config) != as_table(desk)


def as_table(policy: SlaPolicy) -> dict[str, int]:
    """tag, network and `default` -> whole seconds (as `[sla]` and `sla set` name them)."""
    table = {name: round(seconds) for name, seconds in {**policy.by_network, **policy.by_tag}.items()}
    if policy.default is not None:
        table["default"] = round(policy.default)
    return dict(sorted(table.items()))


def describe(policy: SlaPolicy) -> str:
    """care 1h, marketing 4h, default 8h: exact (90m stays 90m)."""
    table = as_table(policy)
    default = table.pop("default", None)
    parts = [f"{name} {exact_span(seconds)}" for name, seconds in table.items()]
    return ", ".join(parts + ([f"default {exact_span(default)}"] if default is not None else []))


def exact_span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
