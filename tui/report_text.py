"""A desk report as text (terminal, chat) and as CSV rows (spreadsheets): the numbers behind every chart."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO, Any

from store.reports import Report, Timing
from store.sla import short_span
from store.transfer import defuse_cell

DIMENSIONS = (("tag", "by tag"), ("network", "by network"), ("operator", "by operator"))


def span(seconds: float | None) -> str:
    return "—" if seconds is None else short_span(seconds)


def bucket_label(label: str, by: str) -> str:
    """`2026-11-29T14:00+01:00` as a column header: `11-29 14h` by hour, `11-29` by day."""
    return f"{label[5:10]} {label[11:13]}h" if by == "hour" else label[5:10]


def _timing_lines(title: str, groups: dict[str, list[Timing]]) -> list[str]:
    lines = [title]
    if not any(groups.values()):
        return [f"{title} none in this period"]
    for dimension, heading in DIMENSIONS:
        timings = groups.get(dimension, [])
        if timings:
            shown = ", ".join(f"{t.key} {span(t.p50)}/{span(t.p90)} ({t.count})" for t in timings[:8])
            lines.append(f"  {heading} (p50/p90, count): {shown}")
    return lines


def format_report(report: Report, when: Any = lambda moment: moment) -> str:
    """Every figure of the report, on lines that fit 80 columns where they can."""
    lines = [f"Report {when(report.since)} → {when(report.until)}, by {report.by}: {report.total} mentions", ""]
    lines.append("Volume:")
    for dimension in ("tag", "network", "status", "sentiment"):
        series = report.volume.get(dimension, {})
        totals = sorted(((key, sum(counts)) for key, counts in series.items()), key=lambda kv: (-kv[1], kv[0]))
        lines.append(f"  by {dimension}: " + (", ".join(f"{k} {v}" for k, v in totals) or "none"))
    busiest = max(range(len(report.buckets)), key=lambda i: _arrivals(report, i), default=None)
    if busiest is not None and _arrivals(report, busiest):
        lines.append(f"  busiest {report.by}: {bucket_label(report.buckets[busiest], report.by)} "
                     f"({_arrivals(report, busiest)})")
    if report.backlog:
        lines.append(f"Backlog (open at the end of each {report.by}): first {report.backlog[0]}, "
                     f"peak {max(report.backlog)}, now {report.backlog[-1]}")
    lines += _timing_lines("First response:", report.first_response)
    lines += _timing_lines("Resolution (to done):", report.resolution)
    if report.sla is None:
        lines.append("SLA: no targets set ([sla] in the config file)")
    else:
        sla = report.sla
        targets = ", ".join(f"{k} {span(v)}" for k, v in sla.targets.items())
        lines.append(f"SLA ({targets}): {sla.breaches} breached — answered late {sla.answered_late}, "
                     f"on time {sla.answered_on_time}; waiting late {sla.waiting_late}, "
                     f"waiting on time {sla.waiting_on_time}")
    handoff = report.handoff
    lines.append(f"Care ⇄ marketing hand-off: {handoff.both + handoff.moved} mentions "
                 f"({handoff.both} carry both tags, {handoff.moved} moved); care first {handoff.care_first}, "
                 f"marketing first {handoff.marketing_first}; gap p50 {span(handoff.gap_p50)}, "
                 f"p90 {span(handoff.gap_p90)}")
    for pair in handoff.pairs[:5]:
        other = "marketing" if pair.first_team == "care" else "care"
        lines.append(f"  {pair.first_team} {pair.first_operator} → {other} {pair.second_operator}: {pair.count}")
    lines += [f"Note: {note}" for note in report.notes]
    return "\n".join(lines)


def _arrivals(report: Report, index: int) -> int:
    return sum(series[index] for series in report.volume["tag"].values())


def csv_rows(report: Report) -> Iterator[tuple[str, str, str, str, Any]]:
    """(metric, dimension, key, bucket, value): one long table a spreadsheet can pivot."""
    for dimension, series in report.volume.items():
        for key, counts in series.items():
            for label, count in zip(report.buckets, counts, strict=True):
                yield "volume", dimension, key, label, count
    for label, count in zip(report.buckets, report.backlog, strict=True):
        yield "backlog", "", "", label, count
    for metric, groups in (("first_response", report.first_response), ("resolution", report.resolution)):
        for dimension, timings in groups.items():
            for timing in timings:
                yield f"{metric}_count", dimension, timing.key, "", timing.count
                yield f"{metric}_p50_seconds", dimension, timing.key, "", timing.p50
                yield f"{metric}_p90_seconds", dimension, timing.key, "", timing.p90
    if report.sla is not None:
        for name in ("answered_on_time", "answered_late", "waiting_on_time", "waiting_late"):
            yield f"sla_{name}", "", "", "", getattr(report.sla, name)
    handoff = report.handoff
    for name in ("both", "moved", "care_first", "marketing_first", "gap_p50", "gap_p90"):
        yield f"handoff_{name}", "", "", "", getattr(handoff, name)


def write_csv(report: Report, out: IO[str]) -> None:
    writer = csv.writer(out)
    writer.writerow(("metric", "dimension", "key", "bucket", "value"))
    for row in csv_rows(report):
        writer.writerow([defuse_cell(cell) for cell in row])
