"""Precision and recall of the needs-reply and negative signals on the hand-labelled set.

    python3 bench/signals_quality.py [--errors]

The set (tests/fixtures/signals_labelled.tsv) holds English and French posts
written like real mentions, each labelled by hand: needs a reply, negative.
tests/test_signals.py asserts a floor on the same figures.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.signals import SignalModel  # noqa: E402

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "signals_labelled.tsv"


@dataclass(frozen=True, slots=True)
class Labelled:
    needs_reply: bool
    negative: bool
    lang: str
    text: str


def load(path: Path = LABELLED) -> list[Labelled]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        reply, negative, lang, text = line.split("\t", 3)
        rows.append(Labelled(reply == "1", negative == "1", lang, text))
    return rows


@dataclass(frozen=True, slots=True)
class Score:
    precision: float
    recall: float
    support: int


def score(truth: list[bool], guess: list[bool]) -> Score:
    hits = sum(t and g for t, g in zip(truth, guess, strict=True))
    return Score(hits / max(1, sum(guess)), hits / max(1, sum(truth)), sum(truth))


def evaluate(model: SignalModel | None = None, rows: list[Labelled] | None = None) -> dict[str, Score | float]:
    model = model or SignalModel(("en", "fr"), ())
    rows = rows if rows is not None else load()
    found = model.of_all(row.text for row in rows)
    out: dict[str, Score | float] = {
        "needs_reply": score([r.needs_reply for r in rows], [s.needs_reply for s in found]),
        "negative": score([r.negative for r in rows], [s.sentiment < 0 for s in found]),
        "language": sum(s.lang == r.lang for s, r in zip(found, rows, strict=True)) / len(rows),
    }
    for lang in ("en", "fr"):
        pairs = [(r, s) for r, s in zip(rows, found, strict=True) if r.lang == lang]
        out[f"needs_reply_{lang}"] = score([r.needs_reply for r, _ in pairs], [s.needs_reply for _, s in pairs])
        out[f"negative_{lang}"] = score([r.negative for r, _ in pairs], [s.sentiment < 0 for _, s in pairs])
    return out


def main() -> int:
    rows = load()
    model = SignalModel(("en", "fr"), ())
    model.warm()
    started = time.perf_counter()
    results = evaluate(model, rows)
    elapsed = time.perf_counter() - started
    print(f"{len(rows)} labelled mentions ({sum(r.lang == 'en' for r in rows)} en, "
          f"{sum(r.lang == 'fr' for r in rows)} fr)")
    for name, value in results.items():
        if isinstance(value, Score):
            print(f"{name:16} precision {value.precision:.3f}  recall {value.recall:.3f}  (positives {value.support})")
        else:
            print(f"{name:16} accuracy {value:.3f}")
    print(f"{elapsed / len(rows) * 1e6:.0f} µs per mention (warm)")
    if "--errors" in sys.argv:
        for row, signals in zip(rows, model.of_all(r.text for r in rows), strict=True):
            if signals.needs_reply != row.needs_reply or (signals.sentiment < 0) != row.negative:
                print(f"reply {int(row.needs_reply)}/{int(signals.needs_reply)} "
                      f"neg {int(row.negative)}/{int(signals.sentiment < 0)} {row.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
