"""The relevance evaluation's labels: what a pasted sentence means is what the search was given."""

from __future__ import annotations

from types import SimpleNamespace

from bench.relevance import holders
from bench.relevance_queries import _cut, _meant, dictionary, misspelled
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


def test_an_authors_misspelling_also_counts_as_the_word_it_misspells():
    spelled = frozenset(dictionary()[0])
    assert "checkout" in misspelled("checkut", spelled)
    assert misspelled("checkout", spelled) == ()  # a dictionary word stands for itself only
    assert misspelled("ab12", spelled) == ()
    window = "didn't apply at checkut and support won't answer invoice for".split()
    pasted = "didn't appply at checkut and suport won't answwer invoice for".split()
    label = _cut("pasted sentence", " ".join(pasted), _meant(window, pasted), spelled)
    source, corrected, fresh_typo = 1, 2, 3  # the source; it spelled right; that with "suport"
    postings = {term: [source, corrected, fresh_typo] for term in label.intended}
    postings.update(checkut=[source], checkout=[corrected, fresh_typo], support=[source, corrected],
                    suport=[fresh_typo])
    truth = SimpleNamespace(postings=postings)
    # The same sentence with "checkout" spelled right holds what was meant; one with the fresh typo
    # "suport" does not (the pasted "suport" is not what the author wrote), and the words exactly as
    # written are held by the source alone.
    assert holders(truth, label.intended, label.misspells) == {source, corrected}
    assert holders(truth, label.intended) == {source}


def test_labels_from_the_dictionary_carry_no_alternative_spellings():
    spelled = frozenset(dictionary()[0])
    label = _cut("prefix", "with expre", ("with", "express"), spelled, True)
    assert label.misspells == ()
    assert _cut("prefix", "with expre", ("with", "expres"), spelled, True).misspells == ((), ("express",))
