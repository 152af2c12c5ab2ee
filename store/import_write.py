"""Writing parsed import rows: one transaction per write, mentions and their search documents together.

Set-based on purpose: a million rows cost what SQLite needs to store them,
not a Python round trip per statement (store.mention_rows inserts a whole
write with one statement and still tells which rows were new). The search
documents are written in the same transaction, so whatever an interrupted import committed is
searchable, and re-running it skips exactly the committed rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from store.db import Store
from store.events import log_event
from store.import_rows import ReplyRecord, Row
from store.ingest import _ids_for
from store.keys import new_reply_key
from store.mention_rows import MentionRow, insert_mention_rows
from store.sanitize import clean_line
from store.search_documents import insert_documents
from store.search_terms import AUTHOR_MARK, NETWORK_MARK, is_vocab_term


class ImportWriter:
    """Writes chunks for one import; remembers author, account and vocabulary work across chunks.

    The caches hold only what committed transactions wrote (a failed chunk
    raises, and the import stops with it).
    """

    def __init__(self, store: Store, operator: str):
        self.store, self.operator = store, operator
        self.ids: dict[tuple[str, str, str], int] = {}
        self.vocab: set[str] = set()
        self.imported = self.duplicates = 0

    def write(self, rows: list[Row], documents: list[str], vocab: list[str]) -> None:
        if not rows:
            return
        store, conn = self.store, self.store.conn
        with store.write():
            now = store.now()
            pending_ids: dict[tuple[str, str, str], int] = {}
            mention_ids = insert_mention_rows(store, self._mention_rows(rows, now, pending_ids))
            new = [(index, mention_id) for index, mention_id in enumerate(mention_ids) if mention_id is not None]
            if len(new) < len(rows):  # the chunk's vocabulary is of all its rows: only the new ones count
                vocab = self._vocab_of(documents[index] for index, _ in new)
            self.duplicates += len(rows) - len(new)
            self.imported += len(new)
            conn.executemany("INSERT INTO tags (mention_id, tag, operator, at) VALUES (?, ?, ?, ?)",
                             [(mention_id, tag, self.operator, now) for index, mention_id in new
                              for tag in rows[index][13]])
            for index, mention_id in new:
                for reply in rows[index][14]:
                    self._insert_reply(mention_id, reply, now)
            insert_documents(conn, [(mention_id, documents[index]) for index, mention_id in new])
            fresh = [term for term in vocab if term not in self.vocab]
            conn.executemany("INSERT OR IGNORE INTO search_vocab (term) VALUES (?)", [(term,) for term in fresh])
            log_event(store, self.operator, "import.batch", None, imported=self.imported)
        self.ids.update(pending_ids)
        self.vocab.update(fresh)

    def _mention_rows(self, rows: list[Row], now: str, pending_ids: dict[tuple[str, str, str], int]
                      ) -> list[MentionRow]:
        """The rows as stored; new authors and accounts are inserted on the way."""
        ids, store = self.ids, self.store
        out: list[MentionRow] = []
        for (network, remote_id, account, handle, name, text, url, lang, created_at, received_at,
             parent, root, status, tags, replies) in rows:
            akey, hkey = ("accounts", network, account), ("authors", network, handle)
            account_id = ids.get(akey) or pending_ids.get(akey)
            if account_id is None:
                account_id = pending_ids[akey] = _ids_for(store, "accounts", network, account)
            author_id = ids.get(hkey) or pending_ids.get(hkey)
            if author_id is None:
                author_id = pending_ids[hkey] = _ids_for(store, "authors", network, handle, {"display_name": name})
            # A mention someone already handled is not "new" on this desk.
            seen = 1 if status == "done" or tags or replies else 0
            out.append((network, remote_id, account_id, author_id, text, url, lang, created_at, received_at or now,
                        parent, root, status, seen, "{}", None))
        return out

    @staticmethod
    def _vocab_of(documents: Iterable[str]) -> list[str]:
        # The vocabulary is of text terms: filter terms (author, network) start with a private-use mark.
        return sorted({term for document in documents for term in document.split()
                       if term[0] not in (AUTHOR_MARK, NETWORK_MARK) and is_vocab_term(term)})

    def _insert_reply(self, mention_id: int, reply: ReplyRecord, now: str) -> None:
        self.store.conn.execute(
            """INSERT INTO replies (mention_id, text, operator, created_at, state, idem_key, sent_at,
                   remote_id, remote_url, error)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (mention_id, reply.text, clean_line(self.operator) if reply.operator is None else reply.operator,
             now if reply.created_at is None else reply.created_at, reply.state, new_reply_key(),
             reply.sent_at, reply.remote_id, reply.remote_url, reply.error),
        )
