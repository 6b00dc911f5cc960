"""``web_sources.json``: what the proposer read and cited on the web, and the check of
every URL against the scope's allow-list — derived from the raw response items, and
re-derived from them by ``verify-pack``.

The file keeps the raw items as the provider sent them (as stored: secrets redacted):
every ``web_search_call`` output item and the ``annotations`` of every ``output_text``
part of the answer. From those alone (and the domains the request allowed) follow:

- ``searches``: one per ``web_search_call`` — its action (``search`` with ``queries``
  / ``query`` and the ``sources`` returned, ``open_page`` with its ``url``,
  ``find_in_page`` with its ``url`` and ``pattern``), in order;
- ``citations``: every ``url_citation`` annotation (url, title, start and end index);
- ``urls``: every distinct URL, consulted (a search source or a page opened or
  searched) and/or cited, with its normalised host (``web_scope.url_host``) and
  whether that host is in ``allowed_domains``;
- ``search_calls`` (what the searches cost: each ``web_search_call`` item counts) and
  ``outside`` (how many URLs are outside the allow-list: each is a violation).

Standard library only (``verify-pack`` loads no Pydantic); the file's schema is
``aiops.schemas.web_sources.WebSources``.
"""

from __future__ import annotations

from typing import Any

from aiops.governance.web_scope import DomainError, api_domains, host_allowed, url_host

WEB_SOURCES_FORMAT = "aiops-web-sources"
WEB_SOURCES_VERSION = 1
OUTSIDE_RULE = "web_source_outside_allow_list"
SOURCES_CHECK = "web.sources_in_allow_list"
_DERIVED = ("searches", "citations", "urls", "search_calls", "outside")


