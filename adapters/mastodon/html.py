"""Mastodon status HTML to plain text an operator can read.

Servers send `content` as sanitized HTML, but "sanitized" differs between
Mastodon, GoToSocial, Akkoma and the rest, and a remote server's HTML is
only as good as it was. So: a tolerant parser, nothing rendered as markup,
and the result passed through `clean_text` (no escapes, no controls).

Rules (docs: "HTML content → plain text"):
- mentions become `@acct`, resolved through `status.mentions` by href
  (the visible text is `@user` without the domain);
- links become their `href`, never the truncated visible text; a link
  whose label is not its address is shown as `label (href)` so where it
  goes stays visible;
- `<br>` is a newline, paragraphs are separated by a blank line;
- entities are unescaped (the result is text, not HTML);
- quote-compat paragraphs (`class="quote-inline"`) are dropped.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from store.sanitize import clean_text

_BLOCKS = {"p", "div", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
           "table", "tr", "section", "article", "header", "footer", "figure", "hr"}
_DROP_CONTENT = {"script", "style", "template", "head", "title", "noscript", "iframe", "object"}
_VOID = {"br", "hr", "img", "wbr", "input", "meta", "link", "area", "base", "col", "embed",
         "source", "track", "param"}
# HTML whitespace only: a no-break space is content.
_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
# Profile URL shapes of common servers, for mentions the status did not list.
_PROFILE_PATH = re.compile(r"^/(?:@|users/|u/|profile/|~)([A-Za-z0-9_.+-]+)/?$")
_MAX_DEPTH = 200


def mention_map(mentions: Any) -> dict[str, str]:
    """href -> acct from a status's `mentions` array (bad entries ignored)."""
    result: dict[str, str] = {}
    if not isinstance(mentions, list):
        return result
    for item in mentions:
        if not isinstance(item, dict):
            continue
        acct, url = item.get("acct"), item.get("url")
        if isinstance(acct, str) and acct.strip() and isinstance(url, str) and url.strip():
            result[_norm_href(url)] = acct.strip().lstrip("@")
    return result


def html_to_text(content: Any, mentions: Any = None) -> str:
    """Plain, inert text for a status's HTML `content`."""
    if not isinstance(content, str) or not content:
        return ""
    converter = _Converter(mention_map(mentions))
    try:
        converter.feed(content)
        converter.close()
        text = converter.text()
    except Exception:  # noqa: BLE001 - a parser bug must not lose the mention
        text = _strip_tags(content)
    return clean_text(text)


def status_text(status: dict[str, Any]) -> str:
    """The full readable text of a Status: content warning, body, attachments."""
    body = html_to_text(status.get("content"), status.get("mentions"))
    spoiler = status.get("spoiler_text")
    parts = []
    if isinstance(spoiler, str) and spoiler.strip():
        parts.append(f"CW: {clean_text(spoiler, multiline=False)}")
    if body:
        parts.append(body)
    attachments = _attachments(status.get("media_attachments"))
    if attachments:
        parts.append(attachments)
    return "\n\n".join(parts)


def _attachments(items: Any) -> str:
    if not isinstance(items, list):
        return ""
    lines = []
    for item in items[:16]:
        if not isinstance(item, dict):
            continue
        kind = item.get("type") if isinstance(item.get("type"), str) else "attachment"
        kind = clean_text(kind, multiline=False, limit=20) or "attachment"
        description = item.get("description")
        if isinstance(description, str) and description.strip():
            lines.append(f"[{kind}: {clean_text(description, multiline=False, limit=500)}]")
        else:
            lines.append(f"[{kind}]")
    return "\n".join(lines)


def _norm_href(url: str) -> str:
    return url.strip().rstrip("/").lower()


def _strip_tags(content: str) -> str:
    text = re.sub(r"<br\s*/?>", "\n", content, flags=re.IGNORECASE)
    text = re.sub(r"</p\s*>\s*<p[^>]*>", "\n\n", text, flags=re.IGNORECASE)
    text = re.sub(r"<[^>]*>", "", text)
    return html.unescape(text)


def _classes(attrs: list[tuple[str, str | None]]) -> set[str]:
    for name, value in attrs:
        if name == "class" and value:
            return set(value.split())
    return set()


def _attr(attrs: list[tuple[str, str | None]], wanted: str) -> str:
    for name, value in attrs:
        if name == wanted and value:
            return value
    return ""


class _Link:
    """An <a> being read: its href, its classes, and the text seen inside."""

    def __init__(self, href: str, classes: set[str], depth: int):
        self.href = href
        self.classes = classes
        self.depth = depth
        self.visible: list[str] = []
        self.hidden = False  # had .invisible/.ellipsis parts: the text is a truncated URL


