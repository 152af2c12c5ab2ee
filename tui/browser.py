"""Opening a link in the operator's browser, or saying why it cannot be done here.

Over SSH the browser would open on the server, if anywhere, so the console
copies the link instead. A text-mode browser (lynx, w3m, a `BROWSER` naming
one) would fight the console for the terminal, so it counts as none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

SSH_VARIABLES = ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT")


def over_ssh(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return any(env.get(name) for name in SSH_VARIABLES)


def open_in_browser(url: str) -> bool:
    """Hand `url` to the system's graphical browser; False when there is none. Blocks: run it in a thread."""
    import webbrowser  # with the first `o`, not at the console's start

    try:
        controller = webbrowser.get()
    except webbrowser.Error:
        return False
    if type(controller) is webbrowser.GenericBrowser:  # runs in the foreground, on our terminal
        return False
    try:
        return bool(controller.open(url, new=2))
    except OSError:
        return False
