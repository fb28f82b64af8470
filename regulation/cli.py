"""`flask staff ...`: staff accounts from the command line."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from runtime.db import session

from . import auth
from .models import Staff
from .roles import ROLES

staff_cli = AppGroup("staff", help="Staff accounts.")


@staff_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The person's role.")
@click.option("--password", default=None, help="Prompted for (hidden) when left out.")
@click.option("--name", "display_name", default=None, help="Display name.")
def create_command(
    username: str, role: str, password: str | None, display_name: str | None
) -> None:
    """Create a staff account."""
    if password is None:
        password = click.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    try:
        staff = auth.create_staff(
            session(),
            current_app.extensions["regulation_settings"],
            username=username,
            role=role,
            password=password,
            display_name=display_name,
        )
    except ValueError as refused:
        click.echo(f"refusé : {refused}", err=True)
        sys.exit(1)
    session().commit()
    click.echo(f"created {staff.username} ({staff.role}), id {staff.id}")


@staff_cli.command("list")
def list_command() -> None:
    """List the staff accounts."""
    for staff in session().scalars(select(Staff).order_by(Staff.username)):
        state = "active" if staff.active else "disabled"
        click.echo(f"{staff.id}\t{staff.username}\t{staff.role}\t{state}\t{staff.presence}")


@staff_cli.command("disable")
@click.argument("username")
def disable_command(username: str) -> None:
    """Disable an account: its sessions and tokens end at once."""
    staff = session().scalars(select(Staff).where(Staff.username == username)).first()
    if staff is None:
        click.echo(f"no account {username}", err=True)
        sys.exit(1)
    auth.deactivate(session(), staff)
    session().commit()
    click.echo(f"disabled {username}")
