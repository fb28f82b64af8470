"""Fuzzing budget (a few examples per test in `make test`, many in `make fuzz`), and the
staff and Twilio REST fixtures of the regulation tests."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from tests.regulation.conftest import (  # noqa: F401  (fixtures shared with these tests)
    app_config,
    staff,
    twilio_rest,
    waiting_call,
)

#: `make fuzz` sets FUZZ_EXAMPLES; `make test` runs this many per test.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
