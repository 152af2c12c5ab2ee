"""What the group-answer keys do, wherever they are pressed (the app's actions call these).

`A` answers the group highlighted on the flood screen, else the marked mentions, else the
group of the selected mention. `P`, `C` and `ctrl+o` act on the answer highlighted on the
flood screen, else on the newest one in flight (for `ctrl+o`: the oldest waiting for someone
other than you), the one the banner names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from store import group_answers as ga
from store.answer_plan import Target, group_of
from store.errors import ActionError

if TYPE_CHECKING:
    from tui.app import ConsoleApp


async def _target(app: ConsoleApp) -> tuple[Target, str] | None:
    from tui.screens.flood import FloodScreen
    from tui.screens.main import MainScreen

    screen = app.screen
    if isinstance(screen, FloodScreen):
        group = screen.highlighted_group()
        return (Target(group), f"Answer group {group}: one reply per person") if group is not None else None
    if not isinstance(screen, MainScreen):
        return None
    marked = sorted(screen.inbox.marked, reverse=True)
    if marked:
        return Target(members=tuple(marked)), f"Answer the {len(marked)} marked mentions: one reply per person"
    selected = screen.inbox.selected_id
    group = None if selected is None else await app.shift.store.run(group_of, selected)
    if group is None:
        app.notify("Mark mentions (space, V) or pick a group (F) to answer them at once.", severity="warning")
        return None
    return Target(group), f"Answer group {group} (the group of #{selected}): one reply per person"


async def answer(app: ConsoleApp, approve_over: int) -> None:
    from tui.screens.flood import FloodScreen
    from tui.screens.group_answer import GroupAnswerDialog

    found = await _target(app)
    if found is None:
        return
    screen = app.screen
    outcome = await app.push_screen_wait(GroupAnswerDialog(found[0], found[1], approve_over))
    if outcome:
        app.notify(outcome, timeout=6, markup=False)
        if isinstance(screen, FloodScreen):
            screen.load()


async def _answer_for(app: ConsoleApp, approving: bool) -> ga.Answer | None:
    from tui.screens.flood import FloodScreen

    shift = app.shift
    if isinstance(app.screen, FloodScreen) and (chosen := app.screen.highlighted_answer()) is not None:
        return await shift.store.run(ga.get_answer, chosen)
    if approving:
        waiting = await shift.store.run(ga.awaiting_approval, shift.operator)
        return waiting[0] if waiting else None
    flying = [p for p in await shift.store.run(ga.answers_in_flight) if p.answer.state in ga.RUNNING]
    return flying[0].answer if flying else None


async def pause_or_resume(app: ConsoleApp) -> None:
    found = await _answer_for(app, approving=False)
    if found is None:
        app.notify("No group answer is sending.", severity="warning")
        return
    verb = "resume" if found.state == "paused" else "pause"
    await _act(app, f"Answer {found.id} {verb}d.", getattr(ga, verb), found.id)


async def cancel(app: ConsoleApp) -> None:
    from tui.screens.dialogs import Confirm

    found = await _answer_for(app, approving=False)
    if found is None:
        app.notify("No group answer to cancel.", severity="warning")
        return
    if await app.push_screen_wait(Confirm(f"Cancel answer {found.id} ({found.what})? Replies not sent yet are "
                                          "taken back; the ones sent stay.")):
        await _act(app, f"Answer {found.id} cancelled.", ga.cancel, found.id)


async def approve(app: ConsoleApp) -> None:
    from tui.screens.dialogs import Confirm

    found = await _answer_for(app, approving=True)
    if found is None:
        app.notify("No group answer waits for your approval.", severity="warning")
        return
    question = (f"Approve answer {found.id} by {found.drafted_by} to {found.what}? It is sent at once.\n\n"
                f"{found.body}")
    if await app.push_screen_wait(Confirm(question)):
        from adapters.rules import over_limit  # counting rules: loaded when first needed

        await _act(app, f"Answer {found.id} approved: it is being sent.",
                   lambda store, answer_id, operator: ga.approve(store, answer_id, operator, over_limit), found.id)


async def _act(app: ConsoleApp, done: str, action, answer_id: int) -> None:
    from tui.screens.flood import FloodScreen

    try:
        await app.shift.store.run(action, answer_id, app.shift.operator)
    except ActionError as exc:
        app.notify(str(exc), severity="warning", markup=False)
        return
    app.shift.wake_sender()
    app.notify(done, timeout=4, markup=False)
    if isinstance(app.screen, FloodScreen):
        app.screen.load()
