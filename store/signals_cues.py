"""What a mention asks for, read from its words (English and French): the needs-reply cues.

A question, a complaint or a direct request needs a reply; praise, a giveaway
entry or a reshare does not (unless it also asks something). The desk's own
keywords ("refund", "remboursement") always need one. Whole words, case and
accents folded, so "Remboursé" and "rembourse" read alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache


def _words(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])(?:" + "|".join(phrases) + r")(?![\w])")


@cache
def _patterns() -> _Patterns:
    """The cue patterns, compiled on first use: big alternations cost tens of ms, off the start path."""
    _QUESTION_START = _words(
        "how", "when", "where", "why", "what", "which", "who", "can", "could", "would", "will", "is", "are", "do",
        "does", "did", "any", "anyone", "has", "have", "should", "comment", "quand", "ou", "pourquoi", "quel",
        "quelle", "quels", "quelles", "combien", "est ce", "est-ce", "pouvez", "pourriez", "puis je", "puis-je",
        "peut on", "peut-on", "savez", "qui", "y a t il", "y a-t-il")
    _QUESTION_INSIDE = _words(
        "any update", "any news", "any idea", "wondering", "is there a way", "do you know", "can you tell",
        "je me demande", "vous savez si", "des nouvelles", "une idee", "une info")
    _COMPLAINT = _words(
        "refund", "refunded", "broken", "broke", "broke down", "never arrived", "never received", "still waiting",
        "still no", "still not", "not working", "doesn'?t work", "does not work", "didn'?t work", "stopped working",
        "won'?t", "can'?t", "cannot", "unable", "charged twice", "double charged", "overcharged", "scam", "rip ?off",
        "worst", "terrible", "awful", "useless", "disappointed", "disappointing", "unacceptable", "ridiculous",
        "cancel", "cancelled", "canceled", "missing", "damaged", "faulty", "defective", "crash", "crashes", "crashing",
        "error", "bug", "late", "delayed", "lost", "wrong", "no one", "nobody", "ignored", "waiting", "fix",
        "complaint", "issue", "problem", "outage", "down again", "leaking", "stuck",
        "rembourse", "remboursement", "rembourser", "casse", "cassee", "jamais recu", "jamais recue",
        "jamais arrive", "jamais arrivee", "toujours pas", "toujours rien", "toujours en attente", "ne marche pas",
        "marche pas", "ne fonctionne pas", "fonctionne pas", "fonctionne plus", "marche plus", "en panne",
        "arnaque", "decu", "decue", "decevant", "inadmissible", "inacceptable", "honteux", "honte", "nul", "nulle",
        "annuler", "annule", "annulee", "manquant", "manque", "abime", "abimee", "defectueux", "bug", "bugue",
        "plante", "erreur", "retard", "en retard", "perdu", "perdue", "personne ne", "aucune reponse",
        "sans reponse", "probleme", "souci", "reclamation", "preleve deux fois", "facture deux fois", "bloque",
        "bloquee", "j'attends", "on attend", "attends toujours", "pire", "lamentable", "catastrophe",
        "charged me twice", "snapped", "shattered", "empty", "rude", "ruined", "hacked", "frozen", "declined",
        "never arrive", "never came", "not here", "haven'?t got", "hasn'?t arrived", "no refund",
        "want my .{1,20} back",
        "money back", "took \\d+ days", "dead pixel", "tear", "torn", "ripped", "smoke", "logging me out", "keeps",
        "again", "furious", "angry", "fed up", "sick of", "joke", "shocking", "disgusting", "rash", "let water",
        "someone else'?s", "data breach", "unauthori[sz]ed", "went through", "frozen",
        "pas de remboursement", "rien recu", "pour rien", "se moque", "raccroche", "jamais", "vide", "fichu",
        "trempe", "ouvert", "deconnecte", "fendu", "plus la charge", "ne charge plus", "a lache", "lache",
        "reporte", "reportee", "surtaxe", "pas autorise", "perdu tous", "il manque", "incomplete", "trop facture",
        "facture de quelqu'un", "n'importe quoi", "enerve", "marre", "ras le bol", "scandale", "scandaleux",
        "mauvais article", "refuse", "refusee", "plus acces", "sans raison", "sans explication", "sans prevenir")
    _REQUEST = _words(
        "help", "please", "pls", "plz", "dm", "dm me", "contact me", "get back to me", "call me", "need", "assist",
        "advise", "urgent", "asap", "support", "aide", "aidez", "aider", "svp", "stp", "s'il vous plait",
        "s'il te plait", "besoin", "contactez", "rappelez", "merci de me", "urgent", "mp", "en mp", "repondez",
        "repondre", "reponse")
    _PRAISE = _words(
        "love", "loving", "loved", "great", "awesome", "amazing", "thank you", "thanks", "thx", "brilliant",
        "perfect", "best", "fantastic", "excellent", "well done", "kudos", "bravo", "merci", "super", "genial",
        "geniale", "top", "parfait", "parfaite", "adore", "j'adore", "magnifique", "excellent", "trop bien",
        "au top", "nickel", "felicitations", "chapeau", "incroyable", "recommande")
    _GIVEAWAY = _words(
        "giveaway", "contest", "concours", "jeu concours", "sweepstakes", "count me in", "je participe",
        "participe", "entered", "entering", "enter", "pick me", "choose me", "fingers crossed", "croise les doigts",
        "tag", "tagged", "tague", "j'identifie", "identifie", "to win", "gagner", "win", "tirage")
    _RESHARE = re.compile(r"^\s*(?:rt\b|boosted\b|reposted?\b|repost\b|partage\b|via @)|\brt @")
    return _Patterns(_QUESTION_START, _QUESTION_INSIDE, _COMPLAINT, _REQUEST, _PRAISE, _GIVEAWAY, _RESHARE)


_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lowercase, accents off, typographic apostrophes plain: cue lists are written that way."""
    low = unicodedata.normalize("NFKD", text.casefold().replace("\u2019", "'"))
    return _SPACE.sub(" ", "".join(char for char in low if not unicodedata.combining(char)))


