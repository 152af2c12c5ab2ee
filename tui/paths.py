"""Where things live when no setting says otherwise (tui/settings.py layers the rest on top)."""

from __future__ import annotations

import getpass
from pathlib import Path

import platformdirs

APP = "mentiondesk"


DEFAULT_DB = "mentiondesk.db"
DEMO_DB = "demo.db"  # the demo's made-up mentions never mix with a real desk's


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP))


def platform_db_path() -> Path:
    return data_dir() / DEFAULT_DB


def demo_db_path() -> Path:
    return data_dir() / DEMO_DB


def platform_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def default_operator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "operator"
