"""executemany on PostgreSQL as one statement over arrays: the batch is one execution, not one per row.

psycopg pipelines an executemany (one round trip), but the server still parses, plans and runs the
statement once per row: at 2,000 mentions/s the ingest leader's per-batch INSERTs and UPDATEs (the
mentions, their signals, the rules' tags, priorities and events) cost 100-300 µs a row on a loaded
machine. The common shapes are rewritten to take each parameter as an array, `unnest`-ed:

- `INSERT INTO t (c1, ...) VALUES (e1, ...) [ON CONFLICT ... DO NOTHING]` -> `INSERT INTO t (c1, ...)
  SELECT e1', ... FROM unnest(%s::T1[], ...) AS v(...)`, e' being e with each parameter as v's column;
- `UPDATE t SET c1 = e1, ... WHERE k = %s` -> `UPDATE t SET c1 = e1' ... FROM unnest(...) AS v(...) WHERE
  t.k = v.k`, only when no key repeats in the batch (run one after another, a later row would see an
  earlier one's change).

The rows go in the same order, row triggers fire per row as before, the count of changed rows is the
same. A parameter must stand alone as some column's value (its type is that column's); any other shape
(ON CONFLICT DO UPDATE, which may not touch one row twice in a statement; RETURNING; named parameters)
is left to executemany.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_PARAM = re.compile(r"%s|%\(p(\d+)\)s")
_INSERT = re.compile(r"(?is)^\s*INSERT\s+INTO\s+(\w+)\s*\(([^()]*)\)\s*VALUES\s*\((.*)\)\s*"
                     r"(ON\s+CONFLICT\s*(?:\([^()]*\))?\s*DO\s+NOTHING)?\s*$")
_UPDATE = re.compile(r"(?is)^\s*UPDATE\s+(\w+)\s+SET\s+(.*?)\s+WHERE\s+(\w+)\s*=\s*(%s|%\(p\d+\)s)\s*$")
_ASSIGN = re.compile(r"(?is)^\s*(\w+)\s*=\s*(.*?)\s*$")
MIN_ROWS = 2  # from this many rows (fewer: executemany's one row is as good)
PIECE_ROWS = 250  # rows a statement at most: dumping the arrays holds the GIL (the console's loop waits)

Types = Callable[[str], Mapping[str, str]]  # table -> column -> its SQL type


@dataclass(frozen=True, slots=True)
class SetWise:
    """One statement doing what an executemany does: its SQL and its parameters, one array each."""

    sql: str
    params: list


def set_wise_pieces(sql: str, rows: Sequence[Sequence[Any] | Mapping[str, Any]], types: Types) -> list[SetWise] | None:
    """Statements, run in order, doing what executemany(sql, rows) does (PIECE_ROWS rows each), or None."""
    if len(rows) < MIN_ROWS:
        return None
    pieces = [set_wise(sql, rows[start:start + PIECE_ROWS], types) for start in range(0, len(rows), PIECE_ROWS)]
    return [piece for piece in pieces if piece is not None] if None not in pieces else None


def set_wise(sql: str, rows: Sequence[Sequence[Any] | Mapping[str, Any]], types: Types) -> SetWise | None:
    """The statement doing what executemany(sql, rows) does, or None for a shape it keeps."""
    if not rows or isinstance(rows[0], Mapping) or "RETURNING" in sql.upper() or "%%" in sql:
        return None
    if (insert := _INSERT.match(sql)) is not None:
        table, names, values, tail = insert.groups()
        columns = [name.strip() for name in names.split(",")]
        exprs = _split(values)
        if len(exprs) != len(columns):
            return None
        rewritten = _with_arrays(list(zip(columns, exprs, strict=True)), table, rows, types)
        if rewritten is None:
            return None
        selected, source, params = rewritten
        return SetWise(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selected)} FROM {source} "
                       f"{tail or ''}", params)
    if (update := _UPDATE.match(sql)) is not None:
        table, sets, key, key_mark = update.groups()
        assigns = [_ASSIGN.match(part) for part in _split(sets)]
        if any(found is None for found in assigns):
            return None
        pairs = [(found.group(1), found.group(2)) for found in assigns if found is not None]
        position = len(_PARAM.findall(sets)) if key_mark == "%s" else int(key_mark[3:-2]) - 1
        if len({_value(row, position) for row in rows}) != len(rows):
            return None
        rewritten = _with_arrays([*pairs, (key, key_mark)], table, rows, types)
        if rewritten is None:
            return None
        values, source, params = rewritten
        settings = ", ".join(f"{column} = {value}" for (column, _), value in zip(pairs, values, strict=False))
        return SetWise(f"UPDATE {table} SET {settings} FROM {source} WHERE {table}.{key} = {values[-1]}", params)
    return None


def _value(row: Sequence[Any] | Mapping[str, Any], position: int) -> Any:
    return row[position] if not isinstance(row, Mapping) else row[f"p{position + 1}"]


def _with_arrays(pairs: list[tuple[str, str]], table: str, rows: Sequence, types: Types
                 ) -> tuple[list[str], str, list] | None:
    """Each expression with its parameters as v's columns, the unnest(...) AS v(...) source, its arrays."""
    known = types(table)
    slots: dict[int, str] = {}  # parameter position -> the SQL type of the column it stands alone for
    positional = 0
    for column, expr in pairs:
        for found in _PARAM.finditer(expr):
            position = positional if found.group(1) is None else int(found.group(1)) - 1
            positional += found.group(1) is None
            if found.group(0) == expr.strip() and column in known:
                slots[position] = known[column]
    count = positional or max((int(n) for _, expr in pairs for n in re.findall(r"%\(p(\d+)\)s", expr)), default=0)
    if any(position not in slots for position in range(count)):
        return None
    positional = 0

    def name(found: re.Match) -> str:
        nonlocal positional
        position = positional if found.group(1) is None else int(found.group(1)) - 1
        positional += found.group(1) is None
        return f"v.p{position + 1}"

    exprs = [_PARAM.sub(name, expr) for _, expr in pairs]
    arrays = [[row[position] for row in rows] for position in range(count)]
    if any(len({type(value) for value in array if value is not None}) > 1 for array in arrays):
        return None  # psycopg dumps a list of one type (an int beside a float: row by row, as before)
    source = (f"unnest({', '.join(f'%s::{slots[position]}[]' for position in range(count))}) "
              f"AS v({', '.join(f'p{position + 1}' for position in range(count))})")
    return exprs, source, arrays


def _split(text: str) -> list[str]:
    """Top-level comma-separated parts (parentheses and quotes respected)."""
    parts, depth, start, quote = [], 0, 0, ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return parts
