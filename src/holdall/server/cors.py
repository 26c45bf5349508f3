"""Browsers (REFERENCE §4): the OPTIONS preflight, answered before and without authentication, and
the CORS headers on every actual response of a bucket, errors included."""

from __future__ import annotations

from holdall.errors import AccessDenied, BucketNotFound
from holdall.server.http import Request, Response
from holdall.server.routing import route
from holdall.service.cors import cached_rules, matching_rule, preflight_headers, response_headers
from holdall.store.meta.base import Bucket, MetaStore


class Cors:
    def __init__(self, meta: MetaStore, domain: str) -> None:
        self.meta = meta
        self.domain = domain

    async def preflight(self, request: Request) -> Response:
        origin = request.header("origin")
        method = request.header("access-control-request-method").upper()
        if not origin or not method:
            raise AccessDenied("a CORS preflight needs Origin and Access-Control-Request-Method")
        target = route(request.header("host"), request.raw_path, self.domain)
        bucket = await self.meta.bucket(target.bucket) if target is not None else None
        if bucket is None:
            raise BucketNotFound("no such bucket for this preflight")
        requested = request.header("access-control-request-headers")
        names = [name.strip().lower() for name in requested.split(",") if name.strip()]
        rule = matching_rule(cached_rules(bucket.cors), origin, method, names)
        if rule is None:
            raise AccessDenied(
                f"CORSResponse: no CORS rule of bucket {bucket.name!r} allows origin {origin!r},"
                f" method {method} and headers {names}"
            )
        response = Response(200)
        for name, value in preflight_headers(rule, origin, method, requested):
            response.header(name, value)
        return response

    def decorate(self, bucket: Bucket, request: Request, response: Response) -> None:
        """Adds Access-Control-Allow-Origin and -Expose-Headers when a rule of the bucket the request
        addressed allows this page."""
        if not bucket.cors:
            return
        origin = request.header("origin")
        rule = matching_rule(cached_rules(bucket.cors), origin, request.method)
        if rule is None:
            return
        for name, value in response_headers(rule, origin):
            response.header(name, value)
