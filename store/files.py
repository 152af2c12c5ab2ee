"""Who may read and write the desk's files: private by default, group-shared in a shared folder.

A folder is *shared* when it is group-writable or setgid (and not world-writable:
/tmp is nobody's desk). There the database is created 0660 in the folder's group;
anywhere else 0600 (customers' messages and internal notes). SQLite creates -wal
and -shm with the database file's own mode whatever the umask (it fchmods new
files), so getting the database file right settles them; their group is fixed
after opening for folders that are group-writable without setgid.

Nothing here opens the database file: closing a descriptor on it would drop the
POSIX locks this process's SQLite connections hold (see db._readonly_check).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

SIDECARS = ("-wal", "-shm")
PRIVATE_FILE = 0o600
SHARED_FILE = 0o660
PRIVATE_FOLDER = 0o700
DESK_FOLDER = 0o2770  # setgid: every file made inside belongs to the desk's group


class DeskFileError(Exception):
    """A desk file this user cannot use, worded with the fix (one line)."""


def desk_files(db: Path) -> list[Path]:
    return [db, *(Path(f"{db}{suffix}") for suffix in SIDECARS)]


def shared_group(folder: Path) -> int | None:
    """The group a shared folder's files belong to, or None for a private folder."""
    mode = folder.stat().st_mode
    if mode & stat.S_IWOTH:
        return None
    if mode & (stat.S_ISGID | stat.S_IWGRP):
        return folder.stat().st_gid
    return None


def file_mode(folder: Path) -> int:
    return SHARED_FILE if shared_group(folder) is not None else PRIVATE_FILE


def make_folder(folder: Path) -> None:
    """Create the database's folder private (parents as the umask says)."""
    try:
        folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    except OSError as exc:
        raise DeskFileError(f"cannot create directory {folder}: {exc.strerror or exc}") from None


def create_database_file(db: Path) -> None:
    """Create an empty database file with the folder's mode and group, if there is none yet."""
    gid = shared_group(db.parent)
    mode = SHARED_FILE if gid is not None else PRIVATE_FILE
    try:
        os.mknod(db, stat.S_IFREG | mode)  # creates without a descriptor
    except FileExistsError:
        return
    except OSError:
        try:  # a filesystem without mknod: a new file nobody has open yet, so closing is harmless
            os.close(os.open(db, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, mode))
        except FileExistsError:
            return
        except OSError as exc:
            raise DeskFileError(f"cannot create database {db}: {exc.strerror or exc}") from None
    settle(db, gid, mode)


def settle(path: Path, gid: int | None, mode: int) -> None:
    """Give a file of ours the desk's group and mode (the umask and primary groups get in between)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        return
    try:
        if gid is not None and info.st_gid != gid:
            os.chown(path, -1, gid)
        if stat.S_IMODE(info.st_mode) != mode:
            os.chmod(path, mode)
    except OSError:
        pass  # not ours to fix after all; check_writable names what remains wrong


def settle_desk(db: Path) -> None:
    """After opening: in a shared folder, our database and its -wal/-shm get the folder's group and 0660."""
    gid = shared_group(db.parent)
    if gid is None:
        return
    for path in desk_files(db):
        settle(path, gid, SHARED_FILE)


def make_private(folder: Path, names: tuple[str, ...]) -> None:
    """Tighten the default data folder and its databases made by older versions (0755 / 0644)."""
    try:
        if folder.stat().st_uid != os.geteuid():
            return
        folder.chmod(PRIVATE_FOLDER)
    except OSError:
        return
    for name in names:
        for path in desk_files(folder / name):
            settle(path, None, PRIVATE_FILE)


def check_path(db: Path) -> None:
    """Before anything looks at the database: its folder can be entered, and it is no planted symlink."""
    folder = db.parent
    if folder.is_dir() and not os.access(folder, os.X_OK):
        raise DeskFileError(f"cannot enter folder {folder}: permission denied ({describe(folder)}); "
                            f"fix: {_desk_fix(folder, folder.stat().st_gid, 'chmod g+rwxs')}")
    try:
        refuse_planted(db)
    except PermissionError as exc:
        raise DeskFileError(f"cannot reach {db}: permission denied ({exc.filename})") from None


def _desk_fix(folder: Path, gid: int, chmod: str, path: Path | None = None) -> str:
    """The command that fixes it: a chmod by the owner when we share the group, else a desk set-up."""
    if _in_group(gid):
        return f"{chmod} {path or folder} (as its owner)"
    return f"mentiondesk desk init {folder} --group GROUP (a group you share)"