def raw_items(response: dict[str, Any]) -> dict[str, list[Any]]:
    """The raw items the sources are read from: ``web_search_call`` items and the
    annotation lists of the answer's ``output_text`` parts, in response order."""
    calls: list[Any] = []
    annotations: list[Any] = []
    output = response.get("output")
    for item in output if isinstance(output, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "web_search_call":
            calls.append(item)
        elif item.get("type") == "message" and isinstance(item.get("content"), list):
            for part in item["content"]:
                if isinstance(part, dict) and part.get("type") == "output_text":
                    found = part.get("annotations")
                    annotations.append(found if isinstance(found, list) else [])
    return {"web_search_calls": calls, "annotations": annotations}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _search(item: dict[str, Any]) -> dict[str, Any]:
    action = item.get("action") if isinstance(item.get("action"), dict) else {}
    assert isinstance(action, dict)
    queries = [q for q in action.get("queries") or [] if isinstance(q, str)]
    query = _text(action.get("query"))
    if query is not None and query not in queries:
        queries.insert(0, query)
    sources = [
        source["url"]
        for source in action.get("sources") or []
        if isinstance(source, dict) and isinstance(source.get("url"), str)
    ]
    return {
        "id": _text(item.get("id")) or "",
        "status": _text(item.get("status")) or "",
        "action": _text(action.get("type")) or "",
        "queries": queries,
        "url": _text(action.get("url")),
        "pattern": _text(action.get("pattern")),
        "sources": sources,
    }


def _citations(annotations: list[Any]) -> list[dict[str, Any]]:
    cited = []
    for part in annotations:
        for note in part if isinstance(part, list) else []:
            if not isinstance(note, dict) or note.get("type") != "url_citation":
                continue
            start, end = note.get("start_index"), note.get("end_index")
            cited.append(
                {
                    "url": _text(note.get("url")) or "",
                    "title": _text(note.get("title")) or "",
                    "start_index": start if isinstance(start, int) else -1,
                    "end_index": end if isinstance(end, int) else -1,
                }
            )
    return cited


def derive(raw: dict[str, Any], domains: list[str]) -> dict[str, Any]:
    """Searches, citations, URLs and counts from the raw items (see the module doc)."""
    calls = [item for item in raw.get("web_search_calls") or [] if isinstance(item, dict)]
    searches = [_search(item) for item in calls]
    citations = _citations(raw.get("annotations") or [])
    consulted: dict[str, None] = {}
    for search in searches:
        for url in [*search["sources"], search["url"]]:
            if url is not None:
                consulted.setdefault(url)
    cited = dict.fromkeys(c["url"] for c in citations)
    urls = []
    for url in dict.fromkeys([*consulted, *cited]):
        host = url_host(url)
        urls.append(
            {
                "url": url,
                "host": host,
                "allowed": host_allowed(host, domains),
                "consulted": url in consulted,
                "cited": url in cited,
            }
        )
    return {
        "searches": searches,
        "citations": citations,
        "urls": urls,
        "search_calls": len(calls),
        "outside": sum(1 for entry in urls if not entry["allowed"]),
    }


def sources_document(
    response: dict[str, Any], scope_domains: list[str], domains: list[str], max_tool_calls: int
) -> dict[str, Any]:
    """The content of ``web_sources.json`` for one stored proposer response."""
    raw = raw_items(response)
    return {
        "format": WEB_SOURCES_FORMAT,
        "version": WEB_SOURCES_VERSION,
        "scope_domains": list(scope_domains),
        "allowed_domains": list(domains),
        "max_tool_calls": max_tool_calls,
        "raw": raw,
        **derive(raw, domains),
    }


def outside_urls(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry for entry in document["urls"] if not entry["allowed"]]


def violation_location(entry: dict[str, Any]) -> str:
    how = "+".join(kind for kind in ("cited", "consulted") if entry[kind])
    return f"web.{how}: {entry['url']}"


def check_document(
    document: dict[str, Any],
    scope: dict[str, Any] | None,
    proposer: dict[str, Any] | None,
    status: str,
) -> list[str]:
    """verify-pack: the file re-derived from its own raw items and translated domains,
    and told the same way by the scope check, the status and the proposer's text."""
    name = "web_sources.json"
    problems: list[str] = []
    try:
        if api_domains(document["scope_domains"]) != document["allowed_domains"]:
            problems.append(f"{name} allowed_domains are not the translation of scope_domains")
    except DomainError as error:
        problems.append(f"{name} scope_domains cannot be sent: {error}")
    again = derive(document["raw"], document["allowed_domains"])
    for key in _DERIVED:
        if again[key] != document[key]:
            problems.append(f"{name} {key} differ from what its raw response items give")
    outside = outside_urls(again)
    if outside and status in ("COMPLETED", "REJECTED"):
        problems.append(
            f"{name} has {len(outside)} URL(s) outside the allow-list but the pack is {status}"
        )
    if scope is not None:
        problems += _scope_agrees(scope, outside)
    text = proposer.get("output_text") if isinstance(proposer, dict) else None
    if isinstance(text, str):
        for citation in again["citations"]:
            if not 0 <= citation["start_index"] <= citation["end_index"] <= len(text):
                problems.append(
                    f"{name} citation of {citation['url']!r} points outside the proposer's text"
                )
    return problems


def _scope_agrees(scope: dict[str, Any], outside: list[dict[str, Any]]) -> list[str]:
    problems = []
    checks = [c for c in scope.get("checks", []) if c.get("name") == SOURCES_CHECK]
    if len(checks) != 1 or checks[0].get("passed") != (not outside):
        problems.append(
            f"capability_scope_check.json {SOURCES_CHECK} does not match web_sources.json"
        )
    recorded = sorted(
        v.get("location", "") for v in scope.get("violations", []) if v.get("rule") == OUTSIDE_RULE
    )
    if recorded != sorted(violation_location(entry) for entry in outside):
        problems.append(
            f"capability_scope_check.json {OUTSIDE_RULE} violations do not match the URLs "
            "web_sources.json finds outside the allow-list"
        )
    return problems


def check_pack(index: dict[str, Any], docs: dict[str, Any], listed: set[str]) -> list[str]:
    """The pack's web evidence tells one story (``consistency.check_pack`` calls this)."""
    from aiops.evidence.names import (
        PROPOSER_OUTPUT_FILE,
        SCOPE_CHECK_FILE,
        TRANSCRIPT_FILE,
        WEB_SOURCES_FILE,
    )

    scope = docs.get(SCOPE_CHECK_FILE)
    if WEB_SOURCES_FILE not in listed:
        checked = isinstance(scope, dict) and any(
            c.get("name") == SOURCES_CHECK for c in scope.get("checks", [])
        )
        return (
            [f"{SCOPE_CHECK_FILE} checks web sources but the pack has no {WEB_SOURCES_FILE}"]
            if checked
            else []
        )
    document = docs.get(WEB_SOURCES_FILE)
    if not isinstance(document, dict):
        return []  # missing or broken: already reported
    proposer = docs.get(PROPOSER_OUTPUT_FILE)
    problems = check_document(
        document, scope if isinstance(scope, dict) else None, proposer, index["status"]
    )
    transcript = docs.get(TRANSCRIPT_FILE)
    if isinstance(transcript, dict) and isinstance(proposer, dict):
        problems += _transcript_agrees(document, transcript, proposer.get("prompt_hash"))
    return problems


def _transcript_agrees(
    document: dict[str, Any], transcript: dict[str, Any], prompt_hash: Any
) -> list[str]:
    """A record run's transcript holds the request sent and the raw response: the tool's
    domains and cap must be the file's, and so must the raw items (unless a secret was
    redacted from them, where the two stores may differ by the marker)."""
    from aiops.redact import REDACTION_MARKER

    runs = [
        run
        for run in transcript.get("runs", [])
        if run.get("role") == "proposer"
        and run.get("prompt_hash") == prompt_hash
        and isinstance(run.get("response"), dict)
    ]
    if not runs:
        return []
    request, response = runs[-1].get("request") or {}, runs[-1]["response"]
    problems = []
    sent = {"filters": {"allowed_domains": document["allowed_domains"]}, "type": "web_search"}
    if (
        request.get("tools") != [sent]
        or request.get("max_tool_calls") != document["max_tool_calls"]
    ):
        problems.append(
            "web_sources.json domains or cap differ from the request in transcript.json"
        )
    raw = raw_items(response)
    redacted = REDACTION_MARKER in repr(raw) or REDACTION_MARKER in repr(document["raw"])
    if not redacted and raw != document["raw"]:
        problems.append("web_sources.json raw items differ from the response in transcript.json")
    return problems
