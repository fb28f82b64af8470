"""`flask queues rebuild` and `flask queues check`."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from runtime.db import session
from runtime.settings import Settings

from .access import call_queues
from .reconcile import drift, rebuild

queues_cli = AppGroup("queues", help="The Redis queues and the database they mirror.")


def _lease_seconds() -> int:
    settings: Settings = current_app.extensions["sas_settings"]
    return settings.lease_seconds


@queues_cli.command("rebuild")
def rebuild_command() -> None:
    """Rebuild every queue, lease and counter in Redis from the database."""
    count = rebuild(session(), call_queues(), lease_seconds=_lease_seconds())
    click.echo(f"rebuilt {count} queue entries from the database")


@queues_cli.command("check")
def check_command() -> None:
    """Compare Redis with the database (reads only); exit 1 on any drift."""
    lines = drift(session(), call_queues(), lease_seconds=_lease_seconds())
    if not lines:
        click.echo("no drift")
        return
    for line in lines:
        click.echo(line)
    sys.exit(1)
