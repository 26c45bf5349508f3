"""Aliases: short names for a server and the keys to use there, kept in
``$XDG_CONFIG_HOME/holdall/config.toml`` (mode 0600). ``local`` is built in: this machine's server on
port 9000 with the root keys (from the environment, or the data directory), unless set otherwise."""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import tomli_w

from holdall.client.s3 import DEFAULT_REGION
from holdall.keys import ACCESS_ENV, CREDENTIALS_FILE, SECRET_ENV, known_root_key_pair

LOCAL = "local"
LOCAL_URL = "http://127.0.0.1:9000"
DATA_ENV = "HOLDALL_DATA"
DEFAULT_DATA = "holdall-data"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class AliasError(Exception):
    """An alias that cannot be used, or a config file that cannot be read or written."""

    code = "InvalidAlias"


class NoRootKeys(AliasError):
    code = "NoCredentials"


@dataclass(frozen=True, slots=True)
class Alias:
    name: str
    url: str
    access_key: str
    secret_key: str
    region: str = DEFAULT_REGION


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ValueError(f"an alias name is letters, digits, - and _ (at most 64), not {name!r}")
    return name


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query:
        raise ValueError(f"expected a server URL such as http://127.0.0.1:9000, not {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def config_path() -> Path:
    home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(home) / "holdall" / "config.toml"


def load() -> dict[str, Alias]:
    path = config_path()
    try:
        with open(path, "rb") as config:
            document = tomllib.load(config)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as problem:
        raise AliasError(f"cannot read {path}: {problem}") from None
    found = {}
    for name, fields in document.get("aliases", {}).items():
        try:
            found[name] = Alias(
                name, fields["url"], fields["access_key"], fields["secret_key"], fields.get("region", DEFAULT_REGION)
            )
        except (KeyError, TypeError):
            raise AliasError(f"{path}: alias {name!r} needs url, access_key and secret_key") from None
    return found


def save(aliases: dict[str, Alias]) -> Path:
    """Writes the file whole, through a temporary file renamed over it."""
    path = config_path()
    document = {
        "aliases": {
            alias.name: {
                "url": alias.url,
                "access_key": alias.access_key,
                "secret_key": alias.secret_key,
                "region": alias.region,
            }
            for alias in aliases.values()
        }
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.parent.chmod(0o700)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config.", suffix=".tmp")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as out:
                tomli_w.dump(document, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)
    except OSError as problem:
        raise AliasError(f"cannot write {path}: {problem.strerror}") from None
    return path


def root_keys(data_dir: Path) -> tuple[str, str, str]:
    """The root key pair a local server uses, and where it was found: the environment, else the data
    directory's credentials file."""
    path = data_dir / CREDENTIALS_FILE
    try:
        known = known_root_key_pair(data_dir)
    except (OSError, ValueError) as problem:
        raise AliasError(f"cannot read {path}: {problem}") from None
    if known is None:
        raise NoRootKeys(
            f"no root keys: set {ACCESS_ENV} and {SECRET_ENV}, or give the server's data directory"
            f" (--data or {DATA_ENV}; {path} does not exist)"
        )
    pair, source = known
    return pair.public_key, pair.private_key, source


def resolve(name: str, data_dir: Path) -> Alias:
    aliases = load()
    if name in aliases:
        return aliases[name]
    if name == LOCAL:
        access, secret, _ = root_keys(data_dir)
        return Alias(LOCAL, LOCAL_URL, access, secret)
    raise AliasError(f"no alias {name!r}: add it with holdall alias set {name} URL ACCESS_KEY SECRET_KEY")


def is_alias(name: str) -> bool:
    """Whether a path's first component names an alias (so the path is remote)."""
    return name == LOCAL or name in load()
