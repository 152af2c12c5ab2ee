"""Ground truth for search quality: the same scoring, by brute force over every mention.

store.search finds its hits through the FTS index and the in-memory
vocabulary. This module uses neither: it tokenizes every text itself, scans
its whole vocabulary with rapidfuzz for each query term, and scores every
mention that contains any candidate word. Comparing the two measures what
the index, the typo-candidate shortcuts and the early stop lose.

Scoring (the definition both sides implement): a query term of 5+ letters
accepts words within one typo (Optimal String Alignment distance), 9+
letters two, shorter terms or terms with digits only themselves; a word
scores rapidfuzz `fuzz.ratio` against the term (100 when equal); a mention
scores the mean over query terms of its best word.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from store.search_terms import is_vocab_term, text_terms
from store.search_vocabulary import typo_budget


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

    def term_similarities(self, term: str) -> dict[str, float]:
        sims = {term: 100.0} if term in self.postings else {}
        budget = typo_budget(term)
        if budget:
            close = process.extract(term, self.fuzzy_words, scorer=OSA.distance, score_cutoff=budget,
                                    limit=None)
            for word, _, _ in close:
                if word != term:
                    sims[word] = fuzz.ratio(term, word)
        return sims

    def scores(self, terms: list[str], allowed: set[int] | None = None) -> dict[int, float]:
        """Score of every mention with a nonzero score (optionally only ids in `allowed`)."""
        per_doc: dict[int, list[float]] = {}
        for index, term in enumerate(terms):
            for word, sim in self.term_similarities(term).items():
                for mention_id in self.postings.get(word, ()):
                    if allowed is not None and mention_id not in allowed:
                        continue
                    best = per_doc.get(mention_id)
                    if best is None:
                        best = per_doc[mention_id] = [0.0] * len(terms)
                    if sim > best[index]:
                        best[index] = sim
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
