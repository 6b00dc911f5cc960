"""Schema of ``web_sources.json`` (``aiops schema web-sources``): what the proposer
searched, opened and cited on the web, and each URL against the allow-list. The
derived parts are re-derived from ``raw`` by verify-pack
(``aiops.evidence.web_sources``); ``raw`` keeps the provider's items as received, so
their inner shape is the provider's, not ours."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from aiops.schemas.base import Strict


class RawWebItems(Strict):
    web_search_calls: list[dict[str, Any]] = Field(
        description="Every web_search_call output item, as the provider sent it."
    )
    annotations: list[list[dict[str, Any]]] = Field(
        description="The annotations of each output_text part of the answer, in order."
    )


class WebSearch(Strict):
    id: str
    status: str
    action: str = Field(description="search, open_page or find_in_page (as sent).")
    queries: list[str]
    url: str | None = Field(description="The page opened or searched (open_page, find_in_page).")
    pattern: str | None
    sources: list[str] = Field(description="URLs the search returned (search).")


class UrlCitation(Strict):
    url: str
    title: str
    start_index: int
    end_index: int


class SourceUrl(Strict):
    url: str
    host: str | None = Field(description="Normalised host; null when the URL has none to trust.")
    allowed: bool
    consulted: bool
    cited: bool


class WebSources(Strict):
    format: Literal["aiops-web-sources"]
    version: Literal[1]
    scope_domains: list[str] = Field(description="The scope's allowed_domains, as written.")
    allowed_domains: list[str] = Field(description="The request's domain filter (API form).")
    max_tool_calls: int = Field(ge=1, description="The request's cap on tool calls.")
    raw: RawWebItems
    searches: list[WebSearch]
    citations: list[UrlCitation]
    urls: list[SourceUrl]
    search_calls: int = Field(ge=0, description="web_search_call items (each is billed).")
    outside: int = Field(ge=0, description="URLs outside the allow-list (each a violation).")
