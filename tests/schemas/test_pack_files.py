"""Every file of a pack against its published schema: real packs of every kind pass both
an independent validator (``jsonschema``) and verify-pack, and on the tamper matrix —
every file, top level and nested objects, × renamed key, extra key, wrong type, missing
key, ``NaN``, ``±Infinity`` and ``1e999`` — both reject the same files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiops.canonical import pack_json
from aiops.cli import app
from aiops.evidence.names import DSSE_ENVELOPE_FILE, REVIEW_FILE, SIDECAR_FILES
from aiops.resources import fixtures_dir
from tests.evidence.builders import reindex
from tests.schemas.packs import SCHEMA_OF_FILE, Packs, jsonschema_errors

SIDECARS = SIDECAR_FILES  # never listed: tampered without re-recording a digest


def _verify(pack: Path, packs: Packs) -> tuple[int, dict[str, Any]]:
    args = ["verify-pack", str(pack), "--json"]
    if pack.name == packs.signed_reviewed.name:
        args += ["--key", str(packs.keys.public_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.stderr
    return result.exit_code, json.loads(result.stdout)


def _findings(report: dict[str, Any]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = [f for p in report["packs"] for f in p["findings"]]
    return found + list(report["findings"])


# --- real packs -------------------------------------------------------------------------


INDEX_AND_CHECKS = {
    "evidence_pack.json",
    "run_manifest.json",
    "sod_check.json",
    "capability_scope_check.json",
}
OUTPUTS = {"proposer_output.json", "critic_output.json"}
EXPECTED_JSON = {
    "dry": INDEX_AND_CHECKS,
    "replay": INDEX_AND_CHECKS | OUTPUTS,
    "record": INDEX_AND_CHECKS | OUTPUTS | {"transcript.json"},
    "signed_reviewed": INDEX_AND_CHECKS
    | OUTPUTS
    | {"transcript.json", DSSE_ENVELOPE_FILE, REVIEW_FILE},
}


@pytest.mark.parametrize("kind", list(EXPECTED_JSON))
def test_real_packs_pass_jsonschema_and_verify_pack(packs: Packs, kind: str) -> None:
    pack: Path = getattr(packs, kind)
    json_files = {p.name for p in pack.iterdir() if p.suffix == ".json"}
    assert EXPECTED_JSON[kind] <= json_files, json_files
    for name in sorted(json_files):  # every one, also sidecars beyond those expected
        assert name in SCHEMA_OF_FILE, f"{name} has no published schema"
        assert jsonschema_errors(name, (pack / name).read_bytes()) == [], name
    code, report = _verify(pack, packs)
    assert code == 0, _findings(report)


def test_shipped_fixture_is_a_valid_transcript() -> None:
    fixture = fixtures_dir() / "transcripts" / "l2_market_outlook_sample.json"
    assert jsonschema_errors("transcript.json", fixture.read_bytes()) == []


# --- the tamper matrix ------------------------------------------------------------------

# (file, path to the object tampered with, the key renamed / retyped / removed, the key
# given a non-finite number). Listed files are tampered in the unsigned record pack and
# re-hashed into evidence_pack.json, so only their shape is wrong; the sidecars (never
# listed) in the signed and reviewed pack.
TARGETS: list[tuple[str, tuple[str | int, ...], str, str]] = [
    ("evidence_pack.json", (), "status", "sequence"),
    ("evidence_pack.json", ("artifacts", 0), "digest", "size"),
    ("evidence_pack.json", ("proposer",), "output_hash", "model_id"),
    ("run_manifest.json", (), "artifacts", "network_used"),
    ("run_manifest.json", ("config",), "registry_sha256", "registry_sha256"),
    ("run_manifest.json", ("inputs_manifest", 0), "sha256", "size"),
    ("run_manifest.json", ("network",), "tls_trust", "endpoints"),
    ("sod_check.json", (), "result", "warnings"),
    ("sod_check.json", ("checks", 0), "passed", "passed"),
    ("capability_scope_check.json", (), "outputs_checked", "scope_version"),
    ("capability_scope_check.json", ("checks", 0), "detail", "passed"),
    ("proposer_output.json", (), "attempts", "cost_usd"),
    ("proposer_output.json", ("attempts", 0), "endpoint", "latency_ms"),
    ("proposer_output.json", ("usage",), "input_tokens", "output_tokens"),
    ("critic_output.json", (), "evidence_ids", "cost_usd"),
    ("critic_output.json", ("attempts", 0), "http_status", "retry_delay_ms"),
    ("critic_output.json", ("usage",), "reasoning_tokens", "input_tokens"),
    ("critic_output.json", ("findings", 0), "severity", "detail"),
    ("transcript.json", (), "runs", "recorded_at"),
    ("transcript.json", ("runs", 0), "prompt_hash", "model_id"),
    ("transcript.json", ("runs", 0, "metadata"), "latency_ms", "latency_ms"),
    ("review.json", (), "decision", "notes"),
    ("evidence_pack.dsse.json", (), "signatures", "payload"),
    ("evidence_pack.dsse.json", ("signatures", 0), "keyid", "sig"),
]
MUTATIONS = ("renamed", "extra", "wrong_type", "missing", "NaN", "Infinity", "-Infinity", "1e999")
_NUMBER = "@@non-finite@@"


def _renamed(key: str) -> str:
    """``attempts`` -> ``attEmpts``: a spelling a reader could miss."""
    at = next(i for i in [*range(len(key) // 2, len(key)), *range(len(key))] if key[i].isalpha())
    renamed = key[:at] + key[at].swapcase() + key[at + 1 :]
    assert renamed != key
    return renamed


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "true"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return {"0": value[:1]}
    assert isinstance(value, dict), value
    return [value]


def _tampered(data: bytes, path: tuple[str | int, ...], key: str, inf_key: str, how: str) -> bytes:
    doc = json.loads(data)
    target = doc
    for step in path:
        target = target[step]
    assert isinstance(target, dict) and key in target and inf_key in target, (path, key)
    if how == "renamed":
        target[_renamed(key)] = target.pop(key)
    elif how == "extra":
        target["surprise"] = "unexpected"
    elif how == "wrong_type":
        target[key] = _wrong_type(target[key])
    elif how == "missing":
        del target[key]
    else:
        target[inf_key] = _NUMBER
        return pack_json(doc).replace(f'"{_NUMBER}"'.encode(), how.encode())
    return pack_json(doc)


def tamper(packs: Packs, into: Path, name: str, path: tuple[str | int, ...], key: str,
           inf_key: str, how: str) -> Path:  # fmt: skip
    """A copy of the right pristine pack under ``into`` with ``name`` tampered as ``how``
    and, when ``name`` is listed, its digest and size re-recorded in the index."""
    source = packs.signed_reviewed if name in SIDECARS else packs.record
    pack = into / source.name
    shutil.copytree(source, pack)
    (pack / name).write_bytes(_tampered((pack / name).read_bytes(), path, key, inf_key, how))
    if name not in SIDECARS and name != "evidence_pack.json":
        reindex(pack, name)
    return pack


@pytest.mark.parametrize("how", MUTATIONS)
@pytest.mark.parametrize(
    ("name", "path", "key", "inf_key"),
    TARGETS,
    ids=[".".join([t[0].removesuffix(".json"), *map(str, t[1])]) for t in TARGETS],
)
def test_tamper_matrix_both_readers_reject(
    tmp_path: Path,
    packs: Packs,
    name: str,
    path: tuple[str | int, ...],
    key: str,
    inf_key: str,
    how: str,
) -> None:
    pack = tamper(packs, tmp_path, name, path, key, inf_key, how)
    data = (pack / name).read_bytes()
    assert jsonschema_errors(name, data), "jsonschema accepted the tampered file"
    code, report = _verify(pack, packs)
    assert code == 1
    shape = [
        f["message"]
        for f in _findings(report)
        if f["check"] in ("schema", "strict-json") and name in f["message"]
    ]
    assert shape, f"verify-pack did not reject {name}'s shape: {_findings(report)}"


@pytest.mark.parametrize("how", ["Infinity", "1e999"])
def test_non_finite_numbers_are_refused_by_the_reader_not_only_by_type(
    tmp_path: Path, packs: Packs, how: str
) -> None:
    """In a number field the schema alone cannot refuse infinity (it is a number to a
    validator that was handed one): the standard JSON reader must, as verify-pack's does."""
    pack = tamper(packs, tmp_path, "proposer_output.json", (), "attempts", "cost_usd", how)
    data = (pack / "proposer_output.json").read_bytes()
    assert jsonschema_errors("proposer_output.json", data, strict_parse=False) == []
    assert jsonschema_errors("proposer_output.json", data)[0].startswith("not JSON")
    code, report = _verify(pack, packs)
    assert code == 1
    assert any(
        "out of range" in f["message"] or "is not JSON" in f["message"]
        for f in _findings(report)
        if f["check"] == "strict-json"
    ), _findings(report)


