"""`flask sim run`: the traffic simulator against the running service and its emulator."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from runtime.db import db, session
from runtime.settings import Settings

from .profile import parse_rate
from .run import SimConfig, render, run_simulation

sim_cli = AppGroup("sim", help="The traffic simulator.")


@sim_cli.command("run")
@click.option("--calls", default=200, show_default=True, help="Calls to place.")
@click.option("--rate", default="1/s", show_default=True, help="Arrivals: 5/s, 300/min, 1200/h.")
@click.option("--arm", default=4, show_default=True, help="Simulated ARMs.")
@click.option("--amu", default=2, show_default=True, help="Simulated AMU regulators.")
@click.option("--liberal", default=2, show_default=True, help="Simulated libéral regulators.")
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--surge", default=1.0, show_default=True, help="Multiply arrivals (4 = a COVID-like surge)."
)
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    help="Divide the simulated callers' and agents' durations by this.",
)
@click.option("--service-url", default=None, help="The service (default http://127.0.0.1:PORT).")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write one row per call here.",
)
def run_command(
    calls: int,
    rate: str,
    arm: int,
    amu: int,
    liberal: int,
    seed: int,
    surge: float,
    speed: float,
    service_url: str | None,
    csv_path: Path | None,
) -> None:
    """Place simulated calls and staff simulated agents; print the summary and reconcile.

    Exits 1 when a call that entered is not in exactly one final state.
    """
    settings: Settings = current_app.extensions["sas_settings"]
    if not settings.emulator_mode:
        raise click.UsageError("the simulator needs the built-in Twilio emulator (no account)")
    try:
        rate_per_s = parse_rate(rate)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rate") from exc
    config = SimConfig(
        calls=calls,
        rate_per_s=rate_per_s,
        arm=arm,
        amu=amu,
        liberal=liberal,
        seed=seed,
        surge=surge,
        speed=speed,
        to=settings.public_numbers[0],
        lease_seconds=settings.lease_seconds,
        csv_path=csv_path,
    )
    result = run_simulation(
        config,
        service_url=service_url or f"http://127.0.0.1:{settings.port}",
        emulator_url=settings.twilio_api_base_url,
        create_agent=create_agent,
        session_factory=lambda: Session(db.engine),
    )
    click.echo(render(result))
    if result.lost:
        sys.exit(1)


def create_agent(username: str, role: str, password: str) -> None:
    """A staff account for a simulated agent, as `flask staff create` makes one."""
    from regulation.auth import create_staff

    create_staff(
        session(),
        current_app.extensions["regulation_settings"],
        username=username,
        role=role,
        password=password,
    )
    session().commit()
