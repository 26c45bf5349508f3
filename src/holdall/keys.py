"""The root account's key pair: from the environment, or generated once and kept in the data dir."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

ACCESS_ENV = "HOLDALL_ACCESS_KEY"
SECRET_ENV = "HOLDALL_SECRET_KEY"
CREDENTIALS_FILE = "root-credentials.json"
ROOT_ACCOUNT = "root"
"""The operator's account; it also owns the system buckets of temporary uploads."""
SIGNER_NAME = "holdall-temp-uploads"
"""The root token that signs temporary forms: internal, never shown, changed or deleted by a user."""


@dataclass(frozen=True, slots=True)
class KeyPair:
    public_key: str
    private_key: str


def new_key_pair(prefix: str = "HA") -> KeyPair:
    return KeyPair(prefix + secrets.token_hex(10).upper(), secrets.token_urlsafe(30))


def known_root_key_pair(data_dir: Path) -> tuple[KeyPair, str] | None:
    """The root key pair a server on ``data_dir`` uses, and where it comes from: the environment, else
    the data directory's credentials file; None when neither holds one. A file that cannot be read
    raises OSError or ValueError."""
    access, secret = os.environ.get(ACCESS_ENV), os.environ.get(SECRET_ENV)
    if access and secret:
        return KeyPair(access, secret), f"the environment ({ACCESS_ENV}, {SECRET_ENV})"
    path = data_dir / CREDENTIALS_FILE
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    try:
        return KeyPair(str(stored["public_key"]), str(stored["private_key"])), str(path.resolve())
    except (KeyError, TypeError):
        raise ValueError(f"{path} holds no public_key and private_key") from None


def root_key_pair(data_dir: Path) -> tuple[KeyPair, bool]:
    """The root key pair and whether it was generated just now."""
    known = known_root_key_pair(data_dir)
    if known is not None:
        return known[0], False
    path = data_dir / CREDENTIALS_FILE
    pair = new_key_pair()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"public_key": pair.public_key, "private_key": pair.private_key}, out)
        out.flush()
        os.fsync(out.fileno())
    return pair, True
