"""The alias file (``$XDG_CONFIG_HOME/holdall/config.toml``) and the built-in alias ``local``."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path

import pytest

from holdall.client import aliases
from holdall.client.aliases import Alias, AliasError, NoRootKeys


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("HOLDALL_ACCESS_KEY", "HOLDALL_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "config"


def test_aliases_round_trip_through_a_private_file(config_home: Path) -> None:
    assert aliases.load() == {}
    saved = {"a": Alias("a", "http://h:1", "K", 'se"cret\n', "cn-sh2"), "b": Alias("b", "https://x", "K2", "S2")}
    path = aliases.save(saved)
    assert path == config_home / "holdall" / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert aliases.load() == saved
    assert tomllib.loads(path.read_text())["aliases"]["b"]["region"] == "cn-bj"
    assert [item.name for item in path.parent.iterdir()] == ["config.toml"]  # no temporary file left


def test_a_broken_file_is_an_alias_error(config_home: Path) -> None:
    (config_home / "holdall").mkdir(parents=True)
    (config_home / "holdall" / "config.toml").write_text("[aliases.a]\nurl = 'http://h'\n")
    with pytest.raises(AliasError, match="needs url, access_key and secret_key"):
        aliases.load()
    (config_home / "holdall" / "config.toml").write_text("not toml [")
    with pytest.raises(AliasError, match="cannot read"):
        aliases.load()


def test_local_takes_the_environment_then_the_data_directory_unless_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    with pytest.raises(NoRootKeys, match="no root keys"):
        aliases.resolve("local", data)
    data.mkdir()
    (data / "root-credentials.json").write_text(json.dumps({"public_key": "HAFILE", "private_key": "s"}))
    assert aliases.resolve("local", data) == Alias("local", "http://127.0.0.1:9000", "HAFILE", "s")
    monkeypatch.setenv("HOLDALL_ACCESS_KEY", "HAENV")
    monkeypatch.setenv("HOLDALL_SECRET_KEY", "e")
    assert aliases.resolve("local", data).access_key == "HAENV"
    aliases.save({"local": Alias("local", "http://10.0.0.1:9000", "K", "S")})
    assert aliases.resolve("local", data).url == "http://10.0.0.1:9000"
    with pytest.raises(AliasError, match="no alias 'other'"):
        aliases.resolve("other", data)


@pytest.mark.parametrize("name", ["", "a b", "-x", "a/b", "é", "x" * 65])
def test_alias_names_are_plain(name: str) -> None:
    with pytest.raises(ValueError):
        aliases.check_name(name)


@pytest.mark.parametrize(
    ("url", "kept"),
    [("http://127.0.0.1:9000", "http://127.0.0.1:9000"), ("https://s3.example/", "https://s3.example")],
)
def test_urls_are_a_server_and_nothing_more(url: str, kept: str) -> None:
    assert aliases.check_url(url) == kept


@pytest.mark.parametrize("url", ["127.0.0.1:9000", "ftp://h", "http://h/bucket", "http://h/?x=1", "http://"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        aliases.check_url(url)
