"""The README, pasted as a new user would: every ```sh and ```python block runs, in README order, against
the server the quickstart's own command installs and starts on 127.0.0.1:9000.

A block the README marks with ``<!-- docs-test: skip: REASON -->`` on the line before it is reported
as skipped, with its reason.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
ADDRESS = ("127.0.0.1", 9000)
HOSTS_FILE = Path("/etc/hosts")
VENV_BIN = Path(sys.executable).parent
RUN_LANGUAGES = ("sh", "python")
SKIP_MARK = re.compile(r"^<!--\s*docs-test:\s*skip:\s*(.+?)\s*-->\s*$")
FENCE = re.compile(r"^\s*```(\S*)\s*$")
SERVE = re.compile(r"\bholdall serve\b")
SELF_TEST = "scripts/test"
BLOCK_TIMEOUT = 120
SERVE_TIMEOUT = 180
STOP_TIMEOUT = 40

pytestmark = [
    pytest.mark.skipif(
        bool(os.environ.get("HOLDALL_TEST_META")),
        reason="the README's quickstart serves SQLite and a folder: its docs test runs in the first pass only",
    ),
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="the README's `sudo holdall hosts --write` writes /etc/hosts: the docs test runs as root, as in CI",
    ),
]


@dataclass(frozen=True)
class Block:
    language: str
    line: int
    """README.md's line number of the block's first line of code."""
    code: str
    skip_reason: str | None = None

    @property
    def first_line(self) -> str:
        return self.code.splitlines()[0] if self.code else ""

    @property
    def label(self) -> str:
        return f"README.md line {self.line} ({self.language}): {self.first_line}"


def readme_blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text in the languages the test runs, in order."""
    blocks: list[Block] = []
    lines = text.splitlines()
    opened: tuple[str, int, str | None] | None = None
    body: list[str] = []
    for number, line in enumerate(lines, start=1):
        fence = FENCE.match(line)
        if opened is None and fence:
            mark = SKIP_MARK.match(lines[number - 2].strip()) if number > 1 else None
            opened, body = (fence.group(1), number + 1, mark.group(1) if mark else None), []
        elif opened is not None and line.strip() == "```":
            language, first, reason = opened
            if language in RUN_LANGUAGES:
                blocks.append(Block(language, first, textwrap.dedent("\n".join(body)) + "\n", reason))
            opened = None
        elif opened is not None:
            body.append(line)
    return blocks


def quickstart_server_line(blocks: list[Block]) -> Block:
    """The command line that starts the server in the foreground, as a one-line block of its own."""
    for block in blocks:
        if block.language == "sh" and block.skip_reason is None:
            for offset, line in enumerate(block.code.splitlines()):
                if SERVE.search(line):
                    return Block("sh", block.line + offset, line + "\n")
    raise LookupError("no README sh block starts `holdall serve`")


def steps(blocks: list[Block], server: Block) -> list[Block]:
    """What the test runs: every block, the server's own split into its commands, one a line."""
    found: list[Block] = []
    for block in blocks:
        lines = block.code.splitlines()
        if not (block.line <= server.line < block.line + len(lines)):
            found.append(block)
            continue
        for offset, line in enumerate(lines):
            reason = None
            if line.strip() == SELF_TEST:
                reason = f"`{SELF_TEST}` runs this very test: it cannot run inside itself"
            found.append(Block("sh", block.line + offset, line + "\n", reason))
    return found


BLOCKS = readme_blocks(README.read_text())
SERVER_LINE = quickstart_server_line(BLOCKS)
STEPS = steps(BLOCKS, SERVER_LINE)


@dataclass
class ReadmeUser:
    """A user who cloned the repository, followed the quickstart and now has their own files beside it."""

    scratch: Path
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)


def user_env() -> dict[str, str]:
    """A fresh user's shell: the system's PATH without the test's virtual environment (what the README's
    blocks install and activate is what they get), and none of this machine's HOLDALL_, AWS_, RCLONE_ or
    VIRTUAL_ENV settings (AWS_CA_BUNDLE, for one, makes rclone refuse a plain-http endpoint)."""
    own = ("HOLDALL_", "AWS_", "RCLONE_", "VIRTUAL_ENV")
    env = {name: value for name, value in os.environ.items() if not name.startswith(own)}
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep) if Path(part) != VENV_BIN)
    return env


def clone_working_tree(target: Path) -> None:
    """A clone of the checkout with its uncommitted changes copied over: what is about to be committed."""
    subprocess.run(["git", "clone", "-q", str(REPO), str(target)], check=True, capture_output=True)
    changed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-m", "-o", "--exclude-standard", "-z"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for name in filter(None, changed.split("\0")):
        source, copy = REPO / name, target / name
        if source.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy, follow_symlinks=False)
        else:
            copy.unlink(missing_ok=True)


