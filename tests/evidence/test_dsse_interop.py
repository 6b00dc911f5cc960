"""Standard DSSE tooling reads aiops's envelopes: securesystemslib (the DSSE and
in-toto reference implementation) verifies a signed pack with the auditor's public
key, and refuses an envelope whose payload changed or that another key signed. aiops
keeps its own few lines of DSSE (docs/dependencies.md); these tests hold them to the
standard."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from aiops.evidence.sign import PAYLOAD_TYPE, STATEMENT_TYPE
from aiops.services.keys import KeyPair


def _key(keys: KeyPair) -> SSlibKey:
    public = load_pem_public_key(keys.public_path.read_bytes())
    return SSlibKey.from_crypto(public, keyid=keys.keyid)


def _envelope(pack: Path) -> Envelope:
    return Envelope.from_dict(json.loads((pack / "evidence_pack.dsse.json").read_bytes()))


def test_a_signed_pack_verifies_with_the_reference_implementation(
    signed: Path, keys: KeyPair
) -> None:
    envelope = _envelope(signed)
    assert envelope.payload_type == PAYLOAD_TYPE
    assert list(envelope.verify([_key(keys)], 1)) == [keys.keyid]
    assert json.loads(envelope.payload)["_type"] == STATEMENT_TYPE


def test_the_reference_implementation_refuses_a_changed_payload(
    signed: Path, keys: KeyPair
) -> None:
    raw = json.loads((signed / "evidence_pack.dsse.json").read_bytes())
    statement = json.loads(base64.b64decode(raw["payload"]))
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    raw["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    with pytest.raises(VerificationError):
        Envelope.from_dict(raw).verify([_key(keys)], 1)


def test_the_reference_implementation_refuses_another_key(
    signed: Path, other_keys: KeyPair
) -> None:
    other = _key(other_keys)
    with pytest.raises(VerificationError):
        _envelope(signed).verify([other], 1)
