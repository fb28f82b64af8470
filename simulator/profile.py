"""Who the simulated callers and agents are: the distributions, with their defaults.

The defaults are the project's assumptions, stated here and in `docs/simulator.md`, not
measured SAS figures (none are published per call): menu choices, callers' patience and
agents' handling times drawn from log-normal laws, which fit call-center service and
patience times well (Brown et al., "Statistical analysis of a telephone call center", 2005).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LogNormal:
    """A positive duration with the given median and p90, in seconds."""

    median_s: float
    p90_s: float

    def draw(self, rng: random.Random) -> float:
        mu = math.log(self.median_s)
        sigma = (math.log(self.p90_s) - mu) / 1.2815515655446004
        return rng.lognormvariate(mu, sigma)


@dataclass(frozen=True)
class Profile:
    #: The caller's menu answer: "1" vital, "2" doctor, "" silence, "9" a wrong key.
    menu_choices: dict[str, float] = field(
        default_factory=lambda: {"1": 0.05, "2": 0.55, "": 0.30, "9": 0.10}
    )
    #: How long a caller waits in a queue before hanging up.
    patience: LogNormal = LogNormal(median_s=180, p90_s=600)
    #: ARM: locate, identify, qualify (press figure: about 45 s to qualify and route).
    arm_talk: LogNormal = LogNormal(median_s=60, p90_s=150)
    #: Share of ARM-answered calls escalated to a regulator, and of those to the AMU.
    escalation_share: float = 0.65
    amu_share: float = 0.45
    regulator_talk: LogNormal = LogNormal(median_s=180, p90_s=420)
    decisions: dict[str, float] = field(
        default_factory=lambda: {
            "CONSEIL": 0.40,
            "PMT": 0.10,
            "INTER": 0.20,
            "ORIENT": 0.25,
            "PASPLUS": 0.05,
        }
    )
    #: The pause an agent takes between two calls (wrap-up).
    wrap_up: LogNormal = LogNormal(median_s=10, p90_s=30)
    #: An agent with nothing to take asks again after this many seconds (not divided by
    #: `--speed`: it is the load the consoles put on the staff API, which refresh every 2 s).
    idle_poll_s: float = 1.0

    def menu_choice(self, rng: random.Random) -> str:
        return _pick(rng, self.menu_choices)

    def decision(self, rng: random.Random) -> str:
        return _pick(rng, self.decisions)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys], k=1)[0]


def parse_rate(text: str) -> float:
    """`5/s`, `300/min`, `1200/h` or a bare number per second -> calls per second."""
    value, _, unit = text.strip().partition("/")
    per = {"": 1.0, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}.get(unit.strip())
    if per is None:
        raise ValueError(f"unknown rate unit in {text!r}: use /s, /min or /h")
    rate = float(value) / per
    if rate <= 0:
        raise ValueError("the rate must be positive")
    return rate


def arrival_gaps(rng: random.Random, *, rate_per_s: float, calls: int) -> list[float]:
    """Poisson arrivals: exponential gaps between consecutive calls."""
    return [rng.expovariate(rate_per_s) for _ in range(calls)]
