"""The audit log: one whole JSON line per attempt, required fields, no keys."""

from __future__ import annotations

import errno
import json
import os
import secrets
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from aiops.errors import EvidenceWriteError
from aiops.evidence.audit_log import AuditLog, AuditRecord
from aiops.providers.base import Attempt, Usage
from aiops.schemas.registry import AUDIT_LOG_FIELDS, Audit
from tests._procs import run_concurrently
from tests.providers._fakes import registry

AT = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
FAILED = Attempt(
    "gpt-5.2-pro",
    "https://api.example.test/v1/responses",
    503,
    "server_error",
    "503 overloaded",
    812,
    retry_delay_ms=1000,
)
ANSWERED = Attempt("gpt-5.2", "https://api.example.test/v1/responses", None, None, None, 95)


def _record(attempt: Attempt, usage: Usage | None = None, cost_usd: float = 0.0) -> AuditRecord:
    return AuditRecord.for_attempt(
        attempt,
        at=AT,
        run_id="L2-abc",
        layer_id="L2",
        role="proposer",
        prompt_hash="sha256:" + "0" * 64,
        usage=usage,
        cost_usd=cost_usd,
    )


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_record_fields_are_exactly_the_known_fields() -> None:
    assert {f.name for f in fields(AuditRecord)} == set(AUDIT_LOG_FIELDS)


def test_failed_and_successful_attempts_each_append_one_line() -> None:
    log = AuditLog(registry().audit)
    log.record(_record(FAILED))
    log.record(_record(ANSWERED, usage=Usage(1200, 800, 500), cost_usd=0.0133))
    failed, answered = _lines(Path("logs/ai_model_calls.jsonl"))
    assert failed["success"] is False and failed["http_status"] == 503
    assert failed["error_class"] == "server_error" and failed["retry_delay_ms"] == 1000
    assert failed["input_tokens"] == 0 and failed["cost_usd"] == 0
    assert answered["success"] is True and answered["error_message"] is None
    assert (answered["input_tokens"], answered["output_tokens"]) == (1200, 800)
    assert answered["reasoning_tokens"] == 500 and answered["cost_usd"] == 0.0133
    assert answered["timestamp_utc"] == "2026-01-10T12:00:00+00:00"
    for line in (failed, answered):
        assert set(registry().audit.required_log_fields) <= set(line)


def test_error_messages_never_carry_a_key() -> None:
    key = "test-key-" + secrets.token_hex(8)
    leaky = Attempt(
        "gpt-5.2",
        "https://api.example.test/v1/responses",
        401,
        "authentication",
        f"401: bad Authorization: Bearer {key} for sk-{secrets.token_hex(12)}",
        3,
    )
    AuditLog(registry().audit, known_secrets=[key]).record(_record(leaky))
    text = Path("logs/ai_model_calls.jsonl").read_text("utf-8")
    assert key not in text and "sk-" not in text
    assert "[REDACTED]" in text and "authentication" in text


def test_disabled_log_writes_nothing() -> None:
    audit = registry().audit.model_copy(update={"log_all_model_calls": False})
    AuditLog(audit).record(_record(FAILED))
    assert not Path("logs").exists()


def test_destination_relative_to_working_directory(tmp_path: Path) -> None:
    audit = registry().audit.model_copy(update={"log_destination": "audit/calls.jsonl"})
    log = AuditLog(audit)
    assert log.path == tmp_path / "audit" / "calls.jsonl"
    log.record(_record(FAILED))
    assert len(_lines(tmp_path / "audit" / "calls.jsonl")) == 1


def test_unknown_required_field_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="aiops does not log 'user_email'"):
        Audit(required_log_fields=["timestamp_utc", "user_email"])


def test_unwritable_destination_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a directory")
    audit = registry().audit.model_copy(update={"log_destination": "blocker/calls.jsonl"})
    with pytest.raises(EvidenceWriteError, match="cannot append to audit log"):
        AuditLog(audit).record(_record(FAILED))


def test_a_line_that_cannot_be_made_durable_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(EvidenceWriteError, match="cannot append to audit log .*Input/output"):
        AuditLog(registry().audit).record(_record(FAILED))


WRITER = """
from dataclasses import replace
from datetime import UTC, datetime
from aiops.configuration import load_config
from aiops.evidence.audit_log import AuditLog, AuditRecord
from aiops.providers.base import Attempt
log = AuditLog(load_config().registry.audit)
attempt = Attempt("gpt-5.2", "https://api.example.test/v1/responses", 500, "server_error",
                  "boom", 1)
start()
for n in range(150):
    log.record(AuditRecord.for_attempt(
        attempt, at=datetime(2026, 1, 10, tzinfo=UTC),
        run_id=f"w{worker}-{n}-" + "x" * 20000,  # lines far beyond PIPE_BUF
        layer_id="L2", role="proposer", prompt_hash=None, cost_usd=float(n)))
"""


def test_eight_processes_write_whole_never_interleaved_lines(tmp_path: Path) -> None:
    run_concurrently(WRITER, 8, tmp_path)
    raw = (tmp_path / "logs/ai_model_calls.jsonl").read_bytes()
    lines = raw.split(b"\n")
    assert lines[-1] == b""  # ends with a newline: no partial last line
    parsed = [json.loads(line) for line in lines[:-1]]  # raises on a torn line
    assert len(parsed) == 8 * 150
    for worker in range(8):
        mine = [p["run_id"].split("-")[1] for p in parsed if p["run_id"].startswith(f"w{worker}-")]
        assert mine == [str(n) for n in range(150)]  # each process's lines, whole and in order
