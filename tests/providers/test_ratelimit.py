"""Per-model rate limits over a sliding 60 s window, shared across processes."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from aiops.providers.base import ProviderCallError
from aiops.providers.ratelimit import RATE_LIMIT_WAIT, acquire
from tests._procs import run_concurrently
from tests.support.limits import run_with_file_size_limit


class WallClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _acquire(clock: WallClock, rpm: int = 3, max_wait_s: float | None = None) -> float:
    return acquire("gpt-5.2", rpm, sleep=clock.sleep, clock=clock.time, max_wait_s=max_wait_s)


def test_slots_free_then_wait_for_the_oldest_to_leave_the_window(tmp_path: Path) -> None:
    clock = WallClock()
    assert [_acquire(clock) for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 10
    waited = _acquire(clock)  # the 4th within a minute waits until the 1st is 60 s old
    assert waited == pytest.approx(50.0)
    assert clock.sleeps == [pytest.approx(50.0)]
    state = json.loads((tmp_path / "logs/ratelimit/gpt-5.2.json").read_text())
    # all three left the window together at t=60, when the 4th was taken
    assert state == {"model_id": "gpt-5.2", "window": [pytest.approx(1_700_000_060.0)]}


def test_window_slides(tmp_path: Path) -> None:
    clock = WallClock()
    for _ in range(3):
        _acquire(clock)
        clock.now += 25  # t = 0, 25, 50
    assert clock.now == pytest.approx(1_700_000_075.0)
    assert _acquire(clock) == 0.0  # the t=0 request left the window at t=60


def test_models_have_separate_windows() -> None:
    clock = WallClock()
    for _ in range(3):
        _acquire(clock)
    assert acquire("o3", 3, sleep=clock.sleep, clock=clock.time) == 0.0


def test_wait_beyond_the_deadline_is_refused() -> None:
    clock = WallClock()
    for _ in range(3):
        _acquire(clock)
    with pytest.raises(ProviderCallError) as caught:
        _acquire(clock, max_wait_s=5.0)
    assert caught.value.error_class == RATE_LIMIT_WAIT and not caught.value.fallback_ok
    assert clock.sleeps == []


def test_corrupt_state_is_an_empty_window(tmp_path: Path) -> None:
    state = tmp_path / "logs/ratelimit/gpt-5.2.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"window": [1, 2')
    assert _acquire(WallClock()) == 0.0
    assert len(json.loads(state.read_text())["window"]) == 1


TAKER = """
from aiops.providers.base import ProviderCallError
from aiops.providers.ratelimit import acquire
start()
got = 0
for _ in range(5):
    try:
        acquire("gpt-5.2", 12, max_wait_s=0)
        got += 1
    except ProviderCallError:
        pass
print(got)
"""


def test_eight_processes_share_one_window(tmp_path: Path) -> None:
    granted = run_concurrently(TAKER, 8, tmp_path)
    assert sum(int(out) for out in granted) == 12  # 40 tries, 12 requests per minute
    state = json.loads((tmp_path / "logs/ratelimit/gpt-5.2.json").read_text())
    assert len(state["window"]) == 12


def test_default_window_is_shared_across_working_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs from different directories share one window: the limit is per machine."""
    from aiops.providers.ratelimit import default_directory

    monkeypatch.delenv("AIOPS_RATELIMIT_DIR")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    clock = iter([1000.0, 1001.0, 1002.0]).__next__
    for cwd in ("a", "b"):
        (tmp_path / cwd).mkdir()
        monkeypatch.chdir(tmp_path / cwd)
        assert acquire("gpt-5.2", 2, clock=clock) == 0.0
    with pytest.raises(ProviderCallError, match="rate limit of 2 requests/minute"):
        acquire("gpt-5.2", 2, clock=clock, max_wait_s=0.0)
    expected = tmp_path / "run" / f"aiops-{os.getuid()}" / "ratelimit"
    assert default_directory() == expected
    assert (expected / "gpt-5.2.json").is_file()
    assert stat.S_IMODE(expected.parent.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create another user's directory")
def test_a_state_directory_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIOPS_RATELIMIT_DIR")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    planted = tmp_path / f"aiops-{os.getuid()}"
    planted.mkdir()
    os.chown(planted, 65534, 65534)  # someone else got there first
    with pytest.raises(ProviderCallError, match="not a directory owned by this user"):
        acquire("gpt-5.2", 5)


def test_a_runtime_directory_that_is_gone_stops_the_call_with_one_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """XDG_RUNTIME_DIR left over from a session that ended (su, cron, a closed login):
    nothing can be counted, so nothing is sent, and the reason is one line."""
    monkeypatch.delenv("AIOPS_RATELIMIT_DIR")
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "afile" / "run"))
    with pytest.raises(ProviderCallError) as caught:
        acquire("gpt-5.2", 5)
    assert caught.value.error_class == "rate_limit_wait"
    assert (caught.value.retryable, caught.value.fallback_ok) == (False, False)
    where = tmp_path / "afile" / "run" / f"aiops-{os.getuid()}" / "ratelimit"
    assert caught.value.message == (
        f"rate-limit state directory {where} cannot be created: Not a directory; "
        "set AIOPS_RATELIMIT_DIR to a directory of yours"
    )


def test_a_window_cut_short_by_a_full_disk_stops_the_call(tmp_path: Path) -> None:
    """A short write must not pass for a counted request: the window it leaves cannot
    be read, so every later process would see an empty window and send freely."""
    state = tmp_path / "state"
    code = (
        "from pathlib import Path\n"
        "from aiops.providers.base import ProviderCallError\n"
        "from aiops.providers.ratelimit import acquire\n"
        "try:\n"
        "    for _ in range(40):\n"
        f"        acquire('gpt-5.2', 1000, directory=Path({str(state)!r}))\n"
        "except ProviderCallError as error:\n"
        "    print(error.error_class, error.message)\n"
    )
    child = run_with_file_size_limit(code, 200, tmp_path)  # a window of ~10 requests
    assert child.returncode == 0, child.stderr
    assert child.stdout == (
        f"rate_limit_wait rate-limit state {state / 'gpt-5.2.json'} cannot be written: "
        f"{os.strerror(errno.EFBIG)}\n"
    )