def make_user_files(workdir: Path) -> None:
    """The files the README's examples upload; the film is large enough to go up in parts."""
    (workdir / "cat.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(3000))
    (workdir / "film.mp4").write_bytes(os.urandom(20 * 2**20))
    album = workdir / "album"
    (album / "2024").mkdir(parents=True)
    (album / "beach.jpg").write_bytes(os.urandom(40_000))
    (album / "2024" / "snow.jpg").write_bytes(os.urandom(70_000))
    (album / "notes.txt").write_text("first trip\n")


def require_free_address() -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(ADDRESS)
            return
        except OSError as problem:
            reason = problem.strerror
    pytest.fail(
        f"{ADDRESS[0]}:{ADDRESS[1]} is taken ({reason}): the README's examples all use it, so the docs test"
        " needs it free; stop whatever listens there",
        pytrace=False,
    )


def shell_command(code: str, env_file: Path | None = None) -> list[str]:
    """bash running the code as pasted; a root user (CI, where no sudo exists) runs it without `sudo `.
    With ``env_file``, the shell's environment is written there at the end, so what a block exports (or
    activates) holds for the blocks after it, as in the one terminal a user pastes them into."""
    if os.geteuid() == 0:
        code = re.sub(r"^(\s*)sudo\s+", r"\1", code, flags=re.MULTILINE)
    if env_file is not None:
        code = f"{code}\nenv -0 > {shlex.quote(str(env_file))}\n"
    return ["bash", "-euo", "pipefail", "-c", code]


def read_env(env_file: Path) -> dict[str, str]:
    pairs = (item.partition("=") for item in env_file.read_text().split("\0") if item)
    return {name: value for name, _, value in pairs if not name.startswith("BASH_FUNC_") and name != "_"}


def answers_health() -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{ADDRESS[0]}:{ADDRESS[1]}/healthz", timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def printed_keys(output: str) -> dict[str, str]:
    return dict(re.findall(r"\b(HOLDALL_(?:ACCESS|SECRET)_KEY)=(\S+)", output))


def group_alive(group: int) -> bool:
    """Whether a process of the group still runs (zombies waiting for their parent do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the command's process group (bash, holdall and its workers), SIGKILL if it lingers."""
    for stop_signal in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, stop_signal)
        deadline = time.monotonic() + STOP_TIMEOUT
        while (process.poll() is None or group_alive(process.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if process.poll() is not None and not group_alive(process.pid):
            return


def start_quickstart_server(user: ReadmeUser, server_line: Block, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            shell_command(server_line.code),
            cwd=user.workdir,
            env=user.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_server(process: subprocess.Popen[bytes], server_line: Block, log: Path) -> None:
    """Waits until the server answers GET /healthz, having printed its new key pair once (the README's
    blocks export the keys themselves)."""
    deadline = time.monotonic() + SERVE_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{server_line.label}\nexited with {process.returncode}:\n{log.read_text()}", pytrace=False)
        if answers_health():
            if len(printed_keys(log.read_text())) == 2:
                return
            pytest.fail(f"{server_line.label}\nprinted no generated key pair:\n{log.read_text()}", pytrace=False)
        time.sleep(0.5)
    pytest.fail(
        f"{server_line.label}\ndid not answer GET /healthz in {SERVE_TIMEOUT} s:\n{log.read_text()}", pytrace=False
    )


@pytest.fixture(scope="module")
def readme_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadmeUser]:
    """The quickstart followed for real in a fresh clone, its server running until the module ends;
    /etc/hosts is put back exactly as it was."""
    require_free_address()
    scratch = tmp_path_factory.mktemp("readme")
    user = ReadmeUser(scratch=scratch, workdir=scratch / "holdall", env=user_env())
    hosts_before = HOSTS_FILE.read_bytes()
    server: subprocess.Popen[bytes] | None = None
    try:
        clone_working_tree(user.workdir)
        make_user_files(user.workdir)
        log = scratch / "quickstart.log"
        server = start_quickstart_server(user, SERVER_LINE, log)
        wait_for_server(server, SERVER_LINE, log)
        yield user
    finally:
        if server is not None:
            stop_group(server)
        if HOSTS_FILE.read_bytes() != hosts_before:
            HOSTS_FILE.write_bytes(hosts_before)


def run_block(user: ReadmeUser, block: Block) -> subprocess.CompletedProcess[str]:
    env_file = user.scratch / f"README-line-{block.line}.env"
    if block.language == "python":
        script = user.scratch / f"README-line-{block.line}.py"
        script.write_text(block.code)
        command = ["python", str(script)]  # the one the README's blocks put first on PATH
    else:
        command = shell_command(block.code, env_file)
    try:
        done = subprocess.run(
            command,
            cwd=user.workdir,
            env=user.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
        )
    except subprocess.TimeoutExpired as late:
        pytest.fail(
            f"{block.label}\ndid not finish in {BLOCK_TIMEOUT} s\n{late.stdout!r}\n{late.stderr!r}", pytrace=False
        )
    if done.returncode == 0 and env_file.exists():
        user.env = read_env(env_file)
    return done


@pytest.mark.parametrize("block", STEPS, ids=[f"line{step.line}-{step.language}" for step in STEPS])
def test_readme_block(readme_user: ReadmeUser, block: Block) -> None:
    if block.skip_reason:
        pytest.skip(f"{block.label}: {block.skip_reason}")
    if block == SERVER_LINE:
        return  # the fixture ran it, in the background, and saw it answer
    done = run_block(readme_user, block)
    if done.returncode != 0:
        pytest.fail(
            f"{block.label}\nexited with {done.returncode}\n"
            f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}",
            pytrace=False,
        )


def test_the_parser_reads_fences_marks_and_line_numbers() -> None:
    text = "\n".join(
        [
            "# t",
            "```sh",
            "echo one",
            "```",
            "<!-- docs-test: skip: needs a real database -->",
            "```python",
            "print(2)",
            "```",
            "```",
            "```sh inside an unnamed block is text",
            "```",
            "- in a list:",
            "  ```sh",
            "  echo three",
            "    echo four",
            "  ```",
        ]
    )
    assert readme_blocks(text) == [
        Block("sh", 3, "echo one\n"),
        Block("python", 7, "print(2)\n", "needs a real database"),
        Block("sh", 14, "echo three\n  echo four\n"),
    ]
