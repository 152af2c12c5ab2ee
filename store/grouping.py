"""Near-duplicate groups, built live: mentions that say the same thing, without comparing every pair.

Each arriving mention is reduced to *concepts*: its folded content terms,
stemmed crudely, with a small English/French lexicon of the words complaints
are made of (annulé → cancel, remboursement → refund), and a misspelt term
mapped to a known one within two edits (rapidfuzz). Candidates are only the
recent clusters sharing a concept with it (each concept remembers its last
few clusters: blocking, never all pairs). A near-copy of a cluster's
exemplar (rapidfuzz token-set ratio, for retweets and pasted complaints)
joins at once; otherwise the mention joins the cluster whose members share
most of its concepts, each concept weighted by how rare it is among recent
mentions. A mention that matches nothing becomes a *seed*, held in memory
only; a group is written to the database when a second mention joins, so a
million one-off mentions cost no rows.

Operators' corrections are exemplars: a mention moved into a group (or split
off into its own) is compared with arrivals like the group's first mention,
so the correction holds for what comes next.
"""

from __future__ import annotations

import math
import re
from collections import Counter, deque
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from store.search_terms import text_terms

STOP = frozenset("""
about after again also been before being could does doing done dont from have having here just like make
many more most much need only other over really same should some still than that thats their them then there
these they this those very want were what when where which while will with would your youre yours thanks
thank please hello guys anyone today yesterday tomorrow week time people someone anything nothing every
avec aussi avoir bien cette comme dans depuis encore elle elles etre fait faire leur mais meme merci nous pour
plus quand quoi sans sont tout tous tres votre vous bonjour salut rien personne
the and for are our you was has had not but can get got how why who its all any one out too off yes hey ugh lol
des les est pas une mes ses nos vos qui que ont sur par aux ces ete
""".split())
# The vocabulary of complaints across English and French: the few words a flood is made of.
LEXICON = {
    "annule": "cancel", "annul": "cancel", "annulation": "cancel", "cancell": "cancel", "cancel": "cancel",
    "rembours": "refund", "remboursement": "refund", "rembourse": "refund", "refund": "refund",
    "argent": "money", "billet": "ticket", "navette": "shuttle", "aeroport": "airport", "bloque": "stuck",
    "stranded": "stuck", "eau": "water", "nourriture": "food", "manger": "food", "tente": "tent",
    "trempe": "soak", "soaking": "soak", "soaked": "soak", "lit": "bed", "commande": "order",
    "expedie": "ship", "expedition": "ship", "livraison": "deliver", "delivery": "deliver", "suivi": "track",
    "tracking": "track", "repond": "answer", "reponse": "answer", "nouvelle": "update", "concert": "show",
    "festival": "show", "retard": "late", "delayed": "late", "delay": "late", "cass": "broken",
    "panne": "broken", "participe": "enter", "entering": "enter",
}
_URL = re.compile(r"https?://\S+|www\.\S+", re.I)
_HANDLE = re.compile(r"@[\w.\-]+(@[\w.\-]+)?")
_SUFFIXES = ("ations", "ation", "ements", "ement", "ings", "ing", "ees", "ies", "ied", "ed", "ee", "es", "s", "e")


def _strip(term: str) -> str:
    for suffix in _SUFFIXES:
        if term.endswith(suffix) and len(term) - len(suffix) >= 3:
            return term[: -len(suffix)]
    return term


def stem(term: str) -> str:
    """A crude English/French stem, then the lexicon's shared concept (itself stemmed)."""
    if term in LEXICON:
        return _strip(LEXICON[term])
    stripped = _strip(term)
    return _strip(LEXICON[stripped]) if stripped in LEXICON else stripped


def content_terms(text: str) -> set[str]:
    """The folded terms that carry meaning: no links, handles, numbers or common words."""
    plain = _HANDLE.sub(" ", _URL.sub(" ", text))
    return {t for t in text_terms(plain) if len(t) >= 3 and t.isalpha() and t not in STOP}


def concepts(text: str) -> set[str]:
    return {stem(term) for term in content_terms(text)}


def normalised(text: str) -> str:
    """What the near-copy check reads: the content terms, sorted (word order and decoration do not matter)."""
    return " ".join(sorted(content_terms(text)))


@dataclass(slots=True)
class Cluster:
    key: int  # a group id (> 0) or minus the seed mention's id
    exemplars: list[str]  # normalised texts of the first member and of corrections
    terms: Counter[str] = field(default_factory=Counter)  # concept -> members having it
    size: int = 0
    members: list[int] = field(default_factory=list)  # for a seed: its one mention

    @property
    def is_seed(self) -> bool:
        return self.key < 0


