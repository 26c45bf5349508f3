"""One error tree for holdall.

::

    HoldallError                 status + UFile RetCode + message
    ├── BadRequest               400, malformed input of any kind
    ├── MissingAuthorization     401
    ├── AccessDenied             403, bad or expired signature, or no right
    │   ├── SignatureMismatch    403, carries the string to sign the server computed
    │   ├── RequestExpired       403
    │   ├── RequestTimeTooSkewed 403, a signed Date too far from the server's clock
    │   └── InvalidAccessKey     403, no such key pair
    ├── AuthQueryInvalid         400, a presigned query that is malformed or lives too long
    ├── BucketNotFound           404
    ├── FileNotFound             404
    │   └── NoSuchCorsConfiguration  404 (S3)
    ├── UploadNotFound           404
    ├── MethodNotAllowed         405
    ├── RenameConflict           406
    ├── Conflict                 409
    │   ├── BucketExists         409, the name is another account's (S3)
    │   ├── BucketOwned          409, the name is the caller's already (S3)
    │   ├── BucketNotEmpty       409 (S3)
    │   └── OperationAborted     409, a bucket too young to delete (S3)
    ├── EntityTooLarge           413
    │   └── PolicyEntityTooLarge 400, above a form policy's content-length-range
    ├── EntityTooSmall           400, below a form policy's content-length-range
    ├── RangeNotSatisfiable      416
    ├── ChecksumMismatch         400, Content-MD5 or an x-amz-checksum-* does not match
    ├── ContentSHA256Mismatch    400, the body is not the x-amz-content-sha256 it was signed with
    ├── InvalidBucketName        400 (S3)
    ├── MetadataTooLarge         400, user metadata beyond 2 KiB
    ├── InvalidPart, InvalidPartOrder  400, a multipart completion naming parts wrongly (S3)
    ├── PreconditionFailed       412, If-Match or If-Unmodified-Since does not hold
    ├── NotImplementedHere       501, an S3 feature holdall does not serve
    ├── QuotaExceeded            403, a bucket cap or the account's quota would be exceeded
    ├── RateLimited              429
    ├── ServiceUnavailable       503
    └── StorageFull              507, no space left, or only the free-space reserve

Refusals are the control plane's domain errors: they say what is wrong in no dialect's words,
and each reply envelope maps them to its own codes with one table::

    Refusal
    ├── ParameterRefusal         names the parameter
    │   ├── MissingParameter
    │   ├── InvalidParameter
    │   │   └── OutOfRange
    │   └── UnknownParameter
    ├── UnknownAction
    ├── UnsupportedVersion
    ├── NotFound                 a resource the call names does not exist
    ├── NotOwner                 it exists, but belongs to someone else
    ├── AlreadyUsed              a name or URL that may be used once was used
    ├── NameTaken                a unique name is taken or reserved
    ├── NotEmpty
    ├── TooSoon
    ├── LimitReached
    └── AuthRefusal              who is calling could not be established
        ├── MissingCredentials
        ├── MalformedSignature   a header or parameter the scheme needs is missing or malformed
        │   └── MalformedTimestamp
        ├── UnsupportedSignatureMethod
        ├── WrongSignature
        ├── UnknownAccessKey
        ├── DisabledAccount
        ├── StaleTimestamp
        ├── NonceReused
        └── NotAccountKey        a token's or temporary key: only account keys may call
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar


class HoldallError(Exception):
    status: ClassVar[int] = 400
    ret_code: ClassVar[int] = -15017
    code: ClassVar[str] = "InvalidArgument"
    """The error code of the S3, OSS, COS and TOS dialects."""
    default_message: ClassVar[str] = "invalid parameter"
    limit: ClassVar[str] = ""
    """The limit that refused the request, as the metrics count it; empty for other errors."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class BadRequest(HoldallError):
    pass


class MissingAuthorization(HoldallError):
    status = 401
    ret_code = -148643
    code = "AccessDenied"
    default_message = "no authorization found"


class AccessDenied(HoldallError):
    status = 403
    ret_code = -148643
    code = "AccessDenied"
    default_message = "invalid signature"


