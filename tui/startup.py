"""The console's start: Python's cyclic collector waits until the first rows are painted.

Importing the console builds some 300,000 objects; with the collector on, its passes over them
(one full pass of 20-25 ms) cost a cold start 40-50 ms of CPU. Nothing built then is garbage worth
finding, so `hold` turns collection off before the imports, and `first_paint_done` turns it back on,
freezing what start-up built (it lives as long as the console) so later full passes skip it too.
A command other than the console turns it back on as soon as its arguments are read (`resume`).
"""

from __future__ import annotations

import gc

_held = False


def hold() -> None:
    """Before the console's imports (tui.launch)."""
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def resume() -> None:
    """Collection back on (a command that is not the console; idempotent, and a no-op unless held)."""
    global _held
    if _held:
        _held = False
        gc.enable()


def first_paint_done() -> None:
    """The first rows are on screen: what start-up built is frozen out of later passes, collection resumes."""
    if _held:
        gc.freeze()
        resume()
