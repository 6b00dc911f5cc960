"""What an auditor and a key holder run: ``verify-pack``, ``keys generate`` and
``schema``.

Like ``aiops.cli``, only typer and the standard library load at module level;
``verify-pack`` never loads Pydantic (``VerifyPackCommand``).
"""

from pathlib import Path
from typing import Annotated

import typer

from aiops.cli_inventory import JsonOption
from aiops.cli_runs import pack_path
from aiops.cli_support import AiopsGroup, VerifyPackCommand, errors_handled, outcome_line
from aiops.streams import print_json


@errors_handled
def verify_pack_cmd(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH",
            help="A pack directory, a ledger (a directory of packs), a pack id "
            "(EVP-L2-2026-01-10-001) or 'latest'.",
        ),
    ],
    as_json: JsonOption = False,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            metavar="FILE",
            help="Trusted Ed25519 public key (PEM); signatures of packs and reviews are "
            "checked only against it, never a key from the pack.",
            show_default=False,
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help="Checkpoint kept from an earlier verification of this ledger: a truncated "
            "tail, a rewritten head or a deleted or altered review fails.",
            show_default=False,
        ),
    ] = None,
    write_checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--write-checkpoint",
            metavar="FILE",
            help="After a verified ledger, write its checkpoint here.",
            show_default=False,
        ),
    ] = None,
    input_ledger: Annotated[
        Path | None,
        typer.Option(
            "--input-ledger",
            metavar="DIR",
            help="The ledger of input packs a pack took from another ledger.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Verify a pack or a ledger offline. Exit 0 verified, 1 not verified, 2 usage."""
    from aiops.services.verify_pack import VerifyOptions, verify

    path = pack_path(path)
    outcome = verify(VerifyOptions(path, key, checkpoint, write_checkpoint, input_ledger))
    if as_json:
        print_json(outcome.report.to_json())
    else:
        from aiops.console_audit import render_verify

        render_verify(outcome.report, outcome.checkpoint_written)
    if outcome.exit_code:
        from aiops.wording import counted

        report = outcome.report
        outcome_line(
            f"{path}: NOT VERIFIED ({counted(report.failed_files, 'file problem')}, "
            f"{counted(len(report.errors), 'finding')})",
            outcome.exit_code,
        )


keys_app = typer.Typer(
    cls=AiopsGroup,
    no_args_is_help=True,
    help="Signing keys for evidence packs.",
    rich_markup_mode=None,
)


@keys_app.command("generate")
@errors_handled
def keys_generate_cmd(
    out_dir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Directory for the key pair, created if needed (default: "
            "$XDG_CONFIG_HOME/aiops/keys or ~/.config/aiops/keys).",
            show_default=False,
        ),
    ] = None,
    allow_work_tree: Annotated[
        bool,
        typer.Option(
            "--allow-work-tree", help="Write the private key inside a git work tree anyway."
        ),
    ] = False,
) -> None:
    """Write an Ed25519 key pair: private key (mode 0600) and public key (PEM), outside
    any git work tree unless told otherwise."""
    from aiops.console_audit import render_keys
    from aiops.services.keys import generate

    render_keys(generate(out_dir, allow_work_tree=allow_work_tree))


@errors_handled
def schema_cmd(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="evidence-pack, run-manifest, sod-check, ...")
    ],
) -> None:
    """Print the JSON Schema of a pack file or config file, derived from the models."""
    from aiops.errors import UsageError
    from aiops.schemas.catalog import SCHEMAS, model_schema

    if name not in SCHEMAS:
        raise UsageError(f"unknown schema {name!r}: choose {', '.join(SCHEMAS)}")
    print_json(model_schema(name))


def register(app: typer.Typer) -> None:
    """In the order ``aiops --help`` lists them."""
    app.command("verify-pack", cls=VerifyPackCommand)(verify_pack_cmd)
    app.add_typer(keys_app, name="keys")
    app.command("schema")(schema_cmd)
