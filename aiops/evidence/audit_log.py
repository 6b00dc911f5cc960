"""The audit log: one JSON line per model call attempt, success or not.

Lines go to the registry's ``audit.log_destination`` (relative paths resolve against
the working directory when the log is opened), one whole line per attempt, never
interleaved across concurrent processes and fsynced before the call goes on
(``aiops.evidence.jsonlines``). Every line carries all of ``AUDIT_LOG_FIELDS``; the
registry's ``audit.required_log_fields`` is checked against each line before it is
written. Error messages are scrubbed of the run's known secrets (every provider key,
proxy and URL credential, in all their encodings: ``aiops.known_secrets``) and of
anything that looks like a credential.
``audit.log_all_model_calls = false`` turns the log off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from aiops.clock import isoformat
from aiops.errors import EvidenceWriteError
from aiops.evidence.jsonlines import append_line
from aiops.providers.base import Attempt, Usage
from aiops.redact import scrub_secrets
from aiops.schemas.registry import AUDIT_LOG_FIELDS, Audit
from aiops.settings import working_directory


@dataclass(frozen=True)
class AuditRecord:
    """One attempt as the audit log records it (field names are the log's keys)."""

    timestamp_utc: str
    run_id: str
    layer_id: str
    role: str
    model_id: str
    endpoint: str
    prompt_hash: str | None  # of the request body; null only if none could be built
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_usd: float
    latency_ms: int
    retry_delay_ms: int
    http_status: int | None
    error_class: str | None
    success: bool
    error_message: str | None

    @classmethod
    def for_attempt(
        cls,
        attempt: Attempt,
        *,
        at: datetime,
        run_id: str,
        layer_id: str,
        role: str,
        prompt_hash: str | None,
        usage: Usage | None = None,
        cost_usd: float = 0.0,
    ) -> AuditRecord:
        """``usage``/``cost_usd`` are those of the exchange when the attempt answered."""
        usage = usage or Usage()
        return cls(
            timestamp_utc=isoformat(at),
            run_id=run_id,
            layer_id=layer_id,
            role=role,
            model_id=attempt.model_id,
            endpoint=attempt.endpoint,
            prompt_hash=prompt_hash,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_usd=round(cost_usd, 6),
            latency_ms=attempt.latency_ms,
            retry_delay_ms=attempt.retry_delay_ms,
            http_status=attempt.http_status,
            error_class=attempt.error_class,
            success=attempt.error_class is None,
            error_message=attempt.error_message,
        )


class AuditLog:
    """Appends ``AuditRecord`` lines; a no-op when the registry turns logging off."""

    def __init__(self, audit: Audit, *, known_secrets: Iterable[str] = ()) -> None:
        self.enabled = audit.log_all_model_calls
        self.path = working_directory() / audit.log_destination
        self.required = list(audit.required_log_fields)
        self._secrets = list(known_secrets)

    def record(self, record: AuditRecord) -> None:
        if not self.enabled:
            return
        line: dict[str, Any] = asdict(record)
        if line["error_message"] is not None:
            line["error_message"] = scrub_secrets(line["error_message"], self._secrets)
        missing = [name for name in (*self.required, *AUDIT_LOG_FIELDS) if name not in line]
        if missing:  # pragma: no cover - AuditRecord and AUDIT_LOG_FIELDS agree (tested)
            raise EvidenceWriteError(f"audit line lacks required field(s) {', '.join(missing)}")
        try:
            append_line(self.path, line)
        except OSError as error:
            raise EvidenceWriteError(
                f"cannot append to audit log {self.path}: {error.strerror or error}"
            ) from None
