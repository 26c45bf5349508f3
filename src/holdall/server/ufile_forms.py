"""UFile's form uploads (``POST`` multipart/form-data, seed 004 §13) and the clouds' signed POST
policy forms (S3 V2/V4, OSS V1/V4) that arrive the same way."""

from __future__ import annotations

from urllib.parse import quote
from xml.sax.saxutils import escape

from holdall import clock
from holdall.auth.principal import Principal
from holdall.errors import BadRequest, HoldallError
from holdall.server.admission import Admission
from holdall.server.authenticate import Authenticator
from holdall.server.context import Call
from holdall.server.dialects import dialect_error
from holdall.server.formdata import FilePart, FormReader, boundary_of
from holdall.server.guard import NOTHING
from holdall.server.http import Response
from holdall.server.policy_form import check_form, form_dialect, object_key
from holdall.server.routing import check_key
from holdall.server.s3_xml import s3_etag
from holdall.server.write_refusals import refuse_update, update_refusal
from holdall.service.blobsink import content_md5
from holdall.service.digests import Expected
from holdall.service.objects import ObjectService
from holdall.store.meta.base import Bucket, MetaStore, ObjectRecord


class UFileForms:
    def __init__(
        self, meta: MetaStore, objects: ObjectService, authenticator: Authenticator, admission: Admission
    ) -> None:
        self.meta = meta
        self.objects = objects
        self.authn = authenticator
        self.admission = admission

    async def post_file(self, call: Call) -> Response:
        request, bucket = call.request, call.bucket
        reader = FormReader(request.chunks(), boundary_of(request.header("content-type")))
        fields, file_part = await reader.fields_then_file()
        if file_part is None:
            raise BadRequest("the form has no file part")
        lowered = {name.lower(): value for name, value in fields.items()}
        dialect = form_dialect(lowered)
        if dialect is not None:
            try:
                return await self.post_policy_form(call.in_dialect(dialect), reader, lowered, file_part)
            except HoldallError as error:  # answered in the dialect the form's fields name
                return dialect_error(error, dialect, request.scope.get("path", "/"))
        key = check_key(fields.get("FileName", ""))
        mime = fields.get("Content-Type") or file_part.content_type
        principal, _ = await self.authn.verify(
            call, key, authorization=fields.get("Authorization", ""), content_type=mime
        )
        await self.admission.admit((principal, NOTHING), call, key)
        await refuse_update(self.meta, principal, bucket, key)
        md5 = content_md5(fields.get("Content-MD5") or request.header("content-md5"))
        record = await self._store_form_file(principal, bucket, key, mime, reader, expected=md5)
        return Response(200).header("etag", record.etag)

    async def _store_form_file(
        self,
        principal: Principal,
        bucket: Bucket,
        key: str,
        mime: str,
        reader: FormReader,
        *,
        expected: tuple[Expected, ...] = (),
        size_range: tuple[int, int] | None = None,
    ) -> ObjectRecord:
        with update_refusal(principal, key):
            record = await self.objects.put(
                bucket,
                key,
                mime,
                reader.file_chunks(),
                declared_size=None,
                expected=expected,
                if_absent=principal.deny_update,
                size_range=size_range,
            )
        try:
            await reader.finish()
        except HoldallError:
            pass  # the file part was whole; what trails it does not matter
        return record

    async def post_policy_form(
        self, call: Call, reader: FormReader, fields: dict[str, str], file_part: FilePart
    ) -> Response:
        """An OSS V1/V4 or S3 V2/V4 form: policy and signature are checked before the file is read."""
        request, bucket = call.request, call.bucket
        key = check_key(object_key(fields, file_part.filename))
        form = await check_form(call.dialect, fields, bucket.name, key, self.authn.lookup, clock.now())
        principal = await self.admission.admit((form.principal, NOTHING), call, key)
        await refuse_update(self.meta, principal, bucket, key)
        status = fields.get("success_action_status", "204")
        if status not in ("200", "201", "204"):
            status = "204"
        mime = fields.get("content-type") or file_part.content_type
        record = await self._store_form_file(principal, bucket, key, mime, reader, size_range=form.policy.length_range)
        etag = s3_etag(record)  # what S3 and OSS clients check: the MD5
        response = Response(int(status))
        if status == "201":
            location = f"http://{request.header('host')}/{quote(key)}"
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>{escape(location)}</Location>'
                f"<Bucket>{escape(bucket.name)}</Bucket><Key>{escape(key)}</Key>"
                f"<ETag>{escape(etag)}</ETag></PostResponse>"
            )
            response.body = body.encode()
            response.header("content-type", "application/xml")
        return response.header("etag", etag)