class _Converter(HTMLParser):
    def __init__(self, mentions: dict[str, str]):
        super().__init__(convert_charrefs=True)
        self.mentions = mentions
        self.out: list[str] = []
        self.pending_breaks = 0
        self.stack: list[str] = []
        self.drop_depth: int | None = None  # inside a dropped element opened at this depth
        self.pre_depth = 0
        self.link: _Link | None = None
        self.list_counters: list[int | None] = []

    # --- output -------------------------------------------------------------
    def _at_line_start(self) -> bool:
        return not self.out or self.out[-1].endswith("\n")

    def _emit(self, text: str, *, raw: bool = False) -> None:
        if not text:
            return
        if not raw:
            text = _WHITESPACE.sub(" ", text)
            if (self.pending_breaks or self._at_line_start()) and text.startswith(" "):
                text = text.lstrip(" ")
            if not text:
                return
        if self.pending_breaks and self.out:
            self._trim_trailing_spaces()
            self.out.append("\n" * self.pending_breaks)
        self.pending_breaks = 0
        self.out.append(text)

    def _trim_trailing_spaces(self) -> None:
        while self.out and self.out[-1].endswith(" "):
            self.out[-1] = self.out[-1].rstrip(" ")
            if not self.out[-1]:
                self.out.pop()

    def _break(self, count: int) -> None:
        if self.out:
            self.pending_breaks = max(self.pending_breaks, count)

    def _newline(self) -> None:
        self._trim_trailing_spaces()
        if self.pending_breaks:
            self.out.append("\n" * self.pending_breaks)
            self.pending_breaks = 0
        self.out.append("\n")

    def text(self) -> str:
        text = "".join(self.out)
        text = "\n".join(line.rstrip() for line in text.split("\n"))
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")

    # --- parser callbacks -----------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if self.drop_depth is not None:
            if tag not in _VOID:
                self.stack.append(tag)
            return
        classes = _classes(attrs)
        if tag in _DROP_CONTENT or "quote-inline" in classes:
            if tag not in _VOID:
                self.stack.append(tag)
                self.drop_depth = len(self.stack)
            return
        if tag == "br":
            if self.link is None:
                self._newline()
            return
        if tag == "img":
            alt = _attr(attrs, "alt")
            if alt:
                self._text(alt)
            return
        if tag in _VOID:
            if tag == "hr":
                self._break(2)
            return
        if len(self.stack) >= _MAX_DEPTH:
            return
        self.stack.append(tag)
        if tag in _BLOCKS:
            self._break(2 if tag != "tr" else 1)
            if tag == "pre":
                self.pre_depth += 1
            elif tag == "ul":
                self.list_counters.append(None)
            elif tag == "ol":
                start = _attr(attrs, "start")
                self.list_counters.append(int(start) if start.isascii() and start.isdigit() and len(start) < 9 else 1)
        elif tag == "li":
            self._break(1)
            counter = self.list_counters[-1] if self.list_counters else None
            if counter is None:
                self._emit("- ", raw=True)
            else:
                self._emit(f"{counter}. ", raw=True)
                self.list_counters[-1] = counter + 1
        elif tag == "a" and self.link is None:
            self.link = _Link(_attr(attrs, "href").strip(), classes, len(self.stack))
        elif tag == "span" and self.link is not None and classes & {"invisible", "ellipsis"}:
            self.link.hidden = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag.lower() not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag not in self.stack:
            return  # stray end tag
        while self.stack:
            opened = self.stack.pop()
            depth = len(self.stack) + 1
            self._close(opened, depth)
            if opened == tag:
                break

    def _close(self, tag: str, depth: int) -> None:
        if self.drop_depth is not None:
            if depth == self.drop_depth:
                self.drop_depth = None
                if tag in _BLOCKS:
                    self._break(2)
            return
        if tag == "a" and self.link is not None and depth == self.link.depth:
            link, self.link = self.link, None
            self._emit(self._render_link(link))
        elif tag in _BLOCKS:
            if tag == "pre":
                self.pre_depth = max(0, self.pre_depth - 1)
            elif tag in ("ul", "ol") and self.list_counters:
                self.list_counters.pop()
            self._break(2 if tag != "tr" else 1)
        elif tag == "li":
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self.drop_depth is not None:
            return
        self._text(data)

    def _text(self, data: str) -> None:
        if self.link is not None:
            self.link.visible.append(data)
        else:
            self._emit(data, raw=self.pre_depth > 0)

    # --- links ----------------------------------------------------------------
    def _render_link(self, link: _Link) -> str:
        visible = _WHITESPACE.sub(" ", "".join(link.visible)).strip()
        href = link.href
        scheme = urlsplit(href).scheme.lower() if href else ""
        web = scheme in ("http", "https")
        if visible.startswith("@") or "mention" in link.classes and "hashtag" not in link.classes:
            acct = self._mention_acct(href, visible) if web else ""
            return f"@{acct}" if acct else visible
        if visible.startswith("#") or "hashtag" in link.classes:
            return visible or href
        if not web:
            return visible
        if link.hidden or not visible or _looks_like(visible, href):
            return href
        return f"{visible} ({href})"

    def _mention_acct(self, href: str, visible: str) -> str:
        acct = self.mentions.get(_norm_href(href))
        if acct:
            return acct
        name = visible.lstrip("@")
        if "@" in name:
            return name
        parts = urlsplit(href)
        match = _PROFILE_PATH.match(parts.path)
        host = parts.hostname or ""
        if match and host:
            return f"{match.group(1)}@{host}"
        return ""


def _looks_like(visible: str, href: str) -> bool:
    """Is the label just the address, maybe without its scheme or shortened?"""
    label = visible.rstrip("…").rstrip(".").lower()
    target = href.lower()
    bare = re.sub(r"^[a-z][a-z0-9+.-]*://", "", target)
    stripped = re.sub(r"^[a-z][a-z0-9+.-]*://", "", label)
    if not stripped:
        return False
    return target.startswith(label) or bare.startswith(stripped) or stripped.startswith(bare)
