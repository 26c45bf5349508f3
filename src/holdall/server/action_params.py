"""The parameters each management action takes, declared.

The UFile management signature concatenates names and values with no separator, so a captured
call can be re-split (``AllowedPrefixes.0=up/`` → ``AllowedPrefixes=.0up/``) under the same
signature. Refusing every name an action does not declare closes that: a re-split call names an
undeclared parameter. ``Name.N`` declares the list ``Name.0``, ``Name.1``, … (without leading zeros,
so no two names mean one item).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from holdall.parsing import is_ascii_uint

COMMON = frozenset(("Action", "PublicKey", "Signature", "Region", "ProjectId"))
_TOKEN = ("TokenName", "AllowedOps.N", "AllowedPrefixes.N", "AllowedBuckets.N", "ExpireTime")
_TOKEN_IPS = ("BlackIPList.N", "WhiteIPList.N")
_PURCHASE = ("StorageVolume", "DownloadTraffic", "RequestCount")

DECLARED: dict[str, tuple[str, ...]] = {
    "CreateBucket": ("BucketName", "Type", "Domain.N"),
    "DescribeBucket": ("BucketName", "Name", "Offset", "Limit"),
    "UpdateBucket": ("BucketName", "Type"),
    "UpdateBucketQuota": ("BucketName", "MaxBytes", "MaxObjects"),
    "UpdateBucketCors": ("BucketName", "CORSRules"),
    "DeleteBucket": ("BucketName",),
    "CreateUFileToken": (*_TOKEN, *_TOKEN_IPS),
    "UpdateUFileToken": ("TokenId", *_TOKEN, *_TOKEN_IPS),
    "DeleteUFileToken": ("TokenId",),
    "DescribeUFileToken": ("TokenId",),
    "GetUFileQuota": ("QuotaType",),
    "GetUFileQuotaInfo": ("QuotaType.N",),
    "GetUFileQuotaPrice": _PURCHASE,
    "BuyUFileQuota": _PURCHASE,
    "GetUFileReport": ("StartTime", "EndTime"),
    "CreateTempFileUploadUrl": ("FileName",),
    "CreateCosToken": ("ApplicationId", "PkgName", "OptType", "SourceChannel", "TimeVersion"),
    "GetResourceUploadUrl": ("FileName", "Version"),
}


def _lists(names: Iterable[str]) -> frozenset[str]:
    return frozenset(name[:-2] for name in names if name.endswith(".N"))


_PLAIN = {action: COMMON | {name for name in names if not name.endswith(".N")} for action, names in DECLARED.items()}
_LISTS = {action: _lists(names) for action, names in DECLARED.items()}


def undeclared(action: str, params: Mapping[str, str]) -> str | None:
    """The first parameter ``action`` does not take, or None when it takes them all."""
    plain, lists = _PLAIN[action], _LISTS[action]
    for name in params:
        if name in plain:
            continue
        base, dot, number = name.partition(".")
        if dot and base in lists and is_ascii_uint(number, 6) and str(int(number)) == number:
            continue
        return name
    return None
