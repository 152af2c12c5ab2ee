"""Triage rules as a TOML file: ordered [[rules]], each with conditions (`when`) and actions.

    time_zone = "Europe/Paris"        # optional: for `hours` (default: this machine's)

    [[rules]]
    name = "refunds to care"
    when.words = ["refund", "broken"]  # any of them, typo-tolerant like search
    when.sentiment = "negative"
    tag = "care"
    priority = "high"
    stop = true                        # later rules skip what this one matched

Conditions (all given must hold; a list means any of its values): words,
phrases, regex, author, network, account, lang, sentiment, needs_reply,
hours ("22:00-07:00"). Actions: tag, assign, priority, done, note, suggest
(a saved reply's name), stop. Every problem is reported with its line, so
`mentiondesk rules check` can list them all at once.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from store.operators import OperatorNameError, check_operator
from store.query import TAGS
from store.rules_when import When, parse_when, strings

ACTIONS = ("tag", "assign", "priority", "done", "note", "suggest", "stop")
PRIORITIES = ("low", "normal", "high", "urgent")
RULE_PREFIX = "rule:"  # the operator a rule's changes are logged under
MAX_RULES = 500


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    message: str

    def render(self, path: str) -> str:
        return f"{path}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    line: int
    when: When
    tags: tuple[str, ...] = ()
    assign: str | None = None
    priority: str | None = None
    done: bool = False
    note: str | None = None
    suggest: str | None = None
    stop: bool = False

    @property
    def operator(self) -> str:
        return RULE_PREFIX + self.name


@dataclass(frozen=True, slots=True)
class RuleBook:
    """A parsed rules file: the good rules, and every problem found (a rule with a problem is left out)."""

    rules: tuple[Rule, ...] = ()
    time_zone: ZoneInfo | None = None  # None: the machine's local time
    path: str = ""
    problems: tuple[Problem, ...] = ()


@dataclass(slots=True)
class _Lines:
    """Where each rule and key sits in the file: tomllib gives values, not positions."""

    rule_lines: list[int] = field(default_factory=list)
    keys: list[dict[str, int]] = field(default_factory=list)
    top: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, text: str) -> _Lines:
        out = cls()
        section: str | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if line.startswith("[[") and line.split("#")[0].strip().replace(" ", "") == "[[rules]]":
                out.rule_lines.append(number)
                out.keys.append({})
                section = "rule"
            elif line.startswith("["):
                section = "when" if out.keys and line.replace(" ", "").startswith("[rules.when]") else "other"
            elif "=" in line and not line.startswith("#"):
                key = line.split("=", 1)[0].strip().strip('"')
                if section is None:
                    out.top.setdefault(key, number)
                elif out.keys:
                    prefix = "when." if section == "when" else ""
                    out.keys[-1].setdefault(prefix + key, number)
        return out

    def line(self, index: int, key: str | None = None) -> int:
        if index >= len(self.rule_lines):
            return 1
        if key is not None and key in self.keys[index]:
            return self.keys[index][key]
        return self.rule_lines[index]


def parse_rules(text: str, path: str = "rules.toml") -> RuleBook:
    """The rules of a file, and every problem found (a rule with a problem is left out)."""
    rules, zone, problems = _parse(text, path)
    return RuleBook(rules, zone, path, tuple(problems))


def _parse(text: str, path: str) -> tuple[tuple[Rule, ...], ZoneInfo | None, list[Problem]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = int(found.group(1)) if found else max(1, len(text.splitlines()))  # "at end of document"
        return (), None, [Problem(line, f"not valid TOML: {exc}")]
    lines = _Lines.of(text)
    problems: list[Problem] = []
    for key in data:
        if key not in ("rules", "time_zone"):
            problems.append(Problem(lines.top.get(key, 1), f"unknown key {key!r} (allowed: rules, time_zone)"))
    zone = None
    if "time_zone" in data:
        try:
            zone = ZoneInfo(str(data["time_zone"]))
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(Problem(lines.top.get("time_zone", 1),
                                    f"time_zone {data['time_zone']!r} is not a time zone (e.g. \"Europe/Paris\")"))
    entries = data.get("rules", [])
    if not isinstance(entries, list):
        return (), zone, [*problems, Problem(lines.top.get("rules", 1), "rules must be [[rules]] tables")]
    if len(entries) > MAX_RULES:
        problems.append(Problem(1, f"{len(entries)} rules: at most {MAX_RULES}"))
        entries = entries[:MAX_RULES]
    rules, names = [], set()
    for index, entry in enumerate(entries):
        rule_problems: list[Problem] = []
        rule = _rule(entry, index, lines, rule_problems)
        if rule is not None and rule.name in names:
            rule_problems.append(Problem(lines.line(index, "name"), f"a second rule named {rule.name!r}"))
        problems += rule_problems
        if rule is not None:
            names.add(rule.name)
            if not rule_problems:
                rules.append(rule)
    return tuple(rules), zone, problems


def load_rules(path: Path | str) -> RuleBook:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return RuleBook(path=str(file), problems=(Problem(1, "no such file"),))
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        return RuleBook(path=str(file), problems=(Problem(1, f"cannot read it: {why}"),))
    return parse_rules(text, str(file))


def _rule(entry: object, index: int, lines: _Lines, problems: list[Problem]) -> Rule | None:
    if not isinstance(entry, dict):
        problems.append(Problem(lines.line(index), "a rule must be a table"))
        return None

    def problem(key: str | None, message: str) -> None:
        problems.append(Problem(lines.line(index, key), message))

    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        problem("name", "every rule needs a name (name = \"...\"): the event log shows it")
        return None
    name = unicodedata.normalize("NFC", name.strip())
    try:
        check_operator(RULE_PREFIX + name)
    except OperatorNameError as exc:
        problem("name", f"rule name {name[:40]!r}: {str(exc).replace('operator name', 'name')}")
    for key in entry:
        if key not in (*ACTIONS, "name", "when"):
            problem(key, f"unknown key {key!r} in rule {name!r} (conditions go under when.; "
                         f"actions: {', '.join(ACTIONS)})")
    when = entry.get("when", {})
    if not isinstance(when, dict) or not when:
        problem("when", f"rule {name!r} needs conditions (when.words = [...], when.lang = \"fr\", ...)")
        return None
    condition = parse_when(when, lambda key, message: problem(f"when.{key}", f"rule {name!r}: {message}"))
    rule = _actions(entry, name, lines.line(index), condition, problem)
    if not any(key in entry for key in ACTIONS):
        problem("name", f"rule {name!r} does nothing: give it an action ({', '.join(ACTIONS)})")
    return rule


def _actions(entry: dict, name: str, line: int, when: When, problem) -> Rule | None:
    tags = strings(entry.get("tag", []))
    if tags is None or any(tag not in TAGS for tag in tags):
        problem("tag", f"rule {name!r}: tag must be {' or '.join(TAGS)} (or a list of them)")
        tags = []
    texts: dict[str, str | None] = {}
    for key in ("assign", "note", "suggest"):
        value = entry.get(key)
        if value is not None and not (isinstance(value, str) and value.strip()):
            problem(key, f"rule {name!r}: {key} must be a non-empty string")
            value = None
        texts[key] = value.strip() if isinstance(value, str) else None
    if texts["assign"]:
        try:
            check_operator(texts["assign"])
        except OperatorNameError as exc:
            problem("assign", f"rule {name!r}: assign: {exc}")
    priority = entry.get("priority")
    if priority is not None and priority not in PRIORITIES:
        problem("priority", f"rule {name!r}: priority must be one of {', '.join(PRIORITIES)}")
        priority = None
    flags = {}
    for key in ("done", "stop"):
        value = entry.get(key, False)
        if not isinstance(value, bool):
            problem(key, f"rule {name!r}: {key} must be true or false")
            value = False
        flags[key] = value
    return Rule(name=name, line=line, when=when, tags=tuple(dict.fromkeys(tags)),
                assign=texts["assign"], priority=priority, done=flags["done"], note=texts["note"],
                suggest=texts["suggest"], stop=flags["stop"])
