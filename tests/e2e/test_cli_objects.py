"""The command line's object verbs (``holdall alias|mb|rb|ls|cp|rm|cat|stat|credentials``), run as users
run them, against a real server."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from holdall.client.s3 import Body, S3Client
from holdall.client.transfer import MAX_PARTS, MIN_PART, PART_SIZE, local_path, multipart_etag, part_size_for
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server, free_port

MiB = 1024 * 1024
TIMEOUT = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("cli-objects")
    srv = Server(data=root / "data", extra=["--bucket-delete-delay", "0", "--workers", "2"]).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def s3(server: Server) -> S3Client:
    return S3Client(server.url, ACCESS_KEY, SECRET_KEY, connections=16)


class Cli:
    """Runs ``python -m holdall`` with its own config and cache directories and an alias ``t``."""

    def __init__(self, home: Path) -> None:
        self.config, self.cache = home / "config", home / "cache"
        removed = ("HOLDALL_ACCESS_KEY", "HOLDALL_SECRET_KEY", "HOLDALL_DATA")
        self.env = {name: value for name, value in os.environ.items() if name not in removed}
        self.env.update(XDG_CONFIG_HOME=str(self.config), XDG_CACHE_HOME=str(self.cache))

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "holdall", *args]

    def run(self, *args: str, code: int = 0, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(*args), env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=TIMEOUT
        )
        assert done.returncode == code, (args, done.returncode, done.stdout[-2000:], done.stderr[-2000:])
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def json(self, *args: str, code: int = 0, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Runs a verb with --json; every line of its output must be one JSON object."""
        done = self.run(*args, "--json", code=code, env=env)
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        assert all(isinstance(line, dict) and line["status"] in ("success", "error") for line in lines), lines
        assert all(line["status"] == ("success" if code == 0 else "error") for line in lines[-1:]), lines
        return lines

    @property
    def uploads(self) -> Path:
        return self.cache / "holdall" / "uploads"


@pytest.fixture
def cli(tmp_path: Path, server: Server) -> Cli:
    cli = Cli(tmp_path / "home")
    cli.run("alias", "set", "t", server.url, ACCESS_KEY, SECRET_KEY)
    return cli


@pytest.fixture
def bucket(cli: Cli, request: pytest.FixtureRequest) -> str:
    name = f"cli-{abs(hash(request.node.name)) % 10**8}-{os.getpid()}"
    cli.run("mb", f"t/{name}")
    return name


