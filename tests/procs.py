"""Separate processes on one database file, for the shared-desk tests.

The test side: spawn the real `mentiondesk` command (`python -m tui`) and
this module's workers (`python -m tests.procs KIND ...`), read the file
through a fresh connection, and wait for a condition with a deadline.

The worker side (`main`): small programs that act on the store the way a
second operator's process would, and report what they did on stdout or in
their own log file, so the test can check the database against it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")

# Unprivileged identity for tests that need permissions to bite when run as root.
NOBODY = 65534


# -- the test side ---------------------------------------------------------------------------------

def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh operator: no inherited MENTIONDESK_*, private XDG dirs."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MENTIONDESK_")}
    env.update(PYTHONIOENCODING="utf-8", PYTHONUTF8="1", PYTHONPATH=str(ROOT),
               XDG_DATA_HOME=str(home / "xdg-data"), XDG_CONFIG_HOME=str(home / "xdg-config"))
    env.update(extra)
    return env


def cli_command(db: Path | str, *args: str, operator: str | None = None, before: Sequence[str] = ()) -> list[str]:
    """`mentiondesk [before...] args... --db DB [--operator OP]` (options after the subcommand)."""
    command = [sys.executable, "-m", "tui", *before, *args, "--db", str(db)]
    if operator is not None:
        command += ["--operator", operator]
    return command


def worker_command(kind: str, *args: Any) -> list[str]:
    return [sys.executable, "-m", "tests.procs", kind, *(str(a) for a in args)]


def run(command: list[str], home: Path, *, timeout: float = 30, **popen: Any) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8", env=clean_env(home),
                          cwd=home, timeout=timeout, **popen)


def run_cli(home: Path, db: Path | str, *args: str, operator: str | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess:
    return run(cli_command(db, *args, operator=operator), home, timeout=timeout)


def run_worker(home: Path, kind: str, *args: Any, timeout: float = 30) -> Any:
    """Run a worker to completion and return the JSON it printed (failing loudly otherwise)."""
    result = run(worker_command(kind, *args), home, timeout=timeout)
    assert result.returncode == 0, f"{kind} {args}: exit {result.returncode}\n{result.stderr}"
    return json.loads(result.stdout)


def run_all(commands: list[list[str]], home: Path, *, timeout: float = 60) -> list[subprocess.CompletedProcess]:
    """Start every command at once (one writer each), wait for all of them."""
    env = clean_env(home)
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                              env=env, cwd=home) for c in commands]
    results = []
    for command, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=timeout)
        results.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return results


def start(command: list[str], home: Path, log: Path, *, err: Path | None = None, **env: str) -> subprocess.Popen:
    """A long-running process writing to files (a full pipe would block it): stdout to `log`,
    stderr to `err`, or to `log` too."""
    out = log.open("w", encoding="utf-8")
    errors = err.open("w", encoding="utf-8") if err is not None else None
    try:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT if errors is None else errors,
                                env=clean_env(home, **env), cwd=home, text=True)
    finally:
        out.close()  # the child holds its own copies
        if errors is not None:
            errors.close()


def start_serve(home: Path, db: Path | str, log: Path, *, rate: float, ttl: float) -> subprocess.Popen:
    return start(cli_command(db, "serve", before=("--demo-rate", f"{rate:g}")), home, log,
                 MENTIONDESK_LEASE_TTL=f"{ttl:g}")


def query(db: Path | str, sql: str, *params: Any) -> list[tuple]:
    """Read through a short-lived connection of our own.

    It shares this process's view of the file (SQLite pools a process's locks and WAL index
    per file); to see what *another* process sees, use the `sql` worker instead.
    """
    if str(db).startswith("postgresql://"):
        from store.db import open_store

        store = open_store(str(db))
        try:
            return store.conn.execute(sql, params).fetchall()
        finally:
            store.close()
    conn = sqlite3.connect(str(db), timeout=5)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def wait_for(condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.02) -> T:
    """Poll `condition` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


