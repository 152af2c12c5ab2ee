"""The relevance evaluation's labels: what a pasted sentence means is what the search was given."""

from __future__ import annotations

from bench.relevance_queries import _meant
from store.query import MAX_TERMS, parse_query


def test_a_mistyped_repeat_does_not_ask_for_a_word_the_search_never_saw():
    window = "launch of the Lumio Home hub? is the Lumio Pen coming".split()
    pasted = "launch of the Lcmio Home hub? is the Lumio Pen comign".split()
    # "lcmio" is a term of its own: the eight the search takes end at "lumio", before "pen".
    assert parse_query(" ".join(pasted)).terms[-1] == "lumio"
    assert len(parse_query(" ".join(pasted)).terms) == MAX_TERMS
    assert _meant(window, pasted) == ("launch", "of", "the", "lumio", "home", "hub", "is")


def test_without_a_shift_the_label_is_the_window_as_written():
    window = "didn't apply at checkut and support won't answer invoice for".split()
    pasted = "didn't appply at checkut and suport won't answwer invoice for".split()
    assert _meant(window, pasted) == parse_query(" ".join(window)).terms
    assert _meant(window, pasted) == ("didn", "t", "apply", "at", "checkut", "and", "support", "won")
