"""The mentiondesk database: schema, migrations, queries and search.

Nothing outside this package runs SQL. Every function takes an open
:class:`store.db.Store` (one per thread: sqlite3 connections are bound to
the thread that made them).
"""

from store.db import Store, StoreError, open_store
from store.records import NewMention

__all__ = ["Store", "StoreError", "open_store", "NewMention"]
