"""The CLI's plumbing: the one error path and the Typer classes it runs on.

Like ``aiops.cli``, this module imports only typer, the standard library,
``aiops.errors`` and ``aiops.streams`` (standard library only) at module level, so every
command starts fast.
"""

from __future__ import annotations

import functools
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from aiops.errors import EXIT_BLOCKED as EXIT_USAGE
from aiops.errors import EXIT_INTERNAL, AiopsError
from aiops.streams import printable, stderr_failed

LAYERS = ("l0", "l1", "l2", "l3", "l4", "l5", "l6")
# The governance matrix's layer names (DESIGN.md); the registry holds the same names.
LAYER_HELP = {
    "l0": "Layer L0 — Ops/Docs.",
    "l1": "Layer L1 — Deep Research.",
    "l2": "Layer L2 — Market Outlook.",
    "l3": "Layer L3 — Trade Plan Advisory.",
    "l4": "Layer L4 — Governance / Policy Critic.",
    "l5": "Layer L5 — Risk Gate: deterministic code only; every mode refuses (exit 2).",
    "l6": "Layer L6 — Execution: forbidden; every mode refuses (exit 2).",
}
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130: Ctrl-C
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143: stopped by a scheduler, systemd, kill

F = TypeVar("F", bound=Callable[..., Any])


class _Plain:
    """Plain conversion standing in for Typer's coercion of one parameter.

    Typer coerces every parameter value through a Pydantic TypeAdapter, so merely
    running a command (even the help flag's default) imports Pydantic, which costs more
    than ``verify-pack``'s whole start-up budget (DESIGN.md: <= 1.3x a bare Typer
    ``--help``). The parameters on that path are the help flag and the root
    ``--config-dir``; plain conversion is exact for both. A test checks that the verify
    path imports neither Pydantic nor Typer's adapters, so a Typer change is noticed.
    """

    def __init__(self, convert: Callable[[Any], Any]) -> None:
        self.convert = convert

    def coerce(self, value: Any, param: Any = None, ctx: Any = None) -> Any:
        return self.convert(value)


def _path_or_none(value: Any) -> Path | None:
    return None if value is None or value == "" else Path(value)


_PLAIN = {
    "help": _Plain(bool),
    "config_dir": _Plain(_path_or_none),
    "env_file": _Plain(_path_or_none),
    # Shell completion (--install-completion, --show-completion): eager options whose
    # callbacks take the value as the parser gives it.
    "install_completion": _Plain(lambda v: v),
    "show_completion": _Plain(lambda v: v),
}


def _plain_params(params: list[Any]) -> list[Any]:
    for param in params:
        if param.name in _PLAIN and getattr(param, "_runtime_param", "") is None:
            param._runtime_param = _PLAIN[param.name]
    return params


class _WordArgument(TyperArgument):
    """An argument shown by its name in words, as Click and the README write it
    (``aiops pilot drift BASELINE CURRENT``), not ``{baseline}`` or ``PATH <path>``."""

    def _usage_display_name(self) -> str:
        name = str(self.display_name_raw)
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _in_words(command: Any) -> Any:
    for param in getattr(command, "params", []):
        if type(param) is TyperArgument:
            param.__class__ = _WordArgument
    return command


