"""The import's reference: the same JSONL rows written as plainly as SQLite allows.

    python bench/import_reference.py FILE.jsonl DB

json.loads per line, then executemany of the fields into a table without
indexes and of the texts into an FTS5 table (its default tokenizer), 50,000
rows per transaction, WAL and synchronous=NORMAL like the desk. No checks,
no cleaning, no authors, tags or vocabulary: what the disk and SQLite cost
for these rows, against which the real import is compared in the same run.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import sys

COLUMNS = ("network", "remote_id", "account", "author_handle", "author_name", "text", "url", "lang", "created_at",
           "received_at", "status")


def main(source: str, target: str) -> None:
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"CREATE TABLE mentions (id INTEGER PRIMARY KEY, {', '.join(COLUMNS)})")
    conn.execute("CREATE VIRTUAL TABLE texts USING fts5 (text)")
    insert = f"INSERT INTO mentions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
    with open(source, encoding="utf-8") as lines:
        while batch := list(itertools.islice(lines, 50_000)):
            records = [json.loads(line) for line in batch if line.strip()]
            conn.execute("BEGIN")
            conn.executemany(insert, [tuple(record.get(name) for name in COLUMNS) for record in records])
            conn.executemany("INSERT INTO texts (text) VALUES (?)", [(record["text"],) for record in records])
            conn.execute("COMMIT")
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
