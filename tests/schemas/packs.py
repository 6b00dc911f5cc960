"""The real packs the schema tests use (made once per module, ``conftest.py``) and the
auditor's own reader of the tamper matrix: a standard JSON parse, then ``jsonschema``
against the schemas ``aiops schema NAME`` exports."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from typer.testing import CliRunner

from aiops.cli import app
from aiops.schemas.catalog import SCHEMAS, model_schema
from aiops.services.keys import KeyPair

SCHEMA_OF_FILE = {e.pack_file: name for name, e in SCHEMAS.items() if e.pack_file}


@dataclass(frozen=True)
class Packs:
    """Pristine packs: ``dry`` (dry-run), ``replay``, ``record`` (with transcript),
    ``signed_reviewed`` (record mode, signed and reviewed) and the key that signed it."""

    dry: Path
    replay: Path
    record: Path
    signed_reviewed: Path
    keys: KeyPair


# --- the auditor's reader ---------------------------------------------------------------


def exported_schema(file_name: str) -> dict[str, Any]:
    """What ``aiops schema NAME`` prints for the pack file ``file_name``."""
    result = CliRunner().invoke(app, ["schema", SCHEMA_OF_FILE[file_name]])
    assert result.exit_code == 0, result.stderr
    schema: dict[str, Any] = json.loads(result.stdout)
    assert schema == model_schema(SCHEMA_OF_FILE[file_name])
    return schema


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond a double's range")
    return value


def rfc8259_loads(data: bytes) -> Any:
    """A standard reader as an auditor's tooling has one: JSON has no NaN or Infinity
    (RFC 8259 §6), and a number no double can hold is refused rather than read as
    infinity (the interoperable range, same section)."""
    return json.loads(data, parse_constant=_refuse_constant, parse_float=_finite)


def jsonschema_errors(file_name: str, data: bytes, *, strict_parse: bool = True) -> list[str]:
    """Why ``jsonschema`` (Draft 2020-12) rejects ``data`` as ``file_name``; with
    ``strict_parse`` the bytes are read as standard JSON first, else with Python's
    lenient ``json.loads`` (which reads ``Infinity`` and ``1e999`` as infinity)."""
    schema = exported_schema(file_name)
    jsonschema.Draft202012Validator.check_schema(schema)
    try:
        doc = rfc8259_loads(data) if strict_parse else json.loads(data)
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
