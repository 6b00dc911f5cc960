"""Cross-file checks of one pack: do its files tell one story?

Inputs are already strictly parsed and hash-verified; each check names the files that
disagree. A check whose files are unavailable (missing or broken, which already fails
the pack) is skipped rather than reported twice.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiops.canonical import prefixed_sha256
from aiops.evidence import strict, web_sources
from aiops.evidence.ledger import evidence_pack_id, pack_dir_name
from aiops.evidence.names import (
    CRITIC_OUTPUT_FILE,
    EVIDENCE_PACK_FILE,
    OPERATOR_OUTPUT_FILE,
    PROPOSER_OUTPUT_FILE,
    RUN_MANIFEST_FILE,
    SCOPE_CHECK_FILE,
    SOD_CHECK_FILE,
)
from aiops.providers.unwrap import unwrap
from aiops.redact import REDACTION_MARKER

NETWORK_MODES = frozenset({"record", "live"})  # equals aiops.schemas.manifest.NETWORK_MODES
APPROVALS = frozenset({"APPROVE", "APPROVE_WITH_CHANGES"})
DECISIONS = APPROVALS | {"REJECT"}
REQUIRED_FILES = (RUN_MANIFEST_FILE, OPERATOR_OUTPUT_FILE, SOD_CHECK_FILE, SCOPE_CHECK_FILE)
OUTPUT_FILES = {"proposer": PROPOSER_OUTPUT_FILE, "critic": CRITIC_OUTPUT_FILE}
# The kinds of aiops.schemas.redaction (not imported: verify-pack loads no Pydantic;
# a test holds them equal).
REDACTION_KINDS = frozenset({"provider_key", "proxy_password", "url_credential", "secret_shaped"})
_HASH = re.compile(r"sha256:[0-9a-f]{64}")  # fullmatch: nothing before or after
_DEFAULT_DIR = re.compile(r"L[0-6]_[A-Z0-9_]+_\d{4}-\d{2}-\d{2}_\d{3,}")
# Fields of proposer_output.json / critic_output.json the checks rely on, by type.
_OUTPUT_FIELDS: dict[str, type] = {
    "role": str,
    "run_id": str,
    "model_id": str,
    "prompt_hash": str,
    "output_hash": str,
    "output_text": str,
}


def check_pack(
    index: dict[str, Any],
    docs: dict[str, Any],
    listed: set[str],
    operator_head: bytes | None,
    dir_name: str | None,
) -> list[str]:
    """Every inconsistency between the index, the files in ``docs`` and the layout."""
    problems: list[str] = []
    problems += _layout(index, listed, dir_name)
    manifest = docs.get(RUN_MANIFEST_FILE)
    if isinstance(manifest, dict):
        problems += _manifest(index, manifest, listed)
    sod = docs.get(SOD_CHECK_FILE)
    if isinstance(sod, dict):
        problems += _sod(
            index,
            sod,
            manifest if isinstance(manifest, dict) else None,
            docs.get(PROPOSER_OUTPUT_FILE) if index.get("proposer") is not None else None,
        )
    scope = docs.get(SCOPE_CHECK_FILE)
    if isinstance(scope, dict):
        problems += _scope(index, scope, manifest if isinstance(manifest, dict) else None)
    outputs, output_problems = _outputs(index, docs, listed, manifest)
    problems += output_problems
    for role, output in outputs.items():
        problems += _parsed(OUTPUT_FILES[role], output)
    problems += _status(index, docs, outputs, listed)
    if operator_head is not None:
        problems += _operator_output(index, operator_head)
    problems += web_sources.check_pack(index, docs, listed)
    return problems


def _layout(index: dict[str, Any], listed: set[str], dir_name: str | None) -> list[str]:
    problems = [
        f"{name} is required but not listed" for name in REQUIRED_FILES if name not in listed
    ]
    if index["sod_check"]["artifact_path"] != SOD_CHECK_FILE:
        problems.append(f"sod_check.artifact_path is not {SOD_CHECK_FILE}")
    if index["capability_scope_check"]["artifact_path"] != SCOPE_CHECK_FILE:
        problems.append(f"capability_scope_check.artifact_path is not {SCOPE_CHECK_FILE}")
    day = index["creation_timestamp"][:10]
    expected_id = evidence_pack_id(index["layer_id"], day, index["sequence"])
    if index["evidence_pack_id"] != expected_id:
        problems.append(
            f"evidence_pack_id {index['evidence_pack_id']!r} does not match its layer, "
            f"date and sequence (expected {expected_id!r})"
        )
    if dir_name is not None and _DEFAULT_DIR.fullmatch(dir_name):
        expected_dir = pack_dir_name(index["layer_id"], index["layer_name"], day, index["sequence"])
        if dir_name != expected_dir:
            problems.append(
                f"directory name {dir_name!r} does not match the pack it holds "
                f"(expected {expected_dir!r}): moved, swapped or copied over another pack"
            )
    if index["network_used"] != (index["mode"] in NETWORK_MODES):
        problems.append(f"network_used is {index['network_used']} for mode {index['mode']}")
    return problems


def _manifest(index: dict[str, Any], manifest: dict[str, Any], listed: set[str]) -> list[str]:
    problems = []
    pairs = [
        ("run_id", "run_id"),
        ("layer_id", "layer_id"),
        ("layer_name", "layer_name"),
        ("run_type", "mode"),
        ("network_used", "network_used"),
        ("matrix_version", "matrix_version"),
        ("registry_version", "registry_version"),
        ("operator_notes", "operator_notes"),
        ("aiops_version", "aiops_version"),
    ]
    for mine, theirs in pairs:
        if manifest.get(mine) != index.get(theirs):
            problems.append(
                f"{RUN_MANIFEST_FILE} {mine} {manifest.get(mine)!r} differs from "
                f"{EVIDENCE_PACK_FILE} {theirs} {index.get(theirs)!r}"
            )
    problems += _run_time(manifest.get("timestamp"), index["creation_timestamp"])
    if sorted(manifest.get("artifacts", [])) != sorted(listed):
        problems.append(f"{RUN_MANIFEST_FILE} artifacts differ from the files listed in the index")
    if manifest.get("operator_output_path") != OPERATOR_OUTPUT_FILE:
        problems.append(f"{RUN_MANIFEST_FILE} operator_output_path is not {OPERATOR_OUTPUT_FILE}")
    if manifest.get("sod_result") != index["sod_check"]["result"]:
        problems.append(f"{RUN_MANIFEST_FILE} sod_result differs from {EVIDENCE_PACK_FILE}")
    if manifest.get("sod_reason") != index["sod_check"]["reason"]:
        problems.append(f"{RUN_MANIFEST_FILE} sod_reason differs from {EVIDENCE_PACK_FILE}")
    if "network" in manifest and not index["network_used"]:
        # Record/live packs written before routes were recorded have none: absence is fine.
        problems.append(f"{RUN_MANIFEST_FILE} records network routes for a run without network")
    if isinstance(manifest.get("network"), dict):
        problems += _network(manifest["network"])
    return problems


def _run_time(started: Any, created: str) -> list[str]:
    """The run starts (the manifest's ``timestamp``) before its pack takes its place in
    the ledger (``creation_timestamp``, fixed under the ledger's lock), or at once."""
    try:
        start, made = datetime.fromisoformat(str(started)), datetime.fromisoformat(created)
        if start.tzinfo is None or made.tzinfo is None:
            raise ValueError("no UTC offset")
    except ValueError:
        return [
            f"{RUN_MANIFEST_FILE} timestamp {started!r} and {EVIDENCE_PACK_FILE} "
            f"creation_timestamp {created!r} are not both times with a UTC offset"
        ]
    if start > made:
        return [
            f"{RUN_MANIFEST_FILE} timestamp {started!r} is after {EVIDENCE_PACK_FILE} "
            f"creation_timestamp {created!r}: a pack is created after its run starts"
        ]
    return []


def _network(network: dict[str, Any]) -> list[str]:
    """The recorded routes and trust must each say one thing: a proxy exactly when the
    route is ``proxy``, decided by that base URL's proxy variable (or ALL_PROXY); a
    direct route decided by NO_PROXY or by nothing; CA paths exactly when the trust is
    ``environment``."""
    where = f"{RUN_MANIFEST_FILE} network"
    problems = []
    for e in network.get("endpoints", []):
        scheme = str(e.get("base_url", "")).split("://", 1)[0].lower()
        decided = str(e.get("decided_by") or "").lower() or None
        if e.get("route") == "proxy":
            consistent = e.get("proxy") is not None and decided in {f"{scheme}_proxy", "all_proxy"}
        else:
            consistent = e.get("proxy") is None and decided in {None, "no_proxy"}
        if not consistent:
            problems.append(
                f"{where}: {e.get('provider_id')} route {e.get('route')!r} disagrees with its "
                f"proxy {e.get('proxy')!r} or decided_by {e.get('decided_by')!r}"
            )
    providers = [e.get("provider_id") for e in network.get("endpoints", [])]
    if len(providers) != len(set(providers)):
        problems.append(f"{where}: a provider is listed twice")
    named = network.get("ca_file") is not None or network.get("ca_dir") is not None
    if named != (network.get("tls_trust") == "environment"):
        problems.append(
            f"{where}: tls_trust {network.get('tls_trust')!r} disagrees with ca_file/ca_dir"
        )
    return problems


def _sod(
    index: dict[str, Any], sod: dict[str, Any], manifest: dict[str, Any] | None, proposer: Any
) -> list[str]:
    """SoD is checked for the model that actually answered: the primary, or the
    fallback named by ``proposer_output.json`` (no answer: the primary)."""
    problems = _same_run(SOD_CHECK_FILE, sod, index)
    summary = index["sod_check"]
    if sod.get("result") != summary["result"] or sod.get("reason") != summary["reason"]:
        problems.append(f"{SOD_CHECK_FILE} result or reason differs from {EVIDENCE_PACK_FILE}")
    if manifest is not None:
        answered = proposer.get("model_id") if isinstance(proposer, dict) else None
        fallback = answered if answered in manifest.get("fallback_model_ids", []) else None
        expected = fallback or manifest.get("primary_model_id")
        if sod.get("proposer_model_id") != expected:
            problems.append(
                f"{SOD_CHECK_FILE} proposer differs from the model that answered "
                f"({expected}: the manifest's primary, or the fallback that answered)"
            )
        if sod.get("critic_model_id") != manifest.get("critic_model_id"):
            problems.append(f"{SOD_CHECK_FILE} critic differs from the manifest's critic model")
        if sod.get("timestamp") != manifest.get("sod_timestamp"):
            problems.append(f"{SOD_CHECK_FILE} timestamp differs from the manifest's sod_timestamp")
    # Recompute: PASS needs two different models and every recorded check passed.
    different = sod.get("proposer_model_id") != sod.get("critic_model_id")
    all_passed = all(check.get("passed") is True for check in sod.get("checks", []))
    expected = "PASS" if different and all_passed else "FAIL"
    if sod.get("result") != expected:
        problems.append(
            f"{SOD_CHECK_FILE} says {sod.get('result')} but its models and checks give {expected}"
        )
    return problems


def _scope(
    index: dict[str, Any], scope: dict[str, Any], manifest: dict[str, Any] | None
) -> list[str]:
    problems = _same_run(SCOPE_CHECK_FILE, scope, index)
    summary = index["capability_scope_check"]
    if scope.get("result") != summary["result"]:
        problems.append(f"{SCOPE_CHECK_FILE} result differs from {EVIDENCE_PACK_FILE}")
    if scope.get("violations") != summary["violations"]:
        problems.append(f"{SCOPE_CHECK_FILE} violations differ from {EVIDENCE_PACK_FILE}")
    failed = bool(scope.get("violations")) or any(
        check.get("passed") is not True for check in scope.get("checks", [])
    )
    if scope.get("result") != ("FAIL" if failed else "PASS"):
        problems.append(f"{SCOPE_CHECK_FILE} result does not follow from its checks and violations")
    if manifest is not None and (
        scope.get("scope_id") != manifest.get("capability_scope_id")
        or scope.get("scope_version") != manifest.get("capability_scope_version")
    ):
        problems.append(f"{SCOPE_CHECK_FILE} scope id or version differs from the manifest")
    return problems


def _same_run(name: str, doc: dict[str, Any], index: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("run_id", "layer_id"):
        if doc.get(key) != index[key]:
            problems.append(f"{name} {key} {doc.get(key)!r} differs from {index[key]!r}")
    return problems


def _output_shape(name: str, doc: Any) -> list[str]:
    if not isinstance(doc, dict):
        return [f"{name} is not a JSON object"]
    problems = [
        f"{name} field {key!r} is missing or not a {kind.__name__}"
        for key, kind in _OUTPUT_FIELDS.items()
        if not isinstance(doc.get(key), kind)
    ]
    for key in ("prompt_hash", "output_hash"):
        if isinstance(doc.get(key), str) and not _HASH.fullmatch(doc[key]):
            problems.append(f"{name} {key} is not sha256:<64 hex>")
    cost = doc.get("cost_usd", 0.0)  # absent in packs written before costs were recorded
    if isinstance(cost, bool) or not isinstance(cost, int | float) or not cost >= 0:
        problems.append(f"{name} cost_usd is not a non-negative number")
    if name == CRITIC_OUTPUT_FILE:
        decision = doc.get("decision")  # any JSON value: a list is not hashable
        if decision is not None and not (isinstance(decision, str) and decision in DECISIONS):
            problems.append(f"{name} decision {doc.get('decision')!r} is not a known decision")
        ids = doc.get("evidence_ids")
        if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
            problems.append(f"{name} evidence_ids is not a list of strings")
    return problems


def _outputs(
    index: dict[str, Any], docs: dict[str, Any], listed: set[str], manifest: Any
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Check proposer/critic outputs; return the ones that are well formed."""
    problems: list[str] = []
    good: dict[str, dict[str, Any]] = {}
    recorded = manifest.get("outputs_manifest", []) if isinstance(manifest, dict) else []
    for role, name in OUTPUT_FILES.items():
        entry = index.get(role)
        if entry is None:
            if name in listed:
                problems.append(f"{name} is listed but {EVIDENCE_PACK_FILE} records no {role}")
            if any(isinstance(r, dict) and r.get("role") == role for r in recorded):
                problems.append(f"{RUN_MANIFEST_FILE} records a {role} output the index does not")
            continue
        if index["mode"] == "dry-run":
            problems.append(f"a dry-run pack records a {role} run")
        if entry["artifact_path"] != name:
            problems.append(f"{role}.artifact_path is not {name}")
        if name not in listed:
            problems.append(f"{EVIDENCE_PACK_FILE} records a {role} but {name} is not listed")
            continue
        doc = docs.get(name)
        if doc is None:
            continue  # missing or broken: the file check already failed the pack
        shape = _output_shape(name, doc)
        if shape:
            problems += shape
            continue
        good[role] = doc
        problems += _redaction(name, doc, index["capability_scope_check"]["result"] == "FAIL")
        if doc["role"] != role:
            problems.append(f"{name} role is {doc['role']!r}, expected {role!r}")
        problems += _served(name, doc)
        problems += _answer(name, doc)
        for key in ("run_id", "model_id", "prompt_hash", "output_hash"):
            if doc[key] != entry[key]:
                problems.append(f"{name} {key} differs from {EVIDENCE_PACK_FILE} {role}.{key}")
        for rec in recorded:
            if (
                isinstance(rec, dict)
                and rec.get("role") == role
                and (
                    rec.get("model_id") != doc["model_id"]
                    or rec.get("output_hash") != doc["output_hash"]
                    or rec.get("artifact_path") != name
                )
            ):
                problems.append(f"{RUN_MANIFEST_FILE} outputs_manifest {role} differs from {name}")
    if isinstance(manifest, dict):
        problems += _models_answered(manifest, good)
    return good, problems


def _redaction(name: str, doc: dict[str, Any], scope_failed: bool) -> list[str]:
    """The redaction record against the stored text. ``null`` (or absent, in packs
    written before it existed): the text is stored as received, so ``output_hash`` is
    its hash. Otherwise the stored text is redacted: ``stored_text_sha256`` is its hash,
    ``output_hash`` (over the text as received) is not, the marker appears ``count``
    times, and the secret made the scope check fail."""
    stored = prefixed_sha256(doc["output_text"].encode("utf-8"))
    record = doc.get("redaction")
    if record is None:
        if doc["output_hash"] != stored:
            return [f"{name} output_hash is not the hash of its output_text ({stored})"]
        return []
    if not isinstance(record, dict) or set(record) != {"count", "kinds", "stored_text_sha256"}:
        return [
            f"{name} redaction is neither null nor a {{count, kinds, stored_text_sha256}} object"
        ]
    problems = []
    count, kinds = record["count"], record["kinds"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        problems.append(f"{name} redaction count is not a whole number of at least 1")
    elif doc["output_text"].count(REDACTION_MARKER) != count:
        problems.append(
            f"{name} redaction count {count} differs from the {REDACTION_MARKER} markers "
            "in its output_text"
        )
    if (
        not isinstance(kinds, list)
        or not kinds
        or not all(kind in REDACTION_KINDS for kind in kinds)
        or kinds != sorted(set(kinds))
    ):
        problems.append(
            f"{name} redaction kinds is not a sorted list of {', '.join(sorted(REDACTION_KINDS))}"
        )
    if record["stored_text_sha256"] != stored:
        problems.append(f"{name} redaction stored_text_sha256 is not the hash of its output_text")
    if doc["output_hash"] == stored:
        problems.append(
            f"{name} records a redaction but output_hash is the hash of the stored text"
        )
    if not scope_failed:
        problems.append(f"{name} records a redacted secret but {SCOPE_CHECK_FILE} passed")
    return problems


def _served(name: str, doc: dict[str, Any]) -> list[str]:
    """The served-model check (threat T7) re-derived from what the file records."""
    served = doc.get("served")
    if not isinstance(served, dict) or served.get("matches") is None:
        return []
    if served["matches"] != (served.get("model") == served.get("expected")):
        return [f"{name} served.matches does not follow from served.model and served.expected"]
    return []


def _answer(name: str, doc: dict[str, Any]) -> list[str]:
    """``answer_text`` and ``normalisations`` re-derived from ``output_text``: only a
    Chat Completions answer is ever unwrapped, and only in the two known forms."""
    if "normalisations" not in doc:
        return []  # written before real servers' wrappers were recorded
    chat = doc.get("endpoint_kind") == "chat_completions"
    answer, _, applied = unwrap(doc["output_text"]) if chat else (None, None, ())
    if doc.get("answer_text") != answer or doc.get("normalisations") != list(applied):
        return [f"{name} answer_text / normalisations do not follow from its output_text"]
    return []


def _served_blocks(doc: dict[str, Any]) -> bool:
    served = doc.get("served")
    return (
        isinstance(served, dict)
        and served.get("matches") is False
        and (served.get("policy") == "block")
    )


def _models_answered(manifest: dict[str, Any], good: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    allowed = [manifest.get("primary_model_id"), *manifest.get("fallback_model_ids", [])]
    if "proposer" in good and good["proposer"]["model_id"] not in allowed:
        problems.append(
            f"{PROPOSER_OUTPUT_FILE} model {good['proposer']['model_id']!r} is neither the "
            "manifest's primary nor one of its fallbacks"
        )
    if "critic" in good and good["critic"]["model_id"] != manifest.get("critic_model_id"):
        problems.append(f"{CRITIC_OUTPUT_FILE} model is not the manifest's critic")
    if "proposer" in good and "critic" in good:
        if good["proposer"]["model_id"] == good["critic"]["model_id"]:
            problems.append("separation of duties: the same model answered as proposer and critic")
    return problems


def _cites(proposer: dict[str, Any] | None, critic: dict[str, Any]) -> bool:
    """The critic cites the proposer's output hash (over the text as received; checked
    against the stored text or the redaction record by ``_redaction``)."""
    if proposer is None:
        return False
    return proposer["output_hash"] in critic["evidence_ids"]


def _status(
    index: dict[str, Any], docs: dict[str, Any], good: dict[str, dict[str, Any]], listed: set[str]
) -> list[str]:
    status = index["status"]
    scope_pass = index["capability_scope_check"]["result"] == "PASS"
    sod_pass = index["sod_check"]["result"] == "PASS"
    if index["mode"] == "dry-run":
        if status == "COMPLETED" and not (scope_pass and sod_pass):
            return ["status COMPLETED but the SoD or scope check failed"]
        if status in ("REJECTED", "FAILED"):
            return [f"status {status} is impossible for a dry-run (no model is called)"]
        return []
    if index.get("critic") is not None and "critic" not in good:
        return []  # the critic's file is broken: already reported
    critic = good.get("critic")
    decision = critic.get("decision") if critic else None
    cites = critic is not None and _cites(good.get("proposer"), critic)
    approved = decision in APPROVALS and cites
    failed_closed = critic is not None and (decision is None or not cites)
    problems = []
    if critic is not None:
        parsed = critic.get("parsed")
        if isinstance(parsed, dict) and "decision" in parsed and parsed["decision"] != decision:
            problems.append(f"{CRITIC_OUTPUT_FILE} decision differs from its parsed answer")
    if status == "COMPLETED":
        if not (scope_pass and sod_pass):
            problems.append("status COMPLETED but the SoD or scope check failed")
        if decision not in APPROVALS:
            problems.append(f"status COMPLETED but the critic decision is {decision!r}")
        elif not cites:
            problems.append(
                "status COMPLETED but the critic does not cite the proposer output hash"
            )
    elif status == "REJECTED":
        if decision != "REJECT":
            problems.append(f"status REJECTED but the critic decision is {decision!r}")
    elif status == "BLOCKED":
        served_blocked = any(_served_blocks(doc) for doc in good.values())
        if scope_pass and sod_pass and not failed_closed and not served_blocked:
            problems.append("status BLOCKED without a failed check or a critic that failed closed")
    elif status == "FAILED" and approved:
        problems.append("status FAILED although the critic approved")
    return problems


def _operator_output(index: dict[str, Any], head: bytes) -> list[str]:
    text = head.decode("utf-8", "replace")
    problems = []
    for label, value in (("Run ID", index["run_id"]), ("Status", index["status"])):
        if f"**{label}:** {value}" not in text:
            problems.append(f"{OPERATOR_OUTPUT_FILE} does not state {label} {value}")
    return problems


def _parsed(name: str, doc: dict[str, Any]) -> list[str]:
    """``parsed`` is what the stored answer (``answer_text`` when a real server's
    wrapper was undone, else ``output_text``) parses to (strict JSON; ``null``
    when it is not JSON) for a completed call, and ``null`` for any other outcome.
    Compared as JSON values, so ``true`` is not ``1`` and ``1.0`` is not ``1``."""
    parsed = doc.get("parsed")
    if doc.get("outcome") != "completed":
        if parsed is not None:
            return [f"{name} parsed is not null although the call did not complete"]
        return []
    answer = doc.get("answer_text")  # the JSON inside a real server's wrapper
    text = answer if isinstance(answer, str) else doc["output_text"]
    try:
        expected = strict.loads_strict(text.encode("utf-8"))
    except (strict.StrictJSONError, UnicodeEncodeError):
        expected = None
    if not _same_json(parsed, expected):
        return [f"{name} parsed is not what its output_text parses to"]
    return []


def _same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values: Python's ``==`` alone takes ``True == 1 == 1.0``.

    ``==`` (in C) compares the values; what it cannot tell apart is a boolean, an
    integer and a float that are equal, so the walk then checks that the two hold the
    same type at every place. Both together are exactly "same type everywhere and equal
    leaves": equal dicts have the same keys and equal lists the same length, so the
    walk pairs every place of one value with the same place of the other."""
    return bool(a == b) and _same_types(a, b)


def _same_types(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` (already equal) hold values of one type at every place."""
    if type(a) is not type(b):
        return False
    pending = [(a, b)] if type(a) is dict or type(a) is list else []
    while pending:
        mine, theirs = pending.pop()
        if type(mine) is dict:
            for key, value in mine.items():
                other = theirs[key]
                kind = type(value)
                if kind is not type(other):
                    return False
                if kind is dict or kind is list:
                    pending.append((value, other))
        else:
            for value, other in zip(mine, theirs, strict=True):
                kind = type(value)
                if kind is not type(other):
                    return False
                if kind is dict or kind is list:
                    pending.append((value, other))
    return True
