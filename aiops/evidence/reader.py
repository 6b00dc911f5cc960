"""Read a pack's JSON files into one typed view, for review, drift and the pilot report.

The index must be a valid ``EvidencePack`` (otherwise it is not a pack). The other
files are read as recorded; a missing or malformed one is ``None`` and the reason is
kept in ``problems`` so a report can say why a figure is missing.

Every file is read as verify-pack reads it: strict JSON
(``aiops.evidence.strict.loads_strict``, which also bounds numbers), then checked
against the file's published JSON Schema (``aiops.schemas.catalog.schema_for_file``
with ``aiops.evidence.shape.shape_errors``) whenever one is published, before any
typed model sees it. So a file verify-pack accepts is one these readers can use, and a
file they could not use does not verify; a schema published for another file later
applies here at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aiops.canonical import sha256_hex
from aiops.errors import PackReadError
from aiops.evidence.pack import (
    CRITIC_OUTPUT_FILE,
    EVIDENCE_PACK_FILE,
    PROPOSER_OUTPUT_FILE,
    RUN_MANIFEST_FILE,
    SCOPE_CHECK_FILE,
    SOD_CHECK_FILE,
)
from aiops.evidence.shape import shape_errors
from aiops.evidence.strict import (
    MAX_INDEX_BYTES,
    MAX_JSON_BYTES,
    StrictJSONError,
    loads_strict,
    read_file_in,
)
from aiops.evidence.verify import ReadPack
from aiops.schemas.catalog import schema_for_file
from aiops.schemas.checks import ScopeCheck, SoDCheck
from aiops.schemas.manifest import RunManifest
from aiops.schemas.pack import EvidencePack


@dataclass(frozen=True)
class PackView:
    path: Path
    index: EvidencePack
    index_sha256: str
    manifest: RunManifest | None
    sod: SoDCheck | None
    scope: ScopeCheck | None
    proposer: dict[str, Any] | None  # proposer_output.json as recorded
    critic: dict[str, Any] | None  # critic_output.json as recorded
    problems: list[str] = field(default_factory=list)

    @property
    def day(self) -> str:
        return self.index.creation_timestamp[:10]

    @property
    def prompt_key(self) -> tuple[str | None, str | None]:
        m = self.manifest
        return (m.prompt_id, m.prompt_version) if m else (None, None)


def load_pack(path: Path) -> PackView:
    index_path = path / EVIDENCE_PACK_FILE
    read = read_file_in(path, EVIDENCE_PACK_FILE, max_bytes=MAX_INDEX_BYTES)
    if read.status == "MISSING":
        raise PackReadError(f"{path} is not an evidence pack (no {EVIDENCE_PACK_FILE})")
    if read.status is not None or read.data is None:
        raise PackReadError(f"{index_path} cannot be read: {read.detail}")
    raw = read.data
    try:
        doc = loads_strict(raw)
        errors = shape_errors(doc, schema_for_file(EVIDENCE_PACK_FILE) or {})
        if errors:
            raise ValueError(errors[0])
    except ValueError as exc:  # StrictJSONError or a shape error
        raise PackReadError(f"{index_path} is not a valid evidence pack index: {exc}") from None
    problems: list[str] = []
    return _view(
        path, doc, sha256_hex(raw), lambda name: _read_json(path, name, problems), problems
    )


def view_of(path: Path, read: ReadPack) -> PackView:
    """The view of a pack from what verify-pack read of it (``verify.ReadPack``): nothing
    is read again. A listed file that did not verify is missing from the view, with
    why in ``problems``: no figure comes from a file that does not verify."""
    problems: list[str] = []

    def verified(name: str) -> Any:
        if name not in read.docs:
            problems.append(f"{name}: not read (it does not verify)")
            return None
        return read.docs[name]

    return _view(path, read.index, read.index_sha256, verified, problems)


def _view(
    path: Path,
    doc: Any,
    index_sha256: str,
    read_json: Callable[[str], Any],
    problems: list[str],
) -> PackView:
    try:
        index = EvidencePack.model_validate(doc)
    except ValidationError as exc:
        detail = exc.errors()[0]["msg"]
        raise PackReadError(
            f"{path / EVIDENCE_PACK_FILE} is not a valid evidence pack index: {detail}"
        ) from None
    listed = {artifact.name for artifact in index.artifacts}

    def model_file(name: str, schema: Any) -> Any:
        if name not in listed:
            return None
        data = read_json(name)
        if data is None or schema is None:
            return data if isinstance(data, dict) else None
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            problems.append(f"{name}: {exc.errors()[0]['msg']}")
            return None

    return PackView(
        path=path,
        index=index,
        index_sha256=index_sha256,
        manifest=model_file(RUN_MANIFEST_FILE, RunManifest),
        sod=model_file(SOD_CHECK_FILE, SoDCheck),
        scope=model_file(SCOPE_CHECK_FILE, ScopeCheck),
        proposer=model_file(PROPOSER_OUTPUT_FILE, None),
        critic=model_file(CRITIC_OUTPUT_FILE, None),
        problems=problems,
    )


def _read_json(path: Path, name: str, problems: list[str]) -> Any:
    read = read_file_in(path, name, max_bytes=MAX_JSON_BYTES)
    if read.status is not None or read.data is None:
        problems.append(f"{name}: {'missing' if read.status == 'MISSING' else read.detail}")
        return None
    try:
        doc = loads_strict(read.data)
    except StrictJSONError as exc:
        problems.append(f"{name}: {exc}")
        return None
    schema = schema_for_file(name)
    errors = shape_errors(doc, schema) if schema is not None else []
    if errors:
        problems.append(f"{name} {errors[0]}")
        return None
    return doc
