"""Spelling correction: which indexed words a query term may stand for, and how likely each is.

Each query term gets *options*: the term itself, vocabulary words within its
typo budget (store.search_vocabulary), the word being typed completed
(search-as-you-type), the term joined with its neighbour (`pass word` ->
password, an option of both terms) and, for a run-together term, two words
that must both be in the mention (`refundnow` -> "refund now", written with
a space: every part must be there).

A spelling corrector's weighing (a noisy channel): an option's likelihood is
log10(mentions holding it + 1) minus a cost per typo (EDIT_COST: a word one
typo away must be 100 times as common to outrank the literal word, two typos
10,000 times), so `dilivery` (12 mentions) reads as delivery (119,586), while
an exact word that is common itself stays first. A run-together reading
counts as one typo and as common as its rarer part; a completion costs
COMPLETION_COST, a joined word nothing. The best option of a term scores 100,
others lose POINTS per factor 10 of likelihood, down to FLOOR (still found,
after every better reading). Mentions then score the mean over terms of
their best option (store.search_ranking).

A query of PASTED_FROM words or more is pasted text (a sentence copied from a
mention, typos and all, or typed at length): a word of it matches as written
(when it exists) and as its likeliest reading (when likelier) alike, 100
each, so the mention a sentence came from, its author's typos included, is
not outranked by ones holding a corrected spelling, nor the reverse. No
other option: a long query's combinations stay few.
"""

from __future__ import annotations

import math
import sqlite3

from store.search_terms import is_vocab_term
from store.search_vocabulary import ONE_TYPO_FROM, Vocabulary

EDIT_COST = 2.0
COMPLETION_COST = 1.0
POINTS = 10.0
FLOOR = 50.0
MAX_OPTIONS = 48  # per term, the likeliest
PRESELECT = 64  # typo candidates weighed per term, the earliest seen, when there are more
SPLITS = 2  # run-together readings per term, the likeliest
PART_MIN = 2  # letters of each word of a run-together reading
PASTED_FROM = 6  # query terms from which the query is pasted text, taken as written


def parts(option: str) -> list[str]:
    """The words an option needs in a mention (several for a run-together reading)."""
    return option.split(" ")


def _costs(vocab: Vocabulary, terms: list[str], complete_last: bool) -> list[dict[str, float]]:
    out = []
    for index, term in enumerate(terms):
        typos = vocab.typos(term)
        if len(typos) > PRESELECT:
            # Counting mentions costs a lookup per word: weigh those seen first (the common ones).
            kept = sorted(typos, key=vocab.first_seen_of)[:PRESELECT]
            typos = {word: typos[word] for word in [term, *kept]}
        costs = {word: EDIT_COST * edits for word, edits in typos.items()}
        if complete_last and index == len(terms) - 1:
            for word in vocab.completions(term):
                # A completion that is also a typo away ("subscripti" -> subscription) costs the less of the two.
                costs[word] = min(costs.get(word, COMPLETION_COST), COMPLETION_COST)
        out.append(costs)
    for index in range(len(terms) - 1):
        joined = terms[index] + terms[index + 1]
        if is_vocab_term(joined) and joined in vocab:
            out[index][joined] = out[index + 1][joined] = 0.0
    return out


def _split_points(term: str) -> list[tuple[str, str]]:
    if len(term) < ONE_TYPO_FROM or not term.isalpha():
        return []
    return [(term[:k], term[k:]) for k in range(PART_MIN, len(term) - PART_MIN + 1)]


def _counts(conn: sqlite3.Connection, vocab: Vocabulary, words: set[str]) -> dict[str, int]:
    # A vocabulary-shaped word absent from the vocabulary is in no mention: no need to ask.
    asked = {word for word in words if not is_vocab_term(word) or word in vocab}
    counts = vocab.frequencies.of(conn, asked)
    return {word: counts.get(word, 0) for word in words}


def _likelihood(counts: dict[str, int], option: str, cost: float) -> float:
    return math.log10(min(counts.get(word, 0) for word in parts(option)) + 1) - cost


def weigh(terms: list[str], costs: list[dict[str, float]], splits: list[list[tuple[str, str]]],
          counts: dict[str, int]) -> list[dict[str, float]]:
    """Score options from their costs and the mention counts of their words (shared with bench.truth).

    An option in no mention is kept (counts are cached: it may be in some by
    now), scored as if in none; a run-together reading needs both parts found.
    """
    out = []
    pasted = len(terms) >= PASTED_FROM
    for term, term_costs, term_splits in zip(terms, costs, splits, strict=True):
        if len(term_costs) == 1 and not term_splits:
            out.append({term: 100.0})  # nothing to weigh: the literal word
            continue
        likely = {option: _likelihood(counts, option, cost) for option, cost in term_costs.items()}
        readings = sorted(((_likelihood(counts, f"{a} {b}", EDIT_COST), f"{a} {b}") for a, b in term_splits
                           if counts.get(a) and counts.get(b)), key=lambda item: (-item[0], item[1]))[:SPLITS]
        best = max([*likely.values(), *(value for value, _ in readings)])
        # A run-together reading is a guess: kept only when it is more than a last resort.
        likely.update((option, value) for value, option in readings if _score(best, value) > FLOOR)
        if pasted:
            out.append(_as_written(term, likely, counts))
            continue
        kept = dict(sorted(likely.items(), key=lambda item: (-item[1], item[0]))[:MAX_OPTIONS])
        kept[term] = likely[term]  # the word typed is always an option
        out.append({option: _score(best, value) for option, value in kept.items()})
    return out


def _as_written(term: str, likely: dict[str, float], counts: dict[str, int]) -> dict[str, float]:
    """A word of pasted text: itself if it exists, and its likeliest reading if likelier, equally."""
    out = {term: 100.0} if counts.get(term, 0) else {}
    reading = max(((value, option) for option, value in likely.items() if option != term), default=None)
    if reading is not None and reading[0] > likely[term]:
        out[reading[1]] = 100.0
    return out or {term: 100.0}


def _score(best: float, value: float) -> float:
    return float(max(FLOOR, round(100.0 - POINTS * (best - value))))


def expand(conn: sqlite3.Connection, vocab: Vocabulary, terms: list[str],
           complete_last: bool = False) -> list[dict[str, float]]:
    """Each term's options with their score (0..100]; call with the vocabulary's lock held."""
    costs = _costs(vocab, terms, complete_last)
    splits = [_split_points(term) for term in terms]
    words: set[str] = set()
    for term_costs, term_splits in zip(costs, splits, strict=True):
        if len(term_costs) > 1 or term_splits:
            words.update(term_costs)
            words.update(word for pair in term_splits for word in pair)
    return weigh(terms, costs, splits, _counts(conn, vocab, words))
