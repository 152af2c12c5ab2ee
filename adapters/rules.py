"""Each network's reply length rule, known without a live connection.

A console that is not running an adapter for a network (another process
ingests, or the mention came from an import) still counts characters the
network's way. A live adapter's own rule (e.g. an instance's configured
limit) takes precedence.
"""

from __future__ import annotations

from adapters.base import TextRule
from adapters.textcount import bluesky_length, graphemes, mastodon_length

DEFAULT_RULES: dict[str, TextRule] = {
    "mastodon": TextRule(500, mastodon_length, "500 characters, links count 23"),
    "bluesky": TextRule(300, bluesky_length, "300 graphemes, 3,000 bytes: 10 bytes = 1"),
    "demo": TextRule(500, mastodon_length, "500 characters, links count 23"),
    "webhook": TextRule(2200, graphemes, "2,200 characters"),
}


def rule_for(network: str, live: dict[str, TextRule] | None = None) -> TextRule:
    family = network.split(":", 1)[0]
    if live:
        for key in (network, family):
            if key in live:
                return live[key]
    return DEFAULT_RULES.get(family, DEFAULT_RULES["webhook"])
