"""Make text from outside inert before it is stored, printed or shown.

Every string that arrives from outside is hostile: network posts, but also
server error bodies, config values, file names, operator names, notes and
reply texts. C0/C1 control characters and escape sequences could drive the
operator's terminal (its title, its clipboard through OSC 52, the screen);
bidi overrides reorder what is on screen; zero-width characters make two
different names look alike; long runs of combining marks overflow the cell
width terminals and tmux assume, which shifts pane borders.

Two layers use the same character classes:
- `clean_text` / `clean_line`: the border, where a string enters the store
  or an error message is built. Removes all of the above, normalises to NFC.
- `terminal_safe`: the last pass before a terminal, for the CLI's output
  streams and the console's renderer. Removes only what can drive a
  terminal, so it is cheap enough to run on every write.

Markup is not our concern here: the UI renders text as `Text`/`Content`.
"""

from __future__ import annotations

import re
import unicodedata

# ESC-started sequences first (CSI, OSC, DCS, SOS, PM, APC, and two-byte
# escapes) so that their parameters go too, not only the ESC byte.
_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]              # CSI ... final byte
  | \x1b[\]PX^_].*?(?:\x07|\x1b\\|\x9c)  # OSC/DCS/SOS/PM/APC ... terminator
  | \x1b[ -/]*[0-~]                       # two-byte / nF escapes
  | \x9b[0-?]*[ -/]*[@-~]                 # 8-bit CSI
  | [\x90\x9d\x98\x9e\x9f].*?(?:\x07|\x1b\\|\x9c)  # 8-bit string controls
    """,
    re.VERBOSE | re.DOTALL,
)
# What can drive a terminal or break a row: C0 except \t, \n (and \r, handled
# apart), DEL, C1; bidi embeddings, overrides, isolates and marks; line and
# paragraph separators; lone surrogates (from JSON "\\ud800" escapes), which
# cannot be encoded at all (a print would crash, SQLite refuses them).
_TERMINAL = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
    "\ud800-\udfff"
)
# In output, a CR only survives as part of CRLF (CSV rows end so); a lone one
# returns to the start of the line and lets text overwrite what precedes it.
_UNSAFE_OUTPUT = re.compile(f"\r(?!\n)|[{_TERMINAL}]")
# Invisible characters with no place in a name or a post: ZWSP, word joiner
# and invisible operators, Mongolian vowel separator, BOM, soft hyphen,
# combining grapheme joiner, Hangul fillers (blank-looking names), Khmer
# inherent vowels, deprecated format controls, interlinear annotations.
_INVISIBLE = (
    "\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180e\u200b\u2060-\u2064\u206a-\u206f\u3164\ufeff\uffa0"
    "\ufff9-\ufffb"
)
# Beyond the BMP: musical format controls, and tag characters, which spell
# hidden text unless they make a subdivision flag (England, Scotland, Wales).
_ASTRAL_INVISIBLE = "\U0001d173-\U0001d17a\U000e0000-\U000e007f"
_ASTRAL = re.compile(f"(\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f)|[{_ASTRAL_INVISIBLE}]")
_JOINERS = re.compile("[\u200c\u200d]")
# Pictographs a ZWJ may join (family, profession and flag sequences). Skin
# tone modifiers sit inside the last range; U+FE0F may follow the left one.
_EMOJI = re.compile(
    "[\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u24c2\u25aa-\u27bf\u2934\u2935"
    "\u2b05-\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001faff]"
)
# Scripts where ZWNJ/ZWJ choose a letter's shape (Persian, Urdu, the Indic
# scripts, Sinhala): between two of their characters a joiner is spelling.
_JOINING_SCRIPT = re.compile("[\u0590-\u0dff]")
_SUSPECT = re.compile(f"[{_TERMINAL}{_INVISIBLE}{_ASTRAL_INVISIBLE}\u200c\u200d\r]")
_ASCII_SUSPECT = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_STRIP = re.compile(f"[{_TERMINAL}{_INVISIBLE}]")

# At most this many combining marks on one base: enough for Vietnamese,
# Thai, Hebrew points and emoji keycaps; "Zalgo" text stacks dozens.
MAX_MARKS = 3
# A run of more than MAX_MARKS marks sits inside a run of characters that
# are neither ASCII/Latin nor letters of a common mark-free block (Greek,
# Cyrillic, Hebrew, Arabic and Thai letters, kana, CJK, Hangul, emoji): a
# cheap pre-filter, so ordinary text in any of those never takes the slow path.
_WIDE_RUN = re.compile(
    "[^\x00-\u02ff\u0370-\u0482\u048a-\u052f\u05d0-\u05f4\u0620-\u064a\u066e\u066f\u0671-\u06d5\u0e01-\u0e30"
    "\u0e32\u0e33\u0e40-\u0e46\u2000-\u20cf\u3000-\u3029\u302e-\u3098\u309b-\u30ff\u4e00-\u9fff\uac00-\ud7a3"
    f"\U0001f000-\U0001faff]{{{MAX_MARKS + 1},}}"
)

# Characters none of the rules above can touch: printable ASCII, tab and newline, Latin-1 letters
# and symbols up to the combining marks (not the soft hyphen), and the emoji blocks. None of them
# is suspect, none can be in a _WIDE_RUN, and every string of them is already NFC (no combining
# class, NFC_QC=Yes). A text with no other character is only trimmed (fast path of clean_text).
_NEEDS_RULES = re.compile("[^\t\n -~\xa0-\xac\xae-\u02ff\U0001f000-\U0001faff]")


def terminal_safe(text: str) -> str:
    """`text` without anything a terminal would act on; everything else unchanged.

    The last line of defence before a terminal (print, the console's
    renderer): escape sequences whole, then any remaining C0/C1 control,
    bidi control and lone surrogate. Tabs and newlines stay.
    """
    if not _UNSAFE_OUTPUT.search(text):
        return text
    return _UNSAFE_OUTPUT.sub("", _ESCAPES.sub("", text))


def _keep_joiner(match: re.Match[str]) -> str:
    text, at = match.string, match.start()
    before = text[at - 1] if at else ""
    after = text[at + 1] if at + 1 < len(text) else ""
    if match.group() == "\u200d":
        if before == "\ufe0f" and at >= 2:
            before = text[at - 2]
        if _EMOJI.match(before) and _EMOJI.match(after):
            return match.group()
    if _JOINING_SCRIPT.match(before) and _JOINING_SCRIPT.match(after):
        return match.group()
    return ""


def _cap_run(match: re.Match[str]) -> str:
    kept, marks = [], 0
    for char in match.group():
        if unicodedata.category(char) in ("Mn", "Me"):
            marks += 1
            if marks > MAX_MARKS:
                continue
        else:
            marks = 0
        kept.append(char)
    return "".join(kept)


def _normalise(text: str, suspect: bool) -> str:
    """Invisible characters out, NFC, combining runs capped — to a fixed point.

    Each step can expose work for another (dropping a joiner joins two runs
    of marks; capping changes a joiner's neighbour), so repeat until stable.
    """
    for _ in range(4):
        before = text
        if suspect:
            text = _STRIP.sub("", text)
            text = _ASTRAL.sub(lambda m: m.group(1) or "", text)
            text = _JOINERS.sub(_keep_joiner, text)
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        if _WIDE_RUN.search(text):
            text = _WIDE_RUN.sub(_cap_run, text)
        if text == before:
            break
        suspect = _SUSPECT.search(text) is not None
    return text


def clean_text(value: object, *, multiline: bool = True, limit: int = 100_000) -> str:
    """Return `value` as inert text: no escapes, no controls, no bidi or invisible tricks."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if _NEEDS_RULES.search(text) is None:  # most text: only whitespace and the limit apply
        text = text.strip() if multiline else " ".join(text.split())
        return text if len(text) <= limit else text[:limit].rstrip()
    return _clean_text(text, multiline, limit)


def _clean_text(text: str, multiline: bool, limit: int) -> str:
    """clean_text for a text that may hold something to remove or normalise (also the reference of the fast path)."""
    ascii = text.isascii()  # most text: then only C0 controls can be wrong with it
    suspect = (_ASCII_SUSPECT if ascii else _SUSPECT).search(text) is not None
    if suspect:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = _normalise(_ESCAPES.sub("", text), True)
    elif not ascii and (not unicodedata.is_normalized("NFC", text) or _WIDE_RUN.search(text)):
        text = _normalise(text, False)
    if not multiline:
        text = " ".join(text.split())
    else:
        text = text.strip()
    if len(text) > limit:
        text = text[:limit].rstrip()
    # A cut can leave a joiner with nothing to join.
    return text.rstrip("\u200c\u200d").rstrip() if text.endswith(("\u200c", "\u200d")) else text


def clean_line(value: object, limit: int = 300) -> str:
    """A single-line field: handles, names, urls, ids, error messages."""
    if type(value) is str and value.isascii() and value.isprintable() and len(value) <= limit and (
            "  " not in value and value[:1] != " " and value[-1:] != " "):
        return value  # printable ASCII, single spaces, none at the ends: nothing to change (most fields)
    return clean_text(value, multiline=False, limit=limit)
