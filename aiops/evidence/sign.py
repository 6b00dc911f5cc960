"""Signatures: a DSSE envelope holding an in-toto Statement v1 about the pack.

The envelope (``evidence_pack.dsse.json``) is made from the exact bytes of
``evidence_pack.json`` once they are final, so the writer adds it through its ``seal``
hook. Its payload is a Statement whose subjects are ``evidence_pack.json`` and every
listed artifact with their SHA-256 digests; the signature is Ed25519 over the DSSE
pre-authentication encoding::

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

where LEN is the ASCII decimal byte length. Standard DSSE / in-toto tooling can read
it. The trusted public key always comes from the auditor (``--key``), never from the
pack. ``cryptography`` is imported only where a key is used.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiops.canonical import canonical_json, pack_json, sha256_hex
from aiops.errors import SigningKeyError
from aiops.evidence.names import DSSE_ENVELOPE_FILE, EVIDENCE_PACK_FILE, REVIEW_FILE
from aiops.evidence.strict import FileRefusedError, read_regular_file

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from aiops.evidence.writer import Sealer as Sealer  # the writer's hook type

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "urn:aiops:predicate:evidence-pack:v1"
REVIEW_PREDICATE_TYPE = "urn:aiops:predicate:review:v1"
MAX_SIGNATURES = 16
MAX_KEY_BYTES = 64 * 1024  # a PEM key is a few hundred bytes

ReviewSigner = Callable[[bytes], bytes]  # review.json bytes -> review.dsse.json bytes


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: the bytes a signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def key_id(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex: a stable name for the key."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return sha256_hex(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))


@dataclass(frozen=True)
class TrustedKey:
    """The auditor's public key, named by its key id."""

    keyid: str
    key: Ed25519PublicKey


def load_private_key(path: Path) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = _read_key_file(path, "signing key")
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(
            f"signing key {path} is not an unencrypted PEM private key: {_first_line(exc)}"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"signing key {path} is not an Ed25519 key")
    return key


def load_public_key(path: Path) -> TrustedKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    data = _read_key_file(path, "public key")
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(
            f"public key {path} is not a PEM public key: {_first_line(exc)}"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"public key {path} is not an Ed25519 key")
    return TrustedKey(key_id(key), key)


def trusted_from_private(path: Path) -> TrustedKey:
    """The public half of a private signing key, as the key to trust: the operator's
    own ``AIOPS_SIGNING_KEY`` checks what it signed."""
    public = load_private_key(path).public_key()
    return TrustedKey(key_id(public), public)


def _read_key_file(path: Path, what: str) -> bytes:
    """A key file: a regular file of at most ``MAX_KEY_BYTES`` (a FIFO would block, a
    device such as ``/dev/zero`` never ends)."""
    try:
        return read_regular_file(path, max_bytes=MAX_KEY_BYTES)
    except FileRefusedError as exc:
        raise SigningKeyError(f"cannot read {what} {path}: {exc}") from None


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or ["invalid"])[0]


def statement_for(index_bytes: bytes) -> dict[str, Any]:
    """The in-toto Statement about a pack, built from its final index bytes."""
    index = json.loads(index_bytes)
    index_sha256 = sha256_hex(index_bytes)
    subjects = [{"name": EVIDENCE_PACK_FILE, "digest": {"sha256": index_sha256}}]
    subjects += [
        {"name": artifact["name"], "digest": {"sha256": artifact["digest"]["sha256"]}}
        for artifact in index["artifacts"]
    ]
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": _predicate(index, index_sha256),
    }


def _predicate(index: dict[str, Any], index_sha256: str) -> dict[str, Any]:
    """What the statement says about the pack beyond its digests: exactly this."""
    return {
        "evidence_pack_id": index["evidence_pack_id"],
        "evidence_pack_sha256": index_sha256,
        "sequence": index["sequence"],
        "previous_pack_sha256": index["previous_pack_sha256"],
    }


def make_sealer(private_key: Ed25519PrivateKey) -> Sealer:
    """The writer's ``seal`` hook: index bytes -> ``{evidence_pack.dsse.json: bytes}``."""
    keyid = key_id(private_key.public_key())

    def seal(index_bytes: bytes) -> dict[str, bytes]:
        return {DSSE_ENVELOPE_FILE: sign_statement(private_key, keyid, statement_for(index_bytes))}

    return seal


def sign_statement(private_key: Ed25519PrivateKey, keyid: str, statement: dict[str, Any]) -> bytes:
    """The canonical bytes of a DSSE envelope holding ``statement``, signed by the key."""
    payload = canonical_json(statement)
    signature = private_key.sign(pae(PAYLOAD_TYPE, payload))
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": keyid, "sig": base64.b64encode(signature).decode("ascii")}],
    }
    return pack_json(envelope)


def review_signer_from_settings(signing_key: Path | None) -> ReviewSigner | None:
    """A review signer when ``AIOPS_SIGNING_KEY`` is set; a bad key fails before the
    review is shown."""
    return None if signing_key is None else make_review_signer(load_private_key(signing_key))


