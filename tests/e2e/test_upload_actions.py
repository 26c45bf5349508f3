"""The control actions of seeds 000 and 003, end to end: the action, then the upload a client makes with what it got."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from ufile.auth import Auth

from tests.e2e.helpers import call
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server
from tests.e2e.test_presigned import s3_url

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(200)
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(300)


def action(server: Server, name: str, **params: object) -> requests.Response:
    query = {"Action": name, "PublicKey": ACCESS_KEY, **{k: str(v) for k, v in params.items()}}
    query["Signature"] = Auth(ACCESS_KEY, SECRET_KEY).bucket_signature(query)
    reply = requests.get(server.url + "/", params=query)
    assert reply.headers["Content-Type"] == "application/json", reply.text
    return reply


def form_fields(form: dict[str, Any]) -> dict[str, str]:
    """The fields of a form upload that CreateTempFileUploadUrl's reply describes."""
    return {
        "key": form["TempFileKey"],
        "OSSAccessKeyId": form["OssAccessKeyId"],
        "policy": form["Policy"],
        "Signature": form["Signature"],
        "success_action_status": "200",
    }


def wait_until(check: Any, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_seed_000_temp_file_form_upload(server: Server) -> None:
    reply = action(server, "CreateTempFileUploadUrl", FileName="file-list.txt")
    assert reply.status_code == 200
    form = reply.json()
    assert set(form) == {
        "RequestId", "Success", "Code", "Message", "Endpoint", "BucketName", "TempFileKey", "OssAccessKeyId",
        "Policy", "Signature", "ExpireTime",
    }  # fmt: skip
    assert form["Success"] is True and form["Code"] == "200" and form["Message"] == "successful"
    parts = form["TempFileKey"].split("/")
    assert parts[0] == "temp" and parts[2] == "upload" and parts[-1] == "file-list.txt"
    assert time.strftime("%Y-%m-%d", time.gmtime()) == parts[3] and uuid.UUID(parts[4])
    assert 899 <= form["ExpireTime"] - time.time() <= 901
    url = f"http://{form['BucketName']}.{form['Endpoint']}/"
    fields = form_fields(form)
    upload = requests.post(url, data=fields, files={"file": ("file-list.txt", b"a\nb\nc\n", "text/plain")})
    assert upload.status_code == 200, upload.text
    stored = requests.get(s3_url(server, "GET", form["BucketName"], form["TempFileKey"]))
    assert stored.content == b"a\nb\nc\n"

    elsewhere = dict(fields, key=form["TempFileKey"] + ".other")
    refused = requests.post(url, data=elsewhere, files={"file": ("x", b"x")})
    assert refused.status_code == 403 and b"Invalid according to Policy" in refused.content
    again = requests.post(url, data=fields, files={"file": ("file-list.txt", b"changed")})
    assert again.status_code == 403 and b"TOKEN_DENY_UPDATE" in again.content  # one upload per form

    second = action(server, "CreateTempFileUploadUrl", FileName="late.txt").json()
    late_fields = dict(fields, key=second["TempFileKey"], policy=second["Policy"], Signature=second["Signature"])
    try:
        server.move_clock(901)
        late = requests.post(url, data=late_fields, files={"file": ("late.txt", b"late")})
        assert late.status_code == 403 and b"Policy expired" in late.content
        server.move_clock(86401)  # the sweeper (every second here) removes files a day old
        gone = wait_until(lambda: call(server, "GET", form["BucketName"], form["TempFileKey"]).status_code == 404)
        assert gone
    finally:
        server.move_clock(0)


def test_seed_000_errors(server: Server) -> None:
    missing = action(server, "CreateTempFileUploadUrl")
    assert missing.status_code == 400 and missing.json()["Code"] == "MissingParameter"
    assert set(missing.json()) == {"RequestId", "Code", "Message"} and missing.json()["RequestId"]
    bad = action(server, "CreateTempFileUploadUrl", FileName="../etc/passwd")
    assert bad.status_code == 400 and bad.json()["Code"] == "InvalidParameter"


def curl_put(url: str, path: Path) -> tuple[int, str]:
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/stderr", "-w", "%{http_code}", "-T", str(path), url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return int(out.stdout), out.stderr


def test_seed_003_resource_upload_url_with_curl(server: Server, tmp_path: Path) -> None:
    name = f"greeting-{uuid.uuid4().hex[:8]}.wav"
    reply = action(server, "GetResourceUploadUrl", Version="2022-01-01", FileName=name)
    assert reply.status_code == 200
    body = reply.json()
    metadata = body["ResponseMetadata"]
    assert metadata["Action"] == "GetResourceUploadUrl" and metadata["Version"] == "2022-01-01"
    assert metadata["Service"] == "vms" and metadata["RequestId"] and "Error" not in metadata
    url = body["Result"]["UploadUrl"]
    assert "X-Tos-Algorithm=TOS4-HMAC-SHA256" in url and "X-Tos-Expires=600" in url
    same = action(server, "GetResourceUploadUrl", Version="2022-01-01", FileName=name).json()
    assert same["Result"]["UploadUrl"] == url  # idempotent while it lives

    text = tmp_path / "not-audio.wav"
    text.write_bytes(b"just some text, not a wave file")
    status, answer = curl_put(url, text)
    assert status == 400 and "wav" in answer
    audio = tmp_path / name
    audio.write_bytes(WAV)
    status, answer = curl_put(url, audio)
    assert status == 200, answer
    status, answer = curl_put(url, audio)
    assert status == 403  # one upload per name
    taken = action(server, "GetResourceUploadUrl", Version="2022-01-01", FileName=name)
    assert taken.status_code == 400
    assert taken.json()["ResponseMetadata"]["Error"]["Code"] == "IdempotentParameterMismatch"

    mp3_name = f"song-{uuid.uuid4().hex[:8]}.MP3"
    mp3_url = action(server, "GetResourceUploadUrl", Version="2022-01-01", FileName=mp3_name).json()
    (tmp_path / "song.mp3").write_bytes(MP3)
    try:
        server.move_clock(601)
        status, answer = curl_put(mp3_url["Result"]["UploadUrl"], tmp_path / "song.mp3")
        assert status == 403 and "expired" in answer
        fresh = action(server, "GetResourceUploadUrl", Version="2022-01-01", FileName=mp3_name).json()
        assert fresh["Result"]["UploadUrl"] != mp3_url["Result"]["UploadUrl"]
        assert curl_put(fresh["Result"]["UploadUrl"], tmp_path / "song.mp3")[0] == 200
    finally:
        server.move_clock(0)


def test_seed_003_errors(server: Server) -> None:
    def error(**params: object) -> tuple[int, str]:
        reply = action(server, "GetResourceUploadUrl", **params)
        return reply.status_code, reply.json()["ResponseMetadata"]["Error"]["Code"]

    assert error(Version="2022-01-01") == (400, "MissingParameter")
    assert error(FileName="a.wav") == (400, "MissingParameter")
    assert error(Version="2020-01-01", FileName="a.wav") == (404, "InvalidActionOrVersion")
    assert error(Version="2022-01-01", FileName="notes.txt") == (400, "InvalidParameter")
    assert error(Version="2022-01-01", FileName="a/b.wav") == (400, "InvalidParameter")


def test_seed_003_quota_of_live_urls(tmp_path: Path) -> None:
    server = Server(data=tmp_path / "data", extra=["--resource-pending-max", "2", "--resource-formats", "wav"]).start()
    try:
        for name in ("a.wav", "b.wav", "a.wav"):
            assert action(server, "GetResourceUploadUrl", Version="2022-01-01", FileName=name).status_code == 200
        over = action(server, "GetResourceUploadUrl", Version="2022-01-01", FileName="c.wav")
        assert over.status_code == 400
        assert over.json()["ResponseMetadata"]["Error"]["Code"] == "QuotaExceeded"
        mp3 = action(server, "GetResourceUploadUrl", Version="2022-01-01", FileName="d.mp3")
        assert mp3.json()["ResponseMetadata"]["Error"]["Code"] == "InvalidParameter"
    finally:
        server.stop()
    refused = subprocess.run(
        [sys.executable, "-m", "holdall", "serve", "--data", str(tmp_path / "other"), "--resource-formats", "exe"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert refused.returncode != 0 and "--resource-formats" in refused.stderr
