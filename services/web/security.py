"""Passwords (Argon2id), server-side sessions, CSRF tokens, lockout, the activity list."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.common.db import Database
from services.common.errors import Unauthorized, ValidationFailed
from services.web.models import Activity, User, WebSession

HASHER = PasswordHasher()  # Argon2id with argon2-cffi's recommended parameters
MIN_PASSWORD = 10


def now() -> datetime:
    return datetime.now(UTC)


def hash_secret(secret: str) -> str:
    return HASHER.hash(secret)


def secret_matches(stored: str | None, given: str) -> bool:
    if not stored:
        return False
    try:
        return HASHER.verify(stored, given)
    except (VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    return secrets.token_urlsafe(12)


def check_new_password(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"a password has at least {MIN_PASSWORD} characters")
    if password.lower() == email.lower():
        raise ValidationFailed("a password is not the email address")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def record(
    db: Database, user: User | None, action: str, target: str = "", detail: str = ""
) -> None:
    with db.unit_of_work() as session:
        session.add(
            Activity(
                at=now(),
                user_id=user.id if user else None,
                email=user.email if user else "",
                agency_code=user.agency_code if user else "",
                action=action,
                target=target[:200],
                detail=detail[:2000],
            )
        )


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    lock: timedelta
    session_life: timedelta


class LoginRefused(Unauthorized):
    pass


def log_in(db: Database, policy: LoginPolicy, email: str, password: str) -> tuple[User, str]:
    """A new session for the right password: its cookie token (the only copy).
    Failures count; ``policy.max_failures`` in a row lock the account for a while."""
    email = email.strip().lower()
    moment = now()
    with db.unit_of_work() as session:
        user = session.scalar(sa.select(User).where(User.email == email).with_for_update())
        if user is None:
            HASHER.hash(password)  # the same time as a wrong password
            raise LoginRefused("wrong email or password")
        if user.disabled_at is not None:
            raise LoginRefused("this account is disabled")
        if user.locked_until is not None and user.locked_until > moment:
            raise LoginRefused("this account is locked for a while after failed logins")
        if not secret_matches(user.password_hash, password):
            user.failed_logins += 1
            if user.failed_logins >= policy.max_failures:
                user.locked_until = moment + policy.lock
                user.failed_logins = 0
            session.flush()
            failed = True
        else:
            failed = False
            user.failed_logins = 0
            user.locked_until = None
            if HASHER.check_needs_rehash(user.password_hash):
                user.password_hash = hash_secret(password)
            token = secrets.token_urlsafe(32)
            session.add(
                WebSession(
                    token_hash=token_hash(token),
                    user_id=user.id,
                    csrf=secrets.token_urlsafe(32),
                    created_at=moment,
                    last_seen_at=moment,
                )
            )
        session.expunge(user)
    if failed:
        record(db, user, "login.failed")
        raise LoginRefused("wrong email or password")
    record(db, user, "login")
    return user, token


def session_of(
    db: Database, policy: LoginPolicy, token: str | None
) -> tuple[WebSession, User] | None:
    """The live session behind a cookie token and its user, or None."""
    if not token:
        return None
    moment = now()
    with db.reading() as session:
        found = session.execute(
            sa.select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.token_hash == token_hash(token))
        ).first()
    if found is None:
        return None
    web_session, user = found
    if web_session.ended_at is not None or user.disabled_at is not None:
        return None
    if web_session.last_seen_at + policy.session_life < moment:
        return None
    if moment - web_session.last_seen_at > timedelta(minutes=1):
        with db.unit_of_work() as session:
            session.execute(
                sa.update(WebSession)
                .where(WebSession.token_hash == web_session.token_hash)
                .values(last_seen_at=moment)
            )
    return web_session, user


def csrf_matches(web_session: WebSession, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(web_session.csrf.encode(), (given or "").encode())


def end_session(db: Database, token_hash_value: str) -> None:
    with db.unit_of_work() as session:
        session.execute(
            sa.update(WebSession)
            .where(WebSession.token_hash == token_hash_value, WebSession.ended_at.is_(None))
            .values(ended_at=now())
        )


def end_sessions_of(db: Database, user_id: int) -> None:
    with db.unit_of_work() as session:
        session.execute(
            sa.update(WebSession)
            .where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
            .values(ended_at=now())
        )


def set_language(db: Database, token_hash_value: str, language: str) -> None:
    with db.unit_of_work() as session:
        session.execute(
            sa.update(WebSession)
            .where(WebSession.token_hash == token_hash_value)
            .values(language=language)
        )
