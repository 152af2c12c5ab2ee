"""Bad files and odd sources for `import`, and spreadsheet formulas in CSV exports."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.db import open_store
from store.import_rows import BadLine, parse_record
from store.ingest import save_batch
from store.lines import BOM, MAX_LINE_BYTES, LineReader, Overlong
from store.transfer import iter_export, write_csv, write_jsonl
from tests.procs import clean_env, wait_for
from tests.support import assert_one_line_refusal


def line(remote_id: str, text: str = "hello") -> str:
    return json.dumps({"network": "demo", "remote_id": remote_id, "author_handle": "@ana", "text": text,
                       "created_at": "2025-03-14T09:00:00.000Z"})


def mentiondesk(home: Path, *args: str, **popen) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tui", *args, "--db", str(home / "desk.db")]
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8", env=clean_env(home),
                          cwd=home, timeout=60, **popen)


def stored_ids(home: Path) -> list[str]:
    store = open_store(home / "desk.db", readonly=True)
    try:
        return [row[0] for row in store.conn.execute("SELECT remote_id FROM mentions ORDER BY id")]
    finally:
        store.close()


# -- bad lines: a clear per-line skip, the rest imported -----------------------------------------------

def test_hostile_lines_are_skipped_one_by_one_and_the_rest_imports(tmp_path):
    source = tmp_path / "bad.jsonl"
    source.write_text("\n".join([
        "[" * 100_000,
        '{"network": "demo", "remote_id": ' + "7" * 5000 + "}",
        line("long", "x" * (MAX_LINE_BYTES + 10)),
        line("good"),
    ]) + "\n")
    result = mentiondesk(tmp_path, "import", str(source))
    assert "Traceback" not in result.stderr
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{source}:1: skipped: nested too deeply",
        f"{source}:2: skipped: a number longer than {sys.get_int_max_str_digits()} digits",
        f"{source}:3: skipped: line over 1 MiB ({MAX_LINE_BYTES + 10 + len(line('long', '')):,}+ bytes), not read",
        "imported 1, skipped 0 duplicate(s), 3 bad line(s)",
    ]
    assert stored_ids(tmp_path) == ["good"]


def test_a_byte_order_mark_does_not_cost_line_one(tmp_path):
    source = tmp_path / "bom.jsonl"
    source.write_bytes(BOM.encode() + f"{line('first')}\n{line('second')}\n".encode())
    result = mentiondesk(tmp_path, "import", str(source))
    assert result.returncode == 0, result.stderr
    assert stored_ids(tmp_path) == ["first", "second"]


# -- streams: stdin, pipes, FIFOs ------------------------------------------------------------------------

PAYLOAD = f"{line('p1')}\n{line('p2')}\n{line('p3')}".encode()  # no newline at the end: the last line counts


def feed(fd: int) -> threading.Thread:
    def write() -> None:
        with os.fdopen(fd, "wb") as sink:
            sink.write(PAYLOAD)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_import_dash_reads_stdin(tmp_path):
    result = mentiondesk(tmp_path, "import", "-", input=PAYLOAD.decode())
    assert result.stderr.splitlines() == ["imported 3, skipped 0 duplicate(s), 0 bad line(s)"]
    assert stored_ids(tmp_path) == ["p1", "p2", "p3"]


def test_a_pipe_given_as_a_path_is_streamed(tmp_path):
    """`mentiondesk import <(cat f)`: the shell passes /dev/fd/N, a pipe."""
    read_end, write_end = os.pipe()
    writer = feed(write_end)
    try:
        result = mentiondesk(tmp_path, "import", f"/dev/fd/{read_end}", pass_fds=(read_end,))
    finally:
        os.close(read_end)
    writer.join(timeout=30)
    assert result.returncode == 0, result.stderr
    assert stored_ids(tmp_path) == ["p1", "p2", "p3"]


def test_a_fifo_is_streamed_and_the_import_ends_with_it(tmp_path):
    fifo = tmp_path / "feed"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "tui", "import", str(fifo), "--db", str(tmp_path / "desk.db")],
                            stderr=subprocess.PIPE, text=True, env=clean_env(tmp_path), cwd=tmp_path)
    feed(os.open(fifo, os.O_WRONLY))  # blocks until the import opened it
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert stored_ids(tmp_path) == ["p1", "p2", "p3"]


@pytest.mark.parametrize("source, stdin, expected", [
    ("/dev/zero", None, "/dev/zero is a device, not a file or a pipe"),
    (".", None, "cannot read .: Is a directory"),
    ("-", "/dev/zero", "stdin is a device, not a file or a pipe"),
    ("missing.jsonl", None, "cannot read missing.jsonl: No such file"),
])
def test_what_is_neither_a_file_nor_a_stream_is_refused_in_one_line(tmp_path, source, stdin, expected):
    handle = open(stdin, "rb") if stdin else subprocess.DEVNULL
    try:
        result = mentiondesk(tmp_path, "import", source, stdin=handle)
    finally:
        if stdin:
            handle.close()
    assert expected in assert_one_line_refusal(result)


# -- the line reader: bounded memory, exact lines --------------------------------------------------------

class Endless:
    """A stream of `size` zero bytes and then `tail`, made block by block (never held whole)."""

    def __init__(self, size: int, tail: bytes):
        self.left, self.tail = size, tail

    def read1(self, n: int) -> bytes:
        if self.left > 0:
            take = min(n, self.left)
            self.left -= take
            return bytes(take)
        tail, self.tail = self.tail, b""
        return tail


def test_a_giant_line_is_skipped_in_bounded_memory():
    size = 64 << 20
    reader = LineReader(Endless(size, b"\n" + line("after").encode() + b"\n"))
    tracemalloc.start()
    try:
        lines = list(reader)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lines == [(1, Overlong(size)), (2, line("after"))]
    assert peak < 4 * MAX_LINE_BYTES, f"peak {peak:,} bytes for a {size:,}-byte line"


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.text(alphabet=st.characters(exclude_characters="\n", exclude_categories=["Cs"]),
                              max_size=40), max_size=12),
       block=st.integers(1, 50), limit=st.integers(1, 60))
def test_line_reader_splits_like_split_and_marks_only_overlong_lines(lines, block, limit):
    data = "\n".join(lines).encode()

    class Chunks(io.BytesIO):
        def read1(self, n: int | None = -1) -> bytes:
            return super().read1(block)

    got = list(LineReader(Chunks(data), limit=limit))
    expected = data.split(b"\n")
    if expected[-1] == b"":  # a final newline ends the last line; it does not start another
        expected.pop()
    assert [number for number, _ in got] == list(range(1, len(expected) + 1))
    for (_, value), raw in zip(got, expected, strict=True):
        if len(raw) > limit:
            assert value == Overlong(len(raw))
        else:
            assert value == raw.decode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
fields = st.sampled_from(["network", "remote_id", "url", "author_handle", "author_name", "text", "created_at",
                          "tags", "status", "replies", "received_at", "lang", "account"])


@settings(max_examples=300, deadline=None)
@given(record=st.dictionaries(fields, json_values, max_size=10))
def test_parse_record_only_ever_raises_bad_line(record):
    try:
        parse_record(json.dumps(record))
    except BadLine:
        pass


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_parse_record_on_any_text_only_ever_raises_bad_line(text):
    try:
        parse_record(text)
    except BadLine:
        pass


# -- kill -9 in the middle of an import ----------------------------------------------------------------

def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat_line = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat_line.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found | {grandchild for child in found for grandchild in children_of(child)}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_no_helper_outlives_an_import_killed_with_sigkill(tmp_path):
    fifo = tmp_path / "feed"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "tui", "import", str(fifo), "--db", str(tmp_path / "desk.db")],
                            stderr=subprocess.DEVNULL, env=clean_env(tmp_path), cwd=tmp_path)
    sink = os.open(fifo, os.O_WRONLY)
    try:
        # Two batches and a bit: the parsing child and the tokenizer are both at work, then the feed stalls.
        os.write(sink, "".join(line(f"k{n}") + "\n" for n in range(11_000)).encode())
        helpers = wait_for(lambda: children_of(proc.pid) if len(children_of(proc.pid)) >= 2 else None,
                           timeout=30, what="the import's helper processes")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [pid for pid in helpers if alive(pid)]
    finally:
        os.close(sink)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"helpers still running after the import was killed: {left}"


# -- CSV exports and spreadsheet formulas ---------------------------------------------------------------

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


def test_csv_cells_that_a_spreadsheet_would_run_get_a_leading_quote(store, make_mention):
    mentions = [make_mention(text=text, author_name=text, author_handle=f"@a{n}") for n, text in enumerate(FORMULAS)]
    mentions.append(make_mention(text="plain words", author_name="=cmd|' /C calc'!A0", author_handle="@b"))
    save_batch(store, "demo", mentions, None)
    out = io.StringIO()
    write_csv(iter_export(store), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    for row in rows:
        for name, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    assert rows[0]["text"] == "'" + FORMULAS[0]
    assert rows[-1]["text"] == "plain words" and rows[-1]["author_name"] == "'=cmd|' /C calc'!A0"
    jsonl = io.StringIO()
    write_jsonl(iter_export(store), jsonl)
    exported = [json.loads(text) for text in jsonl.getvalue().splitlines()]
    assert exported[0]["text"] == FORMULAS[0] and exported[0]["author_handle"] == "@a0"


def test_parse_record_gives_a_typed_cleaned_record():
    line = json.dumps({"network": "demo", "remote_id": "m\u00071", "author_handle": "@ana", "text": "hi",
                       "created_at": "2025-03-14T09:00:00Z", "tags": "marketing,care,care", "status": "done",
                       "received_at": "2025-03-14T09:00:01Z",
                       "replies": [{"text": "sent\u202e one", "state": "sent", "operator": "bo\u001b[2Jb",
                                    "remote_url": "https://x/1"},
                                   {"text": "queued", "state": "pending", "error": "ignored"}]})
    parsed = parse_record(line)
    assert parsed.mention.remote_id == "m1" and parsed.mention.text == "hi"
    assert parsed.tags == ["care", "marketing"] and parsed.status == "done"
    assert parsed.received_at == "2025-03-14T09:00:01Z"
    sent, unsent = parsed.replies
    assert (sent.text, sent.state, sent.operator, sent.remote_url, sent.error) == (
        "sent one", "sent", "bob", "https://x/1", None)
    assert sent.created_at is None  # stamped when stored
    assert (unsent.state, unsent.error, unsent.operator) == ("failed", "imported unsent: retry to send", None)
