"""People and sessions on the web app's own database (SQLite): Argon2id hashes, the
one-time password, lockout after five failures, disabling, session rotation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from services.common.db import Database
from services.common.errors import Conflict, ValidationFailed
from services.common.wiring import migrate
from services.web import security
from services.web import users as people
from services.web.security import LoginPolicy, LoginRefused

POLICY = LoginPolicy(max_failures=5, lock=timedelta(minutes=15), session_life=timedelta(hours=1))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'web.sqlite3'}"
    migrate("web", url)
    database = Database(url)
    yield database
    database.dispose()


def test_a_new_person_has_an_argon2id_hash_and_must_change_the_one_time_password(
    db: Database,
) -> None:
    user, one_time = people.add_user(db, "A@Example.gov.vn", "000.00.00.H41", "clerk", "An")
    assert user.email == "a@example.gov.vn" and user.must_change_password
    assert user.password_hash.startswith("$argon2id$") and one_time not in user.password_hash
    with pytest.raises(Conflict):
        people.add_user(db, "a@example.gov.vn", "000.00.00.H41", "clerk")
    with pytest.raises(ValidationFailed):
        people.add_user(db, "b@example.gov.vn", "000.00.00.H41", "boss")
    logged, _token = security.log_in(db, POLICY, "a@example.gov.vn", one_time)
    assert logged.must_change_password
    with pytest.raises(ValidationFailed):
        people.change_password(db, user.id, one_time, "short")
    people.change_password(db, user.id, one_time, "a much longer password")
    assert not people.get_user(db, user.id).must_change_password


def test_five_failures_lock_the_account_even_for_the_right_password(db: Database) -> None:
    _user, one_time = people.add_user(db, "c@example.gov.vn", "000.00.00.H41", "clerk")
    for _ in range(5):
        with pytest.raises(LoginRefused):
            security.log_in(db, POLICY, "c@example.gov.vn", "wrong password")
    with pytest.raises(LoginRefused, match="locked"):
        security.log_in(db, POLICY, "c@example.gov.vn", one_time)


def test_sessions_rotate_end_at_logout_and_when_the_user_is_disabled(db: Database) -> None:
    user, one_time = people.add_user(db, "d@example.gov.vn", "000.00.00.H41", "leader")
    _u, first = security.log_in(db, POLICY, "d@example.gov.vn", one_time)
    _u, second = security.log_in(db, POLICY, "d@example.gov.vn", one_time)
    assert first != second
    found = security.session_of(db, POLICY, first)
    assert found is not None and security.csrf_matches(found[0], found[0].csrf)
    assert not security.csrf_matches(found[0], None)
    assert not security.csrf_matches(found[0], "forged")
    security.end_session(db, security.token_hash(first))
    assert security.session_of(db, POLICY, first) is None
    assert security.session_of(db, POLICY, second) is not None
    people.set_disabled(db, "000.00.00.H41", user.id, True)
    assert security.session_of(db, POLICY, second) is None
    with pytest.raises(LoginRefused, match="disabled"):
        security.log_in(db, POLICY, "d@example.gov.vn", one_time)


def test_an_admin_acts_on_their_own_agency_only(db: Database) -> None:
    user, _ = people.add_user(db, "e@example.gov.vn", "000.00.01.H41", "clerk")
    with pytest.raises(Exception, match="no such person"):
        people.set_disabled(db, "000.00.00.H41", user.id, True)
    with pytest.raises(Exception, match="no such person"):
        people.reset_password(db, "000.00.00.H41", user.id)


def test_a_signing_pin_needs_the_password_and_digits(db: Database) -> None:
    user, one_time = people.add_user(db, "f@example.gov.vn", "000.00.00.H41", "leader")
    with pytest.raises(ValidationFailed):
        people.set_pin(db, user.id, one_time, "12ab")
    with pytest.raises(ValidationFailed):
        people.set_pin(db, user.id, "wrong", "123456")
    people.set_pin(db, user.id, one_time, "123456")
    stored = people.get_user(db, user.id).pin_hash
    assert security.secret_matches(stored, "123456") and not security.secret_matches(
        stored, "1234567"
    )
