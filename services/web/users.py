"""People: created by the CLI or an admin, with a one-time password changed at first
login; disabled, reset, given another role; a signing PIN of their own."""

from __future__ import annotations

import re

import sqlalchemy as sa

from services.common.db import Database
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.web.models import User
from services.web.rules import Role
from services.web.security import (
    check_new_password,
    end_sessions_of,
    hash_secret,
    now,
    one_time_password,
    secret_matches,
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PIN = re.compile(r"^\d{6,12}$")


def add_user(
    db: Database, email: str, agency: str, role: str, name: str = "", title: str = ""
) -> tuple[User, str]:
    """A new person and their one-time password (shown once, never stored)."""
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise ValidationFailed(f"{email!r} is not an email address")
    try:
        Role(role)
    except ValueError as e:
        roles = ", ".join(r.value for r in Role)
        raise ValidationFailed(f"role must be one of {roles}") from e
    if not agency.strip():
        raise ValidationFailed("the agency code is required")
    password = one_time_password()
    with db.unit_of_work() as session:
        if session.scalar(sa.select(User.id).where(User.email == email)) is not None:
            raise Conflict(f"{email} already has an account")
        user = User(
            email=email,
            agency_code=agency.strip(),
            role=role,
            full_name=name.strip(),
            title=title.strip(),
            password_hash=hash_secret(password),
            must_change_password=True,
            created_at=now(),
        )
        session.add(user)
        session.flush()
        session.expunge(user)
    return user, password


def get_user(db: Database, user_id: int) -> User:
    with db.reading() as session:
        user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such person")
    return user


def agency_users(db: Database, agency: str, role: str | None = None) -> list[User]:
    query = sa.select(User).where(User.agency_code == agency).order_by(User.full_name, User.email)
    if role:
        query = query.where(User.role == role)
    with db.reading() as session:
        return list(session.scalars(query))


def change_password(db: Database, user_id: int, current: str, new: str) -> None:
    with db.unit_of_work() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("no such person")
        if not secret_matches(user.password_hash, current):
            raise ValidationFailed("the current password is wrong")
        check_new_password(new, user.email)
        if secret_matches(user.password_hash, new):
            raise ValidationFailed("choose a password other than the current one")
        user.password_hash = hash_secret(new)
        user.must_change_password = False


def set_pin(db: Database, user_id: int, password: str, pin: str) -> None:
    if not PIN.match(pin):
        raise ValidationFailed("a PIN is 6 to 12 digits")
    with db.unit_of_work() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("no such person")
        if not secret_matches(user.password_hash, password):
            raise ValidationFailed("the password is wrong")
        user.pin_hash = hash_secret(pin)


def _in_agency(session: sa.orm.Session, user_id: int, agency: str) -> User:
    user = session.get(User, user_id)
    if user is None or user.agency_code != agency:
        raise NotFound("no such person in your agency")
    return user


def set_disabled(db: Database, agency: str, user_id: int, disabled: bool) -> User:
    with db.unit_of_work() as session:
        user = _in_agency(session, user_id, agency)
        user.disabled_at = now() if disabled else None
        session.flush()
        session.expunge(user)
    if disabled:
        end_sessions_of(db, user_id)
    return user


def reset_password(db: Database, agency: str, user_id: int) -> tuple[User, str]:
    password = one_time_password()
    with db.unit_of_work() as session:
        user = _in_agency(session, user_id, agency)
        user.password_hash = hash_secret(password)
        user.must_change_password = True
        user.failed_logins = 0
        user.locked_until = None
        session.flush()
        session.expunge(user)
    end_sessions_of(db, user_id)
    return user, password


def set_role(db: Database, agency: str, user_id: int, role: str) -> User:
    Role(role)
    with db.unit_of_work() as session:
        user = _in_agency(session, user_id, agency)
        user.role = role
        session.flush()
        session.expunge(user)
    end_sessions_of(db, user_id)
    return user


def all_users(db: Database) -> list[User]:
    with db.reading() as session:
        return list(session.scalars(sa.select(User).order_by(User.email)))
