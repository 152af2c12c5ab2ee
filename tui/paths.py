"""Where things live by default; environment variables point every shift at one file."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import platformdirs

APP = "mentiondesk"


DEFAULT_DB = "mentiondesk.db"
DEMO_DB = "demo.db"  # the demo's made-up mentions never mix with a real desk's


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP))


def default_db_path() -> Path:
    if env := os.environ.get("MENTIONDESK_DB"):
        return Path(env).expanduser()
    return data_dir() / DEFAULT_DB


def demo_db_path() -> Path:
    return data_dir() / DEMO_DB


def default_config_path() -> Path:
    if env := os.environ.get("MENTIONDESK_CONFIG"):
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def default_operator() -> str:
    if env := os.environ.get("MENTIONDESK_OPERATOR"):
        return env
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "operator"
