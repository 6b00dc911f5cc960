"""The record of a redaction in ``proposer_output.json`` / ``critic_output.json``."""

from __future__ import annotations

from pydantic import Field

from aiops.schemas.base import Strict


class Redaction(Strict):
    """Secrets were replaced in the stored text: how many, of what kinds, and the
    SHA-256 of the stored (redacted) text; ``output_hash`` stays over the text as
    received."""

    count: int = Field(ge=1)
    kinds: list[str]
    stored_text_sha256: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
