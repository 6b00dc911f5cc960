"""The published schemas: generated files equal the models, and the verifier's shape
check agrees with Pydantic on real and broken documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from aiops.canonical import pack_json
from aiops.evidence.names import KNOWN_FILES
from aiops.evidence.shape import shape_errors
from aiops.schemas.catalog import GENERATED_DIR, SCHEMAS, model_schema, schema_for_file
from aiops.schemas.pack import EvidencePack
from tests.evidence.builders import dry_pack, model_pack


@pytest.mark.parametrize("name", [n for n, e in SCHEMAS.items() if e.pack_file])
def test_generated_schemas_equal_the_models(name: str) -> None:
    generated = json.loads((GENERATED_DIR / f"{name}.json").read_bytes())
    assert generated == model_schema(name), "regenerate: python -m aiops.schemas.catalog"


def test_every_json_file_a_pack_may_hold_has_a_published_schema() -> None:
    published = {entry.pack_file for entry in SCHEMAS.values() if entry.pack_file}
    json_files = {name for name in KNOWN_FILES if name.endswith(".json")}
    assert json_files == published
    assert all(schema_for_file(name) is not None for name in json_files)


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_every_catalog_entry_has_a_model_schema(name: str) -> None:
    assert model_schema(name)["type"] == "object"


def _index(tmp_path: Path) -> dict[str, Any]:
    pack = dry_pack(tmp_path / "p")
    doc: dict[str, Any] = json.loads((pack / "evidence_pack.json").read_bytes())
    return doc


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(sequence=0),
        lambda d: d.update(sequence=True),
        lambda d: d.update(sequence="1"),
        lambda d: d.update(status="DONE"),
        lambda d: d.update(surprise=1),
        lambda d: d.pop("run_id"),
        lambda d: d.update(previous_pack_sha256="abc"),
        lambda d: d.update(previous_pack_sha256="a" * 64 + "\n"),  # `$` ends the text
        lambda d: d["artifacts"][0]["digest"].update(md5="0" * 32),
        lambda d: d["artifacts"][0].update(size=-1),
        lambda d: d.update(proposer={"model_id": "x"}),
    ],
)
def test_shape_check_rejects_what_pydantic_rejects(tmp_path: Path, change: Any) -> None:
    index = _index(tmp_path)
    schema = schema_for_file("evidence_pack.json")
    assert schema is not None
    assert shape_errors(index, schema) == []
    EvidencePack.model_validate(index)
    change(index)
    assert shape_errors(index, schema)
    with pytest.raises(ValidationError):
        EvidencePack.model_validate(index, strict=True)


def test_shape_check_refuses_unknown_schema_keywords() -> None:
    with pytest.raises(ValueError, match="unsupported schema keyword"):
        shape_errors({}, {"type": "object", "patternProperties": {}})


def test_a_pattern_keeps_json_schema_meaning_in_python() -> None:
    """``$`` ends the text (Python's also matches before a final newline); an escaped
    ``\\$`` and a ``$`` in a character class stay literal."""
    assert shape_errors("ab\n", {"type": "string", "pattern": "^ab$"})
    assert shape_errors("ab", {"type": "string", "pattern": "^ab$"}) == []
    assert shape_errors("a$", {"type": "string", "pattern": "^a\\$$"}) == []
    assert shape_errors("$", {"type": "string", "pattern": "^[$]$"}) == []


@pytest.mark.parametrize(
    ("file_name", "change"),
    [
        ("proposer_output.json", lambda d: d["attempts"][0].update(retry_delay_ms=-1)),
        ("proposer_output.json", lambda d: d["usage"].update(input_tokens=1.5)),
        ("proposer_output.json", lambda d: d.update(outcome="ok")),
        ("proposer_output.json", lambda d: d.update(role="critic")),
        ("proposer_output.json", lambda d: d.update(redaction={"count": 0, "kinds": []})),
        ("critic_output.json", lambda d: d.update(decision="MAYBE")),
        ("critic_output.json", lambda d: d.update(findings=[{"severity": "fatal", "detail": "x"}])),
        ("transcript.json", lambda d: d["runs"][0].update(error=None, response=None)),
        ("transcript.json", lambda d: d["runs"][0]["metadata"].update(latency_ms=True)),
    ],
)
def test_shape_check_and_pydantic_agree_on_output_files(
    tmp_path: Path, file_name: str, change: Any
) -> None:
    pack = model_pack(tmp_path / "p")
    doc = json.loads((pack / file_name).read_bytes())
    schema = schema_for_file(file_name)
    assert schema is not None
    model = _model_of(file_name)
    assert shape_errors(doc, schema) == []
    model.model_validate_json(pack_json(doc), strict=True)  # as JSON: enums are strings
    change(doc)
    assert shape_errors(doc, schema)
    with pytest.raises(ValidationError):
        model.model_validate_json(pack_json(doc), strict=True)


def _model_of(file_name: str) -> Any:
    import importlib

    (entry,) = [e for e in SCHEMAS.values() if e.pack_file == file_name]
    module, _, name = entry.model.partition(":")
    return getattr(importlib.import_module(module), name)
