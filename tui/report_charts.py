"""The report's charts, drawn with plotext: one series each, so no chart needs colour to be read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from store.reports import Report, Timing
from tui.report_text import bucket_label, span

# (title, draw): the order of the reports screen's charts, cycled with tab.
Chart = tuple[str, Callable[[Any, Report], str]]


def _ticks(plt: Any, report: Report, count: int) -> None:
    """A few readable bucket labels under the x axis (80 columns hold about six)."""
    step = max(1, count // 6)
    positions = list(range(1, count + 1, step))
    plt.xticks(positions, [bucket_label(report.buckets[p - 1], report.by) for p in positions])


def arrivals(plt: Any, report: Report) -> str:
    values = [sum(series[i] for series in report.volume["tag"].values()) for i in range(len(report.buckets))]
    xs = list(range(1, len(values) + 1))
    if len(values) <= 40:
        plt.bar(xs, values, marker="█")
    else:
        plt.plot(xs, values, marker="braille")
    _ticks(plt, report, len(values))
    return f"Mentions arrived per {report.by}: {sum(values)} in all, peak {max(values, default=0)}"


def backlog(plt: Any, report: Report) -> str:
    xs = list(range(1, len(report.backlog) + 1))
    plt.plot(xs, report.backlog, marker="braille")
    _ticks(plt, report, len(xs))
    now = report.backlog[-1] if report.backlog else 0
    return f"Open mentions at the end of each {report.by}: now {now}, peak {max(report.backlog, default=0)}"


def _timing_bars(plt: Any, timings: list[Timing], what: str) -> str:
    shown = [t for t in timings if t.p50 is not None][:8]
    if not shown:
        plt.text("none in this period", 0, 0)
        return f"{what}: none in this period"
    labels = [f"{t.key[:12]} ({t.count})" for t in shown]
    plt.bar(labels, [round((t.p50 or 0) / 60, 1) for t in shown], orientation="horizontal", marker="█")
    plt.xlabel("p50, minutes")
    return f"{what} p50 (p90): " + ", ".join(f"{t.key} {span(t.p50)} ({span(t.p90)})" for t in shown[:4])


def first_response_by_tag(plt: Any, report: Report) -> str:
    return _timing_bars(plt, report.first_response.get("tag", []), "First response by tag")


def first_response_by_operator(plt: Any, report: Report) -> str:
    return _timing_bars(plt, report.first_response.get("operator", []), "First response by operator")


def volume_by_tag(plt: Any, report: Report) -> str:
    totals = sorted(((key, sum(v)) for key, v in report.volume["tag"].items()), key=lambda kv: -kv[1])
    if not totals:
        plt.text("no mentions in this period", 0, 0)
        return "Volume by tag: none"
    plt.bar([k for k, _ in totals], [v for _, v in totals], orientation="horizontal", marker="█")
    return "Volume by tag: " + ", ".join(f"{k} {v}" for k, v in totals)


def handoff(plt: Any, report: Report) -> str:
    h = report.handoff
    plt.bar(["care first", "marketing first"], [h.care_first, h.marketing_first], orientation="horizontal",
            marker="█")
    return (f"Care ⇄ marketing: {h.both + h.moved} handed off ({h.both} both tags, {h.moved} moved), "
            f"gap p50 {span(h.gap_p50)}, p90 {span(h.gap_p90)}")


def negative(plt: Any, report: Report) -> str:
    """Negative mentions over time: one series, its share of all in the summary (sentiment by words too)."""
    series = report.volume.get("sentiment", {})
    values = series.get("negative", [0] * len(report.buckets))
    xs = list(range(1, len(values) + 1))
    if len(values) <= 40:
        plt.bar(xs, values, marker="█")
    else:
        plt.plot(xs, values, marker="braille")
    _ticks(plt, report, len(values))
    total = sum(sum(counts) for counts in series.values())
    parts = ", ".join(f"{key} {sum(series[key])}" for key in ("negative", "neutral", "positive", "unknown")
                      if key in series)
    share = f" ({100 * sum(values) / total:.0f}% of all)" if total else ""
    return f"Negative mentions per {report.by}: {sum(values)}{share}, peak {max(values, default=0)}; {parts}"


CHARTS: tuple[Chart, ...] = (
    ("Arrivals", arrivals),
    ("Backlog", backlog),
    ("First response by tag", first_response_by_tag),
    ("First response by operator", first_response_by_operator),
    ("Volume by tag", volume_by_tag),
    ("Care ⇄ marketing hand-off", handoff),
    ("Negative over time", negative),
)


def draw(plt: Any, report: Report, index: int) -> str:
    """Clear and draw chart `index`; returns its one-line summary (the numbers in words)."""
    title, painter = CHARTS[index % len(CHARTS)]
    plt.clear_figure()
    plt.title(title)
    return painter(plt, report)
