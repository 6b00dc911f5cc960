"""The one table of published schemas: ``aiops schema NAME`` and the verifier read it.

Each name maps to its Pydantic model and, for pack files, the file it describes. The
JSON Schemas of pack files are also kept, generated, under ``aiops/schemas/json/`` so
that ``verify-pack`` checks shape without importing Pydantic (start-up stays fast); so
are the strict schemas model requests carry (``json/strict/``), so that a run reads them
instead of generating them. Tests prove both equal the models' schemas. Regenerate with
``python -m aiops.schemas.catalog``.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiops.schemas.spelling import one_spelling

if TYPE_CHECKING:
    from pydantic import BaseModel

GENERATED_DIR = Path(__file__).resolve().parent / "json"


@dataclass(frozen=True)
class SchemaEntry:
    model: str  # "module:Class"
    pack_file: str | None  # the pack file it describes, if any
    summary: str


SCHEMAS: dict[str, SchemaEntry] = {
    "evidence-pack": SchemaEntry(
        "aiops.schemas.pack:EvidencePack", "evidence_pack.json", "index of a pack"
    ),
    "run-manifest": SchemaEntry(
        "aiops.schemas.manifest:RunManifest", "run_manifest.json", "what ran, with what"
    ),
    "sod-check": SchemaEntry(
        "aiops.schemas.checks:SoDCheck", "sod_check.json", "separation-of-duties result"
    ),
    "capability-scope-check": SchemaEntry(
        "aiops.schemas.checks:ScopeCheck",
        "capability_scope_check.json",
        "capability-scope result",
    ),
    "proposer-output": SchemaEntry(
        "aiops.schemas.model_output:ProposerOutput",
        "proposer_output.json",
        "the proposer's call: answer, attempts, usage",
    ),
    "critic-output": SchemaEntry(
        "aiops.schemas.model_output:CriticOutput",
        "critic_output.json",
        "the critic's call and its verdict",
    ),
    "transcript": SchemaEntry(
        "aiops.schemas.transcript:Transcript",
        "transcript.json",
        "raw requests and responses (record mode; also a replay fixture)",
    ),
    "web-sources": SchemaEntry(
        "aiops.schemas.web_sources:WebSources",
        "web_sources.json",
        "what the proposer searched and cited on the web, checked against the allow-list",
    ),
    "signature-envelope": SchemaEntry(
        "aiops.schemas.signature:SignatureEnvelope",
        "evidence_pack.dsse.json",
        "DSSE envelope signing a pack",
    ),
    "review": SchemaEntry(
        "aiops.schemas.review:Review", "review.json", "operator review beside a pack"
    ),
    "review-envelope": SchemaEntry(
        "aiops.schemas.review:ReviewEnvelope",
        "review.dsse.json",
        "signature envelope of a review (DSSE, in-toto)",
    ),
    "model-registry": SchemaEntry(
        "aiops.schemas.registry:Registry", None, "config/model_registry.toml"
    ),
    "capability-scope": SchemaEntry(
        "aiops.schemas.scope:CapabilityScope", None, "config/capability_scopes/*.toml"
    ),
    # What commands print with --json (each carries its format name and version).
    "verify-report": SchemaEntry(
        "aiops.schemas.verify_report:VerifyReportOutput", None, "aiops verify-pack --json"
    ),
    "pilot-report": SchemaEntry(
        "aiops.schemas.pilot:PilotReport", None, "aiops pilot report --json"
    ),
    "pilot-drift": SchemaEntry("aiops.schemas.pilot:DriftResult", None, "aiops pilot drift --json"),
    "config-check": SchemaEntry(
        "aiops.schemas.inventory:ConfigCheckResult", None, "aiops config check --json"
    ),
    "models": SchemaEntry("aiops.schemas.inventory:ModelList", None, "aiops models --json"),
    "layers": SchemaEntry("aiops.schemas.inventory:LayerList", None, "aiops layers --json"),
    "run-result": SchemaEntry(
        "aiops.schemas.runs:RunResult", None, "aiops LAYER dry-run|replay|record|live --json"
    ),
    "runs": SchemaEntry("aiops.schemas.runs:RunList", None, "aiops runs --json"),
    "show": SchemaEntry("aiops.schemas.runs:PackShow", None, "aiops show --json"),
    "spend": SchemaEntry("aiops.schemas.runs:SpendReport", None, "aiops spend --json"),
    "settings": SchemaEntry("aiops.schemas.settings:SettingsOutput", None, "aiops settings --json"),
}


def model_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of ``name``, derived from its Pydantic model now, in the one
    spelling of ``aiops.schemas.spelling`` (the same file on every Pydantic release)."""
    module_name, _, class_name = SCHEMAS[name].model.partition(":")
    model = getattr(importlib.import_module(module_name), class_name)
    schema: dict[str, Any] = one_spelling(model.model_json_schema())
    return schema


def schema_for_file(file_name: str) -> dict[str, Any] | None:
    """The generated schema of a pack file, or ``None`` when none is published."""
    for name, entry in SCHEMAS.items():
        if entry.pack_file == file_name:
            return _generated(name)
    return None


@cache
def _generated(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GENERATED_DIR / f"{name}.json").read_bytes())
    return loaded


def strict_models() -> list[type[BaseModel]]:
    """The models whose strict schema a request carries: every output type and the
    critic's verdict (``aiops.schemas.outputs.strict_json_schema``)."""
    from aiops.schemas.critic import CriticVerdict
    from aiops.schemas.outputs import OUTPUT_MODELS

    return [*OUTPUT_MODELS.values(), CriticVerdict]


def write_generated() -> list[Path]:
    """Rewrite ``aiops/schemas/json/`` (and its ``strict/``) from the models."""
    from aiops.canonical import pack_json
    from aiops.schemas.outputs import STRICT_DIR, generate_strict_text

    written = []
    for name, entry in SCHEMAS.items():
        if entry.pack_file is None:
            continue
        path = GENERATED_DIR / f"{name}.json"
        path.write_bytes(pack_json(model_schema(name)))
        written.append(path)
    STRICT_DIR.mkdir(exist_ok=True)
    for model in strict_models():
        path = STRICT_DIR / f"{model.__name__}.json"
        path.write_text(generate_strict_text(model) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_generated():
        print(path)
