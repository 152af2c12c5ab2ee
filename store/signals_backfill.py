"""Signals for mentions stored without them (an import, a desk older than signals), in resumable batches.

`mentiondesk import` stores history at SQLite's pace (~20k rows/s) and fills the signals afterwards with
this: the language and sentiment models cost 0.1-0.4 ms a mention, several times the import itself, so
they run on every core in helper processes while this process writes each batch in its own short
transaction. Interrupted, nothing is lost: a mention without signals has `needs_reply` NULL, and the
next run (`mentiondesk signals backfill`) takes up the ones left, skipping the rest by id.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future

from store.db import Store
from store.signals import SignalModel, Signals

BATCH = 2_000  # mentions per transaction
PIECE = 250  # texts per helper call: small enough to keep every core busy to the end
IN_PROCESS = 5_000  # fewer: computed here (starting helpers costs more than it saves)


def pending(store: Store, after: int = 0) -> int:
    """Mentions with no signals, with ids above `after`."""
    return store.conn.execute("SELECT count(*) FROM mentions WHERE id > ? AND needs_reply IS NULL",
                              (after,)).fetchone()[0]


def _batches(store: Store, after: int, size: int) -> Iterator[list[tuple[int, str]]]:
    last = after
    while True:
        rows = store.conn.execute(
            "SELECT id, text FROM mentions WHERE id > ? AND needs_reply IS NULL ORDER BY id LIMIT ?",
            (last, size)).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield rows


def _write(store: Store, ids: Sequence[int], signals: Sequence[Signals]) -> None:
    with store.write():
        # needs_reply IS NULL: an ingest that set them meanwhile (it cannot, for old ids, but) wins.
        store.conn.executemany(
            "UPDATE mentions SET sig_lang = ?, sentiment = ?, needs_reply = ? WHERE id = ? AND needs_reply IS NULL",
            [(*signal.columns(), mention_id) for mention_id, signal in zip(ids, signals, strict=True)])


def backfill(store: Store, compute: Callable[[list[str]], Future[list[Signals]]], *, after: int = 0,
             batch: int = BATCH, progress: Callable[[int], None] | None = None) -> int:
    """Fill the signals of every mention above `after` that has none; returns how many were filled.

    `compute` starts the signals of some texts (a helper process's future); the next batch's are
    computing while this one is written.
    """
    done = 0
    queued: list[tuple[list[int], list[Future[list[Signals]]]]] = []

    def settle() -> None:
        nonlocal done
        ids, futures = queued.pop(0)
        signals = [signal for future in futures for signal in future.result()]
        _write(store, ids, signals)
        done += len(ids)
        if progress is not None:
            progress(done)

    for rows in _batches(store, after, batch):
        texts = [text for _, text in rows]
        queued.append(([mention_id for mention_id, _ in rows],
                       [compute(texts[i:i + PIECE]) for i in range(0, len(texts), PIECE)]))
        if len(queued) > 1:
            settle()
    while queued:
        settle()
    return done


def helper_pool(workers: int | None = None) -> Executor:
    """Helper processes for the models (spawned: this process may run threads)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from store.exit_with_parent import exit_with_parent

    return ProcessPoolExecutor(workers or max(1, os.cpu_count() or 1), mp_context=multiprocessing.get_context("spawn"),
                               initializer=exit_with_parent)


def done_now(model: SignalModel) -> Callable[[list[str]], Future[list[Signals]]]:
    """Compute in this process, at once (a few thousand mentions: no helper start-up to wait for)."""
    def compute(texts: list[str]) -> Future[list[Signals]]:
        future: Future[list[Signals]] = Future()
        future.set_result(model.of_all(texts))
        return future
    return compute


def run_backfill(store: Store, languages: Sequence[str], keywords: Sequence[str], *, after: int = 0,
                 workers: int | None = None, progress: Callable[[int], None] | None = None) -> int:
    """`backfill` with the desk's models in helper processes, one per core by default (in this
    process when there are few)."""
    from store.triage import signals_in_child

    languages, keywords = tuple(languages), tuple(keywords)
    if workers == 0 or pending(store, after) <= IN_PROCESS:
        return backfill(store, done_now(SignalModel(languages, keywords)), after=after, progress=progress)
    with helper_pool(workers) as pool:
        return backfill(store, lambda texts: pool.submit(signals_in_child, languages, keywords, texts),
                        after=after, progress=progress)
