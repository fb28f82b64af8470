"""JSON out of the service with orjson: the staff API's answers and the live stream.

The live snapshot lists up to 300 breaches; the standard library's encoder took a fifth of
`GET /api/queues` encoding them (docs/performance.md). The output is the same JSON: keys in
the code's order, non-string keys as strings, and what orjson leaves to Flask (dates,
dataclasses, `Decimal`) converted by Flask's own rules. Text is UTF-8 rather than
`\\u`-escaped, and a value orjson refuses (an integer beyond 64 bits) is encoded by the
standard library, as before.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response as AnyResponse

_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _flask_default(value: Any) -> Any:
    return DefaultJSONProvider.default(value)


def dumps_bytes(value: Any) -> bytes:
    """Compact JSON of `value`."""
    try:
        return orjson.dumps(value, default=_flask_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(
            value, default=_flask_default, separators=(",", ":"), ensure_ascii=False
        ).encode()


class FastJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, encoding with orjson (`app.json`)."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:  # indent, or another option only the standard library has
            return super().dumps(obj, **kwargs)
        return dumps_bytes(obj).decode()

    def response(self, *args: Any, **kwargs: Any) -> AnyResponse:
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)  # indented, for a person reading it
        body = dumps_bytes(self._prepare_response_obj(args, kwargs)) + b"\n"
        return Response(body, mimetype=self.mimetype)