def sha256(path: Path) -> str:
    with open(path, "rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def local_etag(path: Path) -> str:
    size = path.stat().st_size
    part = part_size_for(size)
    with open(path, "rb") as source:
        md5s = [hashlib.md5(source.read(part)).hexdigest() for _ in range(-(-size // part))]
    return multipart_etag(md5s)


def random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as out:
        for _ in range(size // (16 * MiB)):
            out.write(os.urandom(16 * MiB))
        out.write(os.urandom(size % (16 * MiB)))
    return path


def wait_for(condition: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


# ----------------------------------------------------------------- copies


@pytest.mark.parametrize("size", [0, 1, 200 * MiB, 160 * 1024 * MiB, 5 * 1024**4])
def test_part_sizes_keep_within_ten_thousand_parts_of_whole_4_mib_blocks(size: int) -> None:
    part = part_size_for(size)
    assert part >= max(PART_SIZE, MIN_PART) and part % (4 * MiB) == 0
    assert -(-size // part) <= MAX_PARTS


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/abs", "a//b", "a/./b", "nul\0"])
def test_downloaded_names_stay_below_the_target(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        local_path(tmp_path, name)
    assert local_path(tmp_path, "a b/日本/é.txt") == tmp_path / "a b" / "日本" / "é.txt"


def test_large_copy_up_and_down_is_byte_exact_with_the_multipart_etag(cli: Cli, bucket: str, tmp_path: Path) -> None:
    source = random_file(tmp_path / "big.bin", 200 * MiB)
    [up] = cli.json("cp", str(source), f"t/{bucket}/films/big.bin")
    etag = local_etag(source)
    assert up["etag"] == etag and etag.endswith(f"-{up['parts']}") and up["parts"] > 1
    assert up["size"] == source.stat().st_size and up["partsReused"] == 0
    [shown] = cli.json("stat", f"t/{bucket}/films/big.bin")
    assert (shown["size"], shown["etag"]) == (200 * MiB, etag)
    assert not list(cli.uploads.glob("*.json"))  # the state file is gone once the upload completes

    [down] = cli.json("cp", f"t/{bucket}/films/big.bin", f"{tmp_path}/down/")
    target = tmp_path / "down" / "big.bin"
    assert down["target"] == str(target) and down["size"] == 200 * MiB
    assert sha256(target) == sha256(source)
    assert [path.name for path in target.parent.iterdir()] == ["big.bin"]  # no temporary file left behind


def test_an_upload_killed_midway_resumes_with_the_parts_already_stored(
    cli: Cli, bucket: str, tmp_path: Path, s3: S3Client
) -> None:
    source = random_file(tmp_path / "resume.bin", 256 * MiB)
    key = "resume/resume.bin"
    first = subprocess.Popen(
        cli.command("cp", str(source), f"t/{bucket}/{key}", "--json"), env=cli.env, stdout=subprocess.PIPE
    )
    try:
        state_file = wait_for(lambda: next(cli.uploads.glob("*.json"), None), "the upload's state file")
        upload_id = wait_for(lambda: json.loads(state_file.read_text() or "{}").get("upload_id"), "an upload id")
        wait_for(lambda: s3.list_parts(bucket, key, upload_id), "a stored part")
        assert first.poll() is None, "the upload ended before it could be interrupted"
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait(TIMEOUT)
    assert first.returncode == -signal.SIGKILL

    def settled() -> list[int] | None:
        """Parts whose bodies were whole when the client died may still commit (on an S3 blob store, the
        part's write to the service takes a while): the list must hold still for a second."""
        before = [part.number for part in s3.list_parts(bucket, key, upload_id)]
        time.sleep(1.0)
        return before if before == [part.number for part in s3.list_parts(bucket, key, upload_id)] else None

    stored = wait_for(settled, "the stored parts to settle")
    total = -(-source.stat().st_size // part_size_for(source.stat().st_size))
    assert 0 < len(stored) < total

    [again] = cli.json("cp", str(source), f"t/{bucket}/{key}")
    assert again["partsReused"] == len(stored) and again["parts"] == total
    assert again["etag"] == local_etag(source)
    assert not state_file.exists()
    cli.run("cp", f"t/{bucket}/{key}", str(tmp_path / "back.bin"))
    assert sha256(tmp_path / "back.bin") == sha256(source)


def test_an_upload_whose_saved_upload_is_gone_starts_over(cli: Cli, bucket: str, tmp_path: Path, s3: S3Client) -> None:
    source = random_file(tmp_path / "again.bin", 96 * MiB)
    first = subprocess.Popen(
        cli.command("cp", str(source), f"t/{bucket}/again.bin"), env=cli.env, stdout=subprocess.DEVNULL
    )
    try:
        state_file = wait_for(lambda: next(cli.uploads.glob("*.json"), None), "the upload's state file")
        upload_id = wait_for(lambda: json.loads(state_file.read_text() or "{}").get("upload_id"), "an upload id")
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait(TIMEOUT)
    s3.abort_upload(bucket, "again.bin", upload_id)  # as the sweeper does to an old upload

    [again] = cli.json("cp", str(source), f"t/{bucket}/again.bin")
    assert again["partsReused"] == 0 and again["etag"] == local_etag(source)
    assert not state_file.exists()


TREE = {
    "é.txt": b"accent",
    "日本/語.txt": "日本語".encode(),
    "a b/c d.txt": b"spaces",
    "a b/deeper/x y z.bin": os.urandom(70_000),
    "a b/empty": b"",
    "plain.txt": b"plain",
}


def test_a_tree_with_spaces_and_unicode_goes_up_and_comes_back_the_same(cli: Cli, bucket: str, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for name, data in TREE.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(data)
    up = cli.json("cp", "--recursive", str(tree), f"t/{bucket}/backup")
    assert sorted(line["target"] for line in up) == sorted(f"t/{bucket}/backup/{name}" for name in TREE)

    listed = cli.json("ls", "--recursive", f"t/{bucket}/backup/")
    assert [line["key"] for line in listed] == sorted((f"backup/{name}" for name in TREE), key=str.encode)
    assert {line["key"]: line["size"] for line in listed} == {f"backup/{n}": len(d) for n, d in TREE.items()}
    level = cli.json("ls", f"t/{bucket}/backup/")
    assert [(line["type"], line["key"]) for line in level] == [
        ("folder", "backup/a b/"),
        ("file", "backup/plain.txt"),
        ("file", "backup/é.txt"),
        ("folder", "backup/日本/"),
    ]

    down = tmp_path / "down"
    cli.json("cp", "-r", f"t/{bucket}/backup", str(down))
    found = {path.relative_to(down).as_posix(): path.read_bytes() for path in down.rglob("*") if path.is_file()}
    assert found == TREE
    assert cli.run("cat", f"t/{bucket}/backup/日本/語.txt").stdout == "日本語"


def test_ls_pages_through_thousands_of_keys_and_rb_force_empties_the_bucket(
    cli: Cli, bucket: str, s3: S3Client
) -> None:
    keys = [f"d{index % 7}/k{index:05d}" for index in range(5000)] + ["top.txt"]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: s3.put_object(bucket, key, Body.of(key.encode())), keys))

    listed = cli.json("ls", "--recursive", f"t/{bucket}")
    assert [line["key"] for line in listed] == sorted(keys)
    assert all(line["size"] == len(line["key"]) for line in listed)
    level = cli.json("ls", f"t/{bucket}")
    assert [(line["type"], line["key"]) for line in level] == [("folder", f"d{n}/") for n in range(7)] + [
        ("file", "top.txt")
    ]
    human = cli.run("ls", f"t/{bucket}").stdout.splitlines()
    assert human[0].split() == ["PRE", "d0/"] and human[-1].endswith("  top.txt")

    removed = cli.json("rb", "--force", f"t/{bucket}")
    assert len(removed) == len(keys) + 1 and removed[-1] == {"status": "success", "bucket": f"t/{bucket}"}
    [missing] = cli.json("ls", f"t/{bucket}", code=1)
    assert missing["code"] == "NoSuchBucket"


# ----------------------------------------------------------------- every verb, --json and exit codes


def test_every_verb_answers_json_lines_for_results_and_errors(cli: Cli, bucket: str, tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("hello")
    b = f"t/{bucket}"
    assert cli.json("mb", f"{b}-2") == [{"status": "success", "bucket": f"{b}-2"}]
    assert cli.json("mb", f"{b}-2", code=1)[0]["code"] == "BucketAlreadyOwnedByYou"
    assert cli.json("mb", "--ignore-existing", f"{b}-2")[0]["status"] == "success"
    assert cli.json("rb", f"{b}-2")[0]["bucket"] == f"{b}-2"
    assert cli.json("rb", f"{b}-2", code=1)[0]["code"] == "NoSuchBucket"

    [copied] = cli.json("cp", str(tmp_path / "note.txt"), f"{b}/notes/")
    assert copied["target"] == f"{b}/notes/note.txt" and copied["etag"] == hashlib.md5(b"hello").hexdigest()
    [shown] = cli.json("stat", f"{b}/notes/note.txt")
    assert shown["size"] == 5 and shown["contentType"] == "text/plain" and shown["metadata"] == {}
    assert cli.json("stat", b)[0]["type"] == "bucket"
    [remote_copy] = cli.json("cp", f"{b}/notes/note.txt", f"{b}/copy.txt")
    assert remote_copy["etag"] == copied["etag"]
    assert [line["key"] for line in cli.json("ls", b)] == ["copy.txt", "notes/"]
    assert [line["type"] for line in cli.json("ls", "t")].count("bucket") >= 1
    assert cli.json("rm", f"{b}/copy.txt") == [{"status": "success", "key": f"{b}/copy.txt"}]
    assert cli.json("rm", "-r", f"{b}/notes") == [{"status": "success", "key": f"{b}/notes/note.txt"}]

    for args in (
        ("stat", f"{b}/nothing"),
        ("cat", f"{b}/nothing"),
        ("rm", f"{b}/nothing"),
        ("cp", f"{b}/nothing", str(tmp_path)),
        ("cp", str(tmp_path / "absent.txt"), f"{b}/x"),
        ("ls", "nosuchalias/bucket"),
        ("alias", "rm", "nosuchalias"),
    ):
        [error] = cli.json(*args, code=1)
        assert error["error"].startswith(args[0]) and error["code"] and error["message"], error
    [usage] = cli.json("mb", "t", code=2)
    assert usage["code"] == "UsageError"
    assert {line["alias"] for line in cli.json("alias", "ls")} >= {"t", "local"}
    assert cli.json("alias", "set", "u", "http://127.0.0.1:1", "a", "b")[0]["alias"] == "u"
    assert cli.json("alias", "rm", "u") == [{"status": "success", "alias": "u"}]


def test_exit_codes_say_success_failure_and_misuse(cli: Cli, bucket: str, tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("x")
    cli.run("cp", str(tmp_path / "x.txt"), f"t/{bucket}")  # to the bucket: the file's name is the key
    cli.run("stat", f"t/{bucket}/x.txt")
    assert cli.run("cat", f"t/{bucket}/x.txt").stdout == "x"

    missing_key = cli.run("stat", f"t/{bucket}/nope", code=1)
    assert missing_key.stderr == f"holdall: stat t/{bucket}/nope: NoSuchKey: The specified key does not exist.\n"
    assert "NoSuchKey" in cli.run("cat", f"t/{bucket}/nope", code=1).stderr
    assert "NoSuchBucket" in cli.run("stat", "t/no-such-bucket-here/x", code=1).stderr
    assert "NoSuchBucket" in cli.run("ls", "t/no-such-bucket-here", code=1).stderr
    assert "NoSuchBucket" in cli.run("cp", str(tmp_path / "x.txt"), "t/no-such-bucket-here/x", code=1).stderr

    cli.run("alias", "set", "down", f"http://127.0.0.1:{free_port()}", "a", "b")
    down = cli.run("ls", "down/b", code=1).stderr
    assert down.startswith("holdall: ls down/b: ConnectionFailed: cannot reach") and "refused" in down
    [json_down] = cli.json("cp", str(tmp_path / "x.txt"), "down/b/x", code=1)
    assert json_down["code"] == "ConnectionFailed"
    assert "no alias 'nowhere'" in cli.run("stat", "nowhere/b/k", code=1).stderr

    cli.run("ls", code=2)  # no TARGET
    cli.run("ls", "--no-such-option", "t", code=2)
    cli.run("mb", "t", code=2)  # no bucket
    cli.run("rm", f"t/{bucket}", code=2)  # no key, and not --recursive
    cli.run("cp", str(tmp_path / "x.txt"), str(tmp_path / "y.txt"), code=2)  # nothing remote
    cli.run("cp", str(tmp_path), f"t/{bucket}/dir", code=2)  # a directory without --recursive
    cli.run("alias", "set", "bad name", "http://127.0.0.1:1", "a", "b", code=2)
    cli.run("alias", "set", "ok", "ftp://example", "a", "b", code=2)


# ----------------------------------------------------------------- aliases and keys


def test_alias_file_is_private_and_local_defaults_to_this_machine(cli: Cli, server: Server, tmp_path: Path) -> None:
    config = cli.config / "holdall" / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    assert 'secret_key = "holdall-test-root-secret-key"' in config.read_text()

    data = tmp_path / "data"
    data.mkdir()
    (data / "root-credentials.json").write_text(json.dumps({"public_key": "HAFROMFILE", "private_key": "s"}))
    shown = {line["alias"]: line for line in cli.json("alias", "ls", "--data", str(data))}
    assert shown["local"]["url"] == "http://127.0.0.1:9000" and shown["local"]["accessKey"] == "HAFROMFILE"
    assert all("secretKey" not in line for line in shown.values())
    from_env = {"HOLDALL_ACCESS_KEY": "HAFROMENV", "HOLDALL_SECRET_KEY": "s2", "HOLDALL_DATA": str(data)}
    assert {line["alias"]: line for line in cli.json("alias", "ls", env=from_env)}["local"]["accessKey"] == "HAFROMENV"

    cli.run("alias", "set", "local", server.url, ACCESS_KEY, SECRET_KEY, "--region", "cn-sh2")
    assert {line["alias"]: line for line in cli.json("alias", "ls")}["local"]["region"] == "cn-sh2"
    cli.run("ls", "local")  # the alias local now reaches the test server
    cli.run("alias", "rm", "local")
    assert {line["alias"]: line for line in cli.json("alias", "ls")}["local"]["url"] == "http://127.0.0.1:9000"
    cli.run("alias", "rm", "t")
    assert "[aliases.t]" not in config.read_text() and stat.S_IMODE(config.stat().st_mode) == 0o600


def test_credentials_shows_and_exports_the_root_keys(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "root-credentials.json").write_text(json.dumps({"public_key": "HAKEY", "private_key": "se'cret"}))
    shown = cli.run("credentials", "--data", str(data)).stdout
    assert "HAKEY" in shown and "se'cret" in shown and str(data / "root-credentials.json") in shown
    [as_json] = cli.json("credentials", env={"HOLDALL_DATA": str(data)})
    assert (as_json["accessKey"], as_json["secretKey"]) == ("HAKEY", "se'cret")

    script = f'eval "$({" ".join(cli.command())} credentials --export --data {data})"; echo "$HOLDALL_SECRET_KEY"'
    evaluated = subprocess.run(["bash", "-c", script], env=cli.env, capture_output=True, text=True, timeout=TIMEOUT)
    assert evaluated.stdout == "se'cret\n", evaluated.stderr
    exported = cli.run("credentials", "--export", env={"HOLDALL_ACCESS_KEY": "HAENV", "HOLDALL_SECRET_KEY": "x"})
    assert exported.stdout == "export HOLDALL_ACCESS_KEY=HAENV\nexport HOLDALL_SECRET_KEY=x\n"

    missing = cli.run("credentials", "--data", str(tmp_path / "nowhere"), code=1).stderr
    assert missing.startswith("holdall: credentials: NoCredentials: no root keys")


def test_alias_set_reads_a_secret_left_out_from_standard_input(cli: Cli) -> None:
    config = cli.config / "holdall" / "config.toml"
    command = cli.command("alias", "set", "quiet", "http://127.0.0.1:9", "HAQUIETKEY")
    given = subprocess.run(command, env=cli.env, input="a secret kept out of ps\n", capture_output=True, text=True)
    assert given.returncode == 0 and "a secret kept out of ps" not in given.stdout + given.stderr, given
    assert 'secret_key = "a secret kept out of ps"' in config.read_text()
    empty = subprocess.run(command, env=cli.env, input="", capture_output=True, text=True)
    assert empty.returncode == 2 and "standard input" in empty.stderr, empty


def test_a_key_holding_a_newline_stays_on_its_line(cli: Cli, bucket: str, s3: S3Client) -> None:
    s3.put_object(bucket, "real\n[2026-01-01 00:00:00 UTC]        1 B  forged.txt", Body.of(b"x"))
    listed = cli.run("ls", "--recursive", f"t/{bucket}").stdout.splitlines()
    assert len(listed) == 1 and listed[0].endswith("real\\x0a[2026-01-01 00:00:00 UTC]        1 B  forged.txt")
    [as_json] = cli.json("ls", "--recursive", f"t/{bucket}")
    assert as_json["key"] == "real\n[2026-01-01 00:00:00 UTC]        1 B  forged.txt"