class AiopsCommand(TyperCommand):
    """A command whose help flag is coerced without Pydantic (see ``_Plain``)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_params(list(super().get_params(ctx)))


_VERIFY_PLAIN = {
    "path": _Plain(_path_or_none),  # None: missing, which the parser then reports
    "as_json": _Plain(bool),
    "key": _Plain(_path_or_none),
    "checkpoint": _Plain(_path_or_none),
    "write_checkpoint": _Plain(_path_or_none),
    "input_ledger": _Plain(_path_or_none),
}


class VerifyPackCommand(AiopsCommand):
    """``verify-pack``: every parameter converted plainly (a path, a flag, optional
    paths), so the auditor's command has the same help and errors as every other and
    still never imports Pydantic (DESIGN.md: <= 1.3x a bare Typer app's ``--help``)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = list(super().get_params(ctx))
        for param in params:
            if param.name in _VERIFY_PLAIN and getattr(param, "_runtime_param", "") is None:
                param._runtime_param = _VERIFY_PLAIN[param.name]
        return params


# Options of the root command that may also be written after the subcommand.
GLOBAL_OPTIONS_WITH_VALUE = ("--config-dir", "--env-file")
GLOBAL_FLAGS = ("--version",)


def hoist_global_options(args: list[str]) -> list[str]:
    """Global options may come before or after the subcommand (``aiops l2 dry-run
    --config-dir X``): they are moved to the front, where the root command reads them.
    Nothing after ``--`` moves: that is a command's own argument."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        if arg in GLOBAL_OPTIONS_WITH_VALUE and index + 1 < len(args):
            front += args[index : index + 2]
            index += 2
            continue
        if arg in GLOBAL_FLAGS or arg.startswith(
            tuple(f"{name}=" for name in GLOBAL_OPTIONS_WITH_VALUE)
        ):
            front.append(arg)
        else:
            rest.append(arg)
        index += 1
    return front + rest


class AiopsGroup(TyperGroup):
    """Case-insensitive layer names; an unknown layer is one clear line and exit 2;
    global options accepted anywhere on the line."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_params(list(super().get_params(ctx)))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name.lower()) or super().get_command(ctx, cmd_name)
        return _in_words(command)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            print(ctx.get_help())  # help asked for by giving nothing: not an error
            raise typer.Exit(0)
        if ctx.parent is None:
            args = hoist_global_options(list(args))
        return list(super().parse_args(ctx, args))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            if ctx.parent is None:
                fail(
                    f"unknown layer or command {name!r}: layers are {', '.join(LAYERS)} "
                    "(see 'aiops --help')"
                )
            what = "mode" if ctx.info_name in LAYERS else "command"
            choices = ", ".join(self.list_commands(ctx))
            fail(f"unknown {what} {name!r} for '{ctx.command_path}': choose {choices}")
        return super().resolve_command(ctx, args)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """The parser's own refusals (an unknown option, a missing or bad value) are one
        line and their exit code too, like every other refusal."""
        standalone = kwargs.pop("standalone_mode", True)
        kwargs["standalone_mode"] = False
        if not _stdout_is_terminal():  # help in a file or a pipe: the same whatever COLUMNS says
            kwargs.setdefault("terminal_width", PLAIN_HELP_WIDTH)
        if standalone is False:
            return super().main(*args, **kwargs)
        try:
            result = super().main(*args, **kwargs)
        except typer.Abort:
            error_line("aborted")
            sys.exit(EXIT_USAGE)
        except Terminated:  # before or after a command's own error path
            error_line("terminated")
            sys.exit(EXIT_TERMINATED)
        except typer.TyperException as exc:  # the parser's usage errors
            ctx = getattr(exc, "ctx", None)
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            error_line(f"{parser_message(exc)}{where}")
            sys.exit(getattr(exc, "exit_code", EXIT_USAGE))
        sys.exit(result if isinstance(result, int) else 0)


class _LazyGroup(AiopsGroup):
    """A group whose commands are made the first time one is asked for (run, listed
    in help, completed). Making the commands of every layer costs a command's start-up
    a few milliseconds each; ``aiops l2 replay`` needs one layer's."""

    make: Callable[[], typer.Typer]

    def _made(self) -> None:
        if not self.commands:
            self.commands.update(typer.main.get_command(self.make()).commands)  # type: ignore[attr-defined]

    def list_commands(self, ctx: Any) -> list[str]:
        self._made()
        return list(super().list_commands(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        self._made()
        return super().get_command(ctx, cmd_name)


def lazy_typer(make: Callable[[], typer.Typer], help_text: str) -> typer.Typer:
    """A sub-app standing for ``make()``, which is called only when it is used."""
    group = type("LazyGroup", (_LazyGroup,), {"make": staticmethod(make)})
    return typer.Typer(cls=group, no_args_is_help=True, help=help_text, rich_markup_mode=None)


def parser_message(exc: Any) -> str:
    """The parser's refusal in the wording of every other error: lower case, no full
    stop, and a suggestion only when it is close (``--ot`` -> ``--out``, never
    ``--bogus`` -> ``--out``)."""
    import difflib

    option = getattr(exc, "option_name", None)
    if option is not None and hasattr(exc, "possibilities"):
        close = difflib.get_close_matches(option, exc.possibilities or [], n=3, cutoff=0.75)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        return f"unknown option {option}{hint}"
    message = str(exc.format_message()).strip().rstrip(".")
    return message[:1].lower() + message[1:]


PLAIN_HELP_WIDTH = 80


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # no stdout, or a closed one
        return False


class Terminated(BaseException):
    """SIGTERM, raised in the main thread as Ctrl-C raises ``KeyboardInterrupt``.

    A scheduler, systemd or ``kill`` stopping a run sends SIGTERM. Left to its default
    the process dies at once: no message, and a pack being staged stays behind as a
    hidden ``.tmp-*`` directory. Raised as an exception it takes the same way out as
    Ctrl-C: staging and temporary files are removed, locks released, one line on
    stderr, exit 143. A ``BaseException``, so no ``except Exception`` swallows it.
    Once raised, further SIGTERMs are ignored: one sent again (a supervisor, an
    impatient ``kill``) would otherwise cut that clean-up short. SIGKILL still stops it.
    """


def _raise_terminated(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the way out is already taken
    raise Terminated


def stop_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into ``Terminated`` (the CLI's entry point calls this)."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def config_dir_of(ctx: Any) -> Path | None:
    """The root's ``--config-dir`` (or ``AIOPS_CONFIG_DIR``), wherever it was written."""
    obj = ctx.find_root().obj or {}
    value = obj.get("config_dir")
    return value if isinstance(value, Path) else None


def env_file_of(ctx: Any) -> Path | None:
    """The root's ``--env-file`` (or ``AIOPS_ENV_FILE``), wherever it was written."""
    value = (ctx.find_root().obj or {}).get("env_file")
    return value if isinstance(value, Path) else None


def error_line(message: str) -> None:
    """``aiops: error: MESSAGE`` on stderr, as one line: a newline or an escape sequence
    in a path or a model's words is spelt out, never acted on. No Rich: the error path
    must work even when rendering fails."""
    try:
        print(f"aiops: error: {printable(message)}", file=sys.stderr, flush=True)
    except OSError:  # stderr itself refuses: the exit code still says what happened
        stderr_failed()


def outcome_line(message: str, code: int) -> NoReturn:
    """An expected outcome that is not an error (a critic's rejection, a pack that does
    not verify, drift flagged, KPIs not met): ``aiops: MESSAGE`` on stderr, and its
    exit code. Scripts read the exit code; a person reads no false alarm."""
    try:
        print(f"aiops: {printable(message)}", file=sys.stderr, flush=True)
    except OSError:
        stderr_failed()
    raise typer.Exit(code)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    error_line(message)
    raise typer.Exit(code)


def errors_handled(command: F) -> F:
    """The one error path: a known error is one line and its exit code; anything else
    keeps its traceback (no local variables, so no secrets) and exits 3."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except AiopsError as exc:
            from aiops.redact import redact_known

            fail(redact_known(str(exc)), exc.exit_code)  # the run's secrets, never printed
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
        except Terminated:
            fail("terminated", EXIT_TERMINATED)
        except Exception:
            from aiops.redact import redact_known

            sys.stderr.write(redact_known(traceback.format_exc()))  # no known secret
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper  # type: ignore[return-value]
