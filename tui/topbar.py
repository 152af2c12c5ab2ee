"""The top of the screen, designed for 80 columns first.

Every line is built from whole pieces: a piece that does not fit is left out,
never cut mid-word. The view bar shortens its labels before it drops anything,
so every view and its count stay visible at 80 columns.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from store.inbox import VIEWS
from store.saved_views import SAVED_PREFIX

# Label tiers, widest first: full names, then abbreviations, then keys alone.
SHORT_LABELS = {"open": "Open", "care": "Care", "marketing": "Mkt", "untriaged": "Untr",
                "done": "Done", "mine": "Mine", "all": "All", "snoozed": "Snz"}


def view_label(view: str) -> str:
    """A quick view's label, or a saved view's name."""
    return VIEWS[view].label if view in VIEWS else view.removeprefix(SAVED_PREFIX)


def compact_count(count: int | None) -> str:
    if count is None:
        return "…"
    if count < 10_000:
        return f"{count:,}"
    if count < 1_000_000:
        return f"{count // 1000}k"
    return f"{count / 1_000_000:.1f}M".replace(".0M", "M")


def fit(pieces: Sequence[Text | list[Text]], width: int, separator: str = " ") -> Text:
    """As many whole pieces as fit in `width`, in order of importance (earlier first).

    A piece may be a list of alternatives, longest first: the first that fits is used.
    """
    line = Text()
    for piece in pieces:
        gap = separator if line.cell_len else ""
        for choice in (piece if isinstance(piece, list) else [piece]):
            if line.cell_len + len(gap) + choice.cell_len <= width:
                line.append(gap)
                line.append_text(choice)
                break  # otherwise a shorter piece later may still fit
    return line


def view_bar(views: list[tuple[str, str, str]], counts: dict[str, int], current: str | None,
             width: int) -> Text:
    """`1 Open 12  2 Care 3 …` for (key, name, label) in `views`, the current view highlighted."""
    # Two spaces between views read best; one space only once labels are already short.
    for tier, separator in (("full", "  "), ("short", "  "), ("short", " "), ("keys", "  "), ("keys", " ")):
        bar = Text(" ")
        for index, (key, name, label) in enumerate(views):
            if index:
                bar.append(separator)
            shown = {"full": label, "short": SHORT_LABELS.get(name, label[:4]), "keys": ""}[tier]
            words = " ".join(part for part in (key, shown, compact_count(counts.get(name))) if part)
            bar.append(words, "bold reverse" if name == current else "")
        if bar.cell_len <= width:
            return bar
    return bar  # narrower than any terminal the console supports: the terminal crops it
