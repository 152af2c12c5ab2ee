"""The desk's files: private by default, shared through a group folder between real Unix accounts.

Modes are checked with os.stat; who may write is checked by real processes
running as two unprivileged operators (uids without passwd entries) who share
one group, since root bypasses every permission check.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from store.db import StoreError, open_store
from store.files import DESK_DB
from tests.procs import Runner, clean_env, permission_runner
from tests.support import assert_one_line_refusal

DESK_GID = 64100  # the desk's group
ANN, BEN = 64001, 64002  # two operators, each with a private primary group of the same number

HOLD = """
import sys
from store.db import open_store
store = open_store(sys.argv[1])
with store.write():
    store.conn.execute("UPDATE mentions SET seen = seen")
print("holding", flush=True)
sys.stdin.read()
store.close()
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sidecars(db: Path) -> list[Path]:
    return [Path(f"{db}-wal"), Path(f"{db}-shm")]


@pytest.fixture
def umask():
    """Set the process umask for one test; restored after."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda value: os.umask(value)
    os.umask(saved)


# -- modes, checked with os.stat -------------------------------------------------------------------

@pytest.mark.parametrize("mask", [0o022, 0o002, 0o000])
def test_a_new_private_desk_is_0700_and_its_files_0600_whatever_the_umask(tmp_path, umask, mask):
    umask(mask)
    folder = tmp_path / "data" / "mentiondesk"
    store = open_store(folder / "mentiondesk.db")
    try:
        assert mode(folder) == 0o700
        for path in [folder / "mentiondesk.db", *sidecars(folder / "mentiondesk.db")]:
            assert path.exists() and mode(path) == 0o600, path
    finally:
        store.close()


@pytest.mark.parametrize("mask", [0o077, 0o022])
@pytest.mark.parametrize("folder_mode", [0o2770, 0o770])
def test_a_shared_folder_gives_new_files_its_group_and_0660(tmp_path, umask, mask, folder_mode):
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another group needs root")
    folder = tmp_path / "desk"
    folder.mkdir()
    os.chown(folder, -1, DESK_GID)
    folder.chmod(folder_mode)
    umask(mask)
    db = folder / "desk.db"
    store = open_store(db)
    try:
        for path in [db, *sidecars(db)]:
            info = path.stat()
            assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o660, DESK_GID), path
    finally:
        store.close()


def test_a_world_writable_folder_is_not_a_shared_one(tmp_path):
    folder = tmp_path / "public"
    folder.mkdir()
    folder.chmod(0o1777)
    store = open_store(folder / "desk.db")
    store.close()
    assert mode(folder / "desk.db") == 0o600


def test_the_default_folder_made_public_by_an_older_version_is_tightened(tmp_path):
    folder = tmp_path / "xdg-data" / "mentiondesk"
    folder.mkdir(parents=True)
    open_store(folder / "mentiondesk.db").close()
    folder.chmod(0o755)
    (folder / "mentiondesk.db").chmod(0o644)
    result = cli(tmp_path, "handover")
    assert result.returncode == 0, result.stderr
    assert mode(folder) == 0o700 and mode(folder / "mentiondesk.db") == 0o600


def test_an_export_file_is_0600_new_or_overwritten(tmp_path, umask):
    umask(0o022)
    db = tmp_path / "desk.db"
    open_store(db).close()
    fresh, old = tmp_path / "fresh.jsonl", tmp_path / "old.csv"
    old.write_text("stale")
    old.chmod(0o644)
    for target, form in ((fresh, "jsonl"), (old, "csv")):
        result = cli(tmp_path, "export", "--format", form, "-o", str(target), "--db", str(db))
        assert result.returncode == 0, result.stderr
        assert mode(target) == 0o600, target
    assert "stale" not in old.read_text()


# -- a symlink someone else could have planted ------------------------------------------------------

@pytest.fixture
def sticky_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="mentiondesk-sticky-"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_symlink_in_a_world_writable_folder_is_refused(tmp_path, sticky_folder):
    target = tmp_path / "real.db"
    open_store(target).close()
    before = target.read_bytes()
    link = sticky_folder / "desk.db"
    link.symlink_to(target)
    with pytest.raises(StoreError, match="symlink in the world-writable folder"):
        open_store(link)
    line = assert_one_line_refusal(cli(tmp_path, "tag", "1", "care", "--db", str(link)))
    assert str(link) in line
    export = sticky_folder / "out.jsonl"
    export.symlink_to(tmp_path / "victim")
    assert_one_line_refusal(cli(tmp_path, "export", "-o", str(export), "--db", str(target)))
    assert target.read_bytes() == before and not (tmp_path / "victim").exists()


def test_someone_elses_file_in_a_world_writable_folder_is_refused(sticky_folder):
    if os.geteuid() != 0:
        pytest.skip("making a file that belongs to someone else needs root")
    planted = sticky_folder / "desk.db"
    planted.touch(mode=0o666)
    os.chown(planted, ANN, ANN)
    with pytest.raises(StoreError, match="belongs to 64001 in the world-writable folder"):
        open_store(planted)
    assert planted.stat().st_size == 0


def test_a_symlink_in_a_private_folder_is_followed(tmp_path):
    target = tmp_path / "real.db"
    open_store(target).close()
    (tmp_path / "link.db").symlink_to(target)
    open_store(tmp_path / "link.db").close()


# -- two Unix accounts on one desk ------------------------------------------------------------------

def cli(home: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = clean_env(home, MENTIONDESK_OPERATOR="tester", **extra_env)
    return subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True, text=True,
                          encoding="utf-8", env=env, cwd=home, timeout=60)


@dataclass(frozen=True)
class Operator:
    """A real process identity: own uid and primary group, plus the desk's group."""

    runner: Runner
    uid: int
    home: Path

    def _spawn_args(self, umask: int) -> dict:
        env = clean_env(self.home, PYTHONPATH=self.runner.path, PYTHONDONTWRITEBYTECODE="1",
                        HOME=str(self.home), MENTIONDESK_OPERATOR=f"op{self.uid}")
        return dict(env=env, cwd=self.home, user=self.uid, group=self.uid, extra_groups=[DESK_GID], umask=umask)

    def run(self, *args: str, umask: int = 0o077) -> subprocess.CompletedProcess:
        return subprocess.run([self.runner.python, "-m", "tui", *args], capture_output=True, text=True,
                              encoding="utf-8", timeout=60, **self._spawn_args(umask))

    def hold(self, db: Path, umask: int = 0o077) -> subprocess.Popen[str]:
        """A process keeping the desk open (its -wal/-shm exist) until its stdin closes."""
        proc = subprocess.Popen([self.runner.python, "-c", HOLD, str(db)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **self._spawn_args(umask))
        assert proc.stdout is not None and proc.stderr is not None  # PIPEs asked for above
        assert proc.stdout.readline() == "holding\n", proc.stderr.read()
        return proc


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None and proc.stderr is not None  # hold() made them PIPEs
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0, proc.stderr.read()


@pytest.fixture
def operators() -> Iterator[tuple[Operator, Operator, Path]]:
    """(ann, ben, base): two operators in the desk's group and a folder ann owns."""
    if os.geteuid() != 0:
        pytest.skip("two Unix identities need root to start their processes")
    runner = permission_runner()
    if runner is None:
        pytest.skip("no interpreter an unprivileged user can run")
    base = Path(tempfile.mkdtemp(prefix="mentiondesk-shared-"))
    try:
        base.chmod(0o755)
        os.chown(base, ANN, ANN)
        homes = []
        for uid in (ANN, BEN):
            home = base / f"home{uid}"
            home.mkdir(mode=0o700)
            os.chown(home, uid, uid)
            homes.append(home)
        yield Operator(runner, ANN, homes[0]), Operator(runner, BEN, homes[1]), base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def seed_line(tmp: Path) -> Path:
    path = tmp / "seed.jsonl"
    path.write_text('{"network": "demo", "remote_id": "s1", "author_handle": "@mara", "text": "refund?", '
                    '"created_at": "2025-03-14T09:00:00.000Z"}\n')
    path.chmod(0o644)
    return path


def test_desk_init_lets_a_second_account_write_while_the_first_holds_it_open(operators, tmp_path):
    ann, ben, base = operators
    folder = base / "desk"
    made = ann.run("desk", "init", str(folder), "--group", str(DESK_GID))
    assert made.returncode == 0, made.stderr
    db = folder / DESK_DB
    assert str(db) in made.stdout
    info = folder.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_gid, info.st_uid) == (0o2770, DESK_GID, ANN)
    assert (mode(db), db.stat().st_gid) == (0o660, DESK_GID)
    seed = seed_line(base)
    assert ann.run("import", str(seed), "--db", str(db)).returncode == 0
    again = ben.run("desk", "init", str(folder), "--group", str(DESK_GID))  # the desk is already his group's
    assert again.returncode == 0 and str(db) in again.stdout, again.stderr

    holder = ann.hold(db)  # ann's console: her -wal and -shm, made under umask 077
    try:
        for path in sidecars(db):
            info = path.stat()
            assert (stat.S_IMODE(info.st_mode), info.st_gid, info.st_uid) == (0o660, DESK_GID, ANN), path
        for args in (["tag", "1", "care"], ["note", "1", "on it"], ["done", "1"]):
            result = ben.run(*args, "--db", str(db))
            assert result.returncode == 0 and "Traceback" not in result.stderr, (args, result.stderr)
    finally:
        release(holder)

    holder = ben.hold(db)  # and the other way round: ben's sidecars, ann writes
    try:
        result = ann.run("done", "1", "--reopen", "--db", str(db))
        assert result.returncode == 0, result.stderr
    finally:
        release(holder)
    store = open_store(db, readonly=True)
    try:
        events = [row[0] for row in store.conn.execute("SELECT operator FROM events ORDER BY id")]
    finally:
        store.close()
    assert f"op{BEN}" in events and f"op{ANN}" in events


