"""The leader's ingest into PostgreSQL, headless: what it sustains at 2,000 mentions/s, and its loop lag.

bench/triage_ingest.py's run (the real IngestRunner, the store worker thread, signals in the helper
process, examples/rules.toml, the demo network at `--rate`, event-loop lag sampled every 10 ms after
a 10 s warm-up) on a desk in a throwaway PostgreSQL server (tests/pg_support.py: unix socket, fsync
off), or on `--pg URL` (e.g. a copy of a 1M desk: CREATE DATABASE ... TEMPLATE ...).

    .venv/bin/python -m bench.pg_ingest [--rate 2000] [--seconds 30] [--plain] [--pg URL]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import cast

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.triage_ingest import run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--pg", help="a PostgreSQL desk to ingest into (default: a new one on a throwaway server)")
    args = parser.parse_args()
    from tests.pg_support import start_server, stop_server

    server = start_server() if args.pg is None else None
    try:
        url = args.pg or server.fresh_database()  # type: ignore[union-attr]
        # run() opens whatever open_store takes: a URL as well as a file (a Path would fold its "//").
        print(asyncio.run(run(cast(Path, url), args.rate, args.seconds, args.plain)))
    finally:
        if server is not None:
            stop_server(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
