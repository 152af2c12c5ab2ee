"""Records that cross the border between adapters and the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from store.sanitize import clean_line, clean_text


@dataclass(frozen=True, slots=True)
class NewMention:
    """One mention as an adapter hands it to the store.

    `remote_id` is unique per `network`; storing the same one twice is a
    no-op, so replays after a reconnect or a crash are harmless.
    `reply_ref` carries what the network needs to answer (status id and
    visibility, strong refs, ...) and `raw` the payload as received.
    """

    network: str
    account: str
    remote_id: str
    author_handle: str
    text: str
    created_at: str
    author_name: str = ""
    url: str | None = None
    parent_remote_id: str | None = None
    root_remote_id: str | None = None
    lang: str | None = None
    reply_ref: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] | None = None

    def cleaned(self) -> NewMention:
        """A copy with every network-supplied string made inert."""
        return NewMention(
            network=clean_line(self.network, 64),
            account=clean_line(self.account),
            remote_id=clean_line(self.remote_id, 1000),
            author_handle=clean_line(self.author_handle),
            author_name=clean_line(self.author_name),
            text=clean_text(self.text),
            created_at=clean_line(self.created_at, 64),
            url=clean_line(self.url, 2000) or None,
            parent_remote_id=clean_line(self.parent_remote_id, 1000) or None,
            root_remote_id=clean_line(self.root_remote_id, 1000) or None,
            lang=clean_line(self.lang, 16) or None,
            reply_ref=self.reply_ref,
            raw=self.raw,
        )
