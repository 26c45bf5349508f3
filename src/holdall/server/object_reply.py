"""The bytes of a GET or HEAD, whatever API asked: a Range makes a 206, small bodies go out whole
(inline ones straight from the metadata row), larger ones stream, charged chunk by chunk as they are
handed to the connection."""

from __future__ import annotations

from collections.abc import AsyncIterator

from holdall.server.http import Request, Response, http_date
from holdall.server.ranges import parse_range
from holdall.service.objects import INLINE_READ_LIMIT, ObjectService
from holdall.service.usage import Meter
from holdall.store.meta.base import Bucket, ObjectRecord


def object_headers(record: ObjectRecord, etag: str) -> Response:
    """A 200 with the object's headers; ``etag`` is the one the API's clients check."""
    return Response(
        200,
        [
            (b"content-type", record.mime.encode("latin-1", "replace")),
            (b"etag", etag.encode()),
            (b"last-modified", http_date(record.modified)),
            (b"accept-ranges", b"bytes"),
        ],
    )


class ObjectReplies:
    def __init__(self, objects: ObjectService, meter: Meter) -> None:
        self.objects = objects
        self.meter = meter

    async def fill(
        self, response: Response, request: Request, bucket: Bucket, record: ObjectRecord, inline: bytes | None
    ) -> Response:
        """Adds the body ``request`` asks for to ``response``, whose headers the API has set."""
        start, end = 0, record.size - 1
        range_header = request.header("range")
        if range_header:
            start, end = parse_range(range_header, record.size)
            response.status = 206
            response.header("content-range", f"bytes {start}-{end}/{record.size}")
        length = end - start + 1 if record.size else 0
        response.length = length
        if request.method == "HEAD" or length == 0:
            return response
        if length > INLINE_READ_LIMIT and inline is None:
            response.stream = self._metered(bucket, self.objects.read(record, start, end))
            return response
        self.meter.add(bucket.account_id, bucket.region, 0, length)
        if inline is not None:
            response.body = inline[start : end + 1] if length != len(inline) else inline
        else:
            response.body = await self.objects.read_small(record, start, end)
        return response

    async def _metered(self, bucket: Bucket, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for chunk in chunks:
                self.meter.add(bucket.account_id, bucket.region, 0, len(chunk))
                yield chunk
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
