"""Would a reply be seen? Read from the AppView's thread view, before sending.

The PDS accepts a reply the AppView will show to nobody: into a thread
whose root has a threadgate that leaves the brand out, to someone who
blocks the brand (or whom the brand blocks), or to a deleted post. The
official app disables Reply in those cases; `app.bsky.feed.getPostThread`
(asked as the brand) says which: `viewer.replyDisabled` on the post,
a `#blockedPost` with `author.viewer.blockedBy` / `blocking`, and a deleted
post as 400 NotFound (or, per the lexicon, a `#notFoundPost`).
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.wire import as_dict, as_str

DELETED = "deleted"
BLOCKED = "blocked"
GATED = "gated"


@dataclass(frozen=True, slots=True)
class Hidden:
    """Why a reply would not be shown: `kind` (deleted, blocked, gated) and a sentence."""

    kind: str
    reason: str


def _who(author: dict, known: str | None) -> str:
    handle = author.get("handle")
    did = author.get("did")
    if isinstance(handle, str) and handle and handle != "handle.invalid":
        return "@" + handle[:253]
    if known:
        return known  # a blocked post's author comes without a handle
    return did[:200] if isinstance(did, str) and did else "its author"


def _block(viewer: dict, who: str) -> Hidden | None:
    if viewer.get("blocking"):
        return Hidden(BLOCKED, f"the brand blocks {who}")
    if viewer.get("blockedBy") is True:
        return Hidden(BLOCKED, f"{who} blocks the brand")
    return None


def deleted() -> Hidden:
    return Hidden(DELETED, "the post was deleted")


def hidden_reason(answer: object, who: str | None = None) -> Hidden | None:
    """Why a reply under the thread view's anchor would be hidden; None when it would show (or cannot tell).

    `who` names the post's author when the view does not (e.g. "@alice.bsky.social").
    """
    thread = as_dict(as_dict(answer).get("thread"))
    kind = as_str(thread.get("$type"))
    if kind.endswith("#notFoundPost") or thread.get("notFound") is True:
        return deleted()
    author = as_dict(thread.get("author"))
    if kind.endswith("#blockedPost") or thread.get("blocked") is True:
        name = _who(author, who)
        return _block(as_dict(author.get("viewer")), name) or Hidden(BLOCKED, f"{name} and the brand block each other")
    post = as_dict(thread.get("post"))
    author = as_dict(post.get("author"))
    blocked = _block(as_dict(author.get("viewer")), _who(author, who))
    if blocked is not None:
        return blocked
    if as_dict(post.get("viewer")).get("replyDisabled") is True:
        return Hidden(GATED, "the thread's author limits who can reply (threadgate) and the brand is not included")
    return None
