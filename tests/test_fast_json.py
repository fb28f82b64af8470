"""The service's JSON encoder says what the standard library's said, faster."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from flask import Flask, jsonify

from runtime.fast_json import FastJSONProvider, dumps_bytes


class Colour(StrEnum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_the_same_json_as_flasks_own_encoder() -> None:
    app = Flask(__name__)
    standard = app.json
    standard.sort_keys = False  # type: ignore[attr-defined]  # as the service had it
    value = {
        "b": 1,
        "a": [1.5, None, True, "é 06 12"],
        7: "key made a string",
        "when": datetime(2026, 12, 4, 1, 0, tzinfo=UTC),
        "amount": Decimal("1.10"),
        "colour": Colour.RED,
        "point": Point(1, 2),
        "huge": 2**70,
    }
    fast = FastJSONProvider(app)
    assert json.loads(fast.dumps(value)) == json.loads(standard.dumps(value))
    assert list(json.loads(fast.dumps(value))) == [
        "b",
        "a",
        "7",
        "when",
        "amount",
        "colour",
        "point",
        "huge",
    ]
    assert json.loads(dumps_bytes({"huge": 2**70})) == {"huge": 2**70}


def test_an_api_answer_is_compact_json_with_its_mimetype(app: Flask) -> None:
    with app.test_request_context():
        answer = jsonify(error="plus de place", field="é")
    assert answer.mimetype == "application/json"
    assert answer.get_data() == '{"error":"plus de place","field":"é"}\n'.encode()
