"""The critic's verdict fails closed."""

from __future__ import annotations

import json

from aiops.governance.critic import judge_critic
from tests.support import sample

HASH = "sha256:" + "ab" * 32


def test_approve_citing_the_hash_is_approved() -> None:
    judgement = judge_critic(json.dumps(sample.critic_verdict(HASH)), HASH)
    assert judgement.approved and judgement.decision == "APPROVE" and judgement.problem is None


def test_reject_is_parsed_but_not_approved() -> None:
    judgement = judge_critic(json.dumps(sample.critic_verdict(HASH, "REJECT")), HASH)
    assert judgement.decision == "REJECT" and not judgement.approved


def test_unparseable_text_fails_closed() -> None:
    judgement = judge_critic("Looks good to me! APPROVE", HASH)
    assert judgement.decision is None and not judgement.approved
    assert "not JSON" in (judgement.problem or "")


def test_unknown_decision_fails_closed() -> None:
    verdict = sample.critic_verdict(HASH)
    verdict["decision"] = "LGTM"
    judgement = judge_critic(json.dumps(verdict), HASH)
    assert judgement.decision is None and "'LGTM' is not one of" in (judgement.problem or "")


def test_extra_field_fails_closed() -> None:
    verdict = sample.critic_verdict(HASH)
    verdict["confidence"] = 0.9
    assert judge_critic(json.dumps(verdict), HASH).problem


def test_not_citing_the_proposer_hash_fails_closed() -> None:
    verdict = sample.critic_verdict("sha256:" + "cd" * 32)
    judgement = judge_critic(json.dumps(verdict), HASH)
    assert judgement.decision == "APPROVE" and not judgement.approved
    assert HASH in (judgement.problem or "")


def test_a_duplicate_decision_key_fails_closed() -> None:
    # Python keeps the last key, other readers the first: the verdict must not depend
    # on which parser reads it.
    verdict = json.dumps(sample.critic_verdict(HASH, "REJECT"))
    text = verdict[:-1] + ', "decision": "APPROVE"}'
    judgement = judge_critic(text, HASH)
    assert judgement.decision is None and not judgement.approved
    assert "duplicate key 'decision'" in (judgement.problem or "")


def test_nan_in_the_verdict_fails_closed() -> None:
    text = json.dumps(sample.critic_verdict(HASH))[:-1] + ', "score": NaN}'
    judgement = judge_critic(text, HASH)
    assert judgement.parsed is None and "not JSON" in (judgement.problem or "")
