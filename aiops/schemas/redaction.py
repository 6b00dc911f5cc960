"""Schema of the ``redaction`` record of ``proposer_output.json`` / ``critic_output.json``.

``null`` when the model's answer was stored as received. Otherwise the stored
``output_text`` (and ``parsed``, which is read from it) has each secret replaced by
the marker ``[REDACTED-SECRET]``, while ``output_hash`` stays the SHA-256 of the text
as received (the critic cites that hash). verify-pack checks the record against the
stored text: ``stored_text_sha256`` is its hash, ``count`` the number of markers in it,
and ``output_hash`` differs from the stored text's hash.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from aiops.schemas.base import Strict

RedactionKind = Literal["provider_key", "proxy_password", "url_credential", "secret_shaped"]


class Redaction(Strict):
    count: int = Field(ge=1, strict=True)  # markers in the stored output_text
    kinds: list[RedactionKind] = Field(min_length=1)  # sorted, unique
    stored_text_sha256: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")

    @field_validator("kinds")
    @classmethod
    def _sorted_unique(cls, kinds: list[RedactionKind]) -> list[RedactionKind]:
        if kinds != sorted(set(kinds)):
            raise ValueError("kinds must be sorted and unique")
        return kinds
