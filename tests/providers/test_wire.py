"""Request bodies and response parsing for both wire formats (no HTTP)."""

from __future__ import annotations

import json

import pytest

from aiops.providers import chat_completions, responses
from aiops.providers.base import ProviderCallError
from aiops.providers.unwrap import unwrap
from tests.providers.helpers import make_request
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    chat_answer,
    failed_response,
    responses_answer,
    validate_request,
)


def test_responses_body_is_a_valid_request_with_strict_json_schema() -> None:
    body = responses.build_body(make_request("gpt-5.2-pro"))
    validate_request(RESPONSES_PATH, body)
    assert body["model"] == "gpt-5.2-pro"
    fmt = body["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["strict"] is True
    assert fmt["name"] == "l2_market_outlook_outputs"
    assert fmt["schema"]["required"] == ["outputs"]
    assert body["max_output_tokens"] == 1000
    # A background model (the default for -pro on Responses) must let the provider store
    # the response; the body says so, so the pack does too.
    assert body["store"] is True and body["background"] is True
    assert responses.build_body(make_request("gpt-5.2"))["store"] is False
    assert "temperature" not in body and "top_p" not in body  # reasoning model


def test_strict_schema_closes_every_object_and_requires_every_property() -> None:
    schema = responses.build_body(make_request())["text"]["format"]["schema"]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node["additionalProperties"] is False
                assert sorted(node["required"]) == sorted(node["properties"])
            assert "default" not in node
            # String length limits are refused by strict mode (Pydantic checks them).
            assert "minLength" not in node and "maxLength" not in node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    names = {
        ref["$ref"].rsplit("/", 1)[-1] for ref in schema["properties"]["outputs"]["items"]["anyOf"]
    }
    assert names == {
        "ScenarioReport",
        "RegimeClassification",
        "NoTradeTriggers",
        "RiskContext",
        "MacroOutlook",
        "UncertaintyAssessment",
    }


def test_chat_body_for_a_json_object_server_uses_max_tokens_and_schema_in_prompt() -> None:
    body = chat_completions.build_body(make_request("deepseek-r1", role="critic"))
    validate_request(CHAT_PATH, body)
    assert body["response_format"] == {"type": "json_object"}
    assert body["max_tokens"] == 1000 and "max_completion_tokens" not in body
    system = body["messages"][0]
    assert system["role"] == "system" and "JSON Schema" in system["content"]
    assert '"decision"' in system["content"]
    assert "temperature" not in body


def test_chat_body_on_openai_with_json_schema_uses_max_completion_tokens() -> None:
    request = make_request(
        "gpt-5.2",
        model_changes={"endpoint": "chat_completions", "structured_output": "json_schema"},
    )
    body = chat_completions.build_body(request)
    validate_request(CHAT_PATH, body)
    assert body["max_completion_tokens"] == 1000 and "max_tokens" not in body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True


def test_responses_parse_skips_reasoning_items_and_reads_usage() -> None:
    parsed = responses.parse(responses_answer('{"outputs": []}', reasoning_summary="thinking"))
    assert parsed.outcome == "completed"
    assert parsed.text == '{"outputs": []}'
    assert parsed.reasoning_text == "thinking"
    assert (
        parsed.usage.input_tokens,
        parsed.usage.output_tokens,
        parsed.usage.reasoning_tokens,
    ) == (
        2817,
        1954,
        896,
    )


def test_responses_refusal_part_is_a_refusal() -> None:
    parsed = responses.parse(responses_answer(None, refusal="I can't help with that."))
    assert parsed.outcome == "refused"
    assert parsed.refusal == "I can't help with that."
    assert parsed.text == ""


@pytest.mark.parametrize("reason", ["max_output_tokens", "content_filter"])
def test_responses_incomplete_status_keeps_the_reason(reason: str) -> None:
    body = responses_answer('{"outputs": [', status="incomplete", incomplete_reason=reason)
    parsed = responses.parse(body)
    assert (parsed.outcome, parsed.incomplete_reason) == ("incomplete", reason)


def test_responses_with_only_reasoning_is_incomplete() -> None:
    parsed = responses.parse(responses_answer(None, reasoning_summary="ran out"))
    assert (parsed.outcome, parsed.incomplete_reason) == ("incomplete", "empty_output")


def test_responses_failed_status_is_a_retryable_call_error() -> None:
    with pytest.raises(ProviderCallError) as caught:
        responses.parse(failed_response("server_error", "The model failed to generate."))
    assert caught.value.error_class == "response_failed"
    assert caught.value.retryable and caught.value.fallback_ok
    assert "server_error" in str(caught.value)


def test_responses_failed_on_an_invalid_prompt_is_not_retried() -> None:
    with pytest.raises(ProviderCallError) as caught:
        responses.parse(failed_response("invalid_prompt", "Context length exceeded."))
    assert caught.value.error_class == "response_failed"
    assert not caught.value.retryable and caught.value.fallback_ok
    assert "invalid_prompt" in str(caught.value)


def test_responses_without_output_is_malformed() -> None:
    with pytest.raises(ProviderCallError) as caught:
        responses.parse({"id": "resp_1", "status": "completed"})
    assert caught.value.error_class == "malformed_response"


def test_chat_parse_reads_reasoning_content_and_usage() -> None:
    parsed = chat_completions.parse(chat_answer('{"a": 1}', reasoning_content="hmm"))
    assert (parsed.outcome, parsed.text, parsed.reasoning_text) == ("completed", '{"a": 1}', "hmm")
    assert parsed.usage.reasoning_tokens == 402
    assert parsed.usage.input_tokens == 5342


def test_chat_parse_accepts_reasoning_field_of_other_servers() -> None:
    body = chat_answer('{"a": 1}')
    body["choices"][0]["message"]["reasoning"] = "vllm-style"
    assert chat_completions.parse(body).reasoning_text == "vllm-style"


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        ("length", "max_output_tokens"),
        ("content_filter", "content_filter"),
    ],
)
def test_chat_finish_reasons_mean_incomplete(finish: str, reason: str) -> None:
    parsed = chat_completions.parse(chat_answer('{"a":', finish_reason=finish))
    assert (parsed.outcome, parsed.incomplete_reason) == ("incomplete", reason)


