"""Errors the store raises for the operator to read (its own module so every store module can raise them)."""

from __future__ import annotations


class ActionError(Exception):
    """An action that cannot apply (unknown mention, bad tag...), worded for the operator."""
