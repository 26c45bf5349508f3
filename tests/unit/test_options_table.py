"""The ``holdall serve`` flags are described once (holdall/options.py): the README's table, ``--help``
and the Settings they make all come from that description."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from holdall.cli import holdall
from holdall.config import Settings
from holdall.options import NOT_FLAGS, REGENERATE, SERVE_FLAGS, TABLE_END, TABLE_START, markdown_table, plain_text

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_table_is_the_rendered_one() -> None:
    text = README.read_text()
    assert text.count(TABLE_START) == 1 and text.count(TABLE_END) == 1, f"README.md needs {TABLE_START} … {TABLE_END}"
    in_readme = text.partition(TABLE_START)[2].partition(TABLE_END)[0].strip()
    assert in_readme == markdown_table(), (
        f"README.md's options table differs from the flags in src/holdall/options.py; run `{REGENERATE}`"
    )


def test_every_settings_field_is_a_flag_or_said_not_to_be() -> None:
    set_by_flags = [name for flag in SERVE_FLAGS for name in flag.fields]
    assert len(set_by_flags) == len(set(set_by_flags))
    assert set(set_by_flags) | NOT_FLAGS == {field.name for field in dataclasses.fields(Settings)}


def test_serve_help_shows_the_table_texts() -> None:
    shown = "".join(CliRunner().invoke(holdall, ["serve", "--help"]).output.split())
    for flag in SERVE_FLAGS:
        if not flag.hidden:
            for text in (flag.name, plain_text(flag.help), plain_text(flag.default_text)):
                assert "".join(text.split()) in shown, text
    assert "--clock-file" not in shown


def _serve_settings(monkeypatch: pytest.MonkeyPatch, *args: str, env: dict[str, str | None] | None = None) -> Settings:
    """The Settings ``holdall serve ARGS`` would listen with; it stops there."""
    from holdall.server import supervisor

    made: list[Settings] = []

    def listen(settings: Settings) -> None:
        made.append(settings)
        raise SystemExit("stopped")

    monkeypatch.setattr(supervisor, "listen", listen)
    done = CliRunner().invoke(holdall, ["serve", *args], env=env)
    assert done.exit_code == 1 and made, done.output
    return made[0]


def test_defaults_are_the_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _serve_settings(monkeypatch, env={"HOLDALL_METRICS_TOKEN": None})
    assert settings == dataclasses.replace(Settings(), data_dir=Path("holdall-data").resolve())


def test_flags_set_their_fields(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = _serve_settings(
        monkeypatch,
        *("--data", str(tmp_path / "d"), "--listen", ":9123", "--min-free", "7.5%", "--domain", "Example.TEST"),
        *("--resource-formats", " WAV ,", "--max-head-bytes", "10", "--log-level", "INFO", "--graceful-timeout", "3"),
    )
    assert (settings.data_dir, settings.host, settings.port) == (tmp_path / "d", "127.0.0.1", 9123)
    assert (settings.min_free_bytes, settings.min_free_percent) == (None, 7.5)
    assert (settings.domain, settings.resource_formats, settings.max_head_bytes) == ("example.test", ("wav",), 1024)
    assert (settings.log_level, settings.graceful_timeout) == ("info", 3)


def test_the_metrics_token_comes_from_the_environment_or_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    env: dict[str, str | None] = {"HOLDALL_METRICS_TOKEN": "from-the-environment"}
    assert _serve_settings(monkeypatch, env=env).metrics_token == "from-the-environment"
    given = _serve_settings(monkeypatch, "--metrics-token", "given-on-the-command-line", env=env)
    assert given.metrics_token == "given-on-the-command-line"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--listen", "9000"], "expected HOST:PORT"),
        (["--min-free", "100%"], "a percentage such as 5%"),
        (["--resource-formats", "exe"], "list of mp3, wav"),
        (["--head-timeout", "0"], "between 0 and 86400"),
        (["--price-request-count", "-1"], "a price in fen"),
        (["--log-level", "loud"], "one of critical"),
        (["--workers", "two"], "a whole number"),
        (["--metrics-token", "short"], "a bearer token"),
        (["--metrics-token", "ünïcode-is-not-a-bearer-token"], "a bearer token"),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_the_flag(args: list[str], said: str) -> None:
    done = CliRunner().invoke(holdall, ["serve", *args])
    assert done.exit_code == 2 and f"Invalid value for '{args[0]}'" in done.output and said in done.output, done.output
