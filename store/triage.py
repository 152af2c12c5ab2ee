"""Triage at ingest: signals for each new mention, then the rules file, in the batch's transaction.

The ingest leader computes signals off the event loop (`signals`: in a
helper process of its own, so the language and sentiment models neither
hold the console's GIL nor share its core; in a thread if that process
cannot run), then the store thread inserts the batch and calls `apply`
inside the same transaction (store.rules_batch writes a whole batch's rule
actions together). The rules file is re-read when its mtime or size changes,
so an edit is live at the next batch without a restart; a file with
problems keeps the last good rules. A rule that raises is disabled (until
the file changes) and said in one line on the top bar (the "rules" source);
ingest never stops for a rule.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from store.db import Store
from store.records import NewMention
from store.rules_batch import RuleWrites, apply_rule
from store.rules_file import RuleBook, load_rules
from store.signals import SignalModel, Signals
from store.source_status import set_source_status

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)
SOURCE = "rules"  # the top bar's line for the rules file


_CHILD_MODELS: dict[tuple[tuple[str, ...], tuple[str, ...]], SignalModel] = {}


def signals_in_child(languages: tuple[str, ...], keywords: tuple[str, ...], texts: list[str]) -> list[Signals]:
    """Runs in the helper process: its models are built once, on the first batch."""
    model = _CHILD_MODELS.get((languages, keywords))
    if model is None:
        model = _CHILD_MODELS[(languages, keywords)] = SignalModel(languages, keywords)
    return model.of_all(texts)


def _start_helper() -> ProcessPoolExecutor:
    """One helper process, started now. spawn, not fork: this process runs threads (the store's,
    Textual's) that a fork would copy mid-lock. Starting it hands stderr's descriptor to multiprocessing's
    resource tracker, and the console's stderr is Textual's capture (fileno -1): the real one is lent."""
    import multiprocessing  # here, not at import: off the console's start path
    from concurrent.futures import ProcessPoolExecutor

    from store.exit_with_parent import exit_with_parent

    captured = sys.stderr
    pool = None
    try:
        if sys.__stderr__ is not None and captured is not sys.__stderr__:
            sys.stderr = sys.__stderr__
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=exit_with_parent)
        pool.submit(int)  # starts the process
    except BaseException:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        sys.stderr = captured
    return pool


class Triage:
    def __init__(self, rules_path: Path | str | None = None, model: SignalModel | None = None, *,
                 in_process: bool = True):
        self.rules_path = Path(rules_path) if rules_path else None
        self.model = model
        self.in_process = in_process  # signals in a helper process (else a thread of this one)
        self._pool: ProcessPoolExecutor | None = None
        self.book = RuleBook()
        self.disabled: dict[str, str] = {}  # rule name -> why
        self.applied = 0  # rule actions that changed something (tests and the bench read it)
        self._seen: tuple[int, int] | None = None
        self._pending_status: tuple[str, str] | None = None
        self._lock = threading.Lock()

    def signals_for(self, mentions: Sequence[NewMention]) -> list[Signals] | None:
        """Signals of each mention (None: signals are off); CPU work, run it in a thread."""
        if self.model is None:
            return None
        try:
            return self.model.of_all(mention.text for mention in mentions)
        except Exception as exc:  # a model that fails must not stop ingest: the mentions go in without
            log.warning("signals failed for a batch: %s: %s", type(exc).__name__, exc)
            return None

    async def signals(self, mentions: Sequence[NewMention]) -> list[Signals] | None:
        """Signals of each mention (None: signals are off or failed), computed off the event loop."""
        if self.model is None:
            return None
        texts = [mention.text for mention in mentions]
        if self.in_process:
            try:
                if self._pool is None:
                    self._pool = _start_helper()
                return await asyncio.get_running_loop().run_in_executor(
                    self._pool, signals_in_child, self.model.languages, self.model.keywords, texts)
            except Exception as exc:  # the helper died or cannot start: a thread from now on
                log.warning("signals helper process failed (%s: %s); computing them in a thread",
                            type(exc).__name__, exc)
                self.close()
                self.in_process = False
        return await asyncio.to_thread(self.signals_for, mentions)

    def close(self) -> None:
        """Stop the helper process (a later batch starts a new one)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def reload_if_changed(self) -> None:
        if self.rules_path is None:
            return
        try:
            info = os.stat(self.rules_path)
            seen = (info.st_mtime_ns, info.st_size)
        except OSError:
            seen = (-1, -1)
        with self._lock:
            if seen == self._seen:
                return
            self._seen = seen
            book = load_rules(self.rules_path)
            problems = book.problems
            if problems:
                first = problems[0].render(str(self.rules_path))
                more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
                self._pending_status = ("file has problems", f"{first}{more}; last good rules kept")
                return
            self.book, self.disabled = book, {}
            self._pending_status = ("active", f"{len(book.rules)} rules from {self.rules_path.name}")

    def apply(self, store: Store, new_ids: Sequence[int]) -> None:
        """Run the rules over newly inserted mentions, in the caller's transaction; never raises."""
        try:
            self.reload_if_changed()
            if self._pending_status is not None:
                state, detail = self._pending_status
                self._pending_status = None
                set_source_status(store, SOURCE, state, detail)
            rules = [rule for rule in self.book.rules if rule.name not in self.disabled]
            if not rules or not new_ids:
                return
            from store.rules_match import Matcher, subjects  # with the first rule to run: rapidfuzz & co
            writes = RuleWrites(store, new_ids)
            for subject in subjects(store, new_ids):
                matcher = Matcher(subject, self.book.time_zone)
                for rule in rules:
                    if rule.name in self.disabled:
                        continue
                    try:
                        if not matcher.holds(rule.when):
                            continue
                        self.applied += len(apply_rule(writes, rule, subject.id))
                    except Exception as exc:
                        self._disable(store, rule.name, exc)
                        continue
                    if rule.stop:
                        break
            writes.flush()
        except Exception as exc:  # reading the batch back failed: the mentions stay in, untriaged
            log.warning("rules skipped a batch: %s: %s", type(exc).__name__, exc)

    def _disable(self, store: Store, name: str, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        self.disabled[name] = reason
        log.warning("rule %r disabled: %s", name, reason)
        try:
            set_source_status(store, SOURCE, "rule disabled", f"{name!r} raised {reason}; fix the file to re-enable")
        except Exception:
            pass  # the rule stays disabled; the log has the line
