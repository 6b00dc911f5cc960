"""Schema of ``evidence_pack.dsse.json``: the DSSE envelope that signs a pack
(``aiops.evidence.sign`` writes it; its ``PAYLOAD_TYPE`` and ``MAX_SIGNATURES`` are the
values below). The payload is the base64 of an in-toto Statement; what the Statement
says is checked against the pack by verify-pack, not by this schema."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aiops.schemas.base import Strict

# Standard base64 with padding (DSSE); verify-pack also requires its canonical spelling.
_BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


class Signature(Strict):
    keyid: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the raw public key.")
    sig: str = Field(pattern=_BASE64, description="Ed25519 over the DSSE PAE, base64.")


class SignatureEnvelope(Strict):
    payloadType: Literal["application/vnd.in-toto+json"]  # DSSE's spelling
    payload: str = Field(pattern=_BASE64)
    signatures: list[Signature] = Field(min_length=1, max_length=16)
