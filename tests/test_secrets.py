"""No key ever leaves the process: every byte aiops writes or prints is scanned, in
success and in every error path, with obviously fake keys made at run time. The same
holds for a proxy's user and password."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.redact import REDACTION_MARKER
from tests.conftest import FakeKeys
from tests.support import sample
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    LoopbackServer,
    Reply,
    chat_answer,
    error_body,
    failed_response,
    responses_answer,
)
from tests.support.proxy import LoopbackProxy
from tests.support.scripts import cited_hash, critic_handler, happy_path, proposer_reply
from tests.support.tls import LoopbackPki

Script = Callable[[LoopbackServer, FakeKeys], None]


def echo_key(status: int) -> Script:
    def script(server: LoopbackServer, keys: FakeKeys) -> None:
        server.script(
            RESPONSES_PATH, Reply(status, error_body(f"Incorrect API key provided: {keys.openai}"))
        )

    return script


def critic_echo(server: LoopbackServer, keys: FakeKeys) -> None:
    server.script(RESPONSES_PATH, proposer_reply())
    server.script(CHAT_PATH, Reply(403, error_body(f"key {keys.deepseek} has no access")))


def leaky_outputs(server: LoopbackServer, keys: FakeKeys) -> None:
    outputs = sample.proposer_outputs()
    outputs["outputs"][3]["summary"] = "Bearer " + "abcdefgh" * 3  # a secret-like string
    server.script(RESPONSES_PATH, proposer_reply(outputs))
    server.script(CHAT_PATH, critic_handler())


def critic_garbage(server: LoopbackServer, keys: FakeKeys) -> None:
    server.script(RESPONSES_PATH, proposer_reply())
    server.script(CHAT_PATH, Reply(body=chat_answer("not json")))


SCENARIOS: dict[str, tuple[list[str], Script | None]] = {
    "live ok": (["live", "--allow-network", "--yes"], lambda s, k: happy_path(s)),
    "record ok": (
        ["record", "--allow-network", "--yes", "--fixture", "rec.json"],
        lambda s, k: happy_path(s),
    ),
    "rejected": (["live", "--allow-network", "--yes"], lambda s, k: happy_path(s, "REJECT")),
    "401 echo": (["live", "--allow-network", "--yes"], echo_key(401)),
    "500 echo record": (
        ["record", "--allow-network", "--yes", "--fixture", "rec.json"],
        echo_key(500),
    ),
    "critic 403 echo": (["live", "--allow-network", "--yes"], critic_echo),
    "scope violation": (["live", "--allow-network", "--yes"], leaky_outputs),
    "refusal": (
        ["live", "--allow-network", "--yes"],
        lambda s, k: s.script(RESPONSES_PATH, Reply(body=responses_answer(None, refusal="no"))),
    ),
    "critic garbage": (["live", "--allow-network", "--yes"], critic_garbage),
    "no terminal": (["live", "--allow-network"], None),
    "no opt-in": (["live"], None),
    "replay": (["replay"], None),
    "replay miss": (["replay", "--fixture", "missing.json"], None),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_no_key_in_any_output(
    name: str, runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    argv, script = SCENARIOS[name]
    if script is not None:
        script(loopback, network_env)
    result = runner.invoke(app, ["l2", *argv])
    assert result.exit_code in (0, 1, 2, 4), result.stderr
    written = [p for p in Path.cwd().rglob("*") if p.is_file()]
    blobs = [result.stdout.encode(), result.stderr.encode(), *(p.read_bytes() for p in written)]
    for key in network_env.all():
        for blob in blobs:
            assert key.encode() not in blob
            assert key[-12:].encode() not in blob  # no partial echo either
    assert all(b"authorization" not in blob.lower() for blob in blobs)
    if name.endswith("ok") or name in ("rejected", "scope violation", "critic garbage"):
        assert written, "a pack was expected"


def test_missing_key_message_names_the_variable_not_the_other_key(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    result = runner.invoke(app, ["l2", "live", "--allow-network", "--yes"])
    assert result.exit_code == 2
    assert "OPENAI_API_KEY is not set" in result.stderr
    assert network_env.deepseek not in result.stdout + result.stderr
    assert loopback.requests == []


# --- Proxy credentials: used on the wire to the proxy, written and printed nowhere --------


@pytest.mark.parametrize(
    ("name", "argv", "expected_exit"),
    [
        ("http proxy, live", ["live", "--allow-network", "--yes"], 0),
        (
            "http proxy, record",
            ["record", "--allow-network", "--yes", "--fixture", "rec.json"],
            0,
        ),
        ("CONNECT tunnel, live", ["live", "--allow-network", "--yes"], 0),
        ("wrong password", ["live", "--allow-network", "--yes"], 4),
        ("unparseable proxy URL", ["live", "--allow-network", "--yes"], 2),
    ],
)
def test_no_proxy_credential_in_any_output(
    name: str,
    argv: list[str],
    expected_exit: int,
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    loopback_pki: LoopbackPki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, password = "desk-" + secrets.token_hex(4), "proxy-pass-" + secrets.token_hex(8)
    proxy = LoopbackProxy(credentials=(user, password))
    server = loopback
    tls_server = None
    try:
        if name.startswith("CONNECT"):
            tls_server = server = LoopbackServer(tls=loopback_pki.server_context)
            monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
            monkeypatch.setenv("DEEPSEEK_BASE_URL", server.base_url)
            monkeypatch.setenv("SSL_CERT_FILE", str(loopback_pki.ca_file))
            monkeypatch.setenv("HTTPS_PROXY", proxy.url_with(user, password))
        elif name == "wrong password":
            monkeypatch.setenv("HTTP_PROXY", proxy.url_with(user, password + "x"))
        elif name == "unparseable proxy URL":
            monkeypatch.setenv("HTTP_PROXY", proxy.url_with(user, password) + "x")
        else:
            monkeypatch.setenv("HTTP_PROXY", proxy.url_with(user, password))
        happy_path(server)
        result = runner.invoke(app, ["l2", *argv])
    finally:
        proxy.close()
        if tls_server is not None:
            tls_server.close()
    assert result.exit_code == expected_exit, result.stderr
    token = base64.b64encode(f"{user}:{password}".encode())
    if expected_exit == 0:  # the credentials did reach the proxy, as Basic auth
        assert {h.proxy_authorization for h in proxy.hits} == {"Basic " + token.decode()}
        assert f"via proxy http://{proxy.address}" in result.stderr
    written = [p for p in Path.cwd().rglob("*") if p.is_file()]
    if expected_exit != 2:
        assert any(p.name == "run_manifest.json" for p in written)
    blobs = [result.stdout.encode(), result.stderr.encode(), *(p.read_bytes() for p in written)]
    for blob in blobs:
        for secret in (password.encode(), user.encode(), token):
            assert secret not in blob
        assert b"proxy-authorization" not in blob.lower()


# --- Canaries: every secret a run knows, in every form, on every path ---------------------
#
# Unique values made now for every provider key variable the registry names (plus one
# provider no layer uses), a proxy user and password (with characters that must be
# percent-encoded) and a query-string credential in an unused provider's base URL.
# None is shaped like a key, and none is long enough for the generic token pattern:
# only knowing them removes them. Every request goes through a credentialed loopback
# proxy to the loopback server; the server echoes the canaries back in every way.

GATEWAY = """
[providers.gateway]
description = "An OpenAI-compatible gateway no layer uses: its key is a secret all the same"
base_url = "https://gateway.example.test/v1"
base_url_env = "GATEWAY_BASE_URL"
api_key_env = "GATEWAY_API_KEY"
"""


@dataclass(frozen=True)
class Canaries:
    keys: dict[str, str]  # key variable -> value, every provider in the registry
    proxy_user: str
    proxy_password: str
    query_credential: str

    @property
    def basic(self) -> str:
        """What ``Proxy-Authorization: Basic`` carries."""
        return base64.b64encode(f"{self.proxy_user}:{self.proxy_password}".encode()).decode()

    @property
    def values(self) -> list[str]:
        return [*self.keys.values(), self.proxy_password, self.query_credential]

    def echo(self) -> str:
        """Everything a server or a model could echo, each on its own."""
        parts = [*self.values, quote(self.proxy_password, safe=""), "Basic " + self.basic]
        return "rejected: " + " | ".join(parts)

    def forms(self) -> dict[bytes, str]:
        """Every byte string that must appear nowhere -> what it is."""
        found: dict[bytes, str] = {}
        for value in [*self.values, self.proxy_user, f"{self.proxy_user}:{self.proxy_password}"]:
            raw = value.encode()
            found[raw] = value
            found[quote(value, safe="").encode()] = f"percent-encoded {value}"
            for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
                found[encoded] = found[encoded.rstrip(b"=")] = f"base64 of {value}"
        for key in self.keys.values():
            found[key[-12:].encode()] = f"the tail of {key}"
        return found


def _registry_key_variables(config_dir: Path) -> list[str]:
    with (config_dir / "model_registry.toml").open("rb") as handle:
        providers = tomllib.load(handle)["providers"]
    return sorted({provider["api_key_env"] for provider in providers.values()})


@pytest.fixture
def canaries(
    network_env: FakeKeys, fast_config: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Canaries, LoopbackProxy]]:
    with (fast_config / "model_registry.toml").open("a") as registry:
        registry.write(GATEWAY)
    keys = {name: "canary" + secrets.token_hex(12) for name in _registry_key_variables(fast_config)}
    assert {"OPENAI_API_KEY", "DEEPSEEK_API_KEY", "GATEWAY_API_KEY"} <= set(keys)
    made = Canaries(
        keys,
        proxy_user="desk" + secrets.token_hex(4),
        proxy_password=f"pw{secrets.token_hex(5)}/+=@{secrets.token_hex(5)}",
        query_credential="qc" + secrets.token_hex(12),
    )
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(
        "DEEPSEEK_PLATFORM_BASE_URL",
        f"https://platform.example.test/v1?api_key={made.query_credential}",
    )
    proxy = LoopbackProxy(credentials=(made.proxy_user, made.proxy_password))
    monkeypatch.setenv(
        "HTTP_PROXY", proxy.url_with(made.proxy_user, quote(made.proxy_password, safe=""))
    )
    try:
        yield made, proxy
    finally:
        proxy.close()
    assert not proxy.problems, proxy.problems


def leaks(made: Canaries, stdout: str, stderr: str) -> list[str]:
    """Every form of every canary found in stdout, stderr or any file under the
    working directory (packs, fixtures, audit and spend logs, checkpoints, keys)."""
    blobs = {"stdout": stdout.encode(), "stderr": stderr.encode()}
    for path in Path.cwd().rglob("*"):
        if path.is_file():
            blobs[str(path.relative_to(Path.cwd()))] = path.read_bytes()
    return [
        f"{what} in {where}"
        for where, blob in blobs.items()
        for form, what in made.forms().items()
        if form in blob
    ]


CanaryScript = Callable[[LoopbackServer, Canaries], None]


def _error_echo(status: int, path: str = RESPONSES_PATH, **extra: Any) -> CanaryScript:
    def script(server: LoopbackServer, made: Canaries) -> None:
        if path == CHAT_PATH:
            server.script(RESPONSES_PATH, proposer_reply())
        server.script(path, Reply(status, error_body(made.echo(), **extra)))

    return script


def _raw_echo(status: int) -> CanaryScript:
    def script(server: LoopbackServer, made: Canaries) -> None:
        server.script(RESPONSES_PATH, Reply(status, raw=made.echo().encode()))

    return script


def _json_echo(server: LoopbackServer, made: Canaries) -> None:
    """A JSON object that is no Responses answer, full of canaries."""
    server.script(RESPONSES_PATH, Reply(body={"output": made.echo(), "status": made.echo()}))


def _proposer_says(which: Callable[[Canaries], str]) -> CanaryScript:
    def script(server: LoopbackServer, made: Canaries) -> None:
        outputs = sample.proposer_outputs()
        outputs["outputs"][3]["summary"] = f"As configured: {which(made)}."
        server.script(RESPONSES_PATH, proposer_reply(outputs))
        server.script(CHAT_PATH, critic_handler())

    return script


def _proposer_reasoning(server: LoopbackServer, made: Canaries) -> None:
    server.script(
        RESPONSES_PATH,
        Reply(body=responses_answer(sample.proposer_text(), reasoning_summary=made.echo())),
    )
    server.script(CHAT_PATH, critic_handler())


def _critic_says(server: LoopbackServer, made: Canaries) -> None:
    server.script(RESPONSES_PATH, proposer_reply())
    server.script(
        CHAT_PATH,
        critic_handler(mutate=lambda verdict: {**verdict, "rationale": made.echo()}),
    )


def _critic_garbage(server: LoopbackServer, made: Canaries) -> None:
    server.script(RESPONSES_PATH, proposer_reply())
    server.script(CHAT_PATH, Reply(body=chat_answer(made.echo())))


def _failed_echo(server: LoopbackServer, made: Canaries) -> None:
    """A Responses answer with status failed whose error message echoes everything."""
    server.script(RESPONSES_PATH, Reply(body=failed_response(message=made.echo())))


def _refusal_echo(server: LoopbackServer, made: Canaries) -> None:
    server.script(RESPONSES_PATH, Reply(body=responses_answer(None, refusal=made.echo())))


def _incomplete_echo(server: LoopbackServer, made: Canaries) -> None:
    answer = responses_answer(
        '{"outputs": [' + json.dumps(made.echo()),
        status="incomplete",
        incomplete_reason="max_output_tokens",
    )
    server.script(RESPONSES_PATH, Reply(body=answer))


LIVE = ["live", "--allow-network", "--yes"]
RECORD = ["record", "--allow-network", "--yes", "--fixture", "rec.json"]
IN_ANSWERS: dict[str, Callable[[Canaries], str]] = {
    "OPENAI_API_KEY": lambda m: m.keys["OPENAI_API_KEY"],
    "DEEPSEEK_API_KEY": lambda m: m.keys["DEEPSEEK_API_KEY"],
    "GATEWAY_API_KEY": lambda m: m.keys["GATEWAY_API_KEY"],
    "proxy password": lambda m: m.proxy_password,
    "proxy password, percent-encoded": lambda m: quote(m.proxy_password, safe=""),
    "proxy Basic token": lambda m: m.basic,
    "query credential": lambda m: m.query_credential,
}
CANARY_PATHS: dict[str, tuple[list[str], CanaryScript, int]] = {
    "live ok": (LIVE, lambda s, m: happy_path(s), 0),
    "record ok": (RECORD, lambda s, m: happy_path(s), 0),
    "rejected": (LIVE, lambda s, m: happy_path(s, "REJECT"), 1),
    **{f"HTTP {code} echo": (LIVE, _error_echo(code), 4) for code in (401, 403, 407, 429, 500)},
    "HTTP 503 echo, record": (RECORD, _error_echo(503), 4),
    "HTTP 429 quota echo": (LIVE, _error_echo(429, code="insufficient_quota"), 4),
    "critic HTTP 403 echo": (LIVE, _error_echo(403, CHAT_PATH), 4),
    "critic HTTP 500 echo, record": (RECORD, _error_echo(500, CHAT_PATH), 4),
    "malformed 200 body": (LIVE, _raw_echo(200), 4),
    "malformed 502 body": (LIVE, _raw_echo(502), 4),
    "JSON that is no answer": (LIVE, _json_echo, 4),
    **{f"proposer answer: {n}": (LIVE, _proposer_says(f), 2) for n, f in IN_ANSWERS.items()},
    "proposer answer, record": (RECORD, _proposer_says(Canaries.echo), 2),
    "proposer reasoning": (LIVE, _proposer_reasoning, 2),
    "critic answer": (LIVE, _critic_says, 2),
    "critic answer, record": (RECORD, _critic_says, 2),
    "critic garbage": (LIVE, _critic_garbage, 2),
    "status failed echo": (LIVE, _failed_echo, 4),
    "refusal echo": (LIVE, _refusal_echo, 2),
    "incomplete answer echo": (LIVE, _incomplete_echo, 2),
}


@pytest.mark.parametrize("name", list(CANARY_PATHS))
def test_no_canary_on_any_path(
    name: str,
    runner: CliRunner,
    loopback: LoopbackServer,
    canaries: tuple[Canaries, LoopbackProxy],
) -> None:
    made, proxy = canaries
    argv, script, expected = CANARY_PATHS[name]
    script(loopback, made)
    result = runner.invoke(app, ["l2", *argv])
    assert result.exit_code == expected, result.stderr
    assert proxy.hits and all(hit.answered == 200 for hit in proxy.hits)  # all went through it
    assert any(p.name == "proposer_output.json" for p in Path.cwd().rglob("*"))
    assert leaks(made, result.stdout, result.stderr) == []
    if argv is RECORD:
        assert Path("rec.json").is_file()
    # What crossed the wire: each provider got its own key, as a header, and nothing else.
    for request in loopback.requests:
        body = json.dumps(request.body).encode()
        assert not [form for form in made.forms() if form in body], request.path
    if expected == 2 and "garbage" not in name:  # a secret in an answer: BLOCKED
        (scope,) = Path("evidence_packs").glob("*/capability_scope_check.json")
        rules = {v["rule"] for v in json.loads(scope.read_text())["violations"]}
        assert "no_secrets_in_output" in rules
        assert "BLOCKED" in result.stdout


def test_a_secret_in_an_answer_is_stored_redacted_and_the_hash_still_cites_it(
    runner: CliRunner, loopback: LoopbackServer, canaries: tuple[Canaries, LoopbackProxy]
) -> None:
    made, _ = canaries
    _proposer_says(lambda m: f"{m.keys['GATEWAY_API_KEY']} and {m.proxy_password}")(loopback, made)
    result = runner.invoke(app, ["l2", *LIVE])
    assert result.exit_code == 2, result.stderr
    (pack,) = Path("evidence_packs").iterdir()
    proposer = json.loads((pack / "proposer_output.json").read_text())
    stored = proposer["output_text"]
    assert stored.count(REDACTION_MARKER) == 2
    assert proposer["redaction"] == {
        "count": 2,
        "kinds": ["provider_key", "proxy_password"],
        "stored_text_sha256": "sha256:" + hashlib.sha256(stored.encode()).hexdigest(),
    }
    assert REDACTION_MARKER in proposer["parsed"]["outputs"][3]["summary"]
    # output_hash is over the text as received: the hash the critic was given to cite.
    assert proposer["output_hash"] == cited_hash(loopback.requests[-1])
    assert proposer["output_hash"] != proposer["redaction"]["stored_text_sha256"]
    # ...and the critic was shown the stored text, not the secret.
    assert REDACTION_MARKER in json.dumps(loopback.requests[-1].body)
    critic = json.loads((pack / "critic_output.json").read_text())
    assert critic["redaction"] is None
    scope = json.loads((pack / "capability_scope_check.json").read_text())
    assert scope["result"] == "FAIL"
    assert {v["rule"] for v in scope["violations"]} >= {"no_secrets_in_output"}
    assert json.loads((pack / "evidence_pack.json").read_text())["status"] == "BLOCKED"
    verified = runner.invoke(app, ["verify-pack", str(pack)])
    assert verified.exit_code == 0, verified.stdout + verified.stderr


def test_a_redacted_fixture_is_not_replayed(
    runner: CliRunner, loopback: LoopbackServer, canaries: tuple[Canaries, LoopbackProxy]
) -> None:
    made, _ = canaries
    _critic_says(loopback, made)
    recorded = runner.invoke(app, ["l2", *RECORD])
    assert recorded.exit_code == 2, recorded.stderr
    assert REDACTION_MARKER.encode() in Path("rec.json").read_bytes()
    replayed = runner.invoke(app, ["l2", "replay", "--fixture", "rec.json"])
    assert replayed.exit_code == 2
    assert replayed.stderr.startswith("aiops: error: replay fixture rec.json holds model answers")
    assert "redacted" in replayed.stderr and len(replayed.stderr.splitlines()) == 1
    assert leaks(made, recorded.stdout + replayed.stdout, recorded.stderr + replayed.stderr) == []


def test_review_keys_and_checkpoint_write_no_canary(
    runner: CliRunner, loopback: LoopbackServer, canaries: tuple[Canaries, LoopbackProxy]
) -> None:
    made, _ = canaries
    _proposer_says(lambda m: m.keys["OPENAI_API_KEY"])(loopback, made)
    outputs = [runner.invoke(app, ["l2", *LIVE])]
    (pack,) = Path("evidence_packs").iterdir()
    outputs.append(runner.invoke(app, ["keys", "generate", "--out-dir", "keys"]))
    review = ["review", str(pack), "--reject", "--notes", "a key leaked", "--reviewer", "ops"]
    outputs.append(runner.invoke(app, review))
    outputs.append(runner.invoke(app, ["pilot", "report", "evidence_packs"]))  # KPIs not met
    outputs.append(
        runner.invoke(app, ["verify-pack", "evidence_packs", "--write-checkpoint", "cp.json"])
    )
    outputs.append(runner.invoke(app, ["verify-pack", str(pack), "--json"]))
    outputs.append(runner.invoke(app, ["pilot", "drift", str(pack), str(pack)]))
    codes = [r.exit_code for r in outputs]
    assert codes[:6] == [2, 0, 0, 1, 0, 0], [r.stderr for r in outputs]
    assert Path("cp.json").is_file() and (pack / "review.json").is_file()
    stdout = "".join(r.stdout for r in outputs)
    stderr = "".join(r.stderr for r in outputs)
    assert leaks(made, stdout, stderr) == []


@pytest.mark.parametrize(
    "url",
    [
        "{base}?api_key={secret}",
        "{base}/?token={secret}&x=1",
        "{base}#{secret}",
        "http://ops:{secret}@{host}/v1",
        "http://{secret}@{host}/v1",
    ],
)
def test_a_base_url_that_could_carry_a_credential_is_refused_unechoed(
    url: str,
    runner: CliRunner,
    loopback: LoopbackServer,
    canaries: tuple[Canaries, LoopbackProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made, proxy = canaries
    host = loopback.base_url.split("://", 1)[1].split("/", 1)[0]
    secret = "qs" + secrets.token_hex(12)
    monkeypatch.setenv(
        "OPENAI_BASE_URL", url.format(base=loopback.base_url, host=host, secret=secret)
    )
    happy_path(loopback)
    result = runner.invoke(app, ["l2", *LIVE])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("aiops: error: OPENAI_BASE_URL ")
    assert len(result.stderr.splitlines()) == 1
    assert "nothing was sent" in result.stderr
    assert loopback.requests == [] and proxy.hits == []
    assert secret not in result.stderr and leaks(made, result.stdout, result.stderr) == []
    assert not list(Path.cwd().rglob("evidence_pack.json"))


def test_an_input_holding_a_known_secret_is_refused_before_anything_is_sent(
    runner: CliRunner, loopback: LoopbackServer, canaries: tuple[Canaries, LoopbackProxy]
) -> None:
    made, proxy = canaries
    snapshot = Path("data/market_snapshots/today.json")
    snapshot.parent.mkdir(parents=True)
    snapshot.write_text(json.dumps({"note": f"key for later: {made.proxy_password}"}))
    happy_path(loopback)
    result = runner.invoke(app, ["l2", *LIVE, "--input", str(snapshot)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"aiops: error: input {snapshot} holds a secret this run knows (proxy_password): "
        "it would be sent to the model and recorded; nothing was sent\n"
    )
    assert loopback.requests == [] and proxy.hits == []
    snapshot.unlink()
    assert leaks(made, result.stdout, result.stderr) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [("HTTP 500 echo", 4), ("critic HTTP 403 echo", 4), ("critic answer", 2), ("live ok", 0)],
)
def test_no_canary_through_a_connect_tunnel(
    name: str,
    expected: int,
    runner: CliRunner,
    canaries: tuple[Canaries, LoopbackProxy],
    loopback_pki: LoopbackPki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTPS through the proxy: the credentials go in CONNECT, the echoes come back
    through TLS end to end."""
    made, proxy = canaries
    with LoopbackServer(tls=loopback_pki.server_context) as server:
        for variable in ("OPENAI_BASE_URL", "DEEPSEEK_BASE_URL"):
            monkeypatch.setenv(variable, server.base_url)
        monkeypatch.setenv("SSL_CERT_FILE", str(loopback_pki.ca_file))
        monkeypatch.delenv("HTTP_PROXY")
        monkeypatch.setenv(
            "HTTPS_PROXY", proxy.url_with(made.proxy_user, quote(made.proxy_password, safe=""))
        )
        argv, script, _ = CANARY_PATHS[name]
        script(server, made)
        result = runner.invoke(app, ["l2", *argv])
    assert result.exit_code == expected, result.stderr
    assert proxy.hits and {hit.method for hit in proxy.hits} == {"CONNECT"}
    assert {hit.proxy_authorization for hit in proxy.hits} == {"Basic " + made.basic}
    assert leaks(made, result.stdout, result.stderr) == []


