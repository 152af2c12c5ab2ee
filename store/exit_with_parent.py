"""A helper process that leaves when the process that started it is gone.

The signals helpers run in a process pool. When their parent ends normally it shuts the pool down;
when it is killed (kill -9, the OOM killer, a hung-up SSH session past its grace) nobody does, and a
helper with its language models loaded would sit in memory for ever, reparented to init.
"""

from __future__ import annotations

import multiprocessing
import os
import threading

CHECK_EVERY = 1.0  # seconds: a leftover helper costs memory, not correctness


def exit_with_parent() -> None:
    """Pool initializer: watch the parent from a daemon thread, exit when it is gone."""
    parent = multiprocessing.parent_process()
    expected = parent.pid if parent is not None else os.getppid()
    if os.getppid() != expected:  # gone before this helper even started
        os._exit(0)

    def watch() -> None:
        stop = threading.Event()
        while not stop.wait(CHECK_EVERY):
            if os.getppid() != expected:
                os._exit(0)  # no cleanup to run: the helper holds nothing but models in memory

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
