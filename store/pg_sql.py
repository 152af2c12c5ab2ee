"""The store's SQL (written for SQLite) rewritten for PostgreSQL: the thin dialect layer.

The store keeps one implementation whose SQL is mostly standard; what is SQLite's own is
rewritten here, once per distinct statement (cached):

- placeholders: `?` and `:name` become psycopg's `%s` and `%(name)s` (and a literal `%` is doubled);
- `INSERT OR IGNORE` becomes `INSERT ... ON CONFLICT DO NOTHING`;
- functions: `group_concat` -> `string_agg`, scalar `max(a, b)`/`min(a, b)` -> `greatest`/`least`,
  `instr` -> `strpos`, `substr`'s negative length -> 0, `ifnull` -> `coalesce`,
  `json_extract(x, '$.k')` -> `x::jsonb ->> 'k'`,
  `json_each(?)` -> `json_array_elements_text(?::json)` (cast to bigint where an id column is compared);
- `LIKE` -> `ILIKE` (SQLite's LIKE ignores ASCII case); planner hints (NOT INDEXED, CROSS JOIN) dropped;
- `IS x` / `IS NOT x` -> `IS NOT DISTINCT FROM` / `IS DISTINCT FROM` (not for NULL);
- `?1 ?2` numbered parameters; `strftime('%s', x)`; 64-bit casts and shifts (`AS INTEGER`, `1 << 36`).

Anything else SQLite-only (FTS5's MATCH, PRAGMAs other than those store.pg_conn answers itself,
virtual tables) is not translated: such a statement fails on PostgreSQL with the server's error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_MARK = "\x00{}\x00"
_MARKED = re.compile(r"\x00(\d+)\x00")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_OR_IGNORE = re.compile(r"(?i)\bINSERT\s+OR\s+IGNORE\s+INTO\b")
_RETURNING = re.compile(r"(?i)\bRETURNING\b")
_LIKE = re.compile(r"(?i)(?<!I)\bLIKE\b")
_IS_PARAM = re.compile(r"(?i)\bIS\s+(NOT\s+)?(?!NULL\b|NOT\b|DISTINCT\b|TRUE\b|FALSE\b)(?=[?\w(])")
_NUMBERED = re.compile(r"\?(\d+)")
# SQLite's INTEGER is 64-bit: casts and shifted literals must be bigint here (1 << 36 overflows int4).
_WIDTH = ((re.compile(r"(?i)\bAS\s+INTEGER\b"), "AS BIGINT"), (re.compile(r"(?<![\w.])(\d+)(\s*<<)"), r"\1::bigint\2"))
# json_each's values are typed in SQLite and text here: a list of ids (compared with an *id column) is cast.
_ID_LIST = re.compile(r"(?i)\b((?:\w+\.)?\w*id\s+(?:NOT\s+)?IN\s*\(\s*SELECT\s+value)(\s+FROM\s+json_each\s*\()")
# SQLite's planner hints: CROSS JOIN fixes the join order there (PostgreSQL refuses ON with it).
_HINTS = ((re.compile(r"(?i)\bNOT\s+INDEXED\b|\bINDEXED\s+BY\s+\w+"), ""),
          (re.compile(r"(?i)\bCROSS\s+JOIN\b(?=[^()]*?\bON\b)"), "JOIN"))


@dataclass(frozen=True, slots=True)
class Translated:
    sql: str
    matches: tuple[int, ...]  # positional parameters that are FTS5 MATCH expressions (see tsquery)
    numbered: bool = False  # ?1 ?2 ...: the parameters go as a mapping p1, p2 ... (_numbered_params)


def _numbered_params(params: Iterable[object]) -> dict[str, object]:
    """Positional parameters for a statement written with ?1, ?2 ...: psycopg names them p1, p2 ..."""
    return {f"p{index}": value for index, value in enumerate(params, start=1)}


def translate(sql: str, named: bool = False) -> str:
    """`sql` for PostgreSQL via psycopg; `named`: the parameters come as a mapping (`:name`)."""
    return _translate(sql, named).sql


def translate_with_matches(sql: str, named: bool = False) -> Translated:
    """`sql` for PostgreSQL, and which positional parameters are FTS5 MATCH expressions."""
    return _translate(sql, named)


@lru_cache(maxsize=4096)
def _translate(sql: str, named: bool) -> Translated:
    literals: list[str] = []

    def keep(match: re.Match) -> str:
        literals.append(match.group(0))
        return _MARK.format(len(literals) - 1)

    code = _LITERAL.sub(keep, sql)
    numbered = bool(_NUMBERED.search(code))
    command = _fts_command(code, literals)
    if command is not None:
        return Translated(command, ())
    matches = tuple(code[:match.start()].count("?") for match in _MATCH.finditer(code))
    code = _MATCH.sub(lambda m: f"{m.group(1) or 'search_fts.'}tsv @@ ?::tsquery", code)
    ignore = bool(_OR_IGNORE.search(code))
    code = _OR_IGNORE.sub("INSERT INTO", code)
    code = _IS_PARAM.sub(lambda m: "IS DISTINCT FROM " if m.group(1) else "IS NOT DISTINCT FROM ", code)
    for pattern, replacement in _WIDTH:
        code = pattern.sub(replacement, code)
    code = _LIKE.sub("ILIKE", code)
    code = _ID_LIST.sub(r"\1::bigint\2", code)
    for pattern, replacement in _HINTS:
        code = pattern.sub(replacement, code)
    for name, rewrite in _CALLS.items():
        code = _rewrite_calls(code, name, rewrite, literals)
    code = _JSON_VALUE.sub(lambda m: f"->> '{m.group(1)}'){m.group(2)}" if m.group(2) else f"-> '{m.group(1)}')", code)
    code = _alias_subqueries(code)
    code = code.replace("%", "%%")
    if numbered:
        code = _NUMBERED.sub(r"%(p\1)s", code)
    code = _NAMED.sub(r"%(\1)s", code) if named else code.replace("?", "%s")
    if ignore:
        returning = _RETURNING.search(code)
        cut = returning.start() if returning else len(code.rstrip().rstrip(";"))
        code = f"{code[:cut].rstrip()} ON CONFLICT DO NOTHING {code[cut:]}".rstrip()
    return Translated(_MARKED.sub(lambda m: literals[int(m.group(1))].replace("%", "%%"), code), matches, numbered)


# FTS5's full-text table: `x MATCH ?` and its commands, written as INSERTs naming the table as a column.
_MATCH = re.compile(r"(?i)\b(\w+\.)?search_fts\s+MATCH\s+\?")
_FTS_COMMAND = re.compile(r"(?is)^\s*INSERT\s+INTO\s+search_fts\s*\(\s*search_fts\b[^)]*\)\s*VALUES\s*\(\s*"
                          r"\x00(\d+)\x00")


def _fts_command(code: str, literals: list[str]) -> str | None:
    """FTS5's commands on the index: delete one row (its terms given), delete all; merges are FTS5's own."""
    found = _FTS_COMMAND.match(code)
    if found is None:
        return None
    command = literals[int(found.group(1))].strip("'")
    if command == "delete":
        return "DELETE FROM search_fts WHERE rowid = %s AND (%s::text IS NULL OR true)"
    if command == "delete-all":
        return "DELETE FROM search_fts"
    return "SELECT 1 WHERE false"  # merge, optimize, automerge, hashsize: segment upkeep PostgreSQL has none of


_FTS_TOKEN = re.compile(r'\s*(?:"((?:[^"]|"")*)"|(\()|(\))|(AND|OR|NOT)\b)')


def tsquery(expression: str) -> str:
    """An FTS5 MATCH expression of quoted terms, AND, OR, NOT and parentheses, as tsquery text.

    Lexemes are quoted as they are (tsquery's input does not normalise them), so they meet the
    verbatim lexemes of search_fts.tsv: the same terms match as in FTS5.
    """
    out, position = [], 0
    operators = {"AND": "&", "OR": "|", "NOT": "& !"}
    while position < len(expression.rstrip()):
        token = _FTS_TOKEN.match(expression, position)
        if token is None:
            raise ValueError(f"unsupported MATCH expression near {expression[position:position + 40]!r}")
        term, opening, closing, operator = token.groups()
        if term is not None:
            word = term.replace('""', '"').replace("\\", "\\\\").replace("'", "''")
            out.append(f"'{word}'")
        else:
            out.append(opening or closing or operators[operator])
        position = token.end()
    return " ".join(out)


_SUBQUERY = re.compile(r"(?i)\b(?:FROM|JOIN)\s*\(\s*SELECT\b")
_NOT_ALIAS = {"WHERE", "GROUP", "ORDER", "LIMIT", "JOIN", "LEFT", "INNER", "CROSS", "UNION", "ON", "HAVING",
              "EXCEPT", "INTERSECT", "OFFSET", "WINDOW", "NATURAL", "FULL", "RIGHT"}
# json_extract's value: JSON (typed: numbers come back as numbers) unless compared, then text.
_JSON_VALUE = re.compile(r"\x01 '(\w+)'\)(\s*(?:=|!=|<>|<=|>=|<|>|\bIN\b|\bNOT\b|\bI?LIKE\b|\bIS\b))?")


def _alias_subqueries(code: str) -> str:
    """PostgreSQL (before 16) wants a name for every subquery in FROM; SQLite does not."""
    out, position, count = [], 0, 0
    while match := _SUBQUERY.search(code, position):
        _args, end = _arguments(code, match.start() + match.group(0).index("("))
        follower = re.match(r"\s*(?:AS\s+)?(\w+)", code[end:])
        out.append(code[position:end])
        if follower is None or follower.group(1).upper() in _NOT_ALIAS:
            count += 1
            out.append(f" AS subquery_{count}")
        position = end
    out.append(code[position:])
    return "".join(out)


def _arguments(code: str, start: int) -> tuple[list[str], int]:
    """The top-level arguments of the call whose '(' is at `start`, and the index after its ')'."""
    depth, args, begin = 0, [], start + 1
    for index in range(start, len(code)):
        char = code[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                args.append(code[begin:index].strip())
                return args, index + 1
        elif char == "," and depth == 1:
            args.append(code[begin:index].strip())
            begin = index + 1
    raise ValueError(f"unbalanced parentheses in SQL: {code[start:start + 80]!r}")


def _rewrite_calls(code: str, name: str, rewrite: Callable[[list[str], list[str]], str | None],
                   literals: list[str]) -> str:
    pattern = re.compile(rf"(?i)(?<![\w.]){name}\s*\(")
    out, position = [], 0
    while match := pattern.search(code, position):
        args, end = _arguments(code, match.end() - 1)
        args = [_rewrite_calls(arg, name, rewrite, literals) for arg in args]
        replaced = rewrite(args, literals)
        out.append(code[position:match.start()])
        out.append(replaced if replaced is not None else f"{match.group(0)}{', '.join(args)})")
        position = end
    out.append(code[position:])
    return "".join(out)


def _group_concat(args: list[str], _literals: list[str]) -> str:
    first, separator = args[0], (args[1] if len(args) > 1 else "','")
    distinct = re.match(r"(?i)DISTINCT\s+", first)
    if distinct:
        return f"string_agg(DISTINCT ({first[distinct.end():]})::text, {separator})"
    return f"string_agg(({first})::text, {separator})"


def _json_extract(args: list[str], literals: list[str]) -> str | None:
    path = _MARKED.fullmatch(args[1]) if len(args) == 2 else None
    if path is None:
        return None
    key = literals[int(path.group(1))][1:-1]
    if not re.fullmatch(r"\$\.\w+", key):
        return None
    return f"(({args[0]})::jsonb \x01 '{key[2:]}')"  # the operator is chosen by what follows (_JSON_VALUE)


def _scalar(function: str) -> Callable[[list[str], list[str]], str | None]:
    def rewrite(args: list[str], _literals: list[str]) -> str | None:
        return f"{function}({', '.join(args)})" if len(args) > 1 else None
    return rewrite


def _strftime(args: list[str], literals: list[str]) -> str | None:
    """strftime('%s', x): the Unix time of an ISO timestamp (store/pg_schema.py's mentiondesk_epoch, lenient
    like SQLite's: NULL for text that is not a time); other formats are not translated."""
    form = _MARKED.fullmatch(args[0])
    if len(args) != 2 or form is None or literals[int(form.group(1))] != "'%s'":
        return None
    return f"mentiondesk_epoch(({args[1]})::text)"  # NULL, not an error, for a time that is not one


_CALLS: dict[str, Callable[[list[str], list[str]], str | None]] = {
    "strftime": _strftime,
    "group_concat": _group_concat,
    "json_extract": _json_extract,
    "json_each": lambda args, _l: f"json_array_elements_text(({args[0]})::json)",
    "max": _scalar("greatest"),
    "min": _scalar("least"),
    "instr": lambda args, _l: f"strpos({', '.join(args)})",
    "ifnull": lambda args, _l: f"coalesce({', '.join(args)})",
    # A negative length is an error on PostgreSQL; SQLite takes it as "before the start" (empty from 1).
    "substr": lambda args, _l: f"substr({args[0]}, {args[1]}, greatest({args[2]}, 0))" if len(args) == 3 else None,
}
