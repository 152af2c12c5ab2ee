"""IdWindow: positions, slices joined or replaced, trimming, arrivals (pure, no database)."""

from __future__ import annotations

from tui.widgets.id_window import CAP, IdWindow, Wanted

PAGE = 100


def test_positions_outside_the_slice_are_unknown_not_wrong():
    window = IdWindow(1000, 200, range(800, 700, -1))
    assert len(window) == 1000 and (window.start, window.end) == (200, 300)
    assert (window.get(200), window.get(299), window.get(199), window.get(300)) == (800, 701, None, None)
    assert window.position(750) == 250 and window.position(5) is None
    assert window[200] == 800 and 750 in window and 5 not in window


def test_wanted_reads_next_to_the_slice_or_jumps():
    window = IdWindow(1000, 200, range(800, 700, -1))
    assert window.wanted(220, 280, PAGE) is None
    assert window.wanted(280, 320, PAGE) == Wanted(300, PAGE, below=701)  # keyset: older than the last
    assert window.wanted(180, 220, PAGE) == Wanted(100, 100, above=800)  # keyset: newer than the first
    assert window.wanted(990, 1000, PAGE) == Wanted(900, PAGE)  # `G`: a jump to the far end


def test_a_range_reaching_far_past_the_slice_is_a_jump_not_a_read_of_everything_between():
    window = IdWindow(3_500_000, 0, range(3_500_000, 3_499_600, -1))
    wanted = window.wanted(0, 3_500_000, PAGE)  # from the old scroll position to a cursor at the end
    assert wanted is not None and wanted.limit <= PAGE and wanted.below is None


def test_slices_join_when_they_touch_and_replace_when_they_do_not():
    window = IdWindow(10_000, 0, range(10_000, 9_900, -1))
    window.put(100, range(9_900, 9_800, -1))
    assert (window.start, window.end, window.get(150)) == (0, 200, 9_850)
    window.put(5_000, range(5_000, 4_900, -1))
    assert (window.start, window.end, window.get(0)) == (5_000, 5_100, None)
    window.put(4_900, range(5_100, 5_000, -1))
    assert (window.start, window.get(4_950)) == (4_900, 5_050)


def test_a_long_scroll_keeps_at_most_cap_ids():
    total = CAP * 3
    window = IdWindow(total, 0, range(total, total - PAGE, -1))
    while window.end < total:
        window.put(window.end, range(total - window.end, max(0, total - window.end - PAGE), -1))
        assert len(window.loaded) <= CAP
    assert window.end == total and window.get(total - 1) == 1 and window.get(0) is None
    assert window.newest == total  # still known after the top was trimmed


def test_arrivals_shift_positions_whether_the_top_is_loaded_or_not():
    top = IdWindow(100, 0, range(100, 0, -1))
    top.prepend([102, 101])
    assert (len(top), top.get(0), top.get(2), top.newest) == (102, 102, 100, 102)
    deep = IdWindow(1000, 500, range(500, 400, -1))
    deep.prepend([1002, 1001])
    assert (len(deep), deep.start, deep.get(502), deep.newest) == (1002, 502, 500, 1002)
    assert deep.count_newer(600, 1000) == 0  # nothing loaded above: unknown, not invented


def test_oldest_first_arrivals_go_below_and_the_newest_is_the_last():
    bottom = IdWindow(100, 0, range(1, 101), oldest_first=True)
    assert bottom.newest == 100
    bottom.append([101, 102])
    assert (len(bottom), bottom.get(0), bottom.get(101), bottom.newest) == (102, 1, 102, 102)
    assert bottom.count_newer(102, 50) == 0  # nothing new ever sits above
    shallow = IdWindow(1000, 0, range(1, 101), newest=1000, oldest_first=True)
    shallow.append([1001])
    assert (len(shallow), shallow.end, shallow.get(1000), shallow.newest) == (1001, 100, None, 1001)