def test_a_group_writable_folder_without_setgid_is_honoured_too(operators):
    ann, ben, base = operators
    folder = base / "plain"
    folder.mkdir()
    os.chown(folder, ANN, DESK_GID)
    folder.chmod(0o770)
    db = folder / "desk.db"
    holder = ann.hold(db, umask=0o022)  # ann's primary group is her own: the files must still be the desk's
    try:
        for path in [db, *sidecars(db)]:
            assert (mode(path), path.stat().st_gid) == (0o660, DESK_GID), path
        result = ben.run("tag", "1", "care", "--db", str(db))
        assert "no mention with id 1" in result.stderr and "Traceback" not in result.stderr
    finally:
        release(holder)


@pytest.mark.parametrize("culprit", ["-wal", "-shm", ""])
def test_a_desk_file_the_second_account_cannot_write_is_named_with_the_fix(operators, culprit):
    ann, ben, base = operators
    folder = base / "desk"
    assert ann.run("desk", "init", str(folder), "--group", str(DESK_GID)).returncode == 0
    db = folder / DESK_DB
    assert ann.run("import", str(seed_line(base)), "--db", str(db)).returncode == 0
    holder = ann.hold(db)
    try:
        victim = Path(f"{db}{culprit}")
        victim.chmod(0o644)  # what versions before this one left behind
        result = ben.run("tag", "1", "care", "--db", str(db))
        line = assert_one_line_refusal(result)
        assert f"{victim} " in line and "permission denied" in line and f"chmod g+rw {victim}" in line, line
        # Reading needs no write: search (like the console) works read-only and says why.
        found = ben.run("search", "refund", "--db", str(db))
        assert found.returncode == 0 and "refund?" in found.stdout, found.stderr
        assert found.stderr.startswith("mentiondesk: read-only: ") and f"chmod g+rw {victim}" in found.stderr
    finally:
        release(holder)


