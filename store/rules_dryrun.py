"""`mentiondesk rules test`: what the rules would have done to the stored history; writes nothing.

Mentions are walked oldest first, each through the rules in file order as
ingest would (a matching rule with `stop` ends that mention's run). For each
rule: how many mentions it matched, how many it would have changed (a tag
not yet set, another assignee, ...: judged against what is stored now), a
few examples; then the rules that never fired and the pairs that matched the
same mentions. Mentions stored before signals existed get them computed on
the fly when a rule tests a signal.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from store.db import Store
from store.rules_apply import planned_changes
from store.rules_file import Rule, RuleBook
from store.rules_match import Matcher, Subject, subjects_since
from store.signals import SignalModel

EXAMPLES = 3
PAGE = 2000


@dataclass(slots=True)
class RuleReport:
    name: str
    line: int
    matched: int = 0
    changed: int = 0
    examples: list[tuple[int, str, str]] = field(default_factory=list)  # (id, author, text)
    changes: Counter[str] = field(default_factory=Counter)  # "tag care" -> how many


@dataclass(slots=True)
class DryRun:
    since: str
    scanned: int
    rules: list[RuleReport]
    overlaps: list[tuple[str, str, int]]  # two rules that both matched this many mentions

    @property
    def never_fired(self) -> list[RuleReport]:
        return [report for report in self.rules if not report.matched]


def dry_run(store: Store, book: RuleBook, since: str, *, only: str | None = None,
            model: SignalModel | None = None, examples: int = EXAMPLES) -> DryRun:
    rules = [rule for rule in book.rules if only is None or rule.name == only]
    reports = {rule.name: RuleReport(rule.name, rule.line) for rule in rules}
    pairs: Counter[tuple[str, str]] = Counter()
    wants_signals = model is not None and any(rule.when.uses_signals for rule in rules)
    scanned, after = 0, 0
    while page := subjects_since(store, since, after, PAGE):
        after = page[-1].id
        if wants_signals and model is not None:
            page = _with_signals(page, model)
        for subject in page:
            scanned += 1
            fired = _run_one(store, rules, subject, book, reports, examples)
            for index, first in enumerate(fired):
                for second in fired[index + 1:]:
                    pairs[(first, second)] += 1
    overlaps = [(a, b, count) for (a, b), count in pairs.most_common()]
    return DryRun(since, scanned, list(reports.values()), overlaps)


def _run_one(store: Store, rules: list[Rule], subject: Subject, book: RuleBook,
             reports: dict[str, RuleReport], examples: int) -> list[str]:
    matcher = Matcher(subject, book.time_zone)
    fired = []
    for rule in rules:
        try:
            holds = matcher.holds(rule.when)
        except Exception:  # what would disable it at ingest: count it as not matching here
            holds = False
        if not holds:
            continue
        report = reports[rule.name]
        report.matched += 1
        fired.append(rule.name)
        changes = planned_changes(store, rule, subject.id)
        if changes:
            report.changed += 1
            report.changes.update(changes)
        if len(report.examples) < examples:
            report.examples.append((subject.id, subject.author, subject.text))
        if rule.stop:
            break
    return fired


def _with_signals(page: list[Subject], model: SignalModel) -> list[Subject]:
    missing = [subject for subject in page if subject.sentiment is None]
    if not missing:
        return page
    computed = {subject.id: signal for subject, signal in zip(missing, model.of_all(s.text for s in missing),
                                                               strict=True)}
    out = []
    for subject in page:
        signal = computed.get(subject.id)
        out.append(subject if signal is None else subject.with_signals(
            subject.lang if signal.lang is None else signal.lang, signal.sentiment, signal.needs_reply))
    return out