def make_review_signer(private_key: Ed25519PrivateKey) -> ReviewSigner:
    """``(review.json bytes) -> review.dsse.json bytes``."""
    keyid = key_id(private_key.public_key())

    def sign(review_bytes: bytes) -> bytes:
        return sign_statement(private_key, keyid, review_statement_for(review_bytes))

    return sign


def review_statement_for(review_bytes: bytes) -> dict[str, Any]:
    """The in-toto Statement about a review: its subjects are the reviewed
    ``evidence_pack.json`` and ``review.json`` itself; its predicate is the review,
    every field, so the decision, reviewer, notes and times are signed as written."""
    review = json.loads(review_bytes)
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": EVIDENCE_PACK_FILE, "digest": {"sha256": review["evidence_pack_sha256"]}},
            {"name": REVIEW_FILE, "digest": {"sha256": sha256_hex(review_bytes)}},
        ],
        "predicateType": REVIEW_PREDICATE_TYPE,
        "predicate": review,
    }


def sealer_from_settings(signing_key: Path | None) -> Sealer | None:
    """A sealer when ``AIOPS_SIGNING_KEY`` is set; a bad key fails before any write."""
    return None if signing_key is None else make_sealer(load_private_key(signing_key))


@dataclass(frozen=True)
class EnvelopeCheck:
    """What the envelope proves: ``signed_by`` is the trusted key id when a signature
    by it verifies; ``problems`` lists every way the envelope disagrees with the pack."""

    signed_by: str | None
    keyids: list[str]
    problems: list[str]


def check_envelope(
    envelope: Any,
    index_bytes: bytes,
    listed: dict[str, str],
    trusted: TrustedKey | None,
) -> EnvelopeCheck:
    """Check a strictly parsed envelope against the pack (and the key, when given).

    ``index_bytes`` is the pack's shape-checked ``evidence_pack.json``; ``listed`` maps
    each artifact name in the index to its recorded sha256.
    """
    payload, opened = _open(envelope, trusted)
    if payload is None:
        return opened
    problems = opened.problems + _statement_problems(payload, index_bytes, listed)
    return EnvelopeCheck(opened.signed_by, opened.keyids, problems)


def check_review_envelope(
    envelope: Any, review_bytes: bytes, index_sha256: str, trusted: TrustedKey | None
) -> EnvelopeCheck:
    """Check a strictly parsed review envelope against ``review.json`` (its bytes, already
    strictly read and shape-checked) and the pack's ``evidence_pack.json`` digest."""
    payload, opened = _open(envelope, trusted)
    if payload is None:
        return opened
    problems = opened.problems + _review_statement_problems(payload, review_bytes, index_sha256)
    return EnvelopeCheck(opened.signed_by, opened.keyids, problems)


def _open(envelope: Any, trusted: TrustedKey | None) -> tuple[bytes | None, EnvelopeCheck]:
    """The envelope's payload (``None`` when it cannot be had) and what its form and
    signatures say, before anything is read from the payload."""
    problems: list[str] = []
    if not isinstance(envelope, dict) or set(envelope) != {"payloadType", "payload", "signatures"}:
        return None, EnvelopeCheck(
            None, [], ["envelope must hold exactly payloadType, payload and signatures"]
        )
    if envelope["payloadType"] != PAYLOAD_TYPE:
        problems.append(f"payloadType is {envelope['payloadType']!r}, expected {PAYLOAD_TYPE!r}")
    payload = _b64(envelope["payload"])
    signatures = envelope["signatures"]
    if payload is None:
        return None, EnvelopeCheck(None, [], [*problems, "payload is not valid base64"])
    if not isinstance(signatures, list) or not 1 <= len(signatures) <= MAX_SIGNATURES:
        return None, EnvelopeCheck(
            None, [], [*problems, f"signatures must be 1 to {MAX_SIGNATURES} entries"]
        )
    keyids = [s.get("keyid", "") if isinstance(s, dict) else "" for s in signatures]
    signed_by = None
    if trusted is not None and not problems:
        signed_by = _verify_any(trusted, payload, signatures)
    return payload, EnvelopeCheck(signed_by, [k for k in keyids if isinstance(k, str)], problems)


def _b64(value: Any) -> bytes | None:
    """Standard base64 in its one canonical spelling (padding bits zero), else None."""
    if not isinstance(value, str):
        return None
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded if base64.b64encode(decoded).decode("ascii") == value else None


def _verify_any(trusted: TrustedKey, payload: bytes, signatures: list[Any]) -> str | None:
    from cryptography.exceptions import InvalidSignature

    message = pae(PAYLOAD_TYPE, payload)
    for entry in signatures:
        if not isinstance(entry, dict) or entry.get("keyid", trusted.keyid) != trusted.keyid:
            continue  # a signature that names another key is not taken as the trusted one
        sig = _b64(entry.get("sig"))
        if sig is None:
            continue
        try:
            trusted.key.verify(sig, message)
        except InvalidSignature:
            continue
        return trusted.keyid
    return None


