"""Make text from a network inert before it is stored or shown.

Every string that arrives from outside is hostile: C0/C1 control characters
and terminal escape sequences could drive the operator's terminal, and bidi
overrides could reorder what is on screen. Markup is not our concern here:
the UI renders text as `Text`/`Content`, never as markup.
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
# C0 except \t and \n, DEL, C1; bidi embeddings/overrides/isolates; line and
# paragraph separators (they break rows); BOM and interlinear annotations;
# lone surrogates (from JSON "\\ud800" escapes), which cannot be encoded at all.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f"
    "\u061c\u2028\u2029\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
# Any character either pass above could touch (ESC, C0 and C1 included).
_SUSPECT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f"
    "\u061c\u2028\u2029\ufeff\ufff9-\ufffb\ud800-\udfff\r]"
)


def clean_text(value: object, *, multiline: bool = True, limit: int = 100_000) -> str:
    """Return `value` as inert text: no escapes, no controls, no bidi tricks."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if _SUSPECT.search(text):  # most text has nothing to strip: skip the costly passes
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = _ESCAPES.sub("", text)
        text = _CONTROLS.sub("", text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if not multiline:
        text = " ".join(text.split())
    else:
        text = text.strip()
    return text[:limit].rstrip()


def clean_line(value: object, limit: int = 300) -> str:
    """A single-line field: handles, names, urls, ids."""
    return clean_text(value, multiline=False, limit=limit)
