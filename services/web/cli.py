"""``lienthong users``: people of the web app."""

from __future__ import annotations

import click

from services.common.db import Database
from services.common.wiring import migrate
from services.web import users as people
from services.web.rules import Role
from services.web.settings import WebSettings


def _db() -> Database:
    settings = WebSettings.from_env()
    migrate("web", settings.database_url)
    return Database(settings.database_url)


@click.group("users")
def users() -> None:
    """People of the web app: leaders, clerks, specialists, monitors, admins."""


@users.command("add")
@click.argument("email")
@click.option("--agency", required=True, help="The agency code, e.g. 000.00.00.H41.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", default="", help="Họ tên (full name).")
@click.option("--title", default="", help="Chức vụ (position).")
def users_add(email: str, agency: str, role: str, name: str, title: str) -> None:
    """Create a person; prints a one-time password, changed at the first login."""
    user, password = people.add_user(_db(), email, agency, role, name, title)
    click.echo(f"{user.email}\t{user.agency_code}\t{user.role}")
    click.echo(f"one-time password: {password}")


@users.command("list")
@click.option("--agency", required=True)
def users_list(agency: str) -> None:
    for user in people.agency_users(_db(), agency):
        state = "disabled" if user.disabled_at else "active"
        click.echo(f"{user.id}\t{user.email}\t{user.role}\t{user.full_name}\t{state}")


@users.command("disable")
@click.argument("email")
def users_disable(email: str) -> None:
    """Disable a person; their sessions end at once."""
    db = _db()
    found = [u for u in people.all_users(db) if u.email == email.strip().lower()]
    if not found:
        raise click.UsageError(f"nobody has the email {email}")
    people.set_disabled(db, found[0].agency_code, found[0].id, True)
    click.echo(f"{email}: disabled")


def register(group: click.Group) -> None:
    group.add_command(users)
