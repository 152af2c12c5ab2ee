"""Each network's reply length rule, known without a live connection.

A console that is not running an adapter for a network (another process
ingests, or the mention came from an import) still counts characters the
network's way. For Mastodon-API accounts the leader stores the server's own
limit and counting rule (store.account_settings); with it a reply is
counted exactly as that server will, including the `@author ` the adapter
puts in front. Without it, a live adapter's rule, then the defaults below.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters import registry
from adapters.base import LimitFrom, TextRule
from adapters.textcount import count_as
from store.account_settings import ReplyTarget, TextLimits, reply_target, reply_targets
from store.db import Store

_COUNTING_WORDS = {
    "mastodon": "links count {weight}, mention domains free",
    "codepoints": "links and mentions count in full",
    "full_mentions": "links and mentions count in full, with their domain",
    "graphemes": "links and mentions count in full",
}


def rule_for(network: str, live: dict[str, TextRule] | None = None) -> TextRule:
    if live:
        for key in (network, registry.family(network)):
            if key in live:
                return live[key]
    return (registry.find(network) or registry.FALLBACK).rule


def limits_description(limits: TextLimits) -> str:
    words = _COUNTING_WORDS.get(limits.counting, "").format(weight=limits.url_weight)
    server = f" on {limits.software}" if limits.software else ""
    return f"{limits.limit} characters{server}, {words}"


def stored_rule(limits: TextLimits, acct: str | None = None) -> TextRule:
    """The server's rule; with `acct`, counting the `@acct ` the adapter adds when the text lacks it."""
    from adapters.mastodon.parse import with_author_mention  # yarl: not at console start

    def count(text: str) -> int:
        sent = with_author_mention(text.strip(), acct, limits.domain) if acct else text
        return count_as(sent, limits.counting, url_weight=limits.url_weight, domain=limits.domain)

    added = f" (with @{acct} added)" if acct else ""
    return TextRule(limits.limit, count, limits_description(limits) + added)


def target_rule(target: ReplyTarget, live: dict[str, TextRule] | None = None) -> TextRule:
    known = registry.find(target.network)
    if target.limits is not None and known is not None and known.limit_from is LimitFrom.SERVER:
        acct = target.reply_ref.get("acct")
        return stored_rule(target.limits, acct.strip().lstrip("@") if isinstance(acct, str) and acct.strip() else None)
    return rule_for(target.network, live)


def over_limit(store: Store, texts: Mapping[int, str]) -> dict[int, int]:
    """For each mention id, how many characters its reply text is over the limit (0 or less: it fits).

    One query for all the mentions, one rule per network, server rule and added @acct.
    """
    targets = reply_targets(store, list(texts))
    rules: dict[tuple, TextRule] = {}
    over: dict[int, int] = {}
    for mention_id, text in texts.items():
        target = targets.get(mention_id)
        if target is None:
            continue
        acct = target.reply_ref.get("acct")
        key = (target.network, target.limits, acct if isinstance(acct, str) else None)
        rule = rules.get(key)
        if rule is None:
            rule = rules[key] = target_rule(target)
        over[mention_id] = -rule.remaining(text)
    return over


def rule_for_mention(store: Store, mention_id: int, live: dict[str, TextRule] | None = None) -> TextRule | None:
    """The rule a reply to this mention is counted by; None when there is no such mention."""
    target = reply_target(store, mention_id)
    return None if target is None else target_rule(target, live)
