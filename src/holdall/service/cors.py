"""Per-bucket CORS rules (REFERENCE §4): which pages may call a bucket from a browser.

A rule allows origins (``*`` matches any run of characters), methods, request headers and
response headers to expose, and says how long a browser may cache the preflight answer.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase

from holdall.parsing import loads_bounded

METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
ALWAYS_EXPOSED = ("ETag", "X-SessionId", "Content-Range", "x-amz-request-id", "x-oss-request-id")
MAX_RULES = 10
MAX_AGE_LIMIT = 86400


class CorsRuleError(ValueError):
    """A rule that cannot be stored: the message says why."""


@dataclass(frozen=True, slots=True)
class CorsRule:
    allowed_origins: list[str]
    allowed_methods: list[str]
    allowed_headers: list[str] = field(default_factory=list)
    expose_headers: list[str] = field(default_factory=list)
    max_age_seconds: int = 0

    def allows_origin(self, origin: str) -> bool:
        return any(fnmatchcase(origin, pattern) for pattern in self.allowed_origins)

    def allows_headers(self, names: list[str]) -> bool:
        patterns = [pattern.lower() for pattern in self.allowed_headers]
        return all(any(fnmatchcase(name, pattern) for pattern in patterns) for name in names)


def _strings(raw: object, name: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(item, str) and 0 < len(item) <= 256 for item in raw):
        raise CorsRuleError(f"{name} is a list of strings")
    if len(raw) > 64:
        raise CorsRuleError(f"{name} holds at most 64 entries")
    return list(raw)


@functools.lru_cache(maxsize=256)
def cached_rules(text: str) -> tuple[CorsRule, ...]:
    """The rules stored for a bucket, parsed once per process."""
    return tuple(parse_rules(text))


def parse_rules(text: str) -> list[CorsRule]:
    """``[{"AllowedOrigins": [...], "AllowedMethods": [...], "AllowedHeaders": [...],
    "ExposeHeaders": [...], "MaxAgeSeconds": n}, ...]`` → rules; ``""`` or ``[]`` → none."""
    if not text.strip():
        return []
    try:
        document = loads_bounded(text)
    except ValueError:
        raise CorsRuleError("the rules are not JSON") from None
    if not isinstance(document, list) or len(document) > MAX_RULES:
        raise CorsRuleError(f"the rules are a JSON list of at most {MAX_RULES} objects")
    rules = []
    for item in document:
        if not isinstance(item, dict):
            raise CorsRuleError("each rule is a JSON object")
        origins = _strings(item.get("AllowedOrigins"), "AllowedOrigins")
        methods = [method.upper() for method in _strings(item.get("AllowedMethods"), "AllowedMethods")]
        if not origins or not methods:
            raise CorsRuleError("each rule needs AllowedOrigins and AllowedMethods")
        unknown = [method for method in methods if method not in METHODS]
        if unknown:
            raise CorsRuleError(f"AllowedMethods: {unknown[0]} is not one of {', '.join(METHODS)}")
        max_age = item.get("MaxAgeSeconds", 0)
        if not isinstance(max_age, int) or isinstance(max_age, bool) or not 0 <= max_age <= MAX_AGE_LIMIT:
            raise CorsRuleError(f"MaxAgeSeconds is an integer from 0 to {MAX_AGE_LIMIT}")
        rules.append(
            CorsRule(
                origins,
                methods,
                _strings(item.get("AllowedHeaders"), "AllowedHeaders"),
                _strings(item.get("ExposeHeaders"), "ExposeHeaders"),
                max_age,
            )
        )
    return rules


def dump_rules(rules: list[CorsRule]) -> str:
    names = {
        "allowed_origins": "AllowedOrigins",
        "allowed_methods": "AllowedMethods",
        "allowed_headers": "AllowedHeaders",
        "expose_headers": "ExposeHeaders",
        "max_age_seconds": "MaxAgeSeconds",
    }
    return json.dumps([{names[key]: value for key, value in asdict(rule).items()} for rule in rules])


def matching_rule(
    rules: tuple[CorsRule, ...] | list[CorsRule], origin: str, method: str, headers: list[str] | None = None
) -> CorsRule | None:
    for rule in rules:
        origin_ok = rule.allows_origin(origin) and method in rule.allowed_methods
        if origin_ok and (headers is None or rule.allows_headers(headers)):
            return rule
    return None


def preflight_headers(rule: CorsRule, origin: str, method: str, requested: str) -> list[tuple[str, str]]:
    headers = [
        ("access-control-allow-origin", "*" if rule.allowed_origins == ["*"] else origin),
        ("access-control-allow-methods", ", ".join(rule.allowed_methods)),
        ("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
    ]
    if requested:
        headers.append(("access-control-allow-headers", requested))
    if rule.max_age_seconds:
        headers.append(("access-control-max-age", str(rule.max_age_seconds)))
    exposed = list(dict.fromkeys([*ALWAYS_EXPOSED, *rule.expose_headers]))
    headers.append(("access-control-expose-headers", ", ".join(exposed)))
    return headers


def response_headers(rule: CorsRule, origin: str) -> list[tuple[str, str]]:
    exposed = list(dict.fromkeys([*ALWAYS_EXPOSED, *rule.expose_headers]))
    return [
        ("access-control-allow-origin", "*" if rule.allowed_origins == ["*"] else origin),
        ("access-control-expose-headers", ", ".join(exposed)),
        ("vary", "Origin"),
    ]
