"""Every network the desk knows, in one table.

The CLI, the renderer, the reply-length rules and the account loader all
read this table; nothing else lists networks. Adding a network is one
folder (adapters/<name>/, with an `adapter.py` defining `from_account`)
and one entry below.

An entry is cheap to import (no aiohttp): the console reads labels and
length rules at start, and the network's module is imported only when an
adapter is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adapters.base import LimitFrom, TextRule
from adapters.textcount import bluesky_length, graphemes, mastodon_length

if TYPE_CHECKING:
    from adapters.base import Adapter


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    #: four letters for the inbox column
    short: str
    #: the reply length rule when neither a live adapter nor the server has told us better
    rule: TextRule
    #: the module whose `from_account(account, session)` builds an adapter
    module: str
    #: may be listed under [[accounts]] (the demo runs without an account)
    configurable: bool = True
    #: an account needs an http(s) `server`
    needs_server: bool = False
    #: SERVER: each server announces its limit and counting, stored per account by the leader
    limit_from: LimitFrom = LimitFrom.NETWORK
    #: what an [[accounts]] entry of this network may say beyond the common keys (anything else is a typo)
    options: tuple[str, ...] = ()

    def builder(self) -> Callable[..., Adapter]:
        return importlib.import_module(self.module).from_account


_MASTODON_RULE = TextRule(500, mastodon_length, "500 characters, links count 23")
#: the webhook listener's time limits (seconds), each an account option
WEBHOOK_SECONDS = ("commit_timeout", "header_timeout", "body_timeout", "retry_after")
#: secrets besides the account's own, each given as NAME_env or NAME_file
WEBHOOK_SECRETS = ("verify_token", "meta_secret", "outbound_secret")

NETWORKS: dict[str, Network] = {network.name: network for network in (
    Network("mastodon", "mast", _MASTODON_RULE, "adapters.mastodon.adapter", needs_server=True,
            limit_from=LimitFrom.SERVER, options=("streaming", "poll_interval", "rate")),
    Network("bluesky", "bsky", TextRule(300, bluesky_length, "300 graphemes, 3,000 bytes: 10 bytes = 1"),
            "adapters.bluesky.adapter", needs_server=True, options=("poll_interval", "backfill", "rate")),
    Network("webhook", "hook", TextRule(2200, graphemes, "2,200 characters"), "adapters.webhook.adapter",
            options=("host", "port", "max_body", "max_connections", "outbound_url", "lookup_url", "rate",
                     *WEBHOOK_SECONDS,
                     *(f"{name}_{how}" for name in WEBHOOK_SECRETS for how in ("env", "file")))),
    Network("demo", "demo", _MASTODON_RULE, "adapters.demo.adapter", configurable=False),
)}

#: what a stored network name that matches no entry is counted and shown as
FALLBACK = NETWORKS["webhook"]


def family(network: str) -> str:
    """"webhook:instagram" -> "webhook": mentions keep the bridge's name after a colon."""
    return network.split(":", 1)[0]


def find(network: str) -> Network | None:
    return NETWORKS.get(family(network))


def configurable() -> tuple[str, ...]:
    """Networks an [[accounts]] entry may name."""
    return tuple(name for name, network in NETWORKS.items() if network.configurable)


def build(account: Any, session: Any) -> Adapter:
    """The adapter for one configured account (session: an aiohttp.ClientSession); reads its secret now."""
    from adapters.budget import parse_rate

    adapter = NETWORKS[account.network].builder()(account, session)
    adapter.send_rate = parse_rate(account.options.get("rate"))  # checked when the config was read
    return adapter


def demo(rate_per_minute: float, *, flood: bool = False) -> Adapter:
    from adapters.demo.adapter import DemoAdapter

    return DemoAdapter(rate_per_minute=rate_per_minute, flood=flood)
