"""One registry of networks: the account loader, the renderer, the length rules and the CLI all read it."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from adapters import registry
from adapters.accounts import Account, ConfigError, load_config
from adapters.base import Adapter, Capabilities, Ingest, LimitFrom, TextRule
from adapters.rules import rule_for
from tui.render import network_short


def _account(network: str, monkeypatch: pytest.MonkeyPatch, **options: object) -> Account:
    monkeypatch.setenv("REGISTRY_TEST_SECRET", "s3cret")
    return Account(network, "@brand@example.test", "https://example.test", "REGISTRY_TEST_SECRET",
                   options=dict(options))


@pytest.mark.parametrize("name", registry.configurable())
def test_every_configurable_network_builds_an_adapter_that_declares_what_it_can_do(name, monkeypatch):
    adapter = registry.build(_account(name, monkeypatch), session=None)
    assert isinstance(adapter, Adapter) and adapter.network == name
    caps = adapter.capabilities
    assert isinstance(caps, Capabilities) and caps.counting
    assert caps.ingest in Ingest and caps.limit_from in LimitFrom
    assert adapter.text_rule.limit == registry.NETWORKS[name].rule.limit
    assert caps.limit_from is registry.NETWORKS[name].limit_from


def test_capabilities_follow_the_account(monkeypatch):
    polling = registry.build(_account("mastodon", monkeypatch, streaming=False), session=None)
    assert polling.capabilities.ingest is Ingest.POLLING
    assert registry.build(_account("mastodon", monkeypatch), session=None).capabilities.ingest is Ingest.STREAMING
    hook = registry.build(_account("webhook", monkeypatch), session=None)
    assert hook.capabilities.finds_replies is False  # no lookup_url: an uncertain reply is held
    looked = registry.build(_account("webhook", monkeypatch, outbound_url="https://bridge.test/out",
                                     outbound_secret_env="REGISTRY_TEST_SECRET", lookup_url="https://bridge.test/find"),
                             session=None)
    assert looked.capabilities.finds_replies is True


def test_check_is_part_of_the_interface(monkeypatch):
    hook = registry.build(_account("webhook", monkeypatch), session=None)
    assert asyncio.run(hook.check()) is None  # nothing to verify remotely
    assert registry.demo(60.0).network == "demo"


def test_demo_is_not_an_account_network(tmp_path):
    config = tmp_path / "accounts.toml"
    config.write_text('[[accounts]]\nnetwork = "demo"\nhandle = "x"\n')
    with pytest.raises(ConfigError, match=r"network must be one of mastodon, bluesky, webhook \(got \"demo\"\)$"):
        load_config(config)


def test_a_new_registry_entry_is_known_everywhere(monkeypatch, tmp_path):
    rule = TextRule(140, len, "140 characters")
    entry = registry.Network("chirp", "chrp", rule, "adapters.webhook.adapter", needs_server=True)
    monkeypatch.setitem(registry.NETWORKS, "chirp", entry)
    monkeypatch.setattr("adapters.accounts.NETWORKS", registry.configurable())
    assert network_short("chirp") == "chrp" and network_short("chirp:sub") == "chrp"
    assert rule_for("chirp") is rule and rule_for("chirp:sub") is rule
    config = tmp_path / "accounts.toml"
    config.write_text('[[accounts]]\nnetwork = "chirp"\nhandle = "x"\nserver = "ftp://nope"\n')
    with pytest.raises(ConfigError, match="server must be an http"):  # needs_server comes from the entry
        load_config(config)


def test_unknown_networks_fall_back_without_failing():
    assert network_short("carrierpigeon:x") == "carr"
    assert rule_for("carrierpigeon") is registry.FALLBACK.rule
    assert dataclasses.is_dataclass(registry.NETWORKS["mastodon"])
