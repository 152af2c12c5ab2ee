"""Live storm: 2,000 mentions/s into the real console in a real terminal, for minutes.

The console runs as `mentiondesk --demo-rate 120000` (bench.lag_probe adds an
event-loop lag probe and nothing else) in a tmux session at 80×24, on a copy
of the benchmark database. Throughout, bench.tmux_keys presses k/j like an
operator and times each press to the moment the selection moved on the
captured screen; every few seconds the console's resident memory, the WAL's
size and the number of search-index segments are sampled from outside. After
the run every generated mention must be stored, and creation → commit (the
index is written in the same transaction) is read back from the database.
Before the storm the same key timing is taken on the idle console and on a
trivial Textual list (the reference), in the same terminal.

    python -m bench.live_stream DB [--seconds 600] [--write bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.copydb import copy_db, remove_db  # noqa: E402
from bench.tmux_keys import Screen, pct, presses, trivial_reference  # noqa: E402
from store.maintenance import fts_segments  # noqa: E402

RATE_PER_S = 2000
WARM_UP_S = 60.0  # memory and lag after this count as the plateau
SAMPLE_EVERY = 5.0
SECONDS = float(os.environ.get("MENTIONDESK_STORM_SECONDS", "600"))
SECTION = ""  # the "Live storm" section of RESULTS.md, after measure()
PYTHON = sys.executable
ROOT = Path(__file__).resolve().parent.parent


def _console_pid(screen: Screen) -> int | None:
    """The python process under the pane's shell."""
    shell = screen.pid()
    try:
        children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s(pid: int) -> tuple[float, float]:
    """CPU seconds so far of the console's main thread (the event loop) and of all its other threads."""
    tick = os.sysconf("SC_CLK_TCK")
    main = others = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        used = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if task.name == str(pid):
            main += used
        else:
            others += used
    return main, others


def _start(db: Path, lag_file: Path, session: str, *extra: str) -> Screen:
    command = [PYTHON, "-m", "bench.lag_probe", str(lag_file), "--", "--db", str(db), "--operator", "bench", *extra]
    screen = Screen(session, ["sh", "-c", f"cd {ROOT} && exec \"$@\"", "sh", *command])
    if not screen.wait_for("Open ·"):
        screen.close()
        raise RuntimeError(f"the console did not start:\n{screen.text()}")
    return screen


def _ready_to_press(screen: Screen, selection: str = "") -> str:
    """Away from the top (arrivals then never move the selection), the selection colour known.

    It is learnt on the idle console (during a storm rows move by themselves, and a tag
    badge's colour would pass for the selection's) and then reused for the storm.
    """
    time.sleep(2.0)
    screen.send("G")
    time.sleep(1.0)
    screen.send("k")
    time.sleep(0.5)
    if selection:
        screen.selection, screen.columns = selection, 34
    elif not screen.learn("k", columns=34):
        raise RuntimeError("could not find the selection on screen")
    return screen.selection


def _lags(lag_file: Path, after: float | None = None) -> list[float]:
    """Every lag sample (ms) in the probe's file, from the second `after` (monotonic) on."""
    out: list[float] = []
    keep = after is None
    for line in lag_file.read_text().splitlines():
        if line.startswith("# "):
            if keep:
                out.extend(float(x) for x in line[2:].split())
        elif line.strip():
            keep = after is None or float(line.split()[0]) >= after
    return out


def _quit(screen: Screen, pid: int | None) -> None:
    screen.send("q")
    deadline = time.monotonic() + 20
    while pid and Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    screen.close()


def _idle(db: Path, work: Path, session: str) -> tuple[list[float | None], list[float], str]:
    lag_file = work / "idle.lag"
    screen = _start(db, lag_file, session, "--no-demo")
    try:
        selection = _ready_to_press(screen)
        started = time.monotonic()
        keys = presses(screen, 80)
        return keys, _lags(lag_file, started), selection
    finally:
        _quit(screen, _console_pid(screen))


def _storm(db: Path, work: Path, session: str, seconds: float, selection: str) -> dict:
    lag_file = work / "storm.lag"
    before = sqlite3.connect(db).execute("SELECT coalesce(max(id), 0) FROM mentions").fetchone()[0]
    screen = _start(db, lag_file, session, "--demo-rate", f"{RATE_PER_S * 60}")
    pid = _console_pid(screen)
    start = time.monotonic()
    samples: list[tuple[float, float, int, int, int]] = []  # t, rss MB, wal bytes, segments, mentions
    cpu: list[tuple[float, float, float]] = []  # t, event-loop thread CPU s, other threads' CPU s
    stop = threading.Event()

    def sample() -> None:
        reader = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        while not stop.wait(SAMPLE_EVERY):
            try:
                wal = os.path.getsize(f"{db}-wal") if os.path.exists(f"{db}-wal") else 0
                top = reader.execute("SELECT coalesce(max(id), 0) FROM mentions").fetchone()[0]
                samples.append((time.monotonic() - start, _rss_mb(pid) if pid else float("nan"), wal,
                                fts_segments(reader), top - before))
                if pid:
                    cpu.append((time.monotonic() - start, *_cpu_s(pid)))
            except (sqlite3.Error, OSError):
                continue
        reader.close()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    keys: list[float | None] = []
    try:
        _ready_to_press(screen, selection)
        keys = presses(screen, 0, gap=0.3, until=start + seconds)
    finally:
        stop.set()
        sampler.join()
        elapsed = time.monotonic() - start
        _quit(screen, pid)
    return {"before": before, "keys": keys, "lags": _lags(lag_file, start + WARM_UP_S),
            "samples": samples, "elapsed": elapsed, "cpu": cpu}


