"""Small wording helpers shared by the renderers and the CLI (standard library only)."""

from __future__ import annotations


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``1 pack``, ``2 packs``, ``0 packs``: a count that agrees in number with its noun."""
    word = singular if count == 1 else (plural or f"{singular}s")
    return f"{count} {word}"
