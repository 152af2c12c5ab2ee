"""`mentiondesk accounts [check]`: what is configured, and whether it works."""

from __future__ import annotations

import asyncio

import aiohttp

from adapters import registry
from adapters.http import USER_AGENT
from store.db import Store
from store.pacing import answers_waiting, describe_eta, describe_pace, get_pace, pacing_eta
from store.sanitize import clean_line
from store.source_status import source_statuses
from tui.settings import Settings


def list_accounts(settings: Settings, store: Store) -> int:
    if not settings.accounts:
        print(f"no accounts configured in {settings.config_path}; the demo stream is the default")
        return 0
    statuses = {status.source: status for status in source_statuses(store)}
    for account in settings.accounts:
        where = f"env {account.secret_env}" if account.secret_env else f"file {account.secret_file}"
        status = statuses.get(account.label)
        # Stored states quote servers' errors; a desk file from an older version holds them raw.
        if status:
            detail = clean_line(status.detail, 300)
            reason = f": {detail}" if detail else ""
            state = f"{clean_line(status.state)}{reason} (at {clean_line(status.updated_at)})"
        else:
            state = "never connected"
        server = f" {account.server}" if account.server else ""
        print(f"{account.label}{server}  secret from {where}  last state: {state}")
        pace = get_pace(store, account.label)
        if pace is not None:
            print(f"  sending pace: {clean_line(describe_pace(pace, store.clock()), 300)}")
    for answer_id in answers_waiting(store):
        print(clean_line(describe_eta(pacing_eta(store, answer_id), answer_id), 300))
    return 0


async def _check_all(settings: Settings) -> int:
    failures = 0
    timeout = aiohttp.ClientTimeout(total=30, connect=10)
    async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": USER_AGENT}) as session:
        for account in settings.accounts:
            try:
                described = await registry.build(account, session).check()
                if described is None:
                    print(f"{account.label}: ok (configuration valid; nothing to verify remotely)")
                    continue
                print(f"{account.label}: {clean_line(described, 500)}")  # it describes the remote account
            except Exception as exc:  # AuthError and friends carry a precise, token-free message
                failures += 1
                print(f"{account.label}: FAILED: {clean_line(exc, 500)}")
    return 1 if failures else 0


def check_accounts(settings: Settings) -> int:
    if not settings.accounts:
        print(f"no accounts configured in {settings.config_path}")
        return 0
    return asyncio.run(_check_all(settings))
