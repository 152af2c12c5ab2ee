"""What a post embeds, as plain text appended to the mention.

A post's record carries its embed raw: images with their alt text, an
external link card, or a reference (at-URI + CID) to a quoted record. The
quoted post's author and text come from the AppView (`getPosts`, fetched
by the adapter and passed in here as post views by URI). Each embed
becomes one line with a leading "↪", after a blank line, so the operator
reads what the customer quoted or showed, and export and search carry it.
Nothing here does I/O; malformed shapes are skipped, never fatal.
"""

from __future__ import annotations

from collections.abc import Mapping

import regex

from adapters.bluesky.facets import render_text
from adapters.bluesky.records import parse_post_uri, post_url
from adapters.wire import as_dict, as_str

IMAGES = "app.bsky.embed.images"
EXTERNAL = "app.bsky.embed.external"
RECORD = "app.bsky.embed.record"
RECORD_WITH_MEDIA = "app.bsky.embed.recordWithMedia"
VIDEO = "app.bsky.embed.video"

MARK = "↪"
_QUOTE_GRAPHEMES = 300
_LINE_CHARS = 600
_KINDS = {"app.bsky.feed.generator": "a feed", "app.bsky.graph.list": "a list",
          "app.bsky.graph.starterpack": "a starter pack", "app.bsky.labeler.service": "a labeler"}
_GRAPHEME = regex.compile(r"\X")


def _one_line(text: str, graphemes: int = _QUOTE_GRAPHEMES) -> str:
    flat = " ".join(text.split())
    clusters = _GRAPHEME.findall(flat[: graphemes * 8])
    return "".join(clusters[:graphemes]) + ("…" if len(clusters) > graphemes else "")


def _line(text: str) -> str:
    return f"{MARK} {text}"[:_LINE_CHARS]


def _record_ref(embed: dict) -> str:
    """The at-URI a record embed points at ("" if none)."""
    kind = as_str(embed.get("$type"))
    if kind == RECORD:
        return as_str(as_dict(embed.get("record")).get("uri"))
    if kind == RECORD_WITH_MEDIA:
        return as_str(as_dict(as_dict(embed.get("record")).get("record")).get("uri"))
    return ""


def quoted_uris(record: object) -> list[str]:
    """URIs of posts the record quotes (to fetch their views)."""
    uri = _record_ref(as_dict(as_dict(record).get("embed")))
    return [uri] if parse_post_uri(uri) is not None else []


def _media_lines(media: dict) -> list[str]:
    kind = as_str(media.get("$type"))
    lines = []
    if kind == IMAGES:
        images = media.get("images")
        for image in images[:4] if isinstance(images, list) else []:
            alt = _one_line(as_str(as_dict(image).get("alt")), 1000)
            lines.append(_line(f"image: {alt}" if alt else "image (no description)"))
    elif kind == VIDEO:
        alt = _one_line(as_str(media.get("alt")), 1000)
        lines.append(_line(f"video: {alt}" if alt else "video (no description)"))
    elif kind == EXTERNAL:
        external = as_dict(media.get("external"))
        uri = as_str(external.get("uri")).strip()
        title = _one_line(as_str(external.get("title")), 200)
        if uri or title:
            lines.append(_line(f"link: {title} <{uri}>" if title and uri else f"link: {title or uri}"))
    return lines


def _quote_line(uri: str, views: Mapping[str, dict]) -> str:
    target = parse_post_uri(uri)
    if target is None:
        collection = uri.split("/")[3] if uri.count("/") >= 4 else ""
        return _line(f"embeds {_KINDS.get(collection, 'a record')}: {uri}") if uri.startswith("at://") else ""
    view = as_dict(views.get(uri))
    author = as_dict(view.get("author"))
    handle = as_str(author.get("handle"))
    record = as_dict(view.get("record"))
    if not view or not handle:
        return _line(f"quoting a post that is not available: {post_url(target[0], target[1])}")
    text = _one_line(render_text(record.get("text"), record.get("facets")))
    extras = [line[len(MARK) + 1:] for line in _media_lines(as_dict(record.get("embed")))]
    body = text + "".join(f" [{extra}]" for extra in extras)
    return _line(f"quoting @{handle}: {body}".rstrip())


def embed_lines(record: object, views: Mapping[str, dict] | None = None) -> list[str]:
    """One "↪ …" line per thing the post embeds."""
    embed = as_dict(as_dict(record).get("embed"))
    kind = as_str(embed.get("$type"))
    lines = []
    if kind in (RECORD, RECORD_WITH_MEDIA):
        quote = _quote_line(_record_ref(embed), views or {})
        if quote:
            lines.append(quote)
    lines += _media_lines(as_dict(embed.get("media")) if kind == RECORD_WITH_MEDIA else embed)
    return lines


def with_embeds(text: str, record: object, views: Mapping[str, dict] | None = None) -> str:
    """The post's text followed by its embeds, a blank line between."""
    lines = embed_lines(record, views)
    if not lines:
        return text
    return (text.rstrip() + "\n\n" if text.strip() else "") + "\n".join(lines)
