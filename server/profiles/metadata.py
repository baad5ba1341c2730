"""The metadata merge, as Auth0 applies it: top level only, last write wins, null deletes."""

from __future__ import annotations

from typing import Any


def merge(stored: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`stored` with `patch` applied; a nested object in the patch replaces the stored one."""
    out = dict(stored)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out