def _schema_ready(db: Path | str) -> bool:
    """Whether some process has created and migrated the file yet (never creating it ourselves)."""
    if str(db).startswith("postgresql://"):
        return True  # the tests' server desks are made migrated (tests/conftest.py)
    if not Path(db).exists():
        return False
    return bool(query(db, "SELECT 1 FROM sqlite_master WHERE name = 'leases'"))


def lease(db: Path | str) -> tuple[str, str] | None:
    """(holder, expires_at) of the ingest lease row, live or not; None once released (no holder)."""
    if not _schema_ready(db):
        return None
    rows = query(db, "SELECT holder, expires_at FROM leases WHERE name = 'ingest' AND holder != ''")
    return rows[0] if rows else None


def holder_pid(holder: str) -> int:
    return int(holder.rsplit(":", 1)[1])


def demo_seqs(db: Path | str) -> list[int]:
    """Sequence numbers of stored demo posts, ascending (answers to the brand included)."""
    if not _schema_ready(db):
        return []
    rows = query(db, "SELECT remote_id FROM mentions WHERE network = 'demo' AND remote_id LIKE 'demo:%'")
    return sorted(int(remote_id.split(":", 1)[1]) for (remote_id,) in rows)


@dataclass(frozen=True)
class Runner:
    """Runs Python processes as a given user (None: as ourselves) with this project importable."""

    python: str
    user: int | None
    path: str

    def run(self, args: Sequence[str], home: Path, *, timeout: float = 30) -> subprocess.CompletedProcess:
        env = clean_env(home, PYTHONPATH=self.path, PYTHONDONTWRITEBYTECODE="1", HOME=str(home))
        # user/group/extra_groups None (subprocess's defaults): run as ourselves.
        return subprocess.run([self.python, *args], capture_output=True, text=True, encoding="utf-8", env=env,
                              cwd=home, timeout=timeout, user=self.user, group=self.user,
                              extra_groups=None if self.user is None else [])

    def can_read(self, path: Path, home: Path) -> bool:
        probe = self.run(["-c", "import os, sys; sys.exit(0 if os.access(sys.argv[1], os.R_OK) else 1)",
                          str(path)], home)
        return probe.returncode == 0