# --- Keys from an env file or a secrets directory: the same canaries, the same scan -------

FILE_SOURCE_PATHS = [
    "live ok",
    "record ok",
    "HTTP 401 echo",
    "critic HTTP 403 echo",
    "malformed 200 body",
    "proposer answer: OPENAI_API_KEY",
    "proposer answer: GATEWAY_API_KEY",
    "critic answer, record",
    "status failed echo",
]


def _move_keys(
    made: Canaries, source: str, where: Path, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """The canary keys out of the environment into ``source``; the extra arguments."""
    for name in made.keys:
        monkeypatch.delenv(name)
    if source == "env file":
        env_file = where / "desk.env"
        env_file.write_text("".join(f'{n}="{v}"\n' for n, v in made.keys.items()))
        return ["--env-file", str(env_file)]
    for name, value in made.keys.items():
        (where / name).write_text(value + "\n")  # mounted secrets often end in a newline
    monkeypatch.setenv("AIOPS_SECRETS_DIR", str(where))
    return []


@pytest.mark.parametrize("source", ["env file", "secrets dir"])
@pytest.mark.parametrize("name", FILE_SOURCE_PATHS)
def test_no_canary_from_env_file_or_secrets_dir(
    name: str,
    source: str,
    runner: CliRunner,
    loopback: LoopbackServer,
    canaries: tuple[Canaries, LoopbackProxy],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made, proxy = canaries
    extra = _move_keys(made, source, tmp_path_factory.mktemp("keys"), monkeypatch)
    argv, script, expected = CANARY_PATHS[name]
    script(loopback, made)
    result = runner.invoke(app, ["l2", *argv, *extra])
    assert result.exit_code == expected, result.stderr
    sent = {
        v for r in loopback.requests for k, v in r.headers.items() if k.lower() == "authorization"
    }
    assert f"Bearer {made.keys['OPENAI_API_KEY']}" in sent  # the key did reach the server
    assert f"key from {source}" in result.stderr  # the banner says where, not what
    manifests = list(Path.cwd().rglob("run_manifest.json"))
    assert manifests
    routes = json.loads(manifests[0].read_text())["network"]["endpoints"]
    assert {route["api_key_source"] for route in routes} == {source}
    assert leaks(made, result.stdout, result.stderr) == []
    shown = runner.invoke(app, ["settings", "--json", *extra])
    assert shown.exit_code == 0, shown.stderr
    assert leaks(made, shown.stdout, shown.stderr) == []
