"""STAND-IN pack check used by the pilot report until the full verify-pack service is
wired in. It checks only what a pack says about its own files:

* ``evidence_pack.json`` is a valid index;
* every listed artifact exists as a regular file with the recorded size and SHA-256;
* the directory holds nothing else besides the agreed sidecars
  (``evidence_pack.dsse.json``, ``review.json``);
* a ``review.json``, when present, refers to this pack (``check_review``).

It does NOT check the hash chain, signatures, the transparency checkpoint or the
contents of the files against their schemas — that is verify-pack's job.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import ValidationError

from aiops.evidence.review import check_review
from aiops.schemas.pack import EVIDENCE_PACK_FILE, EvidencePack
from aiops.schemas.review import REVIEW_FILE

SIGNATURE_FILE = "evidence_pack.dsse.json"
SIDECAR_FILES = frozenset({SIGNATURE_FILE, REVIEW_FILE})


def check_pack_files(pack_dir: Path) -> list[str]:
    """Problems found by the stand-in check; empty when the pack's files are intact."""
    try:
        index = EvidencePack.model_validate(
            json.loads((pack_dir / EVIDENCE_PACK_FILE).read_bytes())
        )
    except (OSError, ValueError, UnicodeDecodeError, ValidationError) as exc:
        return [f"{EVIDENCE_PACK_FILE}: not a valid index ({exc.__class__.__name__})"]
    problems: list[str] = []
    listed = set()
    for artifact in index.artifacts:
        listed.add(artifact.name)
        path = pack_dir / artifact.name
        if "/" in artifact.name or artifact.name.startswith(".") or artifact.name in SIDECAR_FILES:
            problems.append(f"{artifact.name}: not a plain artifact name")
            continue
        if path.is_symlink() or not path.is_file():
            problems.append(f"{artifact.name}: missing")
            continue
        size = path.stat().st_size
        if size != artifact.size:
            problems.append(f"{artifact.name}: size {size}, recorded {artifact.size}")
            continue
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        if digest != artifact.digest.sha256:
            problems.append(f"{artifact.name}: sha256 differs from the recorded digest")
    allowed = listed | SIDECAR_FILES | {EVIDENCE_PACK_FILE}
    problems += [
        f"{entry.name}: not listed in {EVIDENCE_PACK_FILE}"
        for entry in sorted(pack_dir.iterdir())
        if entry.name not in allowed
    ]
    return problems + check_review(pack_dir)


def standin_verify(pack_dir: Path) -> bool:
    """The default ``verify(pack_dir) -> bool`` of the pilot report (stand-in)."""
    return not check_pack_files(pack_dir)
