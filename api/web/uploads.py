"""Reading an uploaded file: the request body itself, or the `file` part of a multipart form,
spooled (to disk past SPOOL_SIZE) so that an import reads it as a stream, pass after pass."""

from collections.abc import AsyncIterator
from tempfile import SpooledTemporaryFile
from typing import IO, Annotated

from fastapi import Depends, Request
from starlette.datastructures import UploadFile

from api.core.problems import FieldError, Unprocessable
from api.infra.settings import Settings
from api.services.import_common import ImportBody, ImportLimits

SPOOL_SIZE = 1024 * 1024


def _limits(request: Request) -> ImportLimits:
    settings: Settings = request.app.state.settings
    return ImportLimits(max_field=settings.csv_max_field, max_rows=settings.csv_max_rows)


async def _spooled(request: Request) -> IO[bytes]:
    """The body chunk by chunk into a spooled file (its size is bounded by the limits
    middleware, which counts the bytes as they arrive)."""
    spool: IO[bytes] = SpooledTemporaryFile(max_size=SPOOL_SIZE)  # noqa: SIM115 (closed by caller)
    try:
        async for chunk in request.stream():
            spool.write(chunk)
    except BaseException:  # a body over the limit (413), a disconnect
        spool.close()
        raise
    return spool


async def read_import_body(request: Request) -> AsyncIterator[ImportBody]:
    """The payload to import: the body itself, or the `file` part of a multipart form; open
    until the response is made."""
    media_type = request.headers.get("content-type", "")
    if media_type.split(";")[0].strip().lower() != "multipart/form-data":
        spool = await _spooled(request)
        with spool:
            yield ImportBody(media_type, None, spool, _limits(request))
        return
    async with request.form() as form:
        part = form.get("file")
        if isinstance(part, UploadFile):  # starlette spools file parts itself
            yield ImportBody(part.content_type, part.filename, part.file, _limits(request))
            return
        if isinstance(part, str):
            yield ImportBody(None, None, part.encode(), _limits(request))
            return
    raise Unprocessable(
        "Send the file in a multipart part named `file`.",
        errors=[FieldError("file", "missing", "no part named file")],
    )


ImportBodyDep = Annotated[ImportBody, Depends(read_import_body)]