# --- parsed: what output_text parses to ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "change", "phrase"),
    [
        (
            "proposer_output.json",
            lambda d: d["parsed"]["outputs"].pop(),
            "parsed is not what its output_text parses to",
        ),
        (
            "proposer_output.json",
            lambda d: d.update(parsed=None),
            "parsed is not what its output_text parses to",
        ),
        (
            "critic_output.json",
            lambda d: d["parsed"].update(extra=True),
            "parsed is not what its output_text parses to",
        ),
        (
            "proposer_output.json",
            lambda d: d.update(outcome="incomplete"),
            "parsed is not null although the call did not complete",
        ),
    ],
)
def test_parsed_must_be_what_output_text_parses_to(
    tmp_path: Path, packs: Packs, name: str, change: Any, phrase: str
) -> None:
    """``parsed`` is open JSON in the schema (any answer may be recorded); verify-pack
    pins it to the text the output hash covers."""
    pack = tmp_path / "record"
    shutil.copytree(packs.record, pack)
    doc = json.loads((pack / name).read_bytes())
    change(doc)
    (pack / name).write_bytes(pack_json(doc))
    reindex(pack, name)
    assert jsonschema_errors(name, (pack / name).read_bytes()) == []
    code, report = _verify(pack, packs)
    assert code == 1
    assert any(phrase in f["message"] for f in _findings(report)), _findings(report)
