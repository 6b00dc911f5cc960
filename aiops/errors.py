"""The one error path: every known failure is an ``AiopsError`` with an exit code.

The CLI prints ``str(error)`` as a single line on stderr and exits with
``error.exit_code``. Messages must never contain a secret.
"""

from __future__ import annotations

# Exit codes of the run commands (DESIGN.md "CLI contract").
EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_BLOCKED = 2
EXIT_INTERNAL = 3
EXIT_PROVIDER = 4


class AiopsError(Exception):
    """Base of every expected failure; carries the process exit code."""

    exit_code: int = EXIT_INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(AiopsError):
    """Bad command-line input: unknown layer, conflicting flags, bad paths."""

    exit_code = EXIT_BLOCKED


class ConfigError(AiopsError):
    """A configuration file is missing, malformed or inconsistent."""

    exit_code = EXIT_BLOCKED

    def __init__(self, path: object, problem: str, key_path: str | None = None) -> None:
        where = f"{path}" + (f": {key_path}" if key_path else "")
        super().__init__(f"invalid config {where}: {problem}")
        self.path = path
        self.key_path = key_path
        self.problem = problem


class GovernanceError(AiopsError):
    """A governance control refused the run before anything was sent."""

    exit_code = EXIT_BLOCKED


class SoDViolationError(GovernanceError):
    """Separation of duties failed (proposer equals critic, or diversity required)."""


class ForbiddenAutonomyError(GovernanceError):
    """EXEC autonomy or a layer above its maximum autonomy."""


class ModelNotAllowedError(GovernanceError):
    """Unknown, non-production or retired model."""


class OutputExistsError(AiopsError):
    """Evidence is never overwritten."""

    exit_code = EXIT_BLOCKED


class EvidenceWriteError(AiopsError):
    """The pack could not be written (unwritable location, disk full)."""

    exit_code = EXIT_BLOCKED


class NetworkNotAllowedError(AiopsError):
    """A networked mode was asked for without ``--allow-network`` or confirmation."""

    exit_code = EXIT_BLOCKED


class MissingCredentialError(AiopsError):
    """An API key environment variable is not set."""

    exit_code = EXIT_BLOCKED


class FixtureError(AiopsError):
    """A replay fixture is missing, malformed, from another layer, or misses a request."""

    exit_code = EXIT_BLOCKED


class ProviderError(AiopsError):
    """A provider failed after retries and fallbacks; the run fails closed."""

    exit_code = EXIT_PROVIDER


class BudgetExceededError(GovernanceError):
    """A call could pass the daily or monthly budget; refused before sending."""


class SpendLedgerError(GovernanceError):
    """The spend ledger cannot be read or written: today's spend is unknown, so refuse."""


class PackReadError(AiopsError):
    """A path is not an evidence pack, or a pack file the command needs is unreadable."""

    exit_code = EXIT_BLOCKED


# verify-pack, keys and signatures (exit 2: usage, not a pack, unusable key or checkpoint).


class NotAPackError(AiopsError):
    """``verify-pack`` was pointed at something that is neither a pack nor a ledger."""

    exit_code = EXIT_BLOCKED


class SigningKeyError(AiopsError):
    """A signing or public key is unreadable, malformed or not Ed25519."""

    exit_code = EXIT_BLOCKED


class CheckpointError(AiopsError):
    """A ledger checkpoint file is unreadable or malformed, or cannot be written."""

    exit_code = EXIT_BLOCKED


class KeyExistsError(AiopsError):
    """``keys generate`` never overwrites a key file."""

    exit_code = EXIT_BLOCKED


class NetworkSetupError(AiopsError):
    """A proxy URL or CA bundle named in the environment is unusable; nothing was sent."""

    exit_code = EXIT_BLOCKED


class OutputWriteError(AiopsError):
    """stdout cannot take the command's output (a full disk, an I/O error): a result
    that was not delivered is not a success."""

    exit_code = EXIT_BLOCKED
