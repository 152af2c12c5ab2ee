"""Whether a rule's conditions hold for one mention, and the mention as rules see it.

Words and phrases match the way search does (store.search_terms makes the
terms, store.search_vocabulary.within_typos allows the same typos), so a
rule finds what `/refund` finds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from store.db import Store
from store.rules_when import When
from store.search_terms import AUTHOR_MARK, author_terms, term_spans, text_terms
from store.search_vocabulary import within_typos


@dataclass(frozen=True, slots=True)
class Subject:
    """A stored mention with what rules may test (signals None: not computed)."""

    id: int
    text: str
    author: str
    network: str
    account: str
    lang: str | None
    sentiment: int | None
    needs_reply: bool | None
    received_at: str
    status: str

    def with_signals(self, lang: str | None, sentiment: int, needs_reply: bool) -> Subject:
        return Subject(self.id, self.text, self.author, self.network, self.account, lang, sentiment, needs_reply,
                       self.received_at, self.status)


_SUBJECT_SQL = """
SELECT m.id, m.text, a.handle, m.network, acc.handle, coalesce(m.sig_lang, m.lang), m.sentiment, m.needs_reply,
       m.received_at, m.status
FROM mentions m JOIN authors a ON a.id = m.author_id JOIN accounts acc ON acc.id = m.account_id
"""


def _subject(row: tuple) -> Subject:
    values = list(row)
    values[7] = None if row[7] is None else bool(row[7])
    return Subject(*values)


def subjects(store: Store, ids: Iterable[int]) -> list[Subject]:
    ids = list(ids)
    out: list[Subject] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        out += [_subject(row) for row in store.conn.execute(f"{_SUBJECT_SQL} WHERE m.id IN ({marks}) ORDER BY m.id",
                                                             chunk)]
    return out


def subjects_since(store: Store, since: str, after_id: int = 0, limit: int = 2000) -> list[Subject]:
    """Mentions received since `since` (ISO), oldest first, in pages (ids above `after_id`)."""
    return [_subject(row) for row in store.conn.execute(
        f"{_SUBJECT_SQL} WHERE m.received_at >= ? AND m.id > ? ORDER BY m.id LIMIT ?", (since, after_id, limit))]


class Matcher:
    """A rule's conditions over one mention; the text's terms are worked out once per mention."""

    def __init__(self, subject: Subject, zone: ZoneInfo | None):
        self.subject = subject
        self.zone = zone
        self._terms: set[str] | None = None
        self._sequence: list[str] | None = None

    @property
    def terms(self) -> set[str]:
        if self._terms is None:
            self._terms = text_terms(self.subject.text)
        return self._terms

    @property
    def sequence(self) -> list[str]:
        if self._sequence is None:
            self._sequence = [term for _, _, term in term_spans(self.subject.text)]
        return self._sequence

    def holds(self, when: When) -> bool:
        s = self.subject
        if when.networks and s.network.lower() not in when.networks:
            return False
        if when.accounts and s.account.lower().lstrip("@") not in when.accounts:
            return False
        if when.authors and not any(AUTHOR_MARK + name.encode().hex() in author_terms(s.author)
                                    for name in when.authors):
            return False
        if when.langs and (s.lang or "").lower()[:2] not in when.langs:
            return False
        if when.sentiments and s.sentiment not in when.sentiments:
            return False
        if when.needs_reply is not None and s.needs_reply is not when.needs_reply:
            return False
        if when.hours is not None and not self._in_hours(when.hours):
            return False
        if when.words and not any(self._has_word(word) for word in when.words):
            return False
        if when.phrases and not any(self._has_phrase(phrase) for phrase in when.phrases):
            return False
        return not when.regex or any(pattern.search(s.text) for pattern in when.regex)

    def _has_word(self, word: str) -> bool:
        return word in self.terms or within_typos(word, self.terms)

    def _has_phrase(self, phrase: tuple[str, ...]) -> bool:
        seq, size = self.sequence, len(phrase)
        return any(all(within_typos(want, (seq[start + offset],)) for offset, want in enumerate(phrase))
                   for start in range(len(seq) - size + 1))

    def _in_hours(self, hours: tuple[int, int]) -> bool:
        try:
            at = datetime.fromisoformat(self.subject.received_at)
        except ValueError:
            return False
        local = at.astimezone(self.zone)  # None: this machine's time zone
        minute = local.hour * 60 + local.minute
        start, end = hours
        return start <= minute < end if start < end else minute >= start or minute < end
