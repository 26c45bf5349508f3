"""The ``holdall`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from holdall import admin_commands, object_commands
from holdall.client.aliases import AliasError, NoRootKeys, root_keys
from holdall.client.presign import DIALECTS, presign_url
from holdall.config import Settings
from holdall.data_dir import prepare_data_dir
from holdall.keys import ACCESS_ENV, SECRET_ENV
from holdall.options import SERVE_FLAGS, with_settings


class _Commands(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise SystemExit(130) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="holdall", prog_name="holdall", message="%(prog)s %(version)s")
def holdall() -> None:
    """A self-hosted object store."""


@holdall.command()
@with_settings(SERVE_FLAGS)
def serve(settings: Settings) -> None:
    """Run the server."""
    from holdall.server import supervisor

    listening = supervisor.listen(settings)  # a port in use fails before anything is created or printed
    prepare_data_dir(settings)
    print(
        f"holdall: serving {settings.data_dir} on http://{settings.host}:{settings.port}"
        f" (bucket hosts: <bucket>.{settings.public_host_suffix})",
        flush=True,
    )
    supervisor.serve(settings, settings.log_level, settings.graceful_timeout, listening)


def _signing_keys(access_key: str, secret_key: str, data: str) -> tuple[str, str]:
    if access_key and secret_key:
        return access_key, secret_key
    try:
        access, secret, _ = root_keys(Path(data))
    except NoRootKeys:
        raise SystemExit(
            f"holdall: give --access-key and --secret-key, set {ACCESS_ENV} and {SECRET_ENV}, or point --data at"
            " a server's"
        ) from None
    except AliasError as problem:
        raise SystemExit(f"holdall: {problem}") from None
    return access, secret


@holdall.command()
@click.argument("method")
@click.argument("target")
@click.option("--expires", type=int, default=3600, show_default=True, help="seconds the URL lives, at most 604800")
@click.option("--dialect", type=click.Choice(DIALECTS), default="ufile", show_default=True, help="signature dialect")
@click.option("--header", multiple=True, help="'Name: value' to sign; the request must send it (repeatable)")
@click.option("--endpoint", default="http://127.0.0.1:9000", show_default=True, help="the server")
@click.option("--virtual-host", is_flag=True, help="put the bucket in the host name")
@click.option("--region", default="cn-bj", show_default=True, help="region of the V4 credential scope")
@click.option("--access-key", default="", help="signing key; default: the environment or the data directory")
@click.option("--secret-key", default="")
@click.option("--security-token", default="", help="session token of a temporary key")
@click.option("--data", default="holdall-data", help="data directory whose root key signs by default")
def presign(
    method: str,
    target: str,
    expires: int,
    dialect: str,
    header: tuple[str, ...],
    endpoint: str,
    virtual_host: bool,
    region: str,
    access_key: str,
    secret_key: str,
    security_token: str,
    data: str,
) -> None:
    """Print a presigned URL, signed locally with no network call.

    METHOD is GET, PUT, HEAD, DELETE or POST; TARGET is BUCKET/KEY."""
    bucket, sep, key = target.lstrip("/").partition("/")
    if not sep or not bucket or not key:
        raise SystemExit("holdall: name the object as BUCKET/KEY")
    headers = {}
    for item in header:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise SystemExit(f"holdall: --header takes 'Name: value', not {item!r}")
        headers[name.strip()] = value.strip()
    access, secret = _signing_keys(access_key, secret_key, data)
    try:
        url = presign_url(
            method.upper(),
            endpoint,
            bucket,
            key,
            access,
            secret,
            expires=expires,
            dialect=dialect,
            headers=headers,
            region=region,
            security_token=security_token,
            virtual_host=virtual_host,
        )
    except ValueError as problem:
        raise SystemExit(f"holdall: {problem}") from None
    print(url)


admin_commands.register(holdall)
object_commands.register(holdall)


def main(argv: list[str] | None = None) -> None:
    holdall.main(argv, prog_name="holdall")
