"""Fuzzing the staff API from its own OpenAPI document: any body, path and role, the answer is
never a 5xx; refusals are JSON with a reason."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from .conftest import FUZZ

ROLES = ("arm", "regulator_amu", "regulator_liberal", "osnp", "supervisor", "admin")
#: An endless event stream: not a request/answer route.
SKIPPED = {("get", "/api/dashboard/stream")}

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "P0",
            "P1",
            "P2",
            "P3",
            "arm",
            "amu",
            "liberal",
            "CONSEIL",
            "R1",
            "available",
            "paused",
            "2026-11-24T10:00:00Z",
            "",
        ]
    ),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _properties(doc: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    names = list(schema.get("properties", {}))
    for part in schema.get("allOf", []) + schema.get("oneOf", []) + schema.get("anyOf", []):
        names += _properties(doc, part)
    return names


def _body(doc: dict[str, Any], operation: dict[str, Any]) -> st.SearchStrategy[Any]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return st.none()
    names = _properties(doc, content.get("schema", {}))
    shaped = st.fixed_dictionaries({}, optional={n: JSON for n in names})
    return st.one_of(shaped, shaped, JSON)


def _path(template: str) -> st.SearchStrategy[str]:
    parts = template.split("/")
    pieces = [
        st.one_of(st.integers(-1, 5).map(str), st.sampled_from(["arm", "amu", "x", "0"]))
        if p.startswith("{")
        else st.just(p)
        for p in parts
    ]
    return st.tuples(*pieces).map("/".join)


def test_no_staff_api_route_answers_5xx_whatever_it_is_sent(app, client, staff, waiting_call):
    doc = client.get("/api/openapi.json").get_json()
    tokens = {role: staff(role).token for role in ROLES}
    for _ in range(3):
        waiting_call(digits="2")
    operations = [
        (method, path, operation)
        for path, methods in doc["paths"].items()
        for method, operation in methods.items()
        if (method, path) not in SKIPPED
    ]
    requests = st.one_of(
        *(
            st.tuples(st.just(method), _path(path), _body(doc, operation))
            for method, path, operation in operations
        )
    )

    @FUZZ
    @given(
        request=requests,
        role=st.sampled_from(ROLES),
        query=st.dictionaries(
            st.sampled_from(["hours", "month", "from", "to", "calls", "limit", "queue"]),
            st.text(max_size=20),
            max_size=2,
        ),
    )
    def send_anything(request, role, query):
        method, path, body = request
        answer = client.open(
            path,
            method=method.upper(),
            json=body,
            query_string=query,
            headers={"Authorization": f"Bearer {tokens[role]}"},
        )
        # 503 is a designed refusal (e.g. no Twilio API key for the softphone), with a reason
        assert answer.status_code < 500 or answer.status_code == 503, (
            method,
            path,
            body,
            answer.get_data(as_text=True),
        )
        if answer.status_code >= 400:
            assert answer.is_json and answer.get_json().get("error"), (method, path, body)

    send_anything()