def test_a_folder_the_second_account_cannot_write_is_named_with_the_fix(operators):
    ann, ben, base = operators
    folder = base / "mine"
    assert ann.run("handover", "--db", str(folder / "desk.db")).returncode == 0
    assert mode(folder) == 0o700
    line = assert_one_line_refusal(ben.run("tag", "1", "care", "--db", str(folder / "desk.db")))
    assert f"folder {folder}" in line and "desk init" in line, line


def test_desk_init_refuses_a_group_the_operator_is_not_in(operators):
    ann, _, base = operators
    line = assert_one_line_refusal(ann.run("desk", "init", str(base / "desk"), "--group", "0"))
    assert "not in group" in line
    line = assert_one_line_refusal(ann.run("desk", "init", str(base / "desk"), "--group", "no-such-group-xyz"))
    assert "no group named" in line


def test_desk_init_by_root_for_a_named_group_is_one_command(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs a group this user is in; root is in every one")
    result = cli(tmp_path, "desk", "init", str(tmp_path / "d"), "--group", "root")
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "d") == 0o2770 and mode(tmp_path / "d" / DESK_DB) == 0o660


def test_a_sidecar_file_that_vanishes_while_it_is_checked_is_not_an_error(tmp_path, monkeypatch):
    """CI saw it: three processes opening one desk; the -shm one saw went away (the last connection
    closed) between being seen and being checked, and the open died with a traceback."""
    from store import files as desk_files_module

    db = tmp_path / "desk.db"
    db.write_bytes(b"")
    shm = tmp_path / "desk.db-shm"
    shm.write_bytes(b"")
    real_access = os.access

    def vanishing(path, mode):
        if str(path) == str(shm):
            shm.unlink()  # another process closes the desk right now
            return False
        return real_access(path, mode)

    monkeypatch.setattr(desk_files_module.os, "access", vanishing)
    desk_files_module.check_writable(db)  # no error: SQLite makes the file again as it needs it
    assert not shm.exists()