@functools.cache
def permission_runner() -> Runner | None:
    """Someone for whom a chmod 000 file is unreadable: ourselves, or (as root, who reads
    anything) the unprivileged user with an interpreter that user can execute; None if none."""
    if os.geteuid() != 0:
        return Runner(sys.executable, None, str(ROOT))
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    site = os.pathsep.join(dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib")))
    candidates = [sys.executable, os.path.realpath(sys.executable), getattr(sys, "_base_executable", ""),
                  shutil.which(f"python{version}") or "", f"/usr/bin/python{version}",
                  f"/usr/local/bin/python{version}"]
    check = (f"import sys; assert sys.version_info[:2] == {tuple(sys.version_info[:2])}; "
             "import textual, aiohttp, sqlite_utils, rapidfuzz, regex, platformdirs, tui.cli")
    pythons = list(dict.fromkeys(c for c in candidates if c and os.path.exists(c)))
    paths = os.pathsep.join((site, str(ROOT)))
    for attempt in range(2):
        for python in pythons:
            runner = Runner(python, NOBODY, paths)
            try:
                if runner.run(["-c", check], Path("/"), timeout=30).returncode == 0:
                    return runner
            except (OSError, subprocess.SubprocessError):
                continue  # this one is not executable for that user
        if attempt == 0:
            # A checkout in a private folder (CI's clone, a mktemp dir): the user cannot reach the
            # project or its venv there, so give it a copy it can read, hard-linked where possible.
            paths = _readable_copy([*site.split(os.pathsep), str(ROOT)])
    return None


def _readable_copy(folders: list[str]) -> str:
    """Copies of `folders` under a new world-readable temporary folder, as a PYTHONPATH."""
    import atexit
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="mentiondesk-readable-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    base.chmod(0o755)
    copies = []
    for index, folder in enumerate(folders):
        target = base / str(index)

        def link_or_copy(src: str, dst: str) -> str:
            try:
                os.link(src, dst)
            except OSError:  # another filesystem
                shutil.copy2(src, dst)
            return dst

        ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.db", "*.db-*")
        shutil.copytree(folder, target, copy_function=link_or_copy, ignore=ignore, symlinks=True)
        for directory, _, _ in os.walk(target):
            os.chmod(directory, 0o755)
        copies.append(str(target))
    return os.pathsep.join(copies)


# -- the worker side -----------------------------------------------------------------------------------

def _open(db: str):
    from store.db import open_store

    return open_store(db)


def _desk(db: str, operator: str, action: str, mention_id: str) -> dict:
    """claim / take / release / active on one mention, as another operator's process."""
    from store import desk

    store = _open(db)
    try:
        if action == "claim":
            other = desk.claim(store, int(mention_id), operator)
        elif action == "take":
            desk.take_claim(store, int(mention_id), operator)
            other = None
        elif action == "release":
            desk.release_claim(store, int(mention_id), operator)
            other = None
        elif action == "active":
            other = desk.active_claim(store, int(mention_id))
        else:
            raise SystemExit(f"unknown desk action {action}")
        return {"claim": None if other is None else {"operator": other.operator, "at": other.at,
                                                     "expires_at": other.expires_at}}
    finally:
        store.close()


def _ingest(db: str, first: str, count: str) -> dict:
    """A batch of demo-shaped mentions from another process (an adapter elsewhere)."""
    from store.ingest import save_batch
    from tests.tui_support import mention

    store = _open(db)
    try:
        batch = [mention(i) for i in range(int(first), int(first) + int(count))]
        return {"new_ids": save_batch(store, "demo:@brightloop", batch, None)}
    finally:
        store.close()


def _settle(db: str, spec: str) -> dict:
    """Play the sender: claim every due reply, then record the states asked for.

    `spec` is JSON {reply_id: "sent" | "failed"}; any other claimed reply goes
    back to pending (an hour from now), so its state stays what it was.
    """
    from store.outbox import claim_due, mark_failed, mark_sent, schedule_retry

    wanted = {int(key): state for key, state in json.loads(spec).items()}
    store = _open(db)
    done: dict[str, str] = {}
    try:
        for reply in claim_due(store, None, limit=1000):
            state = wanted.get(reply.id)
            if state == "sent":
                mark_sent(store, reply, f"demo:reply:{reply.key}", None)
            elif state == "failed":
                mark_failed(store, reply, "demo.social said no")
            else:
                schedule_retry(store, reply, 3600, "held back by the test", uncertain=False)
                state = "pending"
            done[str(reply.id)] = state
        return {"settled": done}
    finally:
        store.close()


def _sql(db: str, sql: str) -> dict:
    """What a process with no other connection to the file reads."""
    conn = sqlite3.connect(db, timeout=5)
    try:
        return {"rows": conn.execute(sql).fetchall()}
    finally:
        conn.close()


def _lock(db: str, seconds: str, ready: str) -> dict:
    """Hold the database's write lock (BEGIN IMMEDIATE) for `seconds`: a stalled writer elsewhere."""
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        Path(ready).touch()
        time.sleep(float(seconds))  # the fault itself: the lock held this long
        conn.execute("COMMIT")
        return {"held": float(seconds)}
    finally:
        conn.close()


def _ready_then_go(out: Path, name: str) -> None:
    """Say `name` is ready, then wait for the test's "go" (a barrier across processes)."""
    (out / f"{name}.ready").touch()
    deadline = time.monotonic() + 60
    while not (out / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("never told to go")
        time.sleep(0.005)


def _writer(db: str, operator: str, index: str, writers: str, seconds: str, outdir: str, seed: str) -> dict:
    """Hammer the shared file with operator actions for `seconds`, logging each one that committed.

    Each log line is [event action, mention id] for an action whose own
    transaction logged that event. Tags are toggled only on this writer's
    share of the ids (id % writers == index): a toggle reads outside its
    transaction, so on shared rows whether it logged an event depends on
    the other writers. Status, assignment, notes and replies hit any row.
    """
    from store import actions, desk

    index_n, writers_n = int(index), int(writers)
    out = Path(outdir)
    rng = random.Random(int(seed))
    store = _open(db)
    tags_on: set[tuple[int, str]] = set()
    done = 0
    with (out / f"{operator}.jsonl").open("w", encoding="utf-8") as log:
        _ready_then_go(out, operator)  # start together, so the writers really overlap
        end = time.monotonic() + float(seconds)
        while time.monotonic() < end:
            top = store.conn.execute("SELECT coalesce(max(id), 0) FROM mentions").fetchone()[0]
            if top < writers_n:
                time.sleep(0.01)
                continue
            kind = rng.choice(("tag", "tag", "status", "note", "reply", "assign"))
            target = rng.randint(1, top)
            entry: str | None
            if kind == "tag":
                own = range(index_n or writers_n, top + 1, writers_n)
                target = own[rng.randrange(len(own))]
                tag = rng.choice(actions.TAGS)
                now_on = actions.toggle_tag(store, target, tag, operator)
                (tags_on.add if now_on else tags_on.discard)((target, tag))
                entry = "tag.add" if now_on else "tag.remove"
            elif kind == "status":
                status = rng.choice(actions.STATUSES)
                entry = f"status.{status}" if actions.set_status(store, target, status, operator) else None
            elif kind == "note":
                desk.add_note(store, target, f"{operator} looked at #{target} ({done})", operator)
                entry = "note.add"
            elif kind == "reply":
                actions.queue_reply(store, target, f"Thanks, {operator} here, on it ({done})", operator)
                entry = "reply.queue"
            else:
                assignee = rng.choice((None, "alice", "bob", operator))
                changed = desk.assign(store, target, assignee, operator, allow_new=True)
                entry = ("assign" if assignee else "unassign") if changed else None
            if entry:
                log.write(json.dumps([entry, target]) + "\n")
                log.flush()
                done += 1
    store.close()
    return {"operator": operator, "actions": done, "tags_on": sorted(tags_on)}


async def _console_unreadable(db: str) -> dict:
    """A running console whose file turns unreadable: every error must be a notification."""
    from store.worker import StoreWorker
    from tests.tui_support import wait_until
    from tui.app import ConsoleApp
    from tui.screens.main import MainScreen

    app = ConsoleApp(db, operator="carol", poll_interval=0.1)
    seen: list[str] = []
    notify = app.notify

    def recording(message, **kwargs):
        seen.append(str(message))
        return notify(message, **kwargs)

    # A spy on this one instance (a subclass would move CSS_PATH's base to tests/); no pytest here to monkeypatch.
    app.notify = recording  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_until(pilot, lambda: len(screen.inbox.ids) > 0 and screen.inbox.row(screen.inbox.ids[0]) is not None)
        os.chmod(db, 0)
        # Connections already open keep working; one opened from now on meets the locked file.
        # Which of the console's threads opens late is a detail of its start-up, so make it the
        # search thread's: a fresh worker, as after a reconnect.
        stale, app.shift.searcher = app.shift.searcher, StoreWorker(db, name="search")
        stale.close()
        await pilot.press("slash", *"refund")
        deadline = time.monotonic() + 3
        while not seen and app.return_code is None and time.monotonic() < deadline:
            await pilot.pause(0.05)
        running = app.is_running
    return {"notifications": seen, "running": running, "return_code": app.return_code}


async def _console_read_only(db: str) -> dict:
    """A console on a desk it may not write (the -wal left 0644 by another operator): keys, no crash."""
    from tests.tui_support import wait_until
    from tui.app import ConsoleApp
    from tui.screens.main import MainScreen

    app = ConsoleApp(db, operator="carol", poll_interval=0.1)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        banner = app.screen.query_one("#banner")
        await wait_until(pilot, lambda: banner.display)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_until(pilot, lambda: len(screen.inbox.ids) > 0)  # it reads the desk read-only
        rows = len(screen.inbox.ids)
        await pilot.press("j", "c", "slash", *"refund", "escape", "2")
        await pilot.pause()
        return {"banner": str(banner.render()), "running": app.is_running, "rows": rows}


def _guarded_reply(db: str, operator: str, mention_id: str, since: str, outdir: str) -> dict:
    """Send a reply whose composer opened at reply id `since`, all at once with the others."""
    from store import actions

    out = Path(outdir)
    store = _open(db)
    try:
        _ready_then_go(out, operator)  # start together, so the transactions really race
        try:
            actions.queue_reply(store, int(mention_id), f"{operator} here", operator,
                                guard=actions.ReplyGuard(since_reply=int(since)))
            return {"outcome": "queued"}
        except actions.AlreadyAnswered as exc:
            return {"outcome": f"answered by {exc.answers[0].operator}"}
    finally:
        store.close()


async def _console_claim(db: str, operator: str, ttl: str, renew: str) -> dict:
    """A console with the composer open, holding a claim (with a short ttl) until it is killed."""
    from datetime import timedelta

    from tests.tui_support import wait_until
    from tui.app import ConsoleApp
    from tui.screens.main import MainScreen
    from tui.widgets.composer import ReplyComposer

    ReplyComposer.claim_ttl = timedelta(seconds=float(ttl))
    ReplyComposer.claim_renew = float(renew)
    app = ConsoleApp(db, operator=operator, poll_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_until(pilot, lambda: len(screen.inbox.ids) > 0 and screen.inbox.row(screen.inbox.ids[0]) is not None)
        await pilot.press("r", *"typing")
        while app.is_running:  # until the test kills this process
            await pilot.pause(0.05)
    return {"return_code": app.return_code}


async def _console_editor_draft(db: str, operator: str) -> dict:
    """A console that writes a reply in $VISUAL (the test's fake editor), then idles until killed."""
    from tests.tui_support import wait_until
    from tui.app import ConsoleApp
    from tui.screens.main import MainScreen

    app = ConsoleApp(db, operator=operator, poll_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_until(pilot, lambda: len(screen.inbox.ids) > 0 and screen.inbox.row(screen.inbox.ids[0]) is not None)
        await pilot.press("r")
        await wait_until(pilot, lambda: screen.composer.is_open)
        await pilot.press("ctrl+g")
        while app.is_running:  # until the test kills this process
            await pilot.pause(0.05)
    return {"return_code": app.return_code}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    kind, rest = args[0], args[1:]
    if kind == "desk":
        result = _desk(*rest)
    elif kind == "ingest":
        result = _ingest(*rest)
    elif kind == "sql":
        result = _sql(*rest)
    elif kind == "settle":
        result = _settle(*rest)
    elif kind == "lock":
        result = _lock(*rest)
    elif kind == "writer":
        result = _writer(*rest)
    elif kind == "guarded-reply":
        result = _guarded_reply(*rest)
    elif kind == "console-claim":
        result = asyncio.run(_console_claim(*rest))
    elif kind == "console-editor-draft":
        result = asyncio.run(_console_editor_draft(*rest))
    elif kind == "console-unreadable":
        result = asyncio.run(_console_unreadable(*rest))
    elif kind == "console-read-only":
        result = asyncio.run(_console_read_only(*rest))
    else:
        print(f"unknown worker {kind}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
