"""Long calls against the loopback server: streamed and background answers, streams cut
mid-way, a call far longer than a proxy's idle limit, and the progress it reports."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr

from aiops.providers.base import CallProgress, ProviderCallError
from aiops.providers.longcall import call_fields, sse_events
from aiops.providers.openai_compatible import Endpoint, OpenAICompatibleClient
from aiops.providers.retry import RetryingClient
from aiops.schemas.registry import EndpointKind, FallbackPolicy
from tests.providers.helpers import make_request
from tests.providers.test_openai_compatible import client_for, fake_key
from tests.support.idle_relay import IdleDroppingRelay
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    LoopbackServer,
    Reply,
    background_reply,
    chat_answer,
    chat_stream_chunks,
    responses_answer,
    responses_stream_events,
    sse,
)

ANSWER = '{"outputs": [{"kind": "note", "text": "calm"}]}'
STREAM = {"call_mode": "stream"}
FAST = FallbackPolicy(poll_interval_seconds=0.05)


def stream_of(events: list[dict[str, Any]], gap: float = 0.0, cut: bool = False) -> Reply:
    return Reply(events=[(gap, sse(e)) for e in events], cut=cut)


def test_a_streamed_response_gives_the_same_exchange_as_a_blocking_one(
    loopback: LoopbackServer,
) -> None:
    final = responses_answer(ANSWER, reasoning_summary="weighed it")
    loopback.script(RESPONSES_PATH, Reply(body=final))
    with client_for(loopback, fake_key()) as client:
        blocking = client.complete(make_request(model_changes={"call_mode": "blocking"}))
    loopback.reset()
    loopback.script(RESPONSES_PATH, stream_of(responses_stream_events(final, ["{", ANSWER[1:]])))
    with client_for(loopback, fake_key()) as client:
        streamed = client.complete(make_request(model_changes=STREAM))
    (captured,) = loopback.requests
    assert captured.body["stream"] is True and captured.headers["Accept"] == "text/event-stream"
    # The recorded (and hashed) body is the body sent: the call mode is evidence too.
    assert streamed.request_body == captured.body == {**blocking.request_body, "stream": True}
    assert streamed.response_body == blocking.response_body == final
    assert (streamed.text, streamed.reasoning_text, streamed.usage) == (
        blocking.text,
        blocking.reasoning_text,
        blocking.usage,
    )


def test_a_streamed_chat_answer_is_put_back_together_with_its_usage(
    loopback: LoopbackServer,
) -> None:
    answer = chat_answer(ANSWER, reasoning_content="thinking it through")
    chunks = [sse(c) for c in chat_stream_chunks(answer)] + [sse("[DONE]")]
    loopback.script(CHAT_PATH, Reply(events=[(0.0, c) for c in chunks]))
    with client_for(loopback, fake_key()) as client:
        exchange = client.complete(make_request("deepseek-r1", "critic", model_changes=STREAM))
    sent = loopback.requests[0].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert exchange.text == ANSWER and exchange.reasoning_text == "thinking it through"
    assert exchange.usage.input_tokens == 5342 and exchange.usage.output_tokens == 611
    assert exchange.served.model == "deepseek-r1"
    assert exchange.outcome == "completed"


@pytest.mark.parametrize("ending", ["dropped", "no terminal event"])
def test_a_responses_stream_cut_mid_way_is_never_a_half_answer(
    loopback: LoopbackServer, ending: str
) -> None:
    events = responses_stream_events(responses_answer(ANSWER), ["{", ANSWER[1:]])[:-1]
    loopback.script(RESPONSES_PATH, stream_of(events, cut=ending == "dropped"))
    with client_for(loopback, fake_key()) as client, pytest.raises(ProviderCallError) as caught:
        client.complete(make_request(model_changes=STREAM))
    assert caught.value.error_class == "stream_cut" and caught.value.retryable
    assert "nothing of it is used" in str(caught.value)


def test_a_chat_stream_without_done_fails_and_a_retry_gets_the_whole_answer(
    loopback: LoopbackServer,
) -> None:
    chunks = [sse(c) for c in chat_stream_chunks(chat_answer(ANSWER))]
    loopback.script(
        CHAT_PATH,
        Reply(events=[(0.0, c) for c in chunks[:3]], cut=True),
        Reply(events=[(0.0, c) for c in [*chunks, sse("[DONE]")]]),
    )
    policy = FallbackPolicy(backoff_initial_seconds=0, jitter_seconds=0)
    with client_for(loopback, fake_key(), policy) as client:
        exchange = RetryingClient(client, policy).complete(
            make_request("deepseek-r1", "critic", model_changes=STREAM)
        )
    assert exchange.text == ANSWER
    assert [a.error_class for a in exchange.attempts] == ["stream_cut", None]


def test_a_stream_error_event_fails_the_attempt(loopback: LoopbackServer) -> None:
    error = {"type": "error", "code": "server_error", "message": "overloaded", "param": None}
    created = responses_stream_events(responses_answer(ANSWER), [])[0]
    loopback.script(RESPONSES_PATH, stream_of([created, {**error, "sequence_number": 1}]))
    with client_for(loopback, fake_key()) as client, pytest.raises(ProviderCallError) as caught:
        client.complete(make_request(model_changes=STREAM))
    assert caught.value.error_class == "stream_error" and caught.value.retryable
    assert "overloaded" in str(caught.value)


def polls(final: dict[str, Any], pending: int) -> list[Reply]:
    """``pending`` answers still in progress, then ``final``."""
    waiting = background_reply(final, "in_progress")
    return [Reply(body=waiting)] * pending + [Reply(body=final)]


def test_a_background_response_is_polled_until_it_completes(loopback: LoopbackServer) -> None:
    final = responses_answer(ANSWER)
    loopback.script(RESPONSES_PATH, Reply(body=background_reply(final)))
    loopback.script(f"{RESPONSES_PATH}/{final['id']}", *polls(final, 3))
    seen: list[CallProgress] = []
    with client_for(loopback, fake_key(), FAST) as client:
        client._progress = seen.append
        exchange = client.complete(make_request())  # gpt-5.2-pro: background by default
    first, *gets = loopback.requests
    assert first.body["background"] is True and first.body["store"] is True
    assert [g.method for g in gets] == ["GET"] * 4
    assert exchange.response_body == final and exchange.text == ANSWER
    assert exchange.request_body == first.body  # recorded as sent: store true, in the pack
    assert [e.phase for e in seen][0] == "started" and seen[-1].phase == "finished"
    assert {e.status for e in seen if e.phase == "waiting"} == {"queued", "in_progress"}
    assert seen[-1].result is not None and seen[-1].result.error_class is None


def test_a_background_response_that_never_finishes_is_cancelled(
    loopback: LoopbackServer,
) -> None:
    final = responses_answer(ANSWER)
    loopback.script(RESPONSES_PATH, Reply(body=background_reply(final)))
    loopback.script(f"{RESPONSES_PATH}/{final['id']}", *polls(final, 1000))
    loopback.script(f"{RESPONSES_PATH}/{final['id']}/cancel", Reply(body=final))
    # Long enough that the create request itself never times out on a loaded machine:
    # the deadline must fall while polling, so there is a response to cancel.
    policy = FallbackPolicy(poll_interval_seconds=0.05, request_timeout_seconds=1.5)
    with (
        client_for(loopback, fake_key(), policy) as client,
        pytest.raises(ProviderCallError) as caught,
    ):
        client.complete(make_request())
    assert caught.value.error_class == "timeout"
    assert loopback.requests[-1].path == f"{RESPONSES_PATH}/{final['id']}/cancel"
    assert loopback.requests[-1].method == "POST"


def client_at(base_url: str, policy: FallbackPolicy) -> OpenAICompatibleClient:
    endpoint = Endpoint("openai", base_url, SecretStr(fake_key()), "OPENAI_API_KEY")
    return OpenAICompatibleClient({"openai": endpoint}, policy)


def keepalive_stream(final: dict[str, Any], seconds: float, every: float) -> Reply:
    """A stream that says nothing but ``: keep-alive`` comments for ``seconds``."""
    events = responses_stream_events(final, [ANSWER])
    beats = [(every, ": keep-alive\n\n")] * int(seconds / every)
    return Reply(events=[(0.0, sse(events[0])), *beats, *[(0.0, sse(e)) for e in events[1:]]])


@pytest.mark.parametrize("mode", ["background", "stream", "blocking"])
def test_a_fifteen_minute_call_through_a_proxy_that_drops_idle_connections(
    loopback: LoopbackServer, mode: str
) -> None:
    """Time compressed: the relay drops connections idle for 1 s (a proxy's 60-120 s),
    the call takes 2 s (15 minutes). A blocking call is cut; a background call (a poll
    every 0.2 s) and a stream (keep-alive events every 0.2 s) complete. (With 0.5 s, a
    keep-alive delayed 0.3 s on a heavily loaded machine was taken for idleness.)"""
    final = responses_answer(ANSWER)
    if mode == "background":
        loopback.script(RESPONSES_PATH, Reply(body=background_reply(final)))
        loopback.script(f"{RESPONSES_PATH}/{final['id']}", *polls(final, 10))
    elif mode == "stream":
        loopback.script(RESPONSES_PATH, keepalive_stream(final, seconds=2.0, every=0.2))
    else:
        loopback.script(RESPONSES_PATH, Reply(body=final, delay_s=2.0))
    host, port = loopback.base_url.split("//")[1].split("/")[0].split(":")
    policy = FallbackPolicy(poll_interval_seconds=0.2)
    with (
        IdleDroppingRelay((host, int(port)), idle_s=1.0) as relay,
        client_at(relay.base_url(), policy) as client,
    ):
        request = make_request(model_changes={"call_mode": mode})
        if mode == "blocking":
            with pytest.raises(ProviderCallError) as caught:
                client.complete(request)
            assert caught.value.error_class == "connection" and relay.drops == 1
            return
        exchange = client.complete(request)
    assert exchange.text == ANSWER and exchange.response_body == final
    assert relay.drops == 0


def test_progress_counts_streamed_pieces_and_ends_with_the_attempt(
    loopback: LoopbackServer,
) -> None:
    final = responses_answer(ANSWER)
    loopback.script(RESPONSES_PATH, stream_of(responses_stream_events(final, list(ANSWER))))
    seen: list[CallProgress] = []
    with client_for(loopback, fake_key()) as client:
        client._progress = seen.append
        client.complete(make_request(model_changes=STREAM))
    tokens = [e.tokens for e in seen if e.phase == "waiting"]
    assert tokens[-1] == len(ANSWER) and tokens == sorted(tokens)
    assert [e.attempt_no for e in seen] == [1] * len(seen)
    assert seen[-1].result is not None and seen[-1].result.http_status == 200


def test_sse_reading_takes_multi_line_data_and_skips_comments() -> None:
    lines = [": keep-alive", "", "event: x", "data: {", 'data: "a": 1}', "", "data: 2", ""]
    assert list(sse_events(lines)) == ['{\n"a": 1}', "2"]


def test_call_fields_per_mode() -> None:
    assert call_fields(EndpointKind.RESPONSES, "blocking") == {}
    assert call_fields(EndpointKind.RESPONSES, "background") == {"background": True, "store": True}
    assert call_fields(EndpointKind.CHAT_COMPLETIONS, "stream") == {
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert json.dumps(call_fields(EndpointKind.RESPONSES, "stream")) == '{"stream": true}'


@pytest.mark.parametrize("ending", ["no [DONE]", "[DONE] without a finish_reason"])
def test_a_chat_stream_that_ends_early_is_never_a_half_answer(
    loopback: LoopbackServer, ending: str
) -> None:
    chunks = [sse(c) for c in chat_stream_chunks(chat_answer(ANSWER))]
    sent = chunks[:3] + ([sse("[DONE]")] if ending.startswith("[DONE]") else [])
    loopback.script(CHAT_PATH, Reply(events=[(0.0, c) for c in sent]))  # ended cleanly
    with client_for(loopback, fake_key()) as client, pytest.raises(ProviderCallError) as caught:
        client.complete(make_request("deepseek-r1", "critic", model_changes=STREAM))
    assert caught.value.error_class == "stream_cut" and caught.value.retryable
    assert ending in str(caught.value)


def test_a_server_that_ignores_stream_and_answers_json_is_read_as_blocking(
    loopback: LoopbackServer,
) -> None:
    loopback.script(CHAT_PATH, Reply(body=chat_answer(ANSWER)))
    with client_for(loopback, fake_key()) as client:
        exchange = client.complete(make_request("deepseek-r1", "critic", model_changes=STREAM))
    assert exchange.text == ANSWER and exchange.outcome == "completed"


def test_background_is_refused_on_chat_completions() -> None:
    with pytest.raises(ValueError, match="background exists only on the responses endpoint"):
        make_request("deepseek-r1", model_changes={}).model.model_validate(
            {**make_request("deepseek-r1").model.model_dump(), "call_mode": "background"}
        )


def test_default_call_modes_of_the_shipped_registry() -> None:
    modes = {m: make_request(m).model.effective_call_mode for m in ("gpt-5.2-pro", "o3-pro")}
    modes |= {m: make_request(m).model.effective_call_mode for m in ("o3-deep-research", "o3")}
    modes["deepseek-v4-pro"] = make_request("deepseek-v4-pro").model.effective_call_mode
    assert modes == {
        "gpt-5.2-pro": "background",
        "o3-pro": "background",
        "o3-deep-research": "background",
        "o3": "blocking",
        "deepseek-v4-pro": "blocking",  # chat completions: no background mode
    }


@pytest.mark.parametrize("response_id", ["../../files", "resp_1?x=1", "resp_1/cancel", "", 7])
def test_a_background_id_that_is_not_an_id_is_never_put_in_a_url(
    loopback: LoopbackServer, response_id: object
) -> None:
    pending = {**background_reply(responses_answer(ANSWER)), "id": response_id}
    loopback.script(RESPONSES_PATH, Reply(body=pending))
    with (
        client_for(loopback, fake_key(), FAST) as client,
        pytest.raises(ProviderCallError) as caught,
    ):
        client.complete(make_request())
    assert caught.value.error_class == "malformed_response"
    assert [r.path for r in loopback.requests] == [RESPONSES_PATH]
