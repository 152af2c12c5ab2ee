"""The real console on a pseudo-terminal in 16 colours (TEXTUAL_COLOR_SYSTEM=standard), as over SSH.

What reaches the terminal uses only the 16 standard colours (no 256-colour or
truecolor sequences), and every state and tag on screen is there as a glyph or
a word, so it stays readable whatever those 16 colours are.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time

import pytest

from tests.procs import ROOT, clean_env, cli_command
from tests.test_themes import triaged_desk

# SGR parameters that name a 256-colour or truecolor: 38;5;N 48;5;N 38;2;R;G;B 48;2;R;G;B
# What to see before each key: the open view's states and tags, then (0: every mention) the done one.
STEPS = ((("CARE", "MKT", "●", "○", "1 Open"), b"0"), (("✓",), b"q"))
RICH_COLOUR = re.compile(r"\x1b\[[0-9;]*(?:38|48);[25];")


def run_console(tmp_path, **env: str) -> str:
    """Start the console at 80x24, read what it draws until the rows are on screen, quit; all it wrote."""
    db = triaged_desk(str(tmp_path / "desk.db"))
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(cli_command(db, operator="bob", before=("--no-demo",)), stdin=slave, stdout=slave,
                            stderr=slave, env=clean_env(tmp_path, TERM="xterm-256color", **env), cwd=ROOT,
                            start_new_session=True)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 30
        steps = list(STEPS)
        quitting = False
        seen_from = 0
        while time.monotonic() < deadline:
            ready = select.select([master], [], [], 0.2)[0]
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break  # the console exited: the pty is closed
                if not chunk:
                    break
                out += chunk
            text = out[seen_from:].decode("utf-8", "replace")
            if steps and all(word in text for word in steps[0][0]):
                key = steps.pop(0)[1]
                seen_from = len(out)  # the next step's signs must be drawn after this key
                os.write(master, key)
                quitting = key == b"q"
            if quitting and proc.poll() is not None:
                break
        shown = out[seen_from:].decode("utf-8", "replace")
        assert quitting, f"never shown: {[w for w in steps[0][0] if w not in shown]}"
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return out.decode("utf-8", "replace")


@pytest.mark.parametrize("theme", [None, "nord"])
def test_sixteen_colours_only_and_every_state_has_a_glyph_or_word(tmp_path, theme):
    env = {"TEXTUAL_COLOR_SYSTEM": "standard"}
    if theme:
        config = tmp_path / "config.toml"
        config.write_text(f'theme = "{theme}"\n', encoding="utf-8")
        env["MENTIONDESK_CONFIG"] = str(config)
    output = run_console(tmp_path, **env)
    assert not RICH_COLOUR.search(output), RICH_COLOUR.search(output)
    assert re.search(r"\x1b\[[0-9;]*(?:3[0-7]|4[0-7]|9[0-7]|10[0-7])[;m]", output)  # it is in colour
    for sign in ("CARE", "MKT", "✓", "●", "○"):
        assert sign in output
