"""Operators' web passwords (scrypt, salted, a private file) and `mentiondesk web`'s one-line refusals."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

import pytest

from tests.procs import run
from tests.support import assert_one_line_refusal
from tests.web_support import PASSWORD, set_password
from tui.web.passwords import PasswordFileError, hash_password, read_users, verify


def test_a_hash_verifies_its_password_only_and_each_has_its_own_salt():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second  # per-hash salt: equal passwords do not show as equal hashes
    assert first.startswith("scrypt$16384$8$1$")
    assert verify(PASSWORD, first) and verify(PASSWORD, second)
    assert not verify(PASSWORD + "x", first)
    assert not verify(PASSWORD, None)  # unknown operator: the same work, and no
    tampered = first[:-6] + ("AAAAA=" if not first.endswith("AAAAA=") else "BBBBB=")
    assert not verify(PASSWORD, tampered)


@pytest.mark.parametrize("content, problem", [
    ('[operators]\nana = "plain text password"\n', "is not a scrypt hash"),
    ('[operators]\nana = "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$' + "A" * 43 + '="\n', "is not a scrypt hash"),
    ('[operators]\n"ana\\u001b[2J" = "x"\n', "control or escape character"),
    ('ana = "scrypt$..."\n', "expected only an [operators] table"),
    ("[operators\n", "not valid TOML"),
])
def test_a_bad_password_file_is_refused_in_one_line(tmp_path, content, problem):
    path = tmp_path / "web-users.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PasswordFileError) as refused:
        read_users(path)
    assert problem in str(refused.value) and "\n" not in str(refused.value) and "\x1b" not in str(refused.value)


def test_web_passwd_writes_a_private_hash_and_never_the_password(tmp_path):
    config = tmp_path / "config.toml"
    done = set_password(tmp_path, config, "ana")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    path = tmp_path / "web-users.toml"  # beside the config file (settings: web_users)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert PASSWORD not in path.read_text(encoding="utf-8")
    assert verify(PASSWORD, read_users(path).hashes["ana"])
    assert set_password(tmp_path, config, "bo", "bo's own long password").returncode == 0
    assert sorted(read_users(path).hashes) == ["ana", "bo"]
    removed = run([sys.executable, "-m", "tui", "web", "passwd", "bo", "--remove", "--config", str(config)], tmp_path)
    assert removed.returncode == 0 and sorted(read_users(path).hashes) == ["ana"]


def test_web_passwd_refuses_a_short_password_and_an_unknown_removal(tmp_path):
    config = tmp_path / "config.toml"
    line = assert_one_line_refusal(set_password(tmp_path, config, "ana", "short"))
    assert "at least 12 characters" in line and "nothing changed" in line
    assert not (tmp_path / "web-users.toml").exists()
    line = assert_one_line_refusal(run([sys.executable, "-m", "tui", "web", "passwd", "zed", "--remove",
                                        "--config", str(config)], tmp_path))
    assert "zed has no web password" in line


def test_web_with_no_operator_says_how_to_add_one(tmp_path):
    line = assert_one_line_refusal(run([sys.executable, "-m", "tui", "web", "--db", str(tmp_path / "desk.db"),
                                        "--config", str(tmp_path / "config.toml")], tmp_path))
    assert "mentiondesk web passwd NAME" in line and str(tmp_path / "web-users.toml") in line


def test_web_on_a_port_in_use_says_so_in_one_line(tmp_path):
    config = tmp_path / "config.toml"
    assert set_password(tmp_path, config, "ana").returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = assert_one_line_refusal(run([sys.executable, "-m", "tui", "web", "--port", str(port), "--db",
                                            str(tmp_path / "desk.db"), "--config", str(config)], tmp_path))
    assert f"cannot listen on 127.0.0.1:{port}" in line and "already in use" in line


@pytest.mark.parametrize("arguments, problem", [
    (["--port", "99999"], "port number from 1 to 65535"),
    (["--public-url", "desk.example"], "https://desk.example"),
    (["--operator", "bo"], "each browser signs in"),
])
def test_web_refuses_bad_options_in_one_line(tmp_path, arguments, problem):
    result = run([sys.executable, "-m", "tui", "web", *arguments], tmp_path)
    assert result.returncode == 2 and problem in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_web_passwd_on_a_terminal_asks_twice_without_echo(tmp_path):
    import pty
    import select

    from tests.procs import clean_env

    main, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "tui", "web", "passwd", "ana", "--config",
                                str(tmp_path / "config.toml")], stdin=child, stdout=child, stderr=child,
                               env=clean_env(tmp_path), cwd=tmp_path, start_new_session=True)
    os.close(child)
    shown = b""

    def read_until(text: bytes) -> None:
        nonlocal shown
        while text not in shown:
            ready, _, _ = select.select([main], [], [], 30)
            assert ready, f"no {text!r} on the terminal: {shown!r}"
            shown += os.read(main, 4096)

    read_until(b"web password for ana: ")
    os.write(main, PASSWORD.encode() + b"\n")
    read_until(b"again: ")
    os.write(main, PASSWORD.encode() + b"\n")
    read_until(b"can sign in")
    assert process.wait(timeout=30) == 0
    os.close(main)
    assert PASSWORD.encode() not in shown  # the terminal never showed it
    assert verify(PASSWORD, read_users(tmp_path / "web-users.toml").hashes["ana"])
