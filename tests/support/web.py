"""Responses answers with web searches and citations, built through the official
``openai`` types (``ResponseFunctionWebSearch``, the ``url_citation`` annotation and
``Response``), so the shapes are the real API's."""

from __future__ import annotations

from typing import Any

from openai.types.responses import Response, ResponseFunctionWebSearch
from openai.types.responses.response_output_text import AnnotationURLCitation

from tests.support.loopback import responses_answer


def search_call(number: int, queries: list[str], sources: list[str]) -> dict[str, Any]:
    item = {
        "id": f"ws_{number:032x}",
        "type": "web_search_call",
        "status": "completed",
        "action": {
            "type": "search",
            "query": queries[0],
            "queries": queries,
            "sources": [{"type": "url", "url": url} for url in sources],
        },
    }
    return ResponseFunctionWebSearch.model_validate(item).model_dump(
        mode="json", exclude_unset=True
    )


def open_page(number: int, url: str) -> dict[str, Any]:
    item = {
        "id": f"ws_{number:032x}",
        "type": "web_search_call",
        "status": "completed",
        "action": {"type": "open_page", "url": url},
    }
    return ResponseFunctionWebSearch.model_validate(item).model_dump(
        mode="json", exclude_unset=True
    )


def find_in_page(number: int, url: str, pattern: str) -> dict[str, Any]:
    item = {
        "id": f"ws_{number:032x}",
        "type": "web_search_call",
        "status": "completed",
        "action": {"type": "find_in_page", "url": url, "pattern": pattern},
    }
    return ResponseFunctionWebSearch.model_validate(item).model_dump(
        mode="json", exclude_unset=True
    )


def citation(text: str, url: str, title: str) -> dict[str, Any]:
    """A ``url_citation`` over the first place ``url`` appears in ``text`` (else the
    whole text)."""
    start = text.find(url)
    start, end = (start, start + len(url)) if start >= 0 else (0, len(text))
    note = {"type": "url_citation", "url": url, "title": title, "start_index": start}
    note["end_index"] = end
    return AnnotationURLCitation.model_validate(note).model_dump(mode="json")


def web_answer(
    text: str,
    calls: list[dict[str, Any]],
    cited: list[tuple[str, str]],
    *,
    model: str = "gpt-5.2-pro",
    reasoning_summary: str | None = None,
    usage: tuple[int, int, int] = (2817, 1954, 896),
    response_id: str = "resp_0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    status: str = "completed",
    incomplete_reason: str | None = None,
) -> dict[str, Any]:
    """An answer (completed unless ``status`` says): reasoning, the web_search_call
    items, then the message whose ``output_text`` carries one ``url_citation`` per
    (url, title) in ``cited``."""
    body = responses_answer(
        text,
        model=model,
        reasoning_summary=reasoning_summary,
        usage=usage,
        response_id=response_id,
        status=status,
        incomplete_reason=incomplete_reason,
    )
    reasoning, message = body["output"]
    message["content"][0]["annotations"] = [citation(text, url, title) for url, title in cited]
    body["output"] = [reasoning, *calls, message]
    body["tools"] = [{"type": "web_search", "filters": {"allowed_domains": ["example.org"]}}]
    return Response.model_validate(body).model_dump(mode="json", exclude_unset=True)
