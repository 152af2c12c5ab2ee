"""The footer: the verbs of the moment that fit, each whole (never cut mid-word)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Input, TextArea

from tui.topbar import fit

NAMED_KEYS = {"escape", "tab", "enter", "up", "down", "left", "right", "home", "end", "pageup", "pagedown",
              "backspace", "delete", "insert"}


def _types_a_character(key: str) -> bool:
    return "+" not in key and key not in NAMED_KEYS and not (key[:1] == "f" and key[1:].isdigit())


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar { height: 1; background: $panel; }
    KeyBar > .keybar--key { color: $accent; text-style: bold; }
    """
    COMPONENT_CLASSES = {"keybar--key"}

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.refresh())

    def _pieces(self) -> list[Text]:
        active = self.screen.active_bindings
        seen: set[str] = set()
        # The screen's keys of the moment first (ctrl+s Send while composing).
        context: list[tuple[str, str]] = getattr(self.screen, "footer_keys", lambda: [])()
        pieces: list[Text] = [self._piece(key, description) for key, description in context]
        typing = isinstance(self.screen.focused, (Input, TextArea))
        for _node, binding, enabled, _tooltip in active.values():
            if not binding.show or not enabled or binding.action in seen:
                continue
            if typing and _types_a_character(binding.key):
                continue  # in a text box that key types itself: showing it as a verb would mislead
            seen.add(binding.action)
            pieces.append(self._piece(self.app.get_key_display(binding), binding.description))
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        if palette is not None and self.app.ENABLE_COMMAND_PALETTE:
            pieces.append(self._piece(self.app.get_key_display(palette.binding), "Commands"))
        return pieces

    def _piece(self, key: str, description: str) -> Text:
        piece = Text()
        piece.append(key, self.get_component_rich_style("keybar--key"))
        piece.append(f" {description}")
        return piece

    def render(self) -> Text:
        pieces = self._pieces()
        # Help is how every other key is found: it always keeps its place at the end.
        helps = [piece for piece in pieces if piece.plain.endswith(" Help")]
        others = [piece for piece in pieces if piece not in helps]
        reserve = sum(piece.cell_len + 2 for piece in helps)
        line = Text(" ")
        line.append_text(fit(others, self.size.width - reserve - 1, "  "))
        return fit([line, *helps], self.size.width, "  ")
