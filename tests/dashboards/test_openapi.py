"""The dashboards' routes are all described for the OpenAPI document."""

from __future__ import annotations

import re

import pytest

from dashboards.openapi import paths, schemas


def test_every_dashboards_api_route_is_described(app):
    described = paths()
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("dashboards.") and rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes.setdefault(path, set()).update(rule.methods or ())
    assert set(routes) == set(described)
    for path, methods in routes.items():
        wanted = {m.lower() for m in methods} - {"head", "options"}
        assert wanted == set(described[path]), path
    for name in ("LiveSnapshot", "HandlingReport", "HandlingFigures"):
        assert name in schemas()


def test_the_document_served_describes_the_dashboards_once_merged(client):
    document = client.get("/api/openapi.json").get_json()
    if "/api/reports/handling-times" not in document["paths"]:
        pytest.skip("regulation.openapi does not merge dashboards.openapi yet")
    assert set(paths()) <= set(document["paths"])