def _load_statement(payload: bytes) -> dict[str, Any] | str:
    """The envelope's statement as a JSON object, or why it is not one."""
    from aiops.evidence.strict import StrictJSONError, loads_strict

    try:
        statement = loads_strict(payload)
    except StrictJSONError as exc:
        return f"statement is not strict JSON: {exc}"
    if not isinstance(statement, dict):
        return "statement is not a JSON object"
    return statement


def _statement_problems(payload: bytes, index_bytes: bytes, listed: dict[str, str]) -> list[str]:
    from aiops.evidence.strict import is_sha256_hex, loads_strict

    statement = _load_statement(payload)
    if isinstance(statement, str):
        return [statement]
    problems = []
    unknown = sorted(set(statement) - {"_type", "subject", "predicateType", "predicate"})
    if unknown:
        problems.append(f"statement holds keys aiops never writes: {', '.join(unknown)}")
    if statement.get("_type") != STATEMENT_TYPE:
        problems.append(f"statement _type is not {STATEMENT_TYPE}")
    if statement.get("predicateType") != PREDICATE_TYPE:
        problems.append(f"statement predicateType is not {PREDICATE_TYPE}")
    index_sha256 = sha256_hex(index_bytes)
    expected = {EVIDENCE_PACK_FILE: index_sha256, **listed}
    subjects = statement.get("subject")
    found: dict[str, str] = {}
    if not isinstance(subjects, list):
        return [*problems, "statement subject is not a list"]
    for subject in subjects:
        name = subject.get("name") if isinstance(subject, dict) else None
        digest = subject.get("digest") if isinstance(subject, dict) else None
        if not isinstance(name, str):
            problems.append("a statement subject has no name")
            continue
        if name in found:
            problems.append(f"statement names subject {name!r} twice")
            continue
        if set(subject) != {"name", "digest"}:
            problems.append(f"statement subject {name!r} holds more than a name and a digest")
            continue
        if (
            not isinstance(digest, dict)
            or set(digest) != {"sha256"}
            or not is_sha256_hex(digest["sha256"])
        ):
            problems.append(f"statement subject {name!r} has no plain sha256 digest")
            continue
        found[name] = digest["sha256"]
    for name in sorted(set(expected) | set(found)):
        if name not in found:
            problems.append(f"statement does not cover {name}")
        elif name not in expected:
            problems.append(f"statement covers {name}, which the pack does not list")
        elif found[name] != expected[name]:
            problems.append(f"statement digest of {name} differs from the pack")
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict) or predicate.get("evidence_pack_sha256") != index_sha256:
        problems.append("statement predicate does not name this evidence_pack.json")
    elif canonical_json(predicate) != canonical_json(
        _predicate(loads_strict(index_bytes), index_sha256)
    ):  # compared as JSON: true is not 1, 1.0 is not 1
        problems.append(
            "statement predicate differs from evidence_pack.json (id, sequence or "
            "previous pack), or says more"
        )
    return problems


def _review_statement_problems(payload: bytes, review_bytes: bytes, index_sha256: str) -> list[str]:
    """Every way the signed statement differs from what aiops signs for this
    ``review.json`` beside this ``evidence_pack.json``, each field named."""
    statement = _load_statement(payload)
    if isinstance(statement, str):
        return [statement]
    expected = review_statement_for(review_bytes)
    problems = []
    unknown = sorted(set(statement) - set(expected))
    if unknown:
        problems.append(f"statement holds keys aiops never writes: {', '.join(unknown)}")
    for key, what in (("_type", STATEMENT_TYPE), ("predicateType", REVIEW_PREDICATE_TYPE)):
        if statement.get(key) != what:
            problems.append(f"statement {key} is not {what}")
    subjects = statement.get("subject")
    index_subject = {"name": EVIDENCE_PACK_FILE, "digest": {"sha256": index_sha256}}
    if not isinstance(subjects, list) or len(subjects) != 2:
        problems.append(f"statement subject must name {EVIDENCE_PACK_FILE} and {REVIEW_FILE}")
    else:
        if canonical_json(subjects[0]) != canonical_json(index_subject):
            problems.append(f"the signed review is not about this pack's {EVIDENCE_PACK_FILE}")
        if canonical_json(subjects[1]) != canonical_json(expected["subject"][1]):
            problems.append(
                f"the signed digest of {REVIEW_FILE} differs: {REVIEW_FILE} was changed "
                "after it was signed"
            )
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        return [*problems, "statement predicate is not a JSON object"]
    review = expected["predicate"]
    for field in sorted(set(review) | set(predicate)):
        if field not in predicate:
            problems.append(f"the signed review has no {field}")
        elif field not in review:
            problems.append(f"the signed review holds {field}, which {REVIEW_FILE} does not")
        elif canonical_json(predicate[field]) != canonical_json(review[field]):
            problems.append(
                f"{field}: signed {_short(predicate[field])}, {REVIEW_FILE} says "
                f"{_short(review[field])}"
            )
    return problems


def _short(value: Any, limit: int = 60) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
