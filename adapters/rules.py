"""Each network's reply length rule, known without a live connection.

A console that is not running an adapter for a network (another process
ingests, or the mention came from an import) still counts characters the
network's way. For Mastodon-API accounts the leader stores the server's own
limit and counting rule (store.account_settings); with it a reply is
counted exactly as that server will, including the `@author ` the adapter
puts in front. Without it, a live adapter's rule, then the defaults below.
"""

from __future__ import annotations

from adapters.base import TextRule
from adapters.textcount import bluesky_length, count_as, graphemes, mastodon_length
from store.account_settings import ReplyTarget, TextLimits, reply_target
from store.db import Store

DEFAULT_RULES: dict[str, TextRule] = {
    "mastodon": TextRule(500, mastodon_length, "500 characters, links count 23"),
    "bluesky": TextRule(300, bluesky_length, "300 graphemes, 3,000 bytes: 10 bytes = 1"),
    "demo": TextRule(500, mastodon_length, "500 characters, links count 23"),
    "webhook": TextRule(2200, graphemes, "2,200 characters"),
}

_COUNTING_WORDS = {
    "mastodon": "links count {weight}, mention domains free",
    "codepoints": "links and mentions count in full",
    "full_mentions": "links and mentions count in full, with their domain",
    "graphemes": "links and mentions count in full",
}


def rule_for(network: str, live: dict[str, TextRule] | None = None) -> TextRule:
    family = network.split(":", 1)[0]
    if live:
        for key in (network, family):
            if key in live:
                return live[key]
    return DEFAULT_RULES.get(family, DEFAULT_RULES["webhook"])


def limits_description(limits: TextLimits) -> str:
    words = _COUNTING_WORDS.get(limits.counting, "").format(weight=limits.url_weight)
    server = f" on {limits.software}" if limits.software else ""
    return f"{limits.limit} characters{server}, {words}"


def stored_rule(limits: TextLimits, acct: str | None = None) -> TextRule:
    """The server's rule; with `acct`, counting the `@acct ` the adapter adds when the text lacks it."""
    from adapters.mastodon_parse import with_author_mention  # yarl: not at console start

    def count(text: str) -> int:
        sent = with_author_mention(text.strip(), acct, limits.domain) if acct else text
        return count_as(sent, limits.counting, url_weight=limits.url_weight, domain=limits.domain)

    added = f" (with @{acct} added)" if acct else ""
    return TextRule(limits.limit, count, limits_description(limits) + added)


def target_rule(target: ReplyTarget, live: dict[str, TextRule] | None = None) -> TextRule:
    if target.limits is not None and target.network.split(":", 1)[0] == "mastodon":
        acct = target.reply_ref.get("acct")
        return stored_rule(target.limits, acct.strip().lstrip("@") if isinstance(acct, str) and acct.strip() else None)
    return rule_for(target.network, live)


def rule_for_mention(store: Store, mention_id: int, live: dict[str, TextRule] | None = None) -> TextRule | None:
    """The rule a reply to this mention is counted by; None when there is no such mention."""
    target = reply_target(store, mention_id)
    return None if target is None else target_rule(target, live)