def test_chat_cut_short_by_deepseek_server_resources_is_incomplete() -> None:
    # A DeepSeek-only finish_reason (not in OpenAI's types, so set after building).
    body = chat_answer('{"a":')
    body["choices"][0]["finish_reason"] = "insufficient_system_resource"
    parsed = chat_completions.parse(body)
    assert (parsed.outcome, parsed.incomplete_reason) == (
        "incomplete",
        "insufficient_system_resource",
    )


def test_chat_refusal() -> None:
    parsed = chat_completions.parse(chat_answer(None, refusal="No."))
    assert (parsed.outcome, parsed.refusal) == ("refused", "No.")


def test_chat_without_choices_is_malformed() -> None:
    with pytest.raises(ProviderCallError) as caught:
        chat_completions.parse({"id": "x", "choices": []})
    assert caught.value.error_class == "malformed_response"


def test_bodies_are_stable_json() -> None:
    request = make_request()
    first = json.dumps(responses.build_body(request), sort_keys=True)
    assert first == json.dumps(responses.build_body(request), sort_keys=True)


# --- Real servers' wrapping of the answer, and their account of the served model ---------


@pytest.mark.parametrize(
    ("content", "answer", "think", "applied"),
    [
        ('<think>\nhmm\n</think>\n\n{"a": 1}', '{"a": 1}', "hmm", ("think_block",)),
        ('```json\n{"a": 1}\n```', '{"a": 1}', None, ("code_fence",)),
        ('\n```\n{"a": 1}\n```\n', '{"a": 1}', None, ("code_fence",)),
        (
            '<think>x</think>\n```json\n{"a": 1}\n```',
            '{"a": 1}',
            "x",
            ("think_block", "code_fence"),
        ),
        ("<think>x</think>\n", "", "x", ("think_block",)),
    ],
)
def test_unwrap_takes_exactly_the_two_known_forms(
    content: str, answer: str, think: str | None, applied: tuple[str, ...]
) -> None:
    assert unwrap(content) == (answer, think, applied)


@pytest.mark.parametrize(
    "content",
    [
        '{"a": 1}',
        '```json\n{"a": 1}\n```\n```json\n{"a": 2}\n```',  # two fences
        'Here:\n```json\n{"a": 1}\n```',  # text before the fence
        '```json\n{"a": 1}\n```\nDone.',  # text after it
        ' <think>x</think>{"a": 1}',  # not at the very start
        '```python\n{"a": 1}\n```',
        '```json {"a": 1}```',  # not a fenced block
    ],
)
def test_unwrap_leaves_anything_else_as_it_is(content: str) -> None:
    assert unwrap(content) == (None, None, ())


def test_chat_parse_keeps_the_raw_text_and_the_think_block_as_reasoning() -> None:
    content = '<think>plan</think>\n```json\n{"a": 1}\n```'
    parsed = chat_completions.parse(chat_answer(content, reasoning_content="separate"))
    assert parsed.text == content and parsed.answer_text == '{"a": 1}'
    assert parsed.normalisations == ("think_block", "code_fence")
    assert parsed.reasoning_text == "separate\n\nplan"
    assert parsed.outcome == "completed"


def test_chat_parse_think_block_alone_is_an_empty_answer() -> None:
    parsed = chat_completions.parse(chat_answer("<think>only thinking</think>"))
    assert (parsed.outcome, parsed.incomplete_reason) == ("incomplete", "empty_output")
    assert parsed.reasoning_text == "only thinking"


def test_served_model_is_read_from_both_wire_formats() -> None:
    body = chat_answer('{"a": 1}', model="deepseek-r1:671b")
    body["system_fingerprint"] = "fp_3a5770e1b4"
    body["service_tier"] = "default"
    served = chat_completions.parse(body).served
    assert (served.model, served.system_fingerprint, served.service_tier) == (
        "deepseek-r1:671b",
        "fp_3a5770e1b4",
        "default",
    )
    answer = responses_answer('{"a": 1}', model="gpt-5.2-pro-2025-12-11")
    served = responses.parse(answer).served
    assert (served.model, served.system_fingerprint) == ("gpt-5.2-pro-2025-12-11", None)
    assert chat_completions.parse({**chat_answer("{}"), "model": 7}).served.model is None