@dataclass(frozen=True, slots=True)
class Placement:
    mention_id: int
    cluster: int  # the cluster key it joined or started
    score: float
    seed_mention: int | None = None  # set when this mention turned a seed into a group


class Grouper:
    """The leader's in-memory index of recent clusters; `place` is the hot path."""

    def __init__(self, *, threshold: float = 0.35, copy_ratio: float = 90.0, per_term: int = 24,
                 candidates: int = 32, capacity: int = 50_000, max_exemplars: int = 6):
        self.threshold = threshold
        self.copy_ratio = copy_ratio
        self.per_term = per_term
        self.candidates = candidates
        self.capacity = capacity
        self.max_exemplars = max_exemplars
        # Least recently touched first: a dict keeps insertion order, and touching re-inserts.
        self.clusters: dict[int, Cluster] = {}
        self._by_term: dict[str, deque[int]] = {}
        self._df: Counter[str] = Counter()  # concept -> recent mentions having it
        self._seen = 0
        self._dirty: set[int] = set()  # clusters changed since similar_pairs last looked
        self._frequent: list[str] = []
        self._frequent_at = 0
        self._vectors: dict[int, tuple[dict[str, float], float]] = {}  # cluster -> (profile, norm), until it changes

    def __len__(self) -> int:
        return len(self.clusters)

    # -- concepts and weights ------------------------------------------------
    def _known(self, concept: str) -> str:
        """A concept as the recent stream spells it: a misspelling maps to a frequent concept nearby."""
        if self._df.get(concept, 0) >= 2 or len(concept) < 5:
            return concept
        if self._seen >= self._frequent_at:  # the frequent concepts, refreshed now and then (sorting is costly)
            self._frequent = [c for c, n in self._df.most_common(400) if n >= 3]
            self._frequent_at = self._seen + 10
        limit = 2 if len(concept) >= 8 else 1
        found = process.extractOne(concept, self._frequent, scorer=Levenshtein.distance, score_cutoff=limit)
        return found[0] if found else concept

    def concepts_of(self, text: str) -> set[str]:
        return {self._known(c) for c in concepts(text)}

    def _weight(self, concept: str) -> float:
        return math.log((self._seen + 2) / (self._df.get(concept, 0) + 1)) + 0.5

    # -- the index -----------------------------------------------------------
    def _index(self, cluster: Cluster, found: set[str]) -> None:
        self._index_terms(cluster, found)  # most recent last: a busy cluster stays findable
        cluster.terms.update(found)
        cluster.size += 1

    def _touch(self, cluster: Cluster) -> None:
        self._dirty.add(cluster.key)
        self.clusters[cluster.key] = self.clusters.pop(cluster.key, cluster)
        while len(self.clusters) > self.capacity:
            self.forget(next(iter(self.clusters)))

    def forget(self, key: int) -> None:
        self._vectors.pop(key, None)
        cluster = self.clusters.pop(key, None)
        if cluster is None:
            return
        for concept in cluster.terms:
            keys = self._by_term.get(concept)
            if keys is not None and key in keys:
                keys.remove(key)
                if not keys:
                    del self._by_term[concept]

    def best(self, text: str, found: set[str] | None = None) -> tuple[Cluster | None, float]:
        """The cluster `text` belongs to (and its score, 0..1), or None under the threshold."""
        found = self.concepts_of(text) if found is None else found
        shared: Counter[int] = Counter()
        for concept in found:
            shared.update(self._by_term.get(concept, ()))
        if not shared:
            return None, 0.0
        owners = [self.clusters[key] for key, _ in shared.most_common(self.candidates) if key in self.clusters]
        norm = normalised(text)
        choices = [(exemplar, cluster) for cluster in owners for exemplar in cluster.exemplars]
        copy = process.extractOne(norm, [c for c, _ in choices], scorer=fuzz.token_set_ratio,
                                  score_cutoff=self.copy_ratio) if norm and choices else None
        if copy is not None:
            return choices[copy[2]][1], copy[1] / 100
        weights = {concept: self._weight(concept) for concept in found}
        total = sum(weights.values()) or 1.0
        best, score = None, 0.0
        for cluster in owners:
            overlap = sum(weight * cluster.terms[c] / cluster.size for c, weight in weights.items()
                          if c in cluster.terms)
            value = overlap / total
            if value > score:
                best, score = cluster, value
        return (best, score) if score >= self.threshold else (None, score)

    def place(self, mention_id: int, text: str) -> Placement:
        """Put one arriving mention in a cluster (an existing one, or its own new seed)."""
        found = self.concepts_of(text)
        self._seen += 1
        self._df.update(found)
        cluster, score = self.best(text, found)
        if cluster is None:
            seed = Cluster(-mention_id, [normalised(text)], members=[mention_id])
            self.clusters[seed.key] = seed
            self._index(seed, found)
            self._touch(seed)
            return Placement(mention_id, seed.key, 1.0)
        seed_mention = cluster.members[0] if cluster.is_seed else None
        if cluster.is_seed:
            cluster.members.append(mention_id)
        self._index(cluster, found)
        self._touch(cluster)
        return Placement(mention_id, cluster.key, score, seed_mention)

    def _vector(self, cluster: Cluster, top: int = 40) -> dict[str, float]:
        """The cluster's profile: its `top` most shared concepts, weighted by rarity (enough to compare)."""
        return {c: self._weight(c) * n / cluster.size for c, n in cluster.terms.most_common(top)}

    def similar_pairs(self, recent: int = 300, cutoff: float = 0.3) -> list[tuple[int, int, float]]:
        """Pairs of recent clusters (of 2+ members) saying the same thing in different words: merge candidates.

        Weighted cosine of their concept profiles; the smaller cluster of a pair goes into the larger.
        Recent clusters only (the last `recent` touched), so this stays a few milliseconds.
        """
        keys = [k for k in list(self.clusters)[-recent:] if self.clusters[k].size >= 2]
        changed = [k for k in keys if k in self._dirty]  # only what moved since the last look
        for key in self._dirty:
            self._vectors.pop(key, None)
        self._dirty.clear()
        for key in keys:
            if key not in self._vectors:
                vector = self._vector(self.clusters[key])
                self._vectors[key] = (vector, math.sqrt(sum(v * v for v in vector.values())) or 1.0)
        vectors = {k: self._vectors[k][0] for k in keys}
        norms = {k: self._vectors[k][1] for k in keys}
        pairs = []
        done: set[tuple[int, int]] = set()
        for a in changed:
            va = vectors[a]
            for b in keys:
                if a == b or (min(a, b), max(a, b)) in done:
                    continue
                done.add((min(a, b), max(a, b)))
                vb = vectors[b]
                small, large = (va, vb) if len(va) < len(vb) else (vb, va)
                dot = sum(w * large.get(c, 0.0) for c, w in small.items())
                cosine = dot / (norms[a] * norms[b])
                if cosine >= cutoff:
                    src, dst = (a, b) if self.clusters[a].size <= self.clusters[b].size else (b, a)
                    pairs.append((src, dst, cosine))
        return sorted(pairs, key=lambda p: -p[2])

    def merge(self, source: int, target: int) -> None:
        """Fold cluster `source` into `target` (both keep being found through target)."""
        src, dst = self.clusters.get(source), self.clusters.get(target)
        if src is None or dst is None or src is dst:
            return
        self.forget(source)
        dst.terms.update(src.terms)
        dst.size += src.size
        for exemplar in src.exemplars[:2]:
            if exemplar not in dst.exemplars:
                dst.exemplars.append(exemplar)
        del dst.exemplars[1:-self.max_exemplars]
        self._index_terms(dst, set(src.terms))
        self._touch(dst)

    def _index_terms(self, cluster: Cluster, found: set[str]) -> None:
        for concept in found:
            keys = self._by_term.setdefault(concept, deque(maxlen=self.per_term))
            if cluster.key in keys:
                keys.remove(cluster.key)
            keys.append(cluster.key)

    def promote(self, seed_key: int, group_id: int) -> None:
        """A seed became group `group_id` in the database: re-key it."""
        cluster = self.clusters.pop(seed_key, None)
        if cluster is None:
            return
        old, cluster.key, cluster.members = cluster.key, group_id, []
        self.clusters[group_id] = cluster
        self._dirty.discard(old)
        self._dirty.add(group_id)
        for concept in cluster.terms:
            keys = self._by_term.get(concept)
            if keys is not None and old in keys:
                keys[keys.index(old)] = group_id

    def add_exemplar(self, key: int, text: str, *, member: int | None = None) -> None:
        """Cluster `key` holds a mention with this text (warm start, or an operator's correction)."""
        cluster = self.clusters.get(key)
        if cluster is None:
            cluster = self.clusters[key] = Cluster(key, [], members=[member] if member and key < 0 else [])
        norm = normalised(text)
        if norm and norm not in cluster.exemplars:
            cluster.exemplars.append(norm)
            if len(cluster.exemplars) > self.max_exemplars:
                del cluster.exemplars[1]  # keep the first member and the latest corrections
        found = self.concepts_of(text)
        self._seen += 1
        self._df.update(found)
        self._index(cluster, found)
        self._touch(cluster)
