"""What the pilot report needs of one pack, derived once from what verify-pack read of it.

``PackFacts.of`` takes a pack's view (``aiops.evidence.reader``, built from the files
that verified) and its review and manifest as verify-pack read them, and keeps only
the figures the report counts: the index's identity, mode, status and checks, each
model call (``pilot_usage.Call``: latency, cost or the usage it is priced from, whether
the model answered), the served models, the critic's decision, the review and, for a
reviewing (L4) pack, its manifest's governance verdict. Nothing here depends on the
registry, the report's options or another pack, so the facts of a pack that verified
are kept beside its verdict in the verification cache (``verify_cache``) and a pack
unchanged since is not opened again. ``to_json`` / ``from_json`` are that cache's form.

A pack whose index does not make a view (not a valid index, a creation time that is not
a date) has no facts: ``PackFacts.of`` raises ``PackReadError`` with why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError

from aiops.errors import PackReadError
from aiops.evidence.names import PROPOSER_OUTPUT_FILE
from aiops.evidence.reader import PackView
from aiops.schemas.review import Review
from aiops.services.pilot_served import Served, served_of
from aiops.services.pilot_usage import Call, answered, calls, is_fallback

FACTS_VERSION = "pilot-facts-1"  # the form below; a cache of another is not used


@dataclass(frozen=True)
class ReviewFacts:
    """A review as the report counts it (``review.json``, valid as a ``Review``)."""

    reviewer: str
    decision: str
    interactive: bool | None
    duration_seconds: float


@dataclass(frozen=True)
class PackFacts:
    pack_id: str
    sequence: int
    day: str  # the creation date, ISO
    mode: str
    status: str
    layer_id: str
    prompt_key: tuple[str | None, str | None]  # the manifest's prompt id and version
    sod_pass: bool
    scope_pass: bool  # the scope check passed with no violation
    has_proposer: bool  # proposer_output.json verified
    proposer_answered: bool
    proposer_sha256: str | None  # as the index lists it: what drift is cached by
    fallback: bool
    critic_decision: str | None  # as judged (None when it failed closed)
    calls: tuple[Call, ...]
    served: tuple[Served, ...]
    review: ReviewFacts | None  # None: no review, or one that is no valid review
    review_invalid: bool  # review.json is present and is no valid review
    governance_manifest: dict[str, Any] | None  # run_manifest.json with a verdict
    manifest_read: bool  # run_manifest.json verified (so the one above is all there is)

    @classmethod
    def of(
        cls, view: PackView, review_doc: Any, review_present: bool, manifest_doc: Any
    ) -> PackFacts:
        index = view.index
        try:
            date.fromisoformat(view.day)  # every figure is kept by day
        except ValueError:
            raise PackReadError(f"{view.path}: creation_timestamp is not a date") from None
        critic = view.critic
        decision = critic.get("decision") if isinstance(critic, dict) else None
        review, invalid = _review(review_doc, review_present)
        proposer_sha = next(
            (a.digest.sha256 for a in index.artifacts if a.name == PROPOSER_OUTPUT_FILE), None
        )
        with_verdict = isinstance(manifest_doc, dict) and isinstance(
            manifest_doc.get("governance_verdict"), dict
        )
        return cls(
            pack_id=index.evidence_pack_id,
            sequence=index.sequence,
            day=view.day,
            mode=index.mode,
            status=index.status,
            layer_id=index.layer_id,
            prompt_key=view.prompt_key,
            sod_pass=index.sod_check.result == "PASS",
            scope_pass=index.capability_scope_check.result == "PASS"
            and not index.capability_scope_check.violations,
            has_proposer=view.proposer is not None,
            proposer_answered=answered(view.proposer),
            proposer_sha256=proposer_sha if view.proposer is not None else None,
            fallback=is_fallback(view),
            critic_decision=decision if isinstance(decision, str) else None,
            calls=tuple(calls(view)),
            served=tuple(served_of(view)),
            review=review,
            review_invalid=invalid,
            governance_manifest=manifest_doc if with_verdict else None,
            manifest_read=manifest_doc is not None,
        )

    def to_json(self) -> dict[str, Any]:
        review = self.review
        return {
            "id": self.pack_id,
            "seq": self.sequence,
            "day": self.day,
            "mode": self.mode,
            "status": self.status,
            "layer": self.layer_id,
            "prompt": list(self.prompt_key),
            "sod": self.sod_pass,
            "scope": self.scope_pass,
            "proposer": [self.has_proposer, self.proposer_answered, self.proposer_sha256],
            "fallback": self.fallback,
            "critic": self.critic_decision,
            "calls": [
                [c.role, c.model_id, c.latency_ms, c.recorded_cost_usd, c.tokens, c.answered]
                for c in self.calls
            ],
            "served": [[s.role, s.model_id, s.served, s.expected] for s in self.served],
            "review": None
            if review is None
            else [review.reviewer, review.decision, review.interactive, review.duration_seconds],
            "review_invalid": self.review_invalid,
            "governance": self.governance_manifest,
            "manifest_read": self.manifest_read,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> PackFacts:
        """The facts ``to_json`` wrote, each value of the type it must have
        (``KeyError``, ``TypeError``, ``ValueError`` otherwise: then the pack is verified
        and read again)."""
        has_proposer, proposer_answered, proposer_sha = doc["proposer"]
        review = doc["review"]
        prompt_id, prompt_version = doc["prompt"]
        governance = doc["governance"]
        if governance is not None and not isinstance(governance, dict):
            raise TypeError("not a manifest")
        return cls(
            pack_id=_str(doc["id"]),
            sequence=_int(doc["seq"]),
            day=_str(doc["day"]),
            mode=_str(doc["mode"]),
            status=_str(doc["status"]),
            layer_id=_str(doc["layer"]),
            prompt_key=(_opt_str(prompt_id), _opt_str(prompt_version)),
            sod_pass=_bool(doc["sod"]),
            scope_pass=_bool(doc["scope"]),
            has_proposer=_bool(has_proposer),
            proposer_answered=_bool(proposer_answered),
            proposer_sha256=_opt_str(proposer_sha),
            fallback=_bool(doc["fallback"]),
            critic_decision=_opt_str(doc["critic"]),
            calls=tuple(_call(*entry) for entry in doc["calls"]),
            served=tuple(
                Served(_str(role), _str(model), _str(served), _opt_str(expected))
                for role, model, served, expected in doc["served"]
            ),
            review=None if review is None else _review_facts(*review),
            review_invalid=_bool(doc["review_invalid"]),
            governance_manifest=governance,
            manifest_read=_bool(doc["manifest_read"]),
        )


def _call(role: Any, model: Any, latency: Any, cost: Any, tokens: Any, ok: Any) -> Call:
    if tokens is not None:
        tokens_in, tokens_out = tokens
        tokens = (_int(tokens_in), _int(tokens_out))
    return Call(_str(role), _str(model), _opt_num(latency), _opt_num(cost), tokens, _bool(ok))


def _review_facts(reviewer: Any, decision: Any, interactive: Any, seconds: Any) -> ReviewFacts:
    if interactive is not None:
        interactive = _bool(interactive)
    duration = _opt_num(seconds)
    if duration is None:
        raise TypeError("a review without its duration")
    return ReviewFacts(_str(reviewer), _str(decision), interactive, duration)


def _review(doc: Any, present: bool) -> tuple[ReviewFacts | None, bool]:
    """The review as verify-pack read it; (None, True) when one is present that does
    not read or is no valid review."""
    if doc is None:
        return None, present
    try:
        review = Review.model_validate(doc)
    except ValidationError:
        return None, True
    facts = ReviewFacts(
        review.reviewer, review.decision, review.interactive, review.duration_seconds
    )
    return facts, False


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _int(value: Any) -> int:
    if type(value) is not int:
        raise TypeError("not an integer")
    return value


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise TypeError("not a boolean")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _opt_num(value: Any) -> float | None:
    """A latency, cost or duration as ``to_json`` wrote it: a number (never a bool)."""
    if value is None:
        return None
    if type(value) not in (int, float):
        raise TypeError("not a number")
    return float(value)
