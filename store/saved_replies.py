"""Saved replies the whole desk shares: a name, a language, tags, and a body with {variables}.

Filling is plain substitution of known names (never `str.format`, which would let a body
reach into objects); a variable that cannot be filled stays visible as `{name}` and is
listed in `Filled.missing`, so the console can refuse to send it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from store.db import Store, inserted_id
from store.errors import ActionError
from store.events import log_event
from store.sanitize import clean_line, clean_text

TAGS = ("care", "marketing")
VARIABLES = {
    "author": "the author's display name", "handle": "the author's handle", "operator": "your operator name",
    "network": "the mention's network", "account": "the brand account mentioned", "url": "the mention's link",
    "lang": "the mention's language", "id": "the mention's id",
}
MAX_NAME, MAX_BODY = 80, 5000
_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,31})\}")
_LANG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")


@dataclass(frozen=True, slots=True)
class SavedReply:
    id: int
    name: str
    lang: str  # "" fits every language
    tags: tuple[str, ...]
    body: str
    updated_by: str
    updated_at: str

    def record(self) -> dict[str, object]:
        """What export writes and import reads back."""
        return {"name": self.name, "lang": self.lang, "tags": list(self.tags), "body": self.body}


@dataclass(frozen=True, slots=True)
class Filled:
    text: str
    missing: tuple[str, ...]  # variables left as {name}: unknown, or no value for this mention


def fill(body: str, values: Mapping[str, str | None]) -> Filled:
    missing: list[str] = []

    def value(found: re.Match[str]) -> str:
        filled = values.get(found[1])
        if filled:
            return filled
        if found[1] not in missing:
            missing.append(found[1])
        return found[0]

    return Filled(_VARIABLE.sub(value, body), tuple(missing))


def unfilled(text: str, names: Iterable[str]) -> list[str]:
    """The `{name}` placeholders among `names` still in `text` (what must be filled before sending)."""
    present = set(_VARIABLE.findall(text))
    return [name for name in names if name in present]


@dataclass(frozen=True, slots=True)
class MentionValues:
    """What a saved reply's variables become for one mention (None: nothing to fill in)."""

    author: str | None
    handle: str | None
    network: str
    account: str | None
    url: str | None
    lang: str | None
    id: str
    operator: str

    def mapping(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in VARIABLES}


@dataclass(frozen=True, slots=True)
class Imported:
    added: int
    updated: int


def mention_values(store: Store, mention_id: int, operator: str) -> MentionValues:
    row = store.conn.execute(
        """SELECT a.display_name, a.handle, m.network, acc.handle, m.url, m.lang FROM mentions m
           JOIN authors a ON a.id = m.author_id JOIN accounts acc ON acc.id = m.account_id WHERE m.id = ?""",
        (mention_id,)).fetchone()
    if row is None:
        raise ActionError(f"no mention with id {mention_id}")
    author, handle, network, account, url, lang = row
    return MentionValues(author or None, handle or None, network, account or None, url or None, lang or None,
                         str(mention_id), operator)


def _checked(name: str, body: str, lang: str, tags: Iterable[str]) -> tuple[str, str, str, str]:
    clean_name = clean_line(name, MAX_NAME + 1)
    if not clean_name:
        raise ActionError("a saved reply needs a name")
    if len(clean_name) > MAX_NAME:
        raise ActionError(f"the name is over {MAX_NAME} characters")
    clean_body = checked_body(body, f"saved reply {clean_name!r}")
    clean_lang = clean_line(lang, 20).lower()
    if clean_lang and not _LANG.match(clean_lang):
        raise ActionError(f"{clean_lang!r} is not a language code (like en, fr or pt-br; empty: any)")
    tag_list: list[str] = []
    for tag in tags:
        tag = str(tag).strip().lower()
        if tag and tag not in TAGS:
            raise ActionError(f"unknown tag {tag!r}: use {' or '.join(TAGS)}")
        if tag and tag not in tag_list:
            tag_list.append(tag)
    return clean_name, clean_body, clean_lang, ",".join(tag_list)


def checked_body(body: str, what: str) -> str:
    """A body cleaned, not empty, not too long, naming only known variables (else one line on `what`)."""
    clean_body = clean_text(body, limit=MAX_BODY + 1).strip()
    if not clean_body:
        raise ActionError(f"{what} has an empty body")
    if len(clean_body) > MAX_BODY:
        raise ActionError(f"{what} is over {MAX_BODY} characters")
    unknown = [name for name in _VARIABLE.findall(clean_body) if name not in VARIABLES]
    if unknown:
        raise ActionError(f"unknown variable {{{unknown[0]}}} in {what}; variables are "
                          + " ".join(f"{{{name}}}" for name in VARIABLES))
    return clean_body


_COLUMNS = "id, name, lang, tags, body, updated_by, updated_at"


def _reply(row: tuple) -> SavedReply:
    rid, name, lang, tags, body, by, at = row
    return SavedReply(rid, name, lang, tuple(tag for tag in tags.split(",") if tag), body, by, at)


