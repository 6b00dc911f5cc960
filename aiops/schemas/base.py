"""Shared model configuration and the autonomy scale."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base of every schema: a typo is an error, never silently ignored."""

    # ``protected_namespaces=()``: fields such as ``model_id`` are the domain's words;
    # Pydantic before 2.10 would warn about the ``model_`` prefix on every run.
    model_config = ConfigDict(
        extra="forbid", frozen=True, defer_build=True, protected_namespaces=()
    )


class StrictConfig(Strict):
    """Base of every configuration schema: a value keeps the type TOML gave it. ``"false"``
    and ``0``/``1`` are not booleans, ``"1"`` is not an integer, a datetime or a number is
    not a date (``registry.TomlDate`` also takes the ``"YYYY-MM-DD"`` string). Enumeration
    fields say ``Field(strict=False)``: TOML has no enum type, so they take their values
    as strings (and nothing else)."""

    model_config = ConfigDict(strict=True)


class Autonomy(StrEnum):
    """Autonomy levels, ordered RO < REC < PROP < EXEC."""

    RO = "RO"
    REC = "REC"
    PROP = "PROP"
    EXEC = "EXEC"

    @property
    def rank(self) -> int:
        return _AUTONOMY_ORDER.index(self)


_AUTONOMY_ORDER = [Autonomy.RO, Autonomy.REC, Autonomy.PROP, Autonomy.EXEC]
