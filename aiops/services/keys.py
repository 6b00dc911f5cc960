"""``aiops keys generate``: an Ed25519 key pair for signing evidence packs.

The private key is written with mode 0600 (a directory made for the pair, 0700) and
never overwrites anything: both files are refused before either is written if one
already exists. By default the pair goes to a per-user directory
(``$XDG_CONFIG_HOME/aiops/keys``, else ``~/.config/aiops/keys``), outside any checkout;
a directory inside a git work tree is refused unless the operator says so, since an
untracked private key there is one ``git add .`` from being committed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aiops.errors import KeyExistsError, SigningKeyError
from aiops.evidence.durable import make_dirs, write_all

PRIVATE_KEY_FILE = "aiops_signing_key.pem"
PUBLIC_KEY_FILE = "aiops_signing_key.pub.pem"


@dataclass(frozen=True)
class KeyPair:
    private_path: Path
    public_path: Path
    keyid: str


def default_key_dir() -> Path:
    """The per-user directory for the signing key pair."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "aiops" / "keys"


def git_work_tree(directory: Path) -> Path | None:
    """The git work tree ``directory`` is in (or would be in once made), if any."""
    here = Path(os.path.abspath(directory))
    for candidate in (here, *here.parents):
        try:
            if os.path.lexists(candidate / ".git"):
                return candidate
        except OSError:  # a directory we may not enter: no work tree known there
            return None
    return None


def generate(out_dir: Path | None = None, *, allow_work_tree: bool = False) -> KeyPair:
    out_dir = default_key_dir() if out_dir is None else out_dir
    tree = git_work_tree(out_dir)
    if tree is not None and not allow_work_tree:
        raise SigningKeyError(
            f"{out_dir} is inside the git work tree {tree}: a private key there is one "
            "'git add .' from being committed; choose --out-dir outside it (default: "
            f"{default_key_dir()}) or pass --allow-work-tree"
        )
    return _generate(out_dir)


def _generate(out_dir: Path) -> KeyPair:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    from aiops.evidence.sign import key_id

    private_path = out_dir / PRIVATE_KEY_FILE
    public_path = out_dir / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if os.path.lexists(path):
            raise KeyExistsError(f"{path} exists; keys are never overwritten")
    try:
        make_dirs(out_dir, 0o700)  # made for a private key: nobody else's business
    except OSError as exc:
        raise SigningKeyError(f"cannot create {out_dir}: {exc.strerror}") from None
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    public_pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    _write_new(private_path, private_pem, 0o600)
    try:
        _write_new(public_path, public_pem, 0o644)
    except BaseException:
        private_path.unlink(missing_ok=True)
        raise
    return KeyPair(private_path, public_path, key_id(key.public_key()))


def _write_new(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        raise KeyExistsError(f"{path} exists; keys are never overwritten") from None
    except OSError as exc:
        raise SigningKeyError(f"cannot write {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, mode)  # exactly this mode, whatever the umask
        write_all(fd, data)  # a short write (a full disk) is an error, not a cut-off key
        os.fsync(fd)
    except BaseException as exc:  # an I/O error, or Ctrl-C/SIGTERM part-way
        path.unlink(missing_ok=True)  # no half-written key that blocks the next try
        if isinstance(exc, OSError):
            raise SigningKeyError(f"cannot write {path}: {exc.strerror}") from None
        raise
    finally:
        os.close(fd)
