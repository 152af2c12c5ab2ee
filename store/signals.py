"""Local signals for each mention: its language, a sentiment and whether it needs a reply.

Offline, on the CPU, with data shipped in the packages: lingua (language,
restricted to the desk's languages, which makes it faster and surer),
VADER (English sentiment) and textblob-fr (French sentiment). The models are
built once, lazily, on first use (never on the console's start path), and
are safe to call from any thread.

Needs-reply is a reading of the text (store.signals_cues): a question, a
complaint or a direct request for help, or one of the desk's own keywords,
needs a reply; praise, a giveaway entry or a reshare does not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from store.signals_cues import Cues

SENTIMENTS = {-1: "negative", 0: "neutral", 1: "positive"}
SENTIMENT_OF = {"negative": -1, "neg": -1, "neutral": 0, "neu": 0, "positive": 1, "pos": 1}
DEFAULT_LANGUAGES = ("en", "fr")
# VADER's own thresholds on its compound score; textblob-fr's polarity is on the same -1..1 scale.
VADER_EDGE = 0.05
FRENCH_EDGE = 0.1


@dataclass(frozen=True, slots=True)
class Signals:
    lang: str | None  # an ISO 639-1 code among the desk's languages, None when the text has no words
    sentiment: int  # -1 negative, 0 neutral, 1 positive
    needs_reply: bool

    @property
    def sentiment_name(self) -> str:
        return SENTIMENTS[self.sentiment]

    def columns(self) -> tuple[str | None, int, int]:
        """(sig_lang, sentiment, needs_reply) as the mentions table stores them."""
        return self.lang, self.sentiment, int(self.needs_reply)


class SignalModel:
    """The detector and analysers for one desk's languages and keywords, built on first use."""

    def __init__(self, languages: Sequence[str] = DEFAULT_LANGUAGES, keywords: Iterable[str] = ()):
        self.languages = tuple(dict.fromkeys(code.lower() for code in languages)) or DEFAULT_LANGUAGES
        self.keywords = tuple(keywords)
        self.cues = Cues(self.keywords)
        self._lock = threading.Lock()
        self._detect: Callable[[str], str | None] | None = None
        self._scorers: dict[str, Callable[[str], float]] = {}

    def _detector(self) -> Callable[[str], str | None]:
        with self._lock:
            if self._detect is None:
                self._detect = _build_detector(self.languages)
            return self._detect

    def _scorer(self, lang: str) -> Callable[[str], float]:
        with self._lock:
            if lang not in self._scorers:
                self._scorers[lang] = _build_scorer(lang)
            return self._scorers[lang]

    def warm(self) -> None:
        """Build everything now (a benchmark measures steady state; serve may warm up front)."""
        for lang in self.languages:
            self._scorer(lang)("warm up")
        self.of("warm up")

    def of(self, text: str) -> Signals:
        lang = self._detector()(text) if any(char.isalpha() for char in text) else None
        score = self._scorer(lang or self.languages[0])(text)
        edge = FRENCH_EDGE if lang == "fr" else VADER_EDGE
        sentiment = 1 if score >= edge else -1 if score <= -edge else 0
        reading = self.cues.read(text)
        if reading.complaint and sentiment >= 0 and (not reading.praise or reading.question):
            sentiment = -1  # "still waiting for my refund" reads neutral to a lexicon
        return Signals(lang, sentiment, reading.needs_reply(sentiment))

    def of_all(self, texts: Iterable[str]) -> list[Signals]:
        return [self.of(text) for text in texts]


def _build_detector(languages: tuple[str, ...]) -> Callable[[str], str | None]:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    known = [Language.from_iso_code_639_1(IsoCode639_1.from_str(code)) for code in languages]
    if len(known) == 1:
        only = languages[0]
        return lambda text: only
    # Low-accuracy mode reads trigrams only: ~15x faster, and choosing among a desk's few
    # languages it stays right on whole sentences (bench/signals_quality.py measures it).
    detector = LanguageDetectorBuilder.from_languages(*known).with_low_accuracy_mode().build()

    def detect(text: str) -> str | None:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found is not None else None
    return detect


def _build_scorer(lang: str) -> Callable[[str], float]:
    if lang == "fr":
        from textblob_fr.fr import sentiment as french

        return lambda text: float(french(text)[0])
    # VADER is English; for another language it still reads emoji and English loanwords.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return lambda text: float(analyzer.polarity_scores(text)["compound"])


# The ISO 639-1 codes lingua detects (tests/test_signals.py checks this against lingua itself): settings
# check `languages` against it without importing lingua on every command's start path.
LINGUA_CODES = frozenset("""af ar az be bg bn bs ca cs cy da de el en eo es et eu fa fi fr ga gu he hi hr hu hy
    id is it ja ka kk ko la lg lt lv mi mk mn mr ms nb nl nn pa pl pt ro ru sk sl sn so sq sr st sv sw ta te th tl
    tn tr ts uk ur vi xh yo zh zu""".split())


def known_language(code: str) -> bool:
    """Whether lingua detects this ISO 639-1 code (settings check it before anything runs)."""
    return code.lower() in LINGUA_CODES
