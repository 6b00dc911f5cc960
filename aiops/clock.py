"""The run clock. ``SOURCE_DATE_EPOCH`` pins every timestamp a run writes."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from aiops.errors import UsageError


def now() -> datetime:
    """Current UTC time, or ``SOURCE_DATE_EPOCH`` when set (reproducible builds)."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return datetime.now(UTC).replace(microsecond=0)
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (ValueError, OverflowError, OSError):
        raise UsageError(
            f"SOURCE_DATE_EPOCH must be whole seconds since 1970, got {raw!r}"
        ) from None


def isoformat(moment: datetime) -> str:
    """RFC 3339 with explicit ``+00:00``, seconds precision, as in the seeds."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()
