"""A second operator's console in its own process: `python -m tests.answer_console_proc DB OPERATOR OUT`.

It waits (bounded) until its banner shows a group answer waiting for a second operator,
approves it with ctrl+o and y, waits for the console's confirmation, and writes what its
screen said to OUT as JSON. The test drafting the answer runs in another process.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def _approve(db: str, operator: str, out: str) -> None:
    from tests.tui_support import console_ready, screen_text
    from tui.app import ConsoleApp
    from tui.screens.dialogs import Confirm

    app = ConsoleApp(db, operator=operator, poll_interval=0.1)
    seen: dict[str, object] = {}
    async with app.run_test(size=(120, 34), notifications=True) as pilot:
        await console_ready(pilot)
        deadline = time.monotonic() + 60
        while "waits for a second operator" not in screen_text(app):
            if time.monotonic() > deadline:
                raise SystemExit("the banner never showed the answer")
            await pilot.pause(0.05)
        seen["banner"] = next(line for line in screen_text(app).splitlines() if "waits for a second" in line)
        await pilot.press("ctrl+o")
        while not isinstance(app.screen, Confirm):
            await pilot.pause(0.05)
        await pilot.press("y")
        while not any("approved" in str(n.message) for n in app._notifications):
            if time.monotonic() > deadline:
                raise SystemExit("never approved")
            await pilot.pause(0.05)
        seen["notified"] = [str(n.message) for n in app._notifications]
    with open(out, "w", encoding="utf-8") as file:
        json.dump(seen, file)


if __name__ == "__main__":
    asyncio.run(_approve(*sys.argv[1:4]))