def list_replies(store: Store) -> list[SavedReply]:
    return [_reply(row) for row in store.conn.execute(f"SELECT {_COLUMNS} FROM saved_replies ORDER BY name")]


def get_reply(store: Store, name: str) -> SavedReply:
    row = store.conn.execute(f"SELECT {_COLUMNS} FROM saved_replies WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise ActionError(f"no saved reply named {clean_line(name, MAX_NAME)!r}")
    return _reply(row)


def add_reply(store: Store, name: str, body: str, operator: str, *, lang: str = "",
              tags: Iterable[str] = ()) -> SavedReply:
    name, body, lang, tag_text = _checked(name, body, lang, tags)
    with store.write():
        if store.conn.execute("SELECT 1 FROM saved_replies WHERE name = ?", (name,)).fetchone():
            raise ActionError(f"a saved reply named {name!r} exists; edit it instead")
        inserted_id(store.conn.execute(
            "INSERT INTO saved_replies (name, lang, tags, body, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (name, lang, tag_text, body, operator, store.now())))
        log_event(store, operator, "saved_reply.add", None, name=name)
        return get_reply(store, name)


def edit_reply(store: Store, name: str, operator: str, *, new_name: str | None = None, body: str | None = None,
               lang: str | None = None, tags: Iterable[str] | None = None) -> SavedReply:
    """Change what is given; the rest stays."""
    with store.write():
        old = get_reply(store, name)
        fields = _checked(old.name if new_name is None else new_name, old.body if body is None else body,
                          old.lang if lang is None else lang, old.tags if tags is None else tags)
        if fields[0] != old.name and store.conn.execute(
                "SELECT 1 FROM saved_replies WHERE name = ?", (fields[0],)).fetchone():
            raise ActionError(f"a saved reply named {fields[0]!r} exists already")
        store.conn.execute(
            "UPDATE saved_replies SET name = ?, body = ?, lang = ?, tags = ?, updated_by = ?, updated_at = ? "
            "WHERE id = ?", (*fields, operator, store.now(), old.id))
        log_event(store, operator, "saved_reply.edit", None, name=fields[0], was=old.name)
        return get_reply(store, fields[0])


def remove_reply(store: Store, name: str, operator: str) -> None:
    with store.write():
        old = get_reply(store, name)
        store.conn.execute("DELETE FROM saved_replies WHERE id = ?", (old.id,))
        log_event(store, operator, "saved_reply.remove", None, name=old.name)


def import_replies(store: Store, records: Iterable[Mapping[str, object]], operator: str) -> Imported:
    """Add or update (by name) every record, all or nothing; returns (added, updated)."""
    added = updated = 0
    with store.write():
        for number, record in enumerate(records, 1):
            if not isinstance(record, Mapping):
                raise ActionError(f"entry {number}: not a table of name, lang, tags, body")
            name, body = record.get("name"), record.get("body")
            lang, tags = record.get("lang", ""), record.get("tags", [])
            if not isinstance(name, str) or not isinstance(body, str) or not isinstance(lang, str) \
                    or not isinstance(tags, list):
                raise ActionError(f"entry {number}: name and body must be text, lang text, tags a list")
            try:
                clean_name, clean_body, clean_lang, tag_text = _checked(name, body, lang, tags)
                exists = store.conn.execute("SELECT body, lang, tags FROM saved_replies WHERE name = ?",
                                            (clean_name,)).fetchone()
                if exists == (clean_body, clean_lang, tag_text):
                    continue  # the same reply: nothing to change or log
                if exists:
                    edit_reply(store, clean_name, operator, body=body, lang=lang, tags=tags)
                    updated += 1
                else:
                    add_reply(store, clean_name, body, operator, lang=lang, tags=tags)
                    added += 1
            except ActionError as exc:
                raise ActionError(f"entry {number}: {exc}") from None
    return Imported(added, updated)


def rank(replies: Iterable[SavedReply], query: str, *, lang: str | None, tags: Iterable[str]) -> list[SavedReply]:
    """Replies matching `query` (typos ok), best first; those fitting the mention's language and tags
    come first among equals, and lead the list when nothing is typed."""
    from rapidfuzz import fuzz, utils

    wanted_lang = (lang or "").lower().split("-")[0]
    wanted_tags = set(tags)
    scored: list[tuple[float, str, SavedReply]] = []
    for reply in replies:
        fit = 0.0
        if reply.lang and wanted_lang and reply.lang.split("-")[0] == wanted_lang:
            fit += 15
        elif reply.lang and wanted_lang:
            fit -= 5  # another language: still offered, after the ones that fit
        fit += 10 * len(wanted_tags.intersection(reply.tags))
        if query.strip():
            score = fuzz.WRatio(query, reply.name, processor=utils.default_process)
            if score < 50:
                continue
            fit += score
        scored.append((-fit, reply.name.lower(), reply))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [reply for _fit, _name, reply in scored]