def _latencies(db: Path, after_id: int) -> list[float]:
    conn = sqlite3.connect(db)
    out = []
    for created, received in conn.execute("SELECT created_at, received_at FROM mentions WHERE id > ?", (after_id,)):
        a = datetime.fromisoformat(created.replace("Z", "+00:00"))
        b = datetime.fromisoformat(received.replace("Z", "+00:00"))
        out.append((b - a).total_seconds() * 1000)
    conn.close()
    return out


def _keys(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    missed = len(values) - len(got)
    return (f"{pct(got, 0.5):.0f} / {pct(got, 0.95):.0f} ms ({len(got)} presses"
            f"{f', {missed} never moved within 5 s' if missed else ''})")


def _cpu_share(cpu: list[tuple[float, float, float]]) -> str:
    warm = [c for c in cpu if c[0] >= WARM_UP_S] or cpu
    if len(warm) < 2:
        return "not sampled"
    (t0, main0, other0), (t1, main1, other1) = warm[0], warm[-1]
    span = t1 - t0
    return f"{(main1 - main0) / span:.0%} / {(other1 - other0) / span:.0%} of a core"


def _timeline(samples: list[tuple[float, float, int, int, int]]) -> str:
    rows = ["| t (s) | RSS (MB) | WAL (MB) | FTS segments | mentions stored |", "| --- | --- | --- | --- | --- |"]
    step = max(1, len(samples) // 20)
    for t, rss, wal, segments, stored in samples[::step] + samples[-1:]:
        rows.append(f"| {t:.0f} | {rss:.0f} | {wal / 1e6:.1f} | {segments} | {stored:,} |")
    return "\n".join(rows)


def measure(db_path: Path, size: int, seconds: float | None = None) -> list[tuple[str, str, str]]:
    global SECTION
    seconds = SECONDS if seconds is None else seconds
    session = f"{os.environ.get('NAME', 'bench')}-storm-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="storm-") as scratch:
        work = Path(scratch)
        copy = copy_db(db_path, db_path.with_name(db_path.stem + ".live.db"))
        try:
            load = [os.getloadavg()[0]]
            reference = trivial_reference(f"{session}-trivial", PYTHON, 80)
            idle_keys, idle_lags, selection = _idle(copy, work, f"{session}-idle")
            load.append(os.getloadavg()[0])
            run = _storm(copy, work, f"{session}-live", seconds, selection)
            load.append(os.getloadavg()[0])
            latency = _latencies(copy, run["before"])
        finally:
            remove_db(copy)
    samples, lags = run["samples"], run["lags"]
    plateau = [s for s in samples if s[0] >= WARM_UP_S] or samples
    stored = len(latency)
    loads = " / ".join(f"{x:.1f}" for x in load)
    rows = [
        (f"live storm: mentions stored per second over {run['elapsed']:.0f} s",
         f"{stored / run['elapsed']:,.0f}/s ({stored:,} stored); load {loads} (start / storm / end)",
         f"{RATE_PER_S:,}/s"),
        (f"live storm: event-loop lag p50 / p99 / max after {WARM_UP_S:.0f} s warm-up",
         f"{pct(lags, 0.5):.1f} / {pct(lags, 0.99):.1f} / {max(lags, default=float('nan')):.1f} ms "
         f"({len(lags):,} probes; idle console p99 {pct(idle_lags, 0.99):.1f} ms)", "p99 ≤ 50 ms"),
        ("live storm: keypress → screen in tmux 80×24, p50 / p95", _keys(run["keys"]), "p95 ≤ 100 ms"),
        ("idle: keypress → screen in tmux, console / trivial Textual list (reference), p50 / p95",
         f"{_keys(idle_keys)} / {_keys(reference)}", "console ≤ 2× reference"),
        ("live storm: resident memory at warm-up end / max / end",
         f"{plateau[0][1]:.0f} / {max(s[1] for s in plateau):.0f} / {plateau[-1][1]:.0f} MB", "plateau ≤ 150 MB"),
        ("live storm: WAL file max / end",
         f"{max(s[2] for s in samples) / 1e6:.1f} / {samples[-1][2] / 1e6:.1f} MB", "bounded"),
        ("live storm: search-index segments start / max / end",
         f"{samples[0][3]} / {max(s[3] for s in samples)} / {samples[-1][3]}", "bounded, merged in the background"),
        ("live storm: console CPU after warm-up, event-loop thread / other threads (ingest, store)",
         _cpu_share(run["cpu"]), "the loop's share is what keys compete with"),
        ("live storm: creation → stored and searchable, p50 / p99 / max",
         f"{pct(latency, 0.5):.0f} / {pct(latency, 0.99):.0f} / {max(latency, default=float('nan')):.0f} ms",
         "≤ 1 s"),
    ]
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    SECTION = (f"## Live storm\n\n{RATE_PER_S:,} mentions/s for {seconds:.0f} s into the real console in tmux "
               f"(`python -m bench.live_stream`), {size:,}-mention history; load average {loads} "
               f"(1 min, at start / after the idle runs / at the end) on {os.cpu_count()} cores.\n\n"
               f"| measure | value | target |\n| --- | --- | --- |\n{table}\n\n"
               f"Over time (sampled every {SAMPLE_EVERY:.0f} s from outside the console):\n\n"
               f"{_timeline(samples)}\n")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--write", type=Path, help="put the Live storm section into this RESULTS.md")
    args = parser.parse_args(argv)
    size = sqlite3.connect(args.db).execute("SELECT count(*) FROM mentions").fetchone()[0]
    measure(args.db, size, args.seconds)
    print(SECTION)
    if args.write:
        text = args.write.read_text() if args.write.exists() else ""
        head, _, rest = text.partition("## Live storm")
        tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
        args.write.write_text(head.rstrip() + "\n\n" + SECTION + tail)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
