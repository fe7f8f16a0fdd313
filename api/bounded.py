"""Request bodies bounded before any decoder sees them: JSON nested deeper than 64 levels is
a 400 (Python's decoders recurse, and 1,000 levels would be a RecursionError, a 500)."""

import re

from litestar import Request

from common.errors import InvalidRequest

MAX_JSON_DEPTH = 64

_ESCAPE = re.compile(rb"\\.", re.S)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = bytes(set(range(256)) - set(b"[]{}"))


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON in `body` nests arrays and objects more than `limit` deep. Linear in C:
    escapes, then strings, then all but brackets are dropped; each pass then removes the
    innermost pairs. Malformed JSON is left to the decoder to refuse."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", body)).translate(None, _NOT_BRACKET)
    for _ in range(limit):
        inner = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if not inner or inner == brackets:
            return False
        brackets = inner
    return True


class BoundedRequest(Request):
    async def body(self) -> bytes:
        body = await super().body()
        if self.content_type[0].endswith("json") and too_deep(body):
            raise InvalidRequest(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
        return body
