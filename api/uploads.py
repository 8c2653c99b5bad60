"""Reading an uploaded file: the request body itself, or the `file` part of a multipart form."""

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import UploadFile

from api.problems import FieldError, Unprocessable
from api.services.import_common import ImportBody


async def read_import_body(request: Request) -> ImportBody:
    """The payload to import: the body itself, or the `file` part of a multipart form."""
    media_type = request.headers.get("content-type", "")
    if media_type.split(";")[0].strip().lower() != "multipart/form-data":
        return ImportBody(media_type=media_type, filename=None, data=await request.body())
    async with request.form() as form:
        part = form.get("file")
        if isinstance(part, UploadFile):
            return ImportBody(part.content_type, part.filename, await part.read())
        if isinstance(part, str):
            return ImportBody(media_type=None, filename=None, data=part.encode())
    raise Unprocessable(
        "Send the file in a multipart part named `file`.",
        errors=[FieldError("file", "missing", "no part named file")],
    )


ImportBodyDep = Annotated[ImportBody, Depends(read_import_body)]