class SignatureMismatch(AccessDenied):
    code = "SignatureDoesNotMatch"
    default_message = "The request signature we calculated does not match the signature you provided."

    def __init__(self, message: str | None = None, *, string_to_sign: str = "", canonical_request: str = "") -> None:
        super().__init__(message)
        self.string_to_sign = string_to_sign
        self.canonical_request = canonical_request


class RequestExpired(AccessDenied):
    default_message = "Request has expired"


class RequestTimeTooSkewed(AccessDenied):
    code = "RequestTimeTooSkewed"
    default_message = "The difference between the request time and the server's time is too large."


class InvalidAccessKey(AccessDenied):
    code = "InvalidAccessKeyId"
    default_message = "The access key you provided does not exist in our records."


class AuthQueryInvalid(BadRequest):
    code = "AuthorizationQueryParametersError"


class BucketNotFound(HoldallError):
    status = 404
    ret_code = -30010
    code = "NoSuchBucket"
    default_message = "bucket not exist"


class FileNotFound(HoldallError):
    status = 404
    ret_code = -148654
    code = "NoSuchKey"
    default_message = "file not exist"


class NoSuchCorsConfiguration(FileNotFound):
    code = "NoSuchCORSConfiguration"
    default_message = "The CORS configuration does not exist"


class UploadNotFound(HoldallError):
    status = 404
    ret_code = -148655
    code = "NoSuchUpload"
    default_message = "upload id not exist"


class MethodNotAllowed(HoldallError):
    status = 405
    ret_code = -148600
    code = "MethodNotAllowed"
    default_message = "method not allowed"


class RenameConflict(HoldallError):
    status = 406
    ret_code = -148662
    code = "FileAlreadyExists"
    default_message = "target file already exists"


class Conflict(HoldallError):
    status = 409
    ret_code = -148663
    code = "FileAlreadyExists"
    default_message = "conflict"


class EntityTooLarge(HoldallError):
    status = 413
    ret_code = -148665
    code = "EntityTooLarge"
    default_message = "entity too large"


class PolicyEntityTooLarge(EntityTooLarge):
    """Above a form policy's content-length-range: S3 and OSS answer 400 here, not 413."""

    status = 400


class EntityTooSmall(HoldallError):
    ret_code = -148667
    code = "EntityTooSmall"
    default_message = "entity too small"


class RangeNotSatisfiable(HoldallError):
    status = 416
    ret_code = -148666
    code = "InvalidRange"
    default_message = "requested range not satisfiable"

    def __init__(self, size: int, message: str | None = None) -> None:
        super().__init__(message)
        self.size = size


class ChecksumMismatch(HoldallError):
    ret_code = -15036
    code = "BadDigest"
    default_message = "check md5 failed"


class ContentSHA256Mismatch(BadRequest):
    code = "XAmzContentSHA256Mismatch"
    default_message = "The provided 'x-amz-content-sha256' header does not match what was computed."


class BucketExists(Conflict):
    code = "BucketAlreadyExists"
    default_message = "The requested bucket name is not available."


class BucketOwned(Conflict):
    code = "BucketAlreadyOwnedByYou"
    default_message = "Your previous request to create the named bucket succeeded and you already own it."


class BucketNotEmpty(Conflict):
    code = "BucketNotEmpty"
    default_message = "The bucket you tried to delete is not empty."


class OperationAborted(Conflict):
    code = "OperationAborted"
    default_message = "A conflicting conditional operation is currently in progress against this resource."


class InvalidBucketName(BadRequest):
    code = "InvalidBucketName"
    default_message = "The specified bucket is not valid."


class InvalidLocationConstraint(BadRequest):
    code = "InvalidLocationConstraint"
    default_message = "The specified location-constraint is not valid."


class MetadataTooLarge(BadRequest):
    code = "MetadataTooLarge"
    default_message = "Your metadata headers exceed the maximum allowed metadata size."


class InvalidDigest(BadRequest):
    code = "InvalidDigest"
    default_message = "The Content-MD5 you specified is not valid."


class InvalidPart(BadRequest):
    code = "InvalidPart"
    default_message = "One or more of the specified parts could not be found."


class InvalidPartOrder(BadRequest):
    code = "InvalidPartOrder"
    default_message = "The list of parts was not in ascending order."


