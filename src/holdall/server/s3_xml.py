"""What the S3 API's handlers share: XML replies, ETags, and the digests a request asks of its body."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeXml
from defusedxml import DefusedXmlException

from holdall.errors import BadRequest, ChecksumMismatch, InvalidDigest, NotImplementedHere
from holdall.server.dialects import xml_text
from holdall.server.http import Request, Response
from holdall.server.replies import json_response
from holdall.service.blobsink import content_md5
from holdall.service.digests import Digests, Expected
from holdall.store.meta.base import Listing, ObjectRecord

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
CHECKSUMS = ("crc32", "crc32c", "sha1", "sha256")
"""The ``x-amz-checksum-*`` algorithms holdall verifies."""


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


text = xml_text
"""A value escaped for XML 1.0; characters XML cannot hold (a key with NUL, listed without
``encoding-type=url``) become U+FFFD, so the document stays well-formed."""


def xml(root: str, body: str, status: int = 200) -> Response:
    document = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{S3_NS}">{body}</{root}>'
    return Response(status, [(b"content-type", b"application/xml")], document.encode())


def s3_etag(record: ObjectRecord) -> str:
    """The quoted ETag S3 clients check: the MD5 (or the multipart form); objects stored before holdall
    kept MD5s show their UFile ETag instead."""
    return f'"{record.md5 or record.etag}"'


def boolean(value: bool) -> str:
    return "true" if value else "false"


def fields(fields: list[tuple[str, str]]) -> str:
    return "".join(f"<{name}>{text(value)}</{name}>" for name, value in fields)


def entries(objects: list[ObjectRecord], prefixes: list[str], encode: Callable[[str], str], typed: bool) -> str:
    """A listing's Contents and CommonPrefixes; ``typed``: with OSS's ``<Type>`` (Normal or Multipart),
    which oss2 requires."""
    contents = "".join(
        f"<Contents><Key>{text(encode(record.key))}</Key><LastModified>{iso(record.modified)}</LastModified>"
        f"<ETag>{text(s3_etag(record))}</ETag>{_type(record) if typed else ''}<Size>{record.size}</Size>"
        f"<StorageClass>{text(record.storage_class)}</StorageClass></Contents>"
        for record in objects
    )
    return contents + "".join(f"<CommonPrefixes><Prefix>{text(encode(p))}</Prefix></CommonPrefixes>" for p in prefixes)


NUMBERS = frozenset(("MaxKeys", "KeyCount"))


def listing_reply(
    family: str, shown: list[tuple[str, str]], listing: Listing, encode: Callable[[str], str]
) -> Response:
    """A ListObjects (v1 or v2) reply in the dialect's shape: S3's XML (with OSS's ``<Type>``), or
    TOS's JSON with the same fields. ``shown`` holds the fields already written as ``encode`` asks."""
    if family != "tos":
        body = entries(listing.objects, listing.prefixes, encode, family == "oss")
        return xml("ListBucketResult", fields(shown) + body)
    document: dict[str, Any] = {
        name: int(value) if name in NUMBERS else value == "true" if name == "IsTruncated" else value
        for name, value in shown
    }
    document["Contents"] = [
        {
            "Key": encode(record.key),
            "LastModified": iso(record.modified),
            "ETag": s3_etag(record),
            "Size": record.size,
            "StorageClass": record.storage_class,
            **({"HashCrc64ecma": record.checksums["crc64ecma"]} if "crc64ecma" in record.checksums else {}),
        }
        for record in listing.objects
    ]
    document["CommonPrefixes"] = [{"Prefix": encode(prefix)} for prefix in listing.prefixes]
    return json_response(document)


def _type(record: ObjectRecord) -> str:
    return "<Type>Multipart</Type>" if "-" in record.md5 else "<Type>Normal</Type>"


def checksums(request: Request) -> tuple[Expected, ...]:
    """The x-amz-checksum-* values a body must have; an algorithm holdall cannot check is 501."""
    named = request.headers.get("x-amz-sdk-checksum-algorithm", "").lower()
    if named and named not in CHECKSUMS:
        raise NotImplementedHere(f"checksum algorithm {named!r} is not supported; use CRC32, CRC32C, SHA1 or SHA256")
    for header in request.headers:
        algorithm = header.removeprefix("x-amz-checksum-")
        if header != algorithm and algorithm not in (*CHECKSUMS, "type", "algorithm"):
            raise NotImplementedHere(f"{header} is not supported; use CRC32, CRC32C, SHA1 or SHA256")
    return _checksums(request)


def _checksums(request: Request) -> tuple[Expected, ...]:
    found = []
    for name in CHECKSUMS:
        value = request.headers.get(f"x-amz-checksum-{name}")
        if value is None:
            continue
        try:
            digest = base64.b64decode(value, validate=True)
        except binascii.Error:
            raise BadRequest(f"x-amz-checksum-{name} is not base64") from None
        mismatch = ChecksumMismatch(f"The {name.upper()} you specified did not match the calculated checksum.")
        found.append(Expected(name, digest, mismatch))
    return tuple(found)


def check_body(request: Request, body: bytes) -> None:
    """A small body that must carry a digest (DeleteObjects): Content-MD5 or an x-amz-checksum-* value."""
    wanted = expected(request, ())
    if not wanted:
        raise BadRequest("this request needs Content-MD5 or an x-amz-checksum-* header")
    digests = Digests(wanted)
    digests.update(body)
    digests.check()


def parse_xml(body: bytes) -> Element:
    try:
        root: Element = SafeXml.fromstring(body)
    except (SafeXml.ParseError, DefusedXmlException, ValueError):
        raise BadRequest("The XML you provided was not well-formed") from None
    return root


def expected(request: Request, signed: tuple[Expected, ...]) -> tuple[Expected, ...]:
    """Every digest the body must have: the signed SHA-256, Content-MD5, the x-amz-checksum-* headers."""
    if "content-md5" in request.headers and not request.headers["content-md5"].strip():
        raise InvalidDigest("The Content-MD5 you specified is empty.")
    return signed + content_md5(request.header("content-md5")) + checksums(request)


def sent_checksums(request: Request) -> dict[str, str]:
    """The x-amz-checksum-* values a request sends, by algorithm (checked by :func:`expected`)."""
    return {
        name: request.headers[f"x-amz-checksum-{name}"]
        for name in CHECKSUMS
        if f"x-amz-checksum-{name}" in request.headers
    }


def add_checksums(response: Response, checksums: dict[str, str]) -> Response:
    """``x-amz-checksum-*`` headers, and ``x-amz-hash-crc64ecma`` (OSS's and TOS's, renamed by the dialect)."""
    for name, value in checksums.items():
        response.header("x-amz-hash-crc64ecma" if name == "crc64ecma" else f"x-amz-checksum-{name}", value)
    return response


def child_text(element: Element, name: str) -> str | None:
    """The text of the first child named ``name`` (namespace ignored)."""
    found = next((child for child in element if child.tag.rpartition("}")[2] == name), None)
    return None if found is None else (found.text or "")
