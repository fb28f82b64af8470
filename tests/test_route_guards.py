"""Every route is guarded, route by route: a staff route has an explicit role rule, a Twilio
webhook refuses an unsigned request, the demo exists only with the emulator, and the few
public routes are public by design. A new route that fits none of these fails here."""

from __future__ import annotations

import re

from regulation.access import rule_of

#: Public by design: liveness and readiness for the load balancer, metrics for Prometheus
#: (counts only, no call data), the home page (links to the consoles).
PUBLIC = {"health.healthz", "health.readyz", "health.metrics", "demo.home"}


def _is_static(endpoint: str) -> bool:
    return endpoint == "static" or endpoint.endswith(".static")


def _concrete(path: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "1" if "id" in m.group(1) else "x", path)


def test_every_route_has_a_guard(app):
    unguarded = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule_of(view) is not None or _is_static(rule.endpoint) or rule.endpoint in PUBLIC:
            continue
        if rule.rule.startswith(("/twilio/", "/demo/")):
            continue  # proven below, route by route
        unguarded.append(f"{rule.rule} ({rule.endpoint})")
    assert not unguarded, f"routes with no guard: {unguarded}"


def test_a_page_without_a_rule_is_refused_at_run_time(app):
    @app.get("/console/unguarded-test-page")
    def unguarded_page():
        return "secret"

    answer = app.test_client().get("/console/unguarded-test-page")
    assert answer.status_code == 403 and "secret" not in answer.get_data(as_text=True)


def test_every_twilio_webhook_refuses_an_unsigned_request(app, client):
    webhooks = [r for r in app.url_map.iter_rules() if r.rule.startswith("/twilio/")]
    assert len(webhooks) >= 10
    for rule in webhooks:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            answer = client.open(_concrete(rule.rule), method=method, data={"CallSid": "CA1"})
            assert answer.status_code == 403, (rule.rule, method, answer.status_code)


def test_the_demo_exists_only_with_the_emulator(app, client):
    # the test app has a Twilio account: no emulator, so no demo phone or relay
    demo = [r for r in app.url_map.iter_rules() if r.rule.startswith("/demo/")]
    demo = [r for r in demo if not _is_static(r.endpoint)]
    assert demo
    for rule in demo:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            answer = client.open(_concrete(rule.rule), method=method, json={})
            assert answer.status_code == 404, (rule.rule, method, answer.status_code)
