"""S3's bucket CORS sub-resource (``?cors``): the same rules UFile's UpdateBucketCors sets and every
browser preflight is answered from (:mod:`holdall.service.cors`), written as S3's XML."""

from __future__ import annotations

import json
from xml.etree.ElementTree import Element

from holdall.auth.principal import Principal
from holdall.errors import BadRequest, NoSuchCorsConfiguration
from holdall.parsing import is_ascii_uint
from holdall.server.admission import account_keys_only
from holdall.server.context import Call
from holdall.server.http import Response
from holdall.server.s3_xml import check_body, fields, parse_xml, xml
from holdall.service.buckets import BucketService
from holdall.service.cors import CorsRuleError, dump_rules, parse_rules
from holdall.store.meta.base import MetaStore

MAX_CORS_BODY = 64 * 1024
LISTS = {
    "AllowedOrigin": "AllowedOrigins",
    "AllowedMethod": "AllowedMethods",
    "AllowedHeader": "AllowedHeaders",
    "ExposeHeader": "ExposeHeaders",
}


class S3Cors:
    def __init__(self, meta: MetaStore, buckets: BucketService) -> None:
        self.meta = meta
        self.buckets = buckets

    async def get_bucket_cors(self, call: Call, principal: Principal) -> Response:
        account_keys_only(principal)
        rules = json.loads(call.bucket.cors) if call.bucket.cors else []
        if not rules:
            raise NoSuchCorsConfiguration()
        return xml("CORSConfiguration", "".join(_rule_xml(rule) for rule in rules))

    async def put_bucket_cors(self, call: Call, principal: Principal) -> Response:
        account_keys_only(principal)
        body = await call.request.read(MAX_CORS_BODY)
        check_body(call.request, body)
        try:
            rules = parse_rules(json.dumps(_rules_of(parse_xml(body))))
        except CorsRuleError as problem:
            raise BadRequest(f"The CORS configuration is not valid: {problem}") from None
        await self.meta.set_bucket_cors(call.bucket.name, dump_rules(rules) if rules else "")
        return Response(200)

    async def delete_bucket_cors(self, call: Call, principal: Principal) -> Response:
        account_keys_only(principal)
        await self.meta.set_bucket_cors(call.bucket.name, "")
        return Response(204)


def _rules_of(root: Element) -> list[dict[str, object]]:
    rules: list[dict[str, object]] = []
    for element in root:
        if _name(element) != "CORSRule":
            raise BadRequest(f"CORSConfiguration holds CORSRule elements, not {_name(element)}")
        rule: dict[str, object] = {}
        for child in element:
            name, value = _name(child), (child.text or "").strip()
            if name in LISTS:
                listed = rule.setdefault(LISTS[name], [])
                assert isinstance(listed, list)
                listed.append(value)
            elif name == "MaxAgeSeconds":
                if not is_ascii_uint(value, 9):
                    raise BadRequest("MaxAgeSeconds is a whole number")
                rule["MaxAgeSeconds"] = int(value)
            elif name != "ID":
                raise BadRequest(f"CORSRule does not take {name}")
        rules.append(rule)
    return rules


def _name(element: Element) -> str:
    return element.tag.rpartition("}")[2]


def _rule_xml(rule: dict[str, object]) -> str:
    shown: list[tuple[str, str]] = []
    for single, plural in LISTS.items():
        values = rule.get(plural) or []
        assert isinstance(values, list)
        shown += [(single, str(value)) for value in values]
    if rule.get("MaxAgeSeconds"):
        shown.append(("MaxAgeSeconds", str(rule["MaxAgeSeconds"])))
    return f"<CORSRule>{fields(shown)}</CORSRule>"