class PreconditionFailed(HoldallError):
    status = 412
    ret_code = -148668
    code = "PreconditionFailed"
    default_message = "At least one of the pre-conditions you specified did not hold"


class NotImplementedHere(HoldallError):
    status = 501
    ret_code = -148600
    code = "NotImplemented"
    default_message = "A header or query you provided implies functionality that is not implemented."


class QuotaExceeded(HoldallError):
    status = 403
    ret_code = -15011
    code = "QuotaExceeded"
    default_message = "quota exceeded"
    limit = "quota"


class CapExceeded(QuotaExceeded):
    """A bucket's cap on bytes or objects."""

    limit = "bucket_cap"


class UrlLimitReached(QuotaExceeded):
    """An account holds as many live resource upload URLs as it may."""

    limit = "upload_urls"


class RateLimited(HoldallError):
    status = 429
    ret_code = -15005
    code = "RequestLimitExceeded"
    default_message = "too many requests"
    limit = "rate"


class InternalError(HoldallError):
    """Something failed that no request can cause: the traceback is in the error log, under the session
    id the reply names."""

    status = 500
    ret_code = -1
    code = "InternalError"
    default_message = "We encountered an internal error. Please try again."


class ServiceUnavailable(HoldallError):
    status = 503
    ret_code = -15004
    code = "ServiceUnavailable"
    default_message = "service unavailable, try again"


class UploadsBusy(ServiceUnavailable):
    """A worker streams as many uploads as ``--max-uploads`` allows."""

    limit = "upload_slots"


class StorageFull(HoldallError):
    """A volume holdall writes to has no space left, or only its reserve."""

    status = 507
    ret_code = -15004
    code = "InsufficientStorage"
    default_message = "not enough storage space"


@contextmanager
def no_space_is_storage_full(volume: str) -> Iterator[None]:
    """ENOSPC and EDQUOT from the enclosed block become :class:`StorageFull`, naming the volume."""
    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(f"no space left on the volume of the {volume}") from None
        raise


class Refusal(Exception):
    """A domain error of the control plane: what is wrong, carrying no dialect's code."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ParameterRefusal(Refusal):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class MissingParameter(ParameterRefusal):
    def __init__(self, name: str, message: str = "") -> None:
        super().__init__(name, message or f"The request is missing the parameter {name}.")


class InvalidParameter(ParameterRefusal):
    pass


class OutOfRange(InvalidParameter):
    pass


class UnknownParameter(ParameterRefusal):
    def __init__(self, name: str, action: str) -> None:
        super().__init__(name, f"{action} takes no parameter `{name}`.")


class UnknownAction(Refusal):
    pass


class UnsupportedVersion(Refusal):
    pass


class NotFound(Refusal):
    def __init__(self, message: str, parameter: str = "") -> None:
        super().__init__(message)
        self.name = parameter
        """The parameter that named what is missing, when one did."""


class NameTaken(Refusal):
    """A name that must be unique (a bucket's) is taken or reserved."""


class NotEmpty(Refusal):
    """A bucket that still holds objects or unfinished uploads cannot be deleted."""


class TooSoon(Refusal):
    """The rule allows this later (a new bucket cannot be deleted at once)."""


class LimitReached(Refusal):
    """An account holds as many of something (tokens) as it may."""


class NotOwner(Refusal):
    pass


class AlreadyUsed(Refusal):
    pass


class AuthRefusal(Refusal):
    pass


class MissingCredentials(AuthRefusal):
    pass


class MalformedSignature(AuthRefusal):
    pass


class MalformedTimestamp(MalformedSignature):
    pass


class UnsupportedSignatureMethod(AuthRefusal):
    pass


class WrongSignature(AuthRefusal):
    def __init__(self, message: str, string_to_sign: str = "") -> None:
        super().__init__(message)
        self.string_to_sign = string_to_sign


class UnknownAccessKey(AuthRefusal):
    pass


class DisabledAccount(AuthRefusal):
    pass


class StaleTimestamp(AuthRefusal):
    pass


class NonceReused(AuthRefusal):
    pass


class NotAccountKey(AuthRefusal):
    pass