@dataclass(frozen=True, slots=True)
class _Patterns:
    question_start: re.Pattern[str]
    question_inside: re.Pattern[str]
    complaint: re.Pattern[str]
    request: re.Pattern[str]
    praise: re.Pattern[str]
    giveaway: re.Pattern[str]
    reshare: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Reading:
    question: bool
    complaint: bool
    request: bool
    praise: bool
    giveaway: bool
    reshare: bool
    keyword: bool

    def needs_reply(self, sentiment: int) -> bool:
        if self.keyword:
            return True
        asks = self.question or self.request
        if self.giveaway:
            return self.question  # "is the giveaway still on?" asks; an entry's "pick me please" does not
        if self.reshare:
            return asks
        if asks:
            return True
        return self.complaint and (sentiment < 0 or not self.praise)


class Cues:
    def __init__(self, keywords: Iterable[str] = ()):
        folded = [re.escape(fold(word).strip()) for word in keywords if fold(word).strip()]
        self.keywords = _words(*folded) if folded else None

    def read(self, text: str) -> Reading:
        low = fold(text)
        cue = _patterns()
        sentences = [part.strip(" @") for part in re.split(r"[.!\n;:]+", low) if part.strip()]
        question = "?" in low or bool(cue.question_inside.search(low)) or any(
            cue.question_start.match(_strip_handles(part)) and len(part.split()) >= 3 for part in sentences)
        return Reading(
            question=question,
            complaint=bool(cue.complaint.search(low)),
            request=bool(cue.request.search(low)),
            praise=bool(cue.praise.search(low)),
            giveaway=bool(cue.giveaway.search(low)) and ("#" in low or low.count("@") >= 2 or "giveaway" in low
                                                       or "concours" in low),
            reshare=bool(cue.reshare.search(low)),
            keyword=bool(self.keywords and self.keywords.search(low)),
        )


def _strip_handles(sentence: str) -> str:
    words = sentence.split()
    while words and words[0].startswith("@"):
        words.pop(0)
    return " ".join(words)
