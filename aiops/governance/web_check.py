"""Scope enforcement beyond the output envelope: the web sources of the proposer's
answer and the citation rules of research outputs. Both add checks and violations to
the proposer's ``OutputCheck`` (``extend_check``), so they land in
``capability_scope_check.json`` and decide the status like any other violation.

- **Web sources** (when the request carried the web_search tool): every URL the model
  consulted (a search's sources, a page opened or searched) and every URL it cited
  (``url_citation``) must have a host in the allow-list (``governance.web_scope``);
  each one outside is a violation ``web_source_outside_allow_list`` (BLOCKED). The
  same derivation gives ``web_sources.json``, which verify-pack re-derives.
- **Citations** (scope ``[validation] min_citations`` / ``require_finding_citations``):
  each ``ResearchBrief`` finding cites at least one source; the distinct cited URLs
  reach the minimum; a cited URL outside the allow-list (when the scope allows the
  web) is a violation too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiops.evidence.web_sources import (
    OUTSIDE_RULE,
    SOURCES_CHECK,
    outside_urls,
    sources_document,
    violation_location,
)
from aiops.governance.outputs import OutputCheck
from aiops.governance.web_config import allows_web
from aiops.governance.web_scope import api_domains, host_allowed, url_host
from aiops.providers.base import Exchange, WebSearch
from aiops.redact import redact_model_text
from aiops.schemas.checks import Check, Violation
from aiops.schemas.scope import CapabilityScope

CITATION_CHECK = "output.citations"


@dataclass(frozen=True)
class WebEvidence:
    """``web_sources.json`` of the proposer's stored answer, with its check."""

    document: dict[str, Any]
    check: Check
    violations: list[Violation]


def web_evidence(stored: Exchange, web: WebSearch | None) -> WebEvidence | None:
    """None when the request carried no web tool (nothing to record)."""
    if web is None:
        return None
    document = sources_document(
        stored.response_body, list(web.scope_domains), list(web.domains), web.max_calls
    )
    outside = outside_urls(document)
    violations = [
        Violation(
            rule=OUTSIDE_RULE,
            detail=redact_model_text(
                f"{entry['url']} is outside the scope's allowed_domains "
                f"({'host ' + entry['host'] if entry['host'] else 'no host that can be trusted'})"
            ).text,
            location=violation_location(entry),
        )
        for entry in outside
    ]
    detail = (
        f"{len(outside)} of {len(document['urls'])} URL(s) outside the allow-list"
        if outside
        else f"{len(document['urls'])} URL(s) consulted or cited, all in the allow-list; "
        f"{document['search_calls']} web search call(s)"
    )
    return WebEvidence(
        document, Check(name=SOURCES_CHECK, passed=not outside, detail=detail), violations
    )


def extend_check(
    check: OutputCheck, evidence: WebEvidence | None, scope: CapabilityScope
) -> OutputCheck:
    checks, violations = list(check.checks), list(check.violations)
    if evidence is not None:
        checks.append(evidence.check)
        violations += evidence.violations
    rules = scope.validation
    if rules.min_citations or rules.require_finding_citations:
        found = _citation_violations(check.parsed, scope)
        checks.append(
            Check(
                name=CITATION_CHECK,
                passed=not found,
                detail=f"{len(found)} violation(s)" if found else "ok",
            )
        )
        violations += found
    return OutputCheck(check.parsed, checks, violations)


def _briefs(parsed: dict[str, Any] | None) -> list[tuple[int, dict[str, Any]]]:
    items = parsed.get("outputs") if isinstance(parsed, dict) else None
    return [
        (index, item)
        for index, item in enumerate(items if isinstance(items, list) else [])
        if isinstance(item, dict) and item.get("type") == "ResearchBrief"
    ]


def _citation_violations(parsed: dict[str, Any] | None, scope: CapabilityScope) -> list[Violation]:
    rules = scope.validation
    domains = api_domains(scope.web_access.allowed_domains) if allows_web(scope) else None
    out: list[Violation] = []
    cited: dict[str, None] = {}
    for index, brief in _briefs(parsed):
        findings = brief.get("findings")
        for f_index, finding in enumerate(findings if isinstance(findings, list) else []):
            where = f"$.outputs[{index}].findings[{f_index}]"
            citations = finding.get("citations") if isinstance(finding, dict) else None
            urls = [
                c["url"]
                for c in (citations if isinstance(citations, list) else [])
                if isinstance(c, dict) and isinstance(c.get("url"), str) and c["url"]
            ]
            if rules.require_finding_citations and not urls:
                out.append(
                    Violation(
                        rule="finding_without_citation",
                        detail="a finding cites no source",
                        location=where,
                    )
                )
            for url in urls:
                cited.setdefault(url)
                if domains is not None and not host_allowed(url_host(url), domains):
                    out.append(
                        Violation(
                            rule="citation_outside_allow_list",
                            detail=redact_model_text(
                                f"{url} is outside the scope's allowed_domains"
                            ).text,
                            location=where,
                        )
                    )
    if len(cited) < rules.min_citations:
        out.append(
            Violation(
                rule="min_citations",
                detail=f"{len(cited)} distinct cited source(s), at least "
                f"{rules.min_citations} required",
            )
        )
    return out


def sources_section(document: dict[str, Any]) -> tuple[str, list[str]]:
    """The operator's readable list of web sources (title, lines)."""
    lines = [
        f"- {document['search_calls']} web search call(s); allowed domains: "
        + ", ".join(document["allowed_domains"])
    ]
    for search in document["searches"]:
        what = "; ".join(search["queries"]) or search["url"] or ""
        lines.append(f"- {search['action']}: {what}".rstrip())
    for entry in document["urls"]:
        how = " and ".join(kind for kind in ("cited", "consulted") if entry[kind])
        mark = "in scope" if entry["allowed"] else "**OUTSIDE the allow-list**"
        shown = " ".join(entry["url"].split()).replace("<", "%3C").replace(">", "%3E")
        lines.append(f"- <{shown}> ({how}; {mark})")
    return "Web Sources", lines
