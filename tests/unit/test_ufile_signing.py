"""holdall's signer against the ufile SDK's own, over the same inputs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from ufile.auth import Auth
from ufile.baseufile import BaseUFile

from holdall.auth import ufile

PUBLIC, PRIVATE = "pub-key", "priv/key+=="
keys = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1, max_size=40)


@given(key=keys, mime=st.sampled_from(["", "text/plain", "image/jpeg"]), method=st.sampled_from(["put", "get", "head"]))
def test_header_signature_matches_sdk(key: str, mime: str, method: str) -> None:
    headers = {"Content-Type": mime} if mime else {}
    expected = BaseUFile(PUBLIC, PRIVATE).authorization(method, "bkt", key, headers)
    text = ufile.string_to_sign(method, "bkt", key, content_type=mime)
    assert ufile.authorization(PUBLIC, PRIVATE, text) == expected
    credential = ufile.parse_authorization(expected)
    assert credential is not None and credential.public_key == PUBLIC
    assert ufile.matching(PRIVATE, [text], credential.signature) == 0
    assert ufile.matching(PRIVATE + "x", [text], credential.signature) is None


def test_listobjects_suffix_matches_sdk() -> None:
    params = {"prefix": "a/", "marker": "m", "max-keys": "10", "delimiter": "/"}
    expected = BaseUFile(PUBLIC, PRIVATE).authorization("get", "bkt", "", {}, "", "listobjects", params)
    text = ufile.string_to_sign("GET", "bkt", "", resource_suffix=ufile.listobjects_suffix(params))
    assert ufile.authorization(PUBLIC, PRIVATE, text) == expected


@given(st.dictionaries(st.text("abcXYZ.", min_size=1, max_size=8), st.text(max_size=10), max_size=6))
def test_api_signature_matches_sdk(params: dict[str, str]) -> None:
    params = {k: v for k, v in params.items() if k != "PublicKey"}
    expected = Auth(PUBLIC, PRIVATE).bucket_signature(dict(params))
    assert ufile.api_signature({**params, "PublicKey": PUBLIC}, PRIVATE) == expected


def test_parse_authorization_rejects_garbage() -> None:
    assert ufile.parse_authorization("Bearer abc") is None
    assert ufile.parse_authorization("UCloud nocolon") is None
    assert ufile.parse_authorization("UCloud :sig") is None
    credential = ufile.parse_authorization("Inspur user@example.com123:c2ln")
    assert credential is not None and credential.public_key == "user@example.com123"
