"""The footer: the verbs of the moment that fit, each whole (never cut mid-word)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tui.topbar import fit


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
        pieces: list[Text] = []
        for _node, binding, enabled, _tooltip in active.values():
            if not binding.show or not enabled or binding.action in seen:
                continue
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
