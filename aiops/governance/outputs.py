"""Capability-scope enforcement on a model's output (DESIGN.md "Model output contract").

Order matters: the envelope is parsed loosely first, so a forbidden type anywhere (at
the top level or nested) and an unknown type are reported as what they are — default
deny — before any strict per-type schema runs. Then each output is validated by its
Pydantic model, the scope's constraints and validation rules apply, and the raw text
is scanned for order/execution language and secrets (``scan_secrets``: the values the
run knows to be secret, and secret shapes; the critic's answer is scanned the same
way). Every violation is listed; none stops the others being found. A violation's
detail never holds a secret from the answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from aiops.governance.model_json import loads_model_json
from aiops.redact import (
    SECRET_SHAPED,
    redact_model_text,
    secret_kinds,
    strings_in,
    unescaped,
)
from aiops.schemas.checks import Check, Violation
from aiops.schemas.outputs import OUTPUT_MODELS
from aiops.schemas.scope import CapabilityScope

# Order/execution instructions. Each pattern needs an instruction shape (a verb with
# a size or a price, a numeric leverage) so analysis words ("no-trade", "sell-off",
# "buyers", "corporate leverage") do not match.
_NUM = r"\$?\d[\d,]*(?:\.\d+)?"
ORDER_PATTERNS: dict[str, re.Pattern[str]] = {
    "order_with_size": re.compile(
        rf"\b(?:buy|sell|short|cover)\s+(?:{_NUM}\s*(?:k|m)?\s*)"
        r"(?:shares?|contracts?|lots?|units?|futures?|calls?|puts?)\b",
        re.IGNORECASE,
    ),
    "order_at_price": re.compile(
        rf"\b(?:buy|sell)(?![-\w])[^.\n]{{0,40}}?(?:\bat\b|@)\s*{_NUM}", re.IGNORECASE
    ),
    "place_order": re.compile(
        r"\b(?:place|submit|send|enter|execute|route)\s+(?:an?\s+|the\s+)?"
        r"(?:(?:market|limit|stop|buy|sell)\s+)?orders?\b",
        re.IGNORECASE,
    ),
    # "open trade" (trade policy) and "trade-off" are analysis; "open a trade" is not.
    "execute_trade": re.compile(
        r"\b(?:(?:execute|enter)\s+(?:an?\s+|the\s+)?(?:trade|long position|short position)"
        r"|open\s+(?:(?:an?|the)\s+trade|(?:an?\s+|the\s+)?(?:long|short)\s+position))"
        r"(?![-\w])",
        re.IGNORECASE,
    ),
    "stop_loss_level": re.compile(
        rf"\b(?:stop[- ]?loss|take[- ]?profit)\s+(?:at|@|of|to)\s*{_NUM}", re.IGNORECASE
    ),
    "leverage": re.compile(
        rf"\b(?:{_NUM}\s*x\s+leverage|leverage\s+(?:of\s+|to\s+)?{_NUM}\s*x\b|"
        rf"(?:use|apply|set)\s+leverage\b)",
        re.IGNORECASE,
    ),
    "position_size": re.compile(rf"\bposition\s+size\s*(?:of|:|=|to)\s*{_NUM}", re.IGNORECASE),
}
# The words each pattern above cannot match without (its verbs, or "leverage",
# "position"). An ASCII string that holds none of a pattern's words in any case cannot
# match it, so the pattern is not run on it (most strings of an answer hold none). In
# other text a character may match a letter under IGNORECASE without lowering to it
# (the long s matches "s"): there every pattern runs.
_ORDER_WORDS: dict[str, tuple[str, ...]] = {
    "order_with_size": ("buy", "sell", "short", "cover"),
    "order_at_price": ("buy", "sell"),
    "place_order": ("place", "submit", "send", "enter", "execute", "route"),
    "execute_trade": ("execute", "enter", "open"),
    "stop_loss_level": ("stop", "take"),
    "leverage": ("leverage",),
    "position_size": ("position",),
}
_ALL_ORDER_WORDS = frozenset(word for words in _ORDER_WORDS.values() for word in words)


@dataclass(frozen=True)
class OutputCheck:
    """What scope enforcement found: the parsed envelope (if any), checks, violations."""

    parsed: dict[str, Any] | None
    checks: list[Check]
    violations: list[Violation]


def enforce_outputs(text: str, scope: CapabilityScope, *, raw: str | None = None) -> OutputCheck:
    """``text`` is the JSON answer; ``raw`` the text as received when a real server's
    wrapper was undone (a think block is scanned too, though it is not parsed)."""
    violations: list[Violation] = []
    parsed = _parse_envelope(text, violations)
    outputs: list[dict[str, Any]] = []
    if parsed is not None:
        _forbidden_anywhere(parsed, scope, violations)
        outputs = _typed_outputs(parsed, scope, violations)
        _constraints(outputs, scope, violations)
        _validation(outputs, _raw_items(parsed), scope, violations)
    _scan_text(text if raw is None else raw, parsed, violations)
    # Details and locations quote the answer (a type name, a key): never a secret.
    violations = [
        v.model_copy(
            update={
                "detail": redact_model_text(v.detail).text,
                "location": redact_model_text(v.location).text,
            }
        )
        for v in violations
    ]
    checks = _summarise(violations, scope)
    return OutputCheck(parsed, checks, violations)


def _parse_envelope(text: str, violations: list[Violation]) -> dict[str, Any] | None:
    try:
        value = loads_model_json(text)
    except ValueError as exc:
        violations.append(Violation(rule="output_is_json", detail=f"not JSON: {exc}"))
        return None
    if not isinstance(value, dict) or not isinstance(value.get("outputs"), list):
        violations.append(
            Violation(rule="output_envelope", detail='expected {"outputs": [...]} at the top')
        )
        return value if isinstance(value, dict) else None
    extra = sorted(set(value) - {"outputs"})
    if extra:
        violations.append(
            Violation(rule="output_envelope", detail=f"unexpected top-level keys: {extra}")
        )
    return value


def _walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _walk(child, f"{path}.{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _walk(child, f"{path}[{index}]")


def _forbidden_anywhere(
    parsed: dict[str, Any], scope: CapabilityScope, out: list[Violation]
) -> None:
    forbidden = set(scope.outputs.forbidden)
    for path, node in _walk(parsed, "$"):
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        if isinstance(kind, str) and kind in forbidden:
            out.append(
                Violation(
                    rule="forbidden_output_type", detail=f"{kind} is forbidden", location=path
                )
            )
        for key in sorted(forbidden & set(node)):
            out.append(
                Violation(
                    rule="forbidden_output_type",
                    detail=f"{key} is forbidden (as a key)",
                    location=f"{path}.{key}",
                )
            )


def _typed_outputs(
    parsed: dict[str, Any], scope: CapabilityScope, out: list[Violation]
) -> list[dict[str, Any]]:
    """Outputs of allowed types that passed their schema; the rest become violations."""
    items = parsed.get("outputs")
    if not isinstance(items, list):
        return []
    allowed, forbidden = set(scope.outputs.allowed), set(scope.outputs.forbidden)
    valid: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"$.outputs[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            out.append(
                Violation(rule="output_type", detail="output without a type", location=where)
            )
            continue
        kind = item["type"]
        if kind in forbidden:
            continue  # already reported
        if kind not in allowed:
            out.append(
                Violation(
                    rule="unknown_output_type",
                    detail=f"{kind} is not an allowed output type (default deny)",
                    location=where,
                )
            )
            continue
        model = OUTPUT_MODELS.get(kind)
        if model is None:
            valid.append(item)
            continue
        try:
            model.model_validate(item)
        except ValidationError as exc:
            for error in exc.errors()[:5]:
                loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
                out.append(
                    Violation(
                        rule="output_schema", detail=f"{kind}: {error['msg']}", location=where + loc
                    )
                )
            continue
        valid.append(item)
    return valid


def _of_type(outputs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in outputs if item.get("type") == kind]


def _constraints(
    outputs: list[dict[str, Any]], scope: CapabilityScope, out: list[Violation]
) -> None:
    rules = scope.constraints
    if rules.must_include_uncertainty and not _of_type(outputs, "UncertaintyAssessment"):
        out.append(
            Violation(
                rule="must_include_uncertainty",
                detail="no valid UncertaintyAssessment in the output",
            )
        )
    if rules.must_include_no_trade_triggers and not any(
        item.get("triggers") for item in _of_type(outputs, "NoTradeTriggers")
    ):
        out.append(
            Violation(
                rule="must_include_no_trade_triggers",
                detail="no valid NoTradeTriggers with at least one trigger in the output",
            )
        )


def _raw_items(parsed: dict[str, Any]) -> list[dict[str, Any]]:
    items = parsed.get("outputs")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _validation(
    outputs: list[dict[str, Any]],
    raw: list[dict[str, Any]],
    scope: CapabilityScope,
    out: list[Violation],
) -> None:
    rules = scope.validation
    # Scenarios are counted as produced, even in a report that failed its schema (that
    # is reported on its own), so one broken field does not also read as "0 scenarios".
    reports = _of_type(raw, "ScenarioReport")
    count = sum(
        len(report["scenarios"]) for report in reports if isinstance(report.get("scenarios"), list)
    )
    if rules.min_scenario_count and count < rules.min_scenario_count:
        out.append(
            Violation(
                rule="min_scenario_count",
                detail=f"{count} scenarios, at least {rules.min_scenario_count} required",
            )
        )
    if rules.max_scenario_count and count > rules.max_scenario_count:
        out.append(
            Violation(
                rule="max_scenario_count",
                detail=f"{count} scenarios, at most {rules.max_scenario_count} allowed",
            )
        )
    if not rules.require_rationale:
        return
    for item in outputs:
        if not str(item.get("rationale", "")).strip():
            out.append(
                Violation(
                    rule="require_rationale",
                    detail=f"{item['type']} has no rationale",
                    location=f"outputs[type={item['type']}]",
                )
            )
        for s_index, scenario in enumerate(item.get("scenarios", []) or []):
            if isinstance(scenario, dict) and not str(scenario.get("rationale", "")).strip():
                out.append(
                    Violation(
                        rule="require_rationale",
                        detail=f"scenario {scenario.get('id', s_index)} has no rationale",
                        location=f"outputs[type={item['type']}].scenarios[{s_index}]",
                    )
                )


def _scan_text(text: str, parsed: Any, out: list[Violation]) -> None:
    """Scan the raw text and, when it parsed, the decoded strings (JSON escapes such as
    ``\\u0073k-`` would otherwise hide a match)."""
    # Each distinct string once, in order: a repeat could only find what ``seen`` holds.
    haystacks = dict.fromkeys([text, *(strings_in(parsed) if parsed is not None else [])])
    seen: set[tuple[str, str]] = set()
    for hay in haystacks:
        for name, pattern in _patterns_for(hay):
            for match in pattern.finditer(hay):
                snippet = " ".join(match.group(0).split())[:80]
                if (name, snippet.lower()) in seen:
                    continue
                seen.add((name, snippet.lower()))
                out.append(
                    Violation(
                        rule="no_order_language",
                        detail=f"{name}: {snippet!r}",
                    )
                )
    out += scan_secrets(text, parsed)


def _patterns_for(hay: str) -> list[tuple[str, re.Pattern[str]]]:
    """The order patterns that could match ``hay``, in ``ORDER_PATTERNS`` order."""
    if not hay.isascii():
        return list(ORDER_PATTERNS.items())
    lowered = hay.lower()
    present = {word for word in _ALL_ORDER_WORDS if word in lowered}
    if not present:
        return []
    return [
        (name, pattern)
        for name, pattern in ORDER_PATTERNS.items()
        if not present.isdisjoint(_ORDER_WORDS[name])
    ]


def scan_secrets(text: str, parsed: Any = None, location: str = "") -> list[Violation]:
    """One violation per kind of secret in a model's answer: a value the run knows to
    be secret, in any of its forms, or a secret-shaped string; found in the text as
    received, in the text with JSON escapes decoded, or in the decoded strings of
    ``parsed``. The detail names the kind, never the value."""
    # Each distinct string once, in order: a repeat finds nothing ``found`` lacks.
    haystacks = dict.fromkeys(
        [text, unescaped(text), *(strings_in(parsed) if parsed is not None else [])]
    )
    found: dict[str, str] = {}
    for hay in haystacks:
        for kind, name in secret_kinds(hay).items():
            found.setdefault(kind, name)
    return [
        Violation(
            rule="no_secrets_in_output",
            detail=f"secret-like string ({name})"
            if kind == SECRET_SHAPED
            else f"a secret value known to this run ({kind})",
            location=location,
        )
        for kind, name in sorted(found.items())
    ]


_RULE_CHECKS = {
    "output_contract": ("output_is_json", "output_envelope", "output_type", "output_schema"),
    "no_forbidden_output_types": ("forbidden_output_type",),
    "no_unknown_output_types": ("unknown_output_type",),
    "must_include_uncertainty": ("must_include_uncertainty",),
    "must_include_no_trade_triggers": ("must_include_no_trade_triggers",),
    "scenario_count": ("min_scenario_count", "max_scenario_count"),
    "require_rationale": ("require_rationale",),
    "no_order_language": ("no_order_language",),
    "no_secrets_in_output": ("no_secrets_in_output",),
}


def _summarise(violations: list[Violation], scope: CapabilityScope) -> list[Check]:
    checks: list[Check] = []
    for name, rules in _RULE_CHECKS.items():
        if name == "must_include_uncertainty" and not scope.constraints.must_include_uncertainty:
            continue
        if (
            name == "must_include_no_trade_triggers"
            and not scope.constraints.must_include_no_trade_triggers
        ):
            continue
        hits = [v for v in violations if v.rule in rules]
        checks.append(
            Check(
                name=f"output.{name}",
                passed=not hits,
                detail=f"{len(hits)} violation(s)" if hits else "ok",
            )
        )
    return checks
