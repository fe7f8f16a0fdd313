"""Reading bodies that carry images: multipart parsed part by part as it streams in, or JSON,
both within MAX_UPLOAD_BYTES and never buffered whole before parsing."""

import re
from collections.abc import AsyncIterator
from typing import NamedTuple, TypeVar

import msgspec
from litestar import Request
from multipart import MultipartSegment, ParserError, PushMultipartParser

from api.openai.wire import ImageEditRequest
from common.errors import InvalidRequest, RequestTooLarge

T = TypeVar("T")

MAX_JSON_BODY = 1_000_000  # any body but an edit's (SPEC: images raise it to MAX_UPLOAD_BYTES)
IMAGE_PARTS = ("image", "image[]")
MAX_TEXT_PART = 64 * 1024  # a form field other than a file: the prompt is at most 4000 chars
MAX_PARTS = 64
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_AT = re.compile(r" - at `\$\.?([^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `([^`]+)`")
_TYPES = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}
# Why a bound exists, where a client may wonder: said after the bound.
_WHY = {"n": "the most images one request makes"}
_BOUND = re.compile(r"^Expected `(\w+)`( of length)? ([<>]=?) ([\d.]+)$")
_WRONG_TYPE = re.compile(r"^Expected `([\w |]+)`, got `(\w+)`$")


def plain(field: str, text: str) -> str:
    """msgspec's wording ("Expected `int` <= 4") in a client's words ("must be at most 4")."""
    last = field.rsplit(".", 1)[-1]
    if bound := _BOUND.match(text):
        kind, length, op, limit = bound.groups()
        unit = (" characters" if kind == "str" else " items") if length else ""
        limit_text = limit if op.endswith("=") else f"{'below' if op == '<' else 'above'} {limit}"
        words = {"<=": "at most", ">=": "at least", "<": "", ">": ""}[op]
        text = f"must be {words + ' ' if words else ''}{limit_text}{unit}"
        return text + (f" ({_WHY[last]})" if last in _WHY and op.startswith("<") else "")
    if wrong := _WRONG_TYPE.match(text):
        wanted = " or ".join(_TYPES.get(t.strip(), t.strip()) for t in wrong.group(1).split("|"))
        return f"must be {wanted}, not {_TYPES.get(wrong.group(2), wrong.group(2))}"
    if text.startswith("Invalid enum value"):
        return (
            f"{text.removeprefix('Invalid enum value').strip()} is not one of the accepted values"
        )
    return text


class Upload(NamedTuple):
    """One input image as the client sent it: bytes of a file part, or a URL to load."""

    param: str  # the form field or JSON path it came in, named in errors
    data: bytes | None = None
    url: str | None = None


class EditBody(NamedTuple):
    fields: ImageEditRequest
    images: list[Upload]
    mask: Upload | None


async def capped_stream(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; 413 once more than `limit` bytes came."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        yield chunk


def too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(
        f"the request body is larger than {limit // 2**20} MB (MAX_UPLOAD_BYTES)"
    )


async def read_body(request: Request, limit: int) -> bytearray:
    """The whole body in one buffer (msgspec decodes straight from it)."""
    body = bytearray()
    async for chunk in capped_stream(request, limit):
        body += chunk
    return body


def decode_json(body: bytes | bytearray, kind: type[T]) -> T:
    """`body` decoded as `kind`, or a 400 naming the field that is wrong."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise invalid(str(exc)) from None
    except msgspec.DecodeError:
        raise InvalidRequest("the request body is not valid JSON") from None


def invalid(message: str) -> InvalidRequest:
    """msgspec's `... - at `$.messages[0]`` as a 400 whose param is the field's path."""
    at = _AT.search(message)
    path = at.group(1) if at else ""
    text = message[: at.start()] if at else message
    if missing := _MISSING.match(text):
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        return InvalidRequest(f"{path} is required", param=path, code="missing_field")
    if not path:
        return InvalidRequest("the request body must be a JSON object")
    return InvalidRequest(f"{path} {plain(path, text)}", param=path)


async def read_edit_body(request: Request, limit: int) -> EditBody:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return await _read_multipart(request, content_type, limit)
    data = decode_json(await read_body(request, limit), ImageEditRequest)
    images = []
    for index, ref in enumerate(data.images):
        images.append(_ref_upload(ref.image_url, ref.file_id, f"images[{index}]"))
    mask = _ref_upload(data.mask.image_url, data.mask.file_id, "mask") if data.mask else None
    return EditBody(data, images, mask)


def _ref_upload(url: str | None, file_id: str | None, param: str) -> Upload:
    if file_id is not None:
        raise InvalidRequest(
            "file_id is not supported (there is no Files API): send image_url, a data: URI or "
            "an http(s) URL",
            param=f"{param}.file_id",
            code="unsupported_value",
        )
    if not url:
        raise InvalidRequest(f"{param}.image_url is required", param=f"{param}.image_url")
    return Upload(f"{param}.image_url", url=url)


async def _read_multipart(request: Request, content_type: str, limit: int) -> EditBody:
    boundary = _BOUNDARY.search(content_type)
    if boundary is None:
        raise InvalidRequest("the multipart body has no boundary in its Content-Type")
    form = _Form()
    try:
        with PushMultipartParser(boundary.group(1), max_segment_count=MAX_PARTS) as parser:
            async for chunk in capped_stream(request, limit):
                for event in parser.parse(chunk):
                    form.take(event)
            for event in parser.parse(b""):
                form.take(event)
    except ParserError as exc:
        raise InvalidRequest(f"the multipart body is malformed: {exc}") from None
    try:
        fields = msgspec.convert(form.fields, ImageEditRequest, strict=False)
    except msgspec.ValidationError as exc:
        raise invalid(str(exc)) from None
    return EditBody(fields, form.images, form.mask)


class _Form:
    """Collects parser events: file parts into their own buffers, text parts as fields. A
    part's pieces are joined once at its end (a 4 MB image is copied once, not per piece)."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.images: list[Upload] = []
        self.mask: Upload | None = None
        self._part: MultipartSegment | None = None
        self._pieces: list[bytes] = []
        self._size = 0

    def take(self, event: MultipartSegment | bytes | None) -> None:
        if isinstance(event, MultipartSegment):
            self._part, self._pieces, self._size = event, [], 0
        elif event is None:
            self._end()
        elif self._part is not None:
            self._size += len(event)
            if self._size > MAX_TEXT_PART and not self._is_file(self._part):
                raise InvalidRequest(
                    f"the form field {self._part.name!r} is too long", param=self._part.name
                )
            self._pieces.append(event)

    @staticmethod
    def _is_file(part: MultipartSegment) -> bool:
        return part.name in (*IMAGE_PARTS, "mask")

    def _end(self) -> None:
        part, data = self._part, b"".join(self._pieces)
        self._part, self._pieces = None, []
        if part is None:
            return
        if not self._is_file(part):
            self.fields[part.name] = data.decode("utf-8", "replace")
            return
        # A text part holding a URL instead of a file is taken as a link to load.
        text = data[:8].lower() if part.filename is None else b""
        upload = (
            Upload(part.name, url=data.decode("utf-8", "replace").strip())
            if text.startswith((b"http://", b"https:/", b"data:"))
            else Upload(part.name, data=data)
        )
        if part.name == "mask":
            self.mask = upload
        else:
            self.images.append(upload)
