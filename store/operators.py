"""Operator names: one rule for the command line, the console, the environment and the store.

A name is shown in every other operator's console and printed by `handover`,
so it must be plain text: printable characters only (no control or escape
character, no bidi control, nothing invisible), at most 64 characters, no
space at either end. Unicode letters are welcome ("Zoë", "さくら").
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from store.errors import ActionError
from store.sanitize import clean_line

MAX_LENGTH = 64
# Unicode categories that never belong in a name: controls, format characters
# (bidi, zero-width), surrogates, private use, unassigned, line/paragraph separators.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


class OperatorNameError(ActionError):
    """An operator name that cannot be used; the message is one safe line."""


@lru_cache(maxsize=256)  # every store write checks its operator: a desk has a handful
def check_operator(name: object) -> str:
    """`name` in NFC if it is a usable operator name, else OperatorNameError saying why.

    The message never repeats the name itself (it may hold escape codes),
    only the code point of the first character at fault.
    """
    if not isinstance(name, str) or not name:
        raise OperatorNameError("operator name is empty")
    name = unicodedata.normalize("NFC", name)
    for char in name:
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES or (category == "Zs" and char != " "):
            kind = "a control or escape character" if category == "Cc" else "an invisible or formatting character"
            raise OperatorNameError(f"operator name refused: it contains {kind} (U+{ord(char):04X}); "
                                    f"use printable characters, at most {MAX_LENGTH}")
    if name != name.strip():
        raise OperatorNameError("operator name refused: it starts or ends with a space")
    if "  " in name:
        raise OperatorNameError("operator name refused: it has several spaces in a row")
    if len(name) > MAX_LENGTH:
        raise OperatorNameError(f"operator name refused: {len(name)} characters, at most {MAX_LENGTH}")
    if clean_line(name, MAX_LENGTH) != name:  # e.g. a stack of combining marks
        raise OperatorNameError("operator name refused: it stacks too many combining marks")
    return name