def refuse_planted(db: Path) -> None:
    """In a world-writable folder (/tmp) a symlink, or a file someone else made, may be a trap."""
    folder = db.parent
    try:
        world_writable = folder.stat().st_mode & stat.S_IWOTH
    except OSError:
        return
    if not world_writable:
        return
    if db.is_symlink():
        raise DeskFileError(
            f"refusing {db}: it is a symlink in the world-writable folder {folder}, where anyone could "
            f"have planted it; give the real path or use a private folder")
    if db.exists() and db.stat().st_uid != os.geteuid():
        raise DeskFileError(
            f"refusing {db}: it belongs to {_name(pwd.getpwuid, db.stat().st_uid)} in the world-writable "
            f"folder {folder}; use a private folder, or a shared one made with mentiondesk desk init")


def _name(table, ident: int) -> str:
    try:
        return table(ident)[0]
    except KeyError:
        return str(ident)


def describe(path: Path) -> str:
    info = path.stat()
    return (f"owner {_name(pwd.getpwuid, info.st_uid)}, group {_name(grp.getgrgid, info.st_gid)}, "
            f"mode {stat.S_IMODE(info.st_mode):04o}")


def _in_group(gid: int) -> bool:
    return gid == os.getegid() or gid in os.getgroups()


def check_writable(db: Path) -> None:
    """Every desk file this open will write, checked up front: one line naming the file and the fix."""
    folder = db.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        fix = _desk_fix(folder, folder.stat().st_gid, "chmod g+rwxs")
        raise DeskFileError(f"cannot write to folder {folder}: permission denied ({describe(folder)}; "
                            f"SQLite creates -wal/-shm there); fix: {fix}")
    for path in desk_files(db):
        if not path.exists() or os.access(path, os.R_OK | os.W_OK):
            continue
        kind = "database" if path == db else f"database {path.name[len(db.name):]} file"
        try:
            fix = _desk_fix(folder, path.stat().st_gid, "chmod g+rw", path)
            facts = describe(path)
        except FileNotFoundError:
            continue  # gone since it was seen (the last process on the desk removed its -shm): nothing to check
        raise DeskFileError(f"cannot open {kind} {path} for writing: permission denied ({facts}); fix: {fix}")


DESK_DB = "mentiondesk.db"


def group_id(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        if name.isdigit() and len(name) < 11:
            return int(name)
        raise DeskFileError(f"no group named {name!r} on this host (getent group lists them)") from None


def prepare_desk_folder(folder: Path, gid: int) -> Path:
    """`desk init`: the folder setgid 2770 in the desk's group; our existing desk files 0660 in it."""
    group = _name(grp.getgrgid, gid)
    try:
        folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    except OSError as exc:
        raise DeskFileError(f"cannot create directory {folder}: {exc.strerror or exc}") from None
    if not folder.is_dir():
        raise DeskFileError(f"{folder} is not a directory")
    info = folder.stat()
    if info.st_uid != os.geteuid() and os.geteuid() != 0:
        if info.st_gid == gid and stat.S_IMODE(info.st_mode) & 0o2070 == 0o2070:
            return folder / DESK_DB  # already a desk folder of this group, set up by its owner
        raise DeskFileError(f"{folder} belongs to {_name(pwd.getpwuid, info.st_uid)}; ask them to run "
                            f"mentiondesk desk init {folder} --group {group}")
    if os.geteuid() != 0 and not _in_group(gid):
        raise DeskFileError(f"you are not in group {group} (see `id`); ask an admin to add you "
                            f"(usermod -aG {group} $USER), then log in again")
    try:
        if info.st_gid != gid:
            os.chown(folder, -1, gid)
        os.chmod(folder, DESK_FOLDER)
    except OSError as exc:
        raise DeskFileError(f"cannot give {folder} to group {group}: {exc.strerror or exc}") from None
    db = folder / DESK_DB
    for path in desk_files(db):
        settle(path, gid, SHARED_FILE)
    return db


def check_desk(db: Path, gid: int) -> None:
    """After `desk init` opened the database: every desk file is group read-write in the desk's group."""
    for path in desk_files(db):
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        if info.st_gid != gid or stat.S_IMODE(info.st_mode) & 0o660 != 0o660:
            raise DeskFileError(f"{path} is not shared with the group ({describe(path)}); its owner "
                                f"fixes it with: chgrp {_name(grp.getgrgid, gid)} {path} && chmod 0660 {path}")
