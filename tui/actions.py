"""Every key of the console, once: bindings, the command palette, `?` help and the footer come from here.

An action's `id` is its name in a `[keymap]` table (action id → keys, Textual's key names,
comma separated); the check below turns a bad keymap into one line before the console starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType
from textual.keys import _normalize_key_list

from store.inbox import VIEWS
from store.saved_views import SAVED_KEYS


class KeymapError(ValueError):
    """A keymap that cannot work: unknown action id, a key bound twice, an empty key list."""


@dataclass(frozen=True)
class Action:
    id: str
    keys: str  # default keys, comma separated
    action: str  # the Textual action it runs
    label: str  # the footer's word
    description: str  # `?` help and the palette's help line
    scope: str  # "app", "main" (the split view), "inbox" (the list's cursor) or "composer" (while replying)
    show: bool = False  # in the footer
    priority: bool = False
    palette: str | None = None  # the palette's title, if the palette offers it


VIEW_KEYS = {"1": "open", "2": "care", "3": "marketing", "4": "untriaged", "5": "done", "6": "mine", "0": "all",
             "Z": "snoozed", "D": "priority"}
# The view bar's views: Priority lists the Open view in another order, its count would say the same twice.
BAR_VIEW_KEYS = {key: name for key, name in VIEW_KEYS.items() if name != "priority"}
_VIEW_WORDS = {"priority": "priority: open mentions by first-reply due time (late first), then needs-reply, "
                           "then negative; each row says its time left",
               "mine": "mine (assigned to you)", "all": "every mention", "snoozed": "snoozed, with their wake time"}

ACTIONS: tuple[Action, ...] = (
    Action("down", "j,down", "move(1)", "Down", "move down", "inbox"),
    Action("up", "k,up", "move(-1)", "Up", "move up", "inbox"),
    Action("top", "g,home", "first", "Top", "go to the top", "inbox"),
    Action("bottom", "G,end", "last", "Bottom", "go to the bottom", "inbox"),
    Action("page-down", "pagedown,ctrl+d", "page(1)", "Page down", "page down", "inbox"),
    Action("page-up", "pageup,ctrl+u", "page(-1)", "Page up", "page up", "inbox"),
    Action("tag-care", "c", "tag('care')", "Care", "toggle the care tag (of every marked row, if any)", "main",
           show=True, palette="Toggle care tag"),
    Action("tag-marketing", "m", "tag('marketing')", "Marketing", "toggle the marketing tag (of marked rows too)",
           "main", show=True, palette="Toggle marketing tag"),
    Action("done", "e", "done", "Done/reopen", "mark done / reopen (marked rows too)", "main", show=True,
           palette="Mark done / reopen"),
    Action("reply", "r", "reply", "Reply",
           "reply: opens the composer and claims the mention (others see ✎you)", "main", show=True,
           palette="Reply"),
    Action("send", "ctrl+s", "send", "Send", "send the reply", "main", priority=True),
    Action("search", "slash", "search", "Search",
           "fuzzy search: words, typos ok; filters tag:care status:open from:@h net:demo", "main", show=True,
           palette="Search"),
    Action("back", "escape", "back", "Back", "cancel the composer / clear the marks / leave search", "main"),
    Action("retry", "R", "retry", "Retry failed", "retry the latest failed reply", "main",
           palette="Retry failed reply"),
    Action("edit-failed", "E", "edit_failed", "Edit failed reply", "edit the latest failed reply and send it again",
           "main", palette="Edit failed reply"),
    Action("note", "n", "note", "Note", "internal note on the mention (never sent)", "main",
           palette="Internal note"),
    Action("assign", "a", "assign", "Assign", "assign the mention to an operator (empty unassigns)", "main",
           palette="Assign"),
    Action("handover", "H", "handover", "Handover",
           "shift handover report; n there leaves a note for the next shift", "main", palette="Shift handover"),
    Action("open-link", "o", "open_link", "Open link",
           "open the mention's link in the browser (several: pick one; over SSH: copy it)", "main",
           palette="Open link"),
    Action("copy-url", "y", "copy_url", "Copy link", "copy the mention's link (OSC 52: works over SSH, tmux)",
           "main", palette="Copy link"),
    Action("copy-text", "Y", "copy_text", "Copy text", "copy the mention's text", "main", palette="Copy text"),
    Action("reports", "S", "reports", "Reports",
           "reports: arrivals, backlog, first response, hand-off (charts; n there shows every number)", "app",
           palette="Reports"),
    Action("snooze", "z", "snooze", "Snooze",
           "snooze until 1 h, 3 h, tomorrow 9:00, next Monday 9:00 or a typed time (2h, fri 14:00); "
           "it comes back as new then, or when its author writes again in the thread", "main", palette="Snooze"),
    Action("saved-replies", "T", "saved_replies", "Saved replies", "the desk's saved replies: add, edit, delete",
           "main", palette="Saved replies"),
    Action("insert-saved-reply", "ctrl+t", "pick_saved_reply", "Saved reply",
           "in the composer: insert a saved reply, filled in (fuzzy: refnd finds Refund delay)", "composer",
           palette="Insert a saved reply"),
    Action("external-editor", "ctrl+g", "external_editor", "Editor",
           "in the composer: edit the reply in $VISUAL / $EDITOR (exit non-zero to keep the old text)", "composer",
           palette="Edit the reply in $EDITOR"),
    Action("flood", "F", "flood", "Flood", "flood mode: open incidents and near-duplicate groups (enter opens a "
           "group's members here)", "app", palette="Incidents and groups"),
    Action("demo-flood", "ctrl+f", "demo_flood", "Demo flood", "start a flood on the demo network (a cancelled "
           "festival day), to see incidents and groups", "app", palette="Start a demo flood"),
    Action("group-split", "X", "group_split", "Split from group",
           "take the mention out of its group into its own (mentions like it follow)", "app",
           palette="Split mention from its group"),
    Action("group-move", "W", "group_move", "Move to group",
           "move the mention into another group (mentions like it follow)", "app", palette="Move mention to group"),
    Action("group-answer", "A", "group_answer", "Answer all",
           "answer at once, one reply per person: the group highlighted in flood mode, else the marked mentions, "
           "else the selected mention's group (preview, skips with reasons, ctrl+s sends)", "app",
           palette="Answer a group / the marked mentions"),
    Action("answer-pause", "P", "answer_pause", "Pause answer",
           "pause / resume the group answer being sent (highlighted in flood mode, else the newest)", "app",
           palette="Pause or resume a group answer"),
    Action("answer-cancel", "C", "answer_cancel", "Cancel answer",
           "cancel a group answer: replies not sent yet are taken back (asks first)", "app",
           palette="Cancel a group answer"),
    Action("answer-approve", "ctrl+o", "answer_approve", "Approve answer",
           "approve another operator's group answer that waits for a second operator (shows it, asks first)", "app",
           palette="Approve a group answer"),
    Action("mark", "space", "mark", "Mark", "mark / unmark the row for c, m, e, a, z on every marked row", "main",
           palette="Mark row"),
    Action("mark-range", "V", "mark_range", "Mark range", "mark every row from the last marked one to this one",
           "main", palette="Mark range"),
    Action("undo", "u", "undo", "Undo",
           "undo your last action (of ten; also a reply not yet sent, within reply_recall)", "main",
           palette="Undo"),
    Action("switch-pane", "tab", "switch_pane", "Switch pane", "switch focus between inbox and mention", "main"),
    *(Action(f"view-{name}", key, f"view('{name}')", VIEWS[name].label,
             f"view: {_VIEW_WORDS.get(name, name)}; its count is in the bar at the top", "main",
             palette=f"View: {VIEWS[name].label}")
      for key, name in VIEW_KEYS.items()),
    *(Action(f"view-{key}", key, f"saved_view('{key}')", f"Saved view {key}",
             f"view: the search saved on {key} (* saves one)", "main", palette=f"View: saved view {key}")
      for key in SAVED_KEYS),
    Action("order", "O", "toggle_order", "Oldest first",
           "oldest first / newest first (what waits longest on top), remembered per view", "main",
           palette="Toggle oldest first"),
    Action("save-view", "asterisk", "save_view", "Save view",
           "save this search as a view on 7-9, for the whole desk (on a saved view: remove it)", "main",
           palette="Save search as view"),
    Action("help", "question_mark", "help", "Help", "every key (this help)", "app", show=True, palette="Keys"),
    Action("quit", "q", "quit", "Quit", "quit", "app", show=True),
)
BY_ID = {action.id: action for action in ACTIONS}


def bindings(scope: str) -> list[BindingType]:
    return [Binding(a.keys, a.action, a.label, show=a.show, priority=a.priority, id=a.id, tooltip=a.description)
            for a in ACTIONS if a.scope == scope]


def app_bindings(*action_ids: str) -> list[BindingType]:
    """App actions again on a modal screen (which hides the app's bindings), under the same ids: a keymap moves both."""
    return [Binding(BY_ID[i].keys, f"app.{BY_ID[i].action}", BY_ID[i].label, show=False, id=i,
                    tooltip=BY_ID[i].description) for i in action_ids]


def resolve_keymap(keymap: Mapping[str, str] | None) -> dict[str, str]:
    """Every action's keys once `keymap` is applied (normalized: `?` is `question_mark`).

    Raises KeymapError, one line, for an unknown action id, an empty key list or a key bound twice.
    """
    keymap = dict(keymap or {})
    for action_id, keys in keymap.items():
        if action_id not in BY_ID:
            raise KeymapError(f"keymap: unknown action {action_id!r}; actions are: {', '.join(BY_ID)}")
        if not isinstance(keys, str) or not [key for key in keys.split(",") if key.strip()]:
            raise KeymapError(f"keymap: {action_id} = {keys!r} names no key; "
                              "give key names separated by commas, e.g. \"c,ctrl+t\"")
    effective = {action.id: _normalize_key_list(keymap.get(action.id, action.keys)) for action in ACTIONS}
    # Every scope is live at once on the split view, so a key may mean one action only.
    owner: dict[str, str] = {}
    for action_id, keys in effective.items():
        for key in keys.split(","):
            key = key.strip()
            if key in owner and owner[key] != action_id:
                raise KeymapError(f"keymap: key {key!r} is bound to both {owner[key]!r} and {action_id!r}")
            owner[key] = action_id
    return effective
