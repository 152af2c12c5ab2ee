"""Ground truth for search quality: the same scoring, by brute force over every mention.

store.search finds its hits through the FTS index, the in-memory vocabulary
and cached frequencies. This module uses none of them: it tokenizes every
text itself, scans its whole vocabulary with rapidfuzz for each query term,
counts mentions from its own postings, and scores every mention that holds
any option. Comparing the two measures what the index, the candidate
shortcuts and the early stop lose.

Scoring (the definition both sides implement; the weighing formula itself is
store.search_candidates.weigh, shared): a query term's options are itself,
words within its typo budget (Optimal String Alignment: 1 from 5 letters, 2
from 8), every completion of the last term when it is being typed, the term
joined with a neighbour when that word exists, and its run-together
readings (two existing words, 2+ letters each); each option is weighed by
the number of mentions holding it; a mention scores the mean over query
terms of its best option.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import OSA

from store.search_candidates import COMPLETION_COST, EDIT_COST, PART_MIN, weigh
from store.search_terms import is_vocab_term, text_terms
from store.search_vocabulary import ONE_TYPO_FROM, PREFIX_FROM, typo_budget


class BruteForce:
    """Every mention's terms, as postings, built without the database's index."""

    def __init__(self, rows: Iterable[tuple[int, str]]):
        postings: dict[str, array] = {}
        for mention_id, text in rows:
            for term in text_terms(text):
                ids = postings.get(term)
                if ids is None:
                    ids = postings[term] = array("I")
                ids.append(mention_id)
        self.postings = postings
        self.fuzzy_words = [term for term in postings if is_vocab_term(term)]

    def count(self, word: str) -> int:
        return len(self.postings.get(word, ()))

    def _costs(self, term: str, last: bool) -> dict[str, float]:
        costs = {term: 0.0}
        budget = typo_budget(term)
        if budget:
            close = process.extract(term, self.fuzzy_words, scorer=OSA.distance, score_cutoff=budget, limit=None)
            costs.update((word, EDIT_COST * distance) for word, distance, _ in close if word != term)
        if last and len(term) >= PREFIX_FROM and is_vocab_term(term):
            for word in self.fuzzy_words:
                if word.startswith(term) and word != term:
                    costs[word] = min(costs.get(word, COMPLETION_COST), COMPLETION_COST)
        return costs

    def options(self, terms: list[str], complete_last: bool = False) -> list[dict[str, float]]:
        """Each term's options with their score, found by scanning everything."""
        costs = [self._costs(term, complete_last and index == len(terms) - 1) for index, term in enumerate(terms)]
        for index in range(len(terms) - 1):
            joined = terms[index] + terms[index + 1]
            if joined in self.postings and is_vocab_term(joined):
                costs[index][joined] = costs[index + 1][joined] = 0.0
        splits = [[(term[:k], term[k:]) for k in range(PART_MIN, len(term) - PART_MIN + 1)]
                  if len(term) >= ONE_TYPO_FROM and term.isalpha() else [] for term in terms]
        words = {word for c in costs for word in c} | {w for pairs in splits for pair in pairs for w in pair}
        return weigh(terms, costs, splits, {word: self.count(word) for word in words})

    def scores(self, terms: list[str], allowed: set[int] | None = None,
               complete_last: bool = False) -> dict[int, float]:
        """Score of every mention with a nonzero score (optionally only ids in `allowed`)."""
        per_doc: dict[int, list[float]] = {}
        for index, options in enumerate(self.options(terms, complete_last)):
            for option, value in options.items():
                words = option.split(" ")
                holders = set(self.postings.get(words[0], ()))
                for word in words[1:]:
                    holders &= set(self.postings.get(word, ()))
                for mention_id in holders:
                    if allowed is not None and mention_id not in allowed:
                        continue
                    best = per_doc.get(mention_id)
                    if best is None:
                        best = per_doc[mention_id] = [0.0] * len(terms)
                    if value > best[index]:
                        best[index] = value
        return {mention_id: sum(best) / len(terms) for mention_id, best in per_doc.items()}


def recall_at(found: list[int], truth: dict[int, float], k: int = 20) -> float | None:
    """Share of the true top-k that `found[:k]` contains, ties at the k-th score counted as equals.

    A mention scoring as high as the k-th best is as right an answer as the
    k-th itself, so any of them counts. None when nothing should be found.
    """
    if not truth:
        return None
    ranked = sorted(truth.values(), reverse=True)
    cutoff = ranked[min(k, len(ranked)) - 1]
    relevant = {mention_id for mention_id, score in truth.items() if score >= cutoff - 1e-9}
    wanted = min(k, len(relevant))
    return len([mention_id for mention_id in found[:k] if mention_id in relevant]) / wanted
