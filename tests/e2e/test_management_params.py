"""Management calls take only the parameters their action declares: a captured call cannot be re-split."""

from __future__ import annotations

from urllib.parse import urlencode

import requests
from ufile.auth import Auth

from tests.e2e.helpers import api
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server


def _signed(params: dict[str, str]) -> dict[str, str]:
    query = {"Action": params.pop("Action"), "PublicKey": ACCESS_KEY, **params}
    query["Signature"] = Auth(ACCESS_KEY, SECRET_KEY).bucket_signature(query)
    return query


def test_a_resplit_token_call_is_refused(server: Server, bucket: str) -> None:
    captured = _signed(
        {
            "Action": "CreateUFileToken",
            "TokenName": "up-only",
            "AllowedOps.0": "TOKEN_ALLOW_WRITE",
            "AllowedPrefixes.0": "up/",
            "AllowedBuckets.0": bucket,
        }
    )
    resplit = dict(captured)
    del resplit["AllowedPrefixes.0"]
    resplit["AllowedPrefixes"] = ".0up/"  # the same concatenation, so the same signature
    assert Auth(ACCESS_KEY, SECRET_KEY).bucket_signature(
        {k: v for k, v in resplit.items() if k != "Signature"}
    ) == Auth(ACCESS_KEY, SECRET_KEY).bucket_signature({k: v for k, v in captured.items() if k != "Signature"})
    reply = requests.get(server.url + "/", params=resplit).json()
    assert reply["RetCode"] == 15017 and "`AllowedPrefixes`" in reply["Message"], reply
    made = requests.get(server.url + "/", params=captured).json()
    assert made["RetCode"] == 0 and made["UFileTokenSet"]["AllowedPrefixes"] == ["up/"], made
    api(server, "DeleteUFileToken", TokenId=made["TokenId"])


def test_undeclared_and_repeated_names_are_refused(server: Server, bucket: str) -> None:
    query = _signed({"Action": "DescribeBucket", "BucketName": bucket, "Surprise": "1"})
    reply = requests.get(server.url + "/", params=query).json()
    assert reply["RetCode"] == 15017 and "Surprise" in reply["Message"], reply
    query = _signed({"Action": "DescribeBucket", "BucketName": bucket})
    twice = urlencode(query) + "&BucketName=" + bucket
    response = requests.get(f"{server.url}/?{twice}")
    assert response.status_code == 400 and "twice" in response.json()["ErrMsg"], response.text
    padded = _signed({"Action": "GetUFileQuotaInfo", "QuotaType.0": "storage-volume", "QuotaType.00": "x"})
    reply = requests.get(server.url + "/", params=padded).json()
    assert reply["RetCode"] == 15017 and "QuotaType.00" in reply["Message"], reply
    assert requests.get(server.url + "/", params=query).json()["RetCode"] == 0


def test_control_actions_name_the_parameter_in_their_envelope(server: Server, bucket: str) -> None:
    query = _signed({"Action": "CreateCosToken", "ApplicationId": bucket, "PkgName": "a", "OptType": "1", "X": "1"})
    error = requests.get(server.url + "/", params=query).json()["Response"]["Error"]
    assert error["Code"] == "UnknownParameter" and "`X`" in error["Message"], error
    query = _signed({"Action": "CreateTempFileUploadUrl", "FileName": "a.txt", "Bucket": "other"})
    response = requests.get(server.url + "/", params=query)
    reply = response.json()
    assert response.status_code == 400 and reply["Code"] == "InvalidParameter" and "Bucket" in reply["Message"], reply
