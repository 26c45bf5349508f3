"""The UFile dialect's reply envelopes: RetCode JSON with X-SessionId on errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

from holdall.errors import HoldallError, RangeNotSatisfiable
from holdall.server.http import Response

JSON = [(b"content-type", b"application/json")]


def session_id() -> str:
    return str(uuid.uuid4())


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(status, list(JSON), json.dumps(payload, ensure_ascii=False).encode())


def error_response(error: HoldallError) -> Response:
    response = json_response({"RetCode": error.ret_code, "ErrMsg": error.message}, error.status)
    response.header("x-sessionid", session_id())
    if isinstance(error, RangeNotSatisfiable):
        response.header("content-range", f"bytes */{error.size}")
    return response
