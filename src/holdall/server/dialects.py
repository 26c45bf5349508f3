"""Which signing dialect a request speaks, and its error replies in that dialect's own shape.

S3 and OSS answer errors in XML (``<Error><Code>…``), COS too, TOS in JSON ``{Code, Message,
RequestId, HostId, EC}``, UFile in its RetCode JSON. A signature mismatch carries the string to
sign the server computed (and the canonical request for the V4 dialects), so the caller can see
where its own signer differs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from xml.sax.saxutils import escape

from holdall.errors import HoldallError, RangeNotSatisfiable, SignatureMismatch
from holdall.metrics import TALLY
from holdall.server.http import UFILE, Response
from holdall.server.replies import error_response, json_response, session_id
from holdall.server.s3_auth import HEADER_DIALECTS, header_dialect

MARKERS = (
    ("X-Amz-Algorithm", "aws4"),
    ("x-oss-signature-version", "oss4"),
    ("x-oss-credential", "oss4"),
    ("X-Tos-Algorithm", "tos4"),
    ("OSSAccessKeyId", "oss1"),
    ("AWSAccessKeyId", "aws2"),
    ("q-sign-algorithm", "cos"),
)
FAMILY = {"aws4": "s3", "aws2": "s3", "oss4": "oss", "oss1": "oss", "tos4": "tos", "cos": "cos"}
FAMILY.update((name, dialect.family) for name, dialect in HEADER_DIALECTS.items())


def detect(query: Mapping[str, str], headers: Mapping[str, str]) -> str:
    """The dialect of a presigned query, or of a COS or S3-shaped Authorization header (served by the S3
    API, :data:`~holdall.server.s3_auth.HEADER_DIALECTS`); UFile's when it is none of them."""
    for marker, dialect in MARKERS:
        if marker in query:
            return dialect
    found = header_dialect(headers.get("authorization", ""))
    return found.name if found is not None else UFILE


def detect_unread(raw_query: bytes, headers: Mapping[str, str]) -> str:
    """The dialect of a request whose query could not be decoded (not UTF-8, a name given twice): its
    markers looked for among the raw parameter names, so the refusal comes in the client's dialect."""
    names = {item.partition(b"=")[0].decode("latin-1"): "" for item in raw_query.split(b"&")}
    return detect(names, headers)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    """``value`` escaped for XML 1.0, with the characters XML cannot hold replaced by U+FFFD."""
    return escape(_NOT_XML.sub("\ufffd", value))


def _xml_error(fields: list[tuple[str, str]], status: int) -> Response:
    body = "".join(f"<{name}>{xml_text(value)}</{name}>" for name, value in fields)
    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{body}</Error>'
    return Response(status, [(b"content-type", b"application/xml")], xml.encode())


def dialect_error(error: HoldallError, dialect: str, resource: str = "/") -> Response:
    TALLY.refusal(error.limit)
    family = FAMILY.get(dialect)
    if family is None:
        return error_response(error)
    request_id = session_id()
    if family == "tos":
        payload = {"Code": error.code, "Message": error.message, "RequestId": request_id, "HostId": "holdall"}
        payload["EC"] = f"{error.status:04d}-{abs(error.ret_code):08d}"
        if isinstance(error, SignatureMismatch):
            payload["StringToSign"] = error.string_to_sign
            payload["CanonicalRequest"] = error.canonical_request
        response = json_response(payload, error.status)
    else:
        fields = [("Code", error.code), ("Message", error.message)]
        if family == "cos":
            fields.append(("Resource", resource))
        fields += [("RequestId", request_id), ("TraceId" if family == "cos" else "HostId", "holdall")]
        if isinstance(error, SignatureMismatch):
            fields.append(("StringToSign", error.string_to_sign))
            if error.canonical_request:
                fields.append(("CanonicalRequest", error.canonical_request))
        response = _xml_error(fields, error.status)
    response.header("x-amz-request-id" if family == "s3" else f"x-{family}-request-id", request_id)
    if isinstance(error, RangeNotSatisfiable):
        response.header("content-range", f"bytes */{error.size}")
    return response
