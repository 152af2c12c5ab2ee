"""`mentiondesk web`'s arguments: every start of the console builds the whole parser, and
tui.web.cli (passwords, TOML) is loaded only when `web` runs."""

from __future__ import annotations

import argparse

DEFAULT_PORT = 8000


def port_number(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: use a port number from 1 to 65535")
    return int(text)


def public_url(text: str) -> str:
    if not text.startswith(("https://", "http://")) or len(text) > 300 or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: use the address browsers open, e.g. https://desk.example")
    return text.rstrip("/")


def add_web_parser(sub, common: argparse.ArgumentParser, parser_class) -> None:
    web = sub.add_parser("web", parents=[common], help="serve the console to browsers (sign-in required)")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    web.add_argument("--port", type=port_number, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    web.add_argument("--public-url", type=public_url, metavar="URL",
                     help="the https:// address of the TLS proxy in front (its origin is the only one accepted)")
    # As on the console's own command line (`mentiondesk --no-demo`): every tab's console runs with them.
    web.add_argument("--no-demo", action="store_true", default=argparse.SUPPRESS, help="consoles: no demo stream")
    web.add_argument("--demo", action="store_true", default=argparse.SUPPRESS, help="consoles with the demo stream")
    web_sub = web.add_subparsers(dest="web_command", metavar="passwd", parser_class=parser_class)
    passwd = web_sub.add_parser("passwd", parents=[common], help="set an operator's web password (or --remove it)")
    passwd.add_argument("name", metavar="NAME", help="the operator who signs in")
    passwd.add_argument("--remove", action="store_true", help="remove the operator: no more sign-in")
