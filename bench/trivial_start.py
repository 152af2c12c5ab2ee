"""The reference for start-up: a trivial Textual app that paints one line (bench/flood.py).

bench/trivial_app.py is the storm's key-latency reference."""

from textual.app import App, ComposeResult
from textual.widgets import Static

MARKER = "trivial-app-painted"


class Trivial(App):
    def compose(self) -> ComposeResult:
        yield Static(MARKER)


if __name__ == "__main__":
    Trivial().run()
