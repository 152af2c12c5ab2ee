"""Editing a draft in the operator's own editor ($VISUAL, else $EDITOR, else vi), as mutt and git do.

The draft goes to a private temporary file (0600: it is a customer conversation) that is
removed afterwards whatever happens. An editor that exits non-zero (`:cq` in vim) means
"never mind": the caller keeps the old draft.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Mapping

FALLBACK = "vi"


class EditorError(Exception):
    """The editor could not run or gave up; the message is one line for the operator."""


def editor_command(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    chosen = (env.get("VISUAL") or "").strip() or (env.get("EDITOR") or "").strip() or FALLBACK
    try:
        words = shlex.split(chosen)
    except ValueError:
        raise EditorError(f"cannot read the editor command {chosen[:60]!r} ($VISUAL / $EDITOR)") from None
    if not words:
        raise EditorError("the editor command ($VISUAL / $EDITOR) is empty")
    return words


def run_editor(text: str, env: Mapping[str, str] | None = None) -> str:
    """The text after the operator edited it; EditorError when there is nothing to take back."""
    command = editor_command(env)
    descriptor, path = tempfile.mkstemp(prefix="mentiondesk-draft-", suffix=".txt")  # mode 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            result = subprocess.run([*command, path], check=False)
        except OSError as exc:
            raise EditorError(f"cannot run the editor {command[0]!r}: {exc.strerror or exc}") from None
        if result.returncode != 0:
            raise EditorError(f"the editor exited with status {result.returncode}: the draft is unchanged")
        with open(path, encoding="utf-8", errors="replace") as handle:
            edited = handle.read()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    # Editors end the file with a newline the operator never typed.
    return edited[:-1] if edited.endswith("\n") and not text.endswith("\n") else edited
