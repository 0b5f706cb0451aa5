"""Who reaches what, as a matrix over roles and agencies: by URL manipulation nobody
reaches another agency's draft, document or assignment; a monitor cannot sign and a
specialist cannot seal; a form without its CSRF token is refused; a locked user and a
disabled one stay out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from testkit.official_doc import official_letter
from testkit.stack import wait_for
from testkit.webclient import NEW_PASSWORD, PIN, Person
from tests.e2e.web.conftest import FIRST, SECOND, SENDER, WebStack

pytestmark = pytest.mark.e2e


@dataclass
class World:
    web: WebStack
    people: dict[str, Person]  # by a short name: "clerk", "leader", ... per agency
    draft: str  # the sender's draft, waiting for its leader
    document: str  # sent by the sender to FIRST
    assignment: int  # FIRST's specialist's assignment


def _person(
    web: WebStack, email: str, agency: str, role: str, name: str, pin: bool = False
) -> Person:
    title = "Phó Chủ tịch thử quyền" if role == "leader" else ""
    one_time = web.add_user(email, agency, role, name, title)
    person = Person(web.base)
    person.first_login(email, one_time, pin=pin)
    return person


@pytest.fixture(scope="module")
def world(web: WebStack) -> Iterator[World]:
    p = {
        "leader": _person(web, "ld.access@h41.vn", SENDER, "leader", "Nguyễn Văn An", pin=True),
        "clerk": _person(web, "vt.access@h41.vn", SENDER, "clerk", "Văn Thư Một", pin=True),
        "specialist": _person(web, "cv.access@h41.vn", SENDER, "specialist", "Chuyên Viên Một"),
        "monitor": _person(web, "gs.access@h41.vn", SENDER, "monitor", "Giám Sát Tỉnh"),
        "first_clerk": _person(web, "vt.access@h41-01.vn", FIRST, "clerk", "Văn Thư Hai"),
        "first_specialist": _person(
            web, "cv.access@h41-01.vn", FIRST, "specialist", "Chuyên Viên Hai"
        ),
        "first_monitor": _person(web, "gs.access@h41-01.vn", FIRST, "monitor", "Giám Sát Sở"),
        "second_clerk": _person(web, "vt.access@h41-02.vn", SECOND, "clerk", "Văn Thư Ba"),
        "admin": _person(web, "qt.access@h41.vn", SENDER, "admin", "Quản Trị Hai"),
    }  # fmt: skip
    clerk, leader = p["clerk"], p["leader"]
    leader_id = re.search(
        r'<option value="(\d+)">Nguyễn Văn An — Phó Chủ tịch thử quyền',
        clerk.get("/drafts/new").text,
    )
    assert leader_id
    letter = official_letter()

    def upload(subject: str) -> str:
        made = clerk.post(
            "/drafts",
            {"subject": subject, "notation": "UBND-VP", "leader_id": leader_id.group(1),
             "priority": "0", "type_name": "Công văn", "place": "Nghệ An"},
            files={"file": ("d.pdf", letter, "application/pdf")},
        )  # fmt: skip
        found = re.search(r"/drafts/([0-9a-f-]{36})", made.url)
        assert found, made.text[-2000:]
        return found.group(1)

    waiting = upload("Dự thảo để thử quyền")
    sent = upload("Văn bản để thử quyền")
    assert leader.post(f"/drafts/{sent}/sign", {"pin": PIN}).status_code == 200
    assert clerk.post(f"/drafts/{sent}/seal", {"pin": PIN}).status_code == 200
    answer = clerk.post(f"/drafts/{sent}/send", {"to": [FIRST], "priority": "0"})
    document = re.search(r"/sent/([0-9a-f-]{36})", answer.url)
    assert document, answer.text[-2000:]
    # FIRST registers it and assigns it to its specialist.
    first_clerk = p["first_clerk"]
    # arrived (01): the register form is offered
    wait_for(
        lambda: 'id="register-form"' in first_clerk.get(f"/inbox/{document.group(1)}").text, 60
    )
    registered = first_clerk.post(f"/inbox/{document.group(1)}/register")
    assert registered.status_code == 200, registered.text[-2000:]
    specialist_id = re.search(
        r'name="person" value="(\d+)"> Chuyên Viên Hai',
        first_clerk.get(f"/inbox/{document.group(1)}").text,
    )
    assert specialist_id
    first_clerk.post(
        f"/inbox/{document.group(1)}/assign",
        {"person": specialist_id.group(1), "due_date": "2026-12-30"},
    )
    work = p["first_specialist"].get("/work").text
    assignment = re.search(r"/work/(\d+)/complete", work)
    assert assignment, work[-2000:]
    yield World(web, p, waiting, document.group(1), int(assignment.group(1)))


def _not_reached(status: int) -> bool:
    return status in (403, 404)


@pytest.mark.parametrize("who", ["first_clerk", "second_clerk", "first_monitor"])
def test_another_agencys_draft_is_out_of_reach(world: World, who: str) -> None:
    person = world.people[who]
    for path in (
        f"/drafts/{world.draft}",
        f"/drafts/{world.draft}/file.pdf",
        f"/drafts/{world.draft}/pages/1.png",
        f"/drafts/{world.draft}?agency={SENDER}",
    ):
        assert _not_reached(person.get(path).status_code), (who, path)
    assert _not_reached(person.post(f"/drafts/{world.draft}/return", {"comment": "x"}).status_code)


@pytest.mark.parametrize("who", ["second_clerk", "clerk", "specialist"])
def test_a_document_is_reached_only_by_its_parties_inbox(world: World, who: str) -> None:
    """The document went to FIRST only: nobody else opens it as incoming."""
    person = world.people[who]
    for path in (f"/inbox/{world.document}", f"/inbox/{world.document}/file.pdf"):
        assert _not_reached(person.get(path).status_code), (who, path)
    refused = person.post(f"/inbox/{world.document}/register")
    assert _not_reached(refused.status_code), who


@pytest.mark.parametrize("who", ["first_clerk", "second_clerk", "first_specialist"])
def test_the_senders_tracking_is_the_senders(world: World, who: str) -> None:
    assert _not_reached(world.people[who].get(f"/sent/{world.document}").status_code)


@pytest.mark.parametrize("who", ["first_clerk", "second_clerk", "specialist", "clerk"])
def test_an_assignment_is_its_assignees(world: World, who: str) -> None:
    person = world.people[who]
    for action in ("start", "complete"):
        answer = person.post(f"/work/{world.assignment}/{action}", {"note": "xong"})
        assert _not_reached(answer.status_code), (who, action)


def test_a_monitor_sees_the_agencies_below_only(world: World) -> None:
    monitor, below_monitor = world.people["monitor"], world.people["first_monitor"]
    assert monitor.get(f"/inbox?agency={FIRST}").status_code == 200
    choices = monitor.get("/inbox").text  # the agencies below, offered by name
    assert f'<option value="{FIRST}">' in choices and f'<option value="{SECOND}">' in choices
    assert monitor.get(f"/sent?agency={SENDER}").status_code == 200
    assert below_monitor.get(f"/inbox?agency={SENDER}").status_code == 404
    assert below_monitor.get(f"/inbox?agency={SECOND}").status_code == 404


def test_a_monitor_cannot_sign_and_a_specialist_cannot_seal(world: World) -> None:
    monitor, specialist = world.people["monitor"], world.people["specialist"]
    assert monitor.post(f"/drafts/{world.draft}/sign", {"pin": PIN}).status_code == 403
    assert (
        monitor.post("/batches", {"kind": "sign", "draft": [world.draft], "pin": PIN}).status_code
        == 403
    )
    assert specialist.post(f"/drafts/{world.draft}/seal", {"pin": PIN}).status_code == 403
    assert specialist.get("/to-seal").status_code == 403
    assert (
        specialist.post(
            "/batches", {"kind": "seal", "draft": [world.draft], "pin": PIN}
        ).status_code
        == 403
    )
    # and a clerk of the agency cannot sign a draft sent to its leader
    assert (
        world.people["clerk"].post(f"/drafts/{world.draft}/sign", {"pin": PIN}).status_code == 403
    )


def test_a_form_without_its_csrf_token_is_refused(world: World) -> None:
    leader = world.people["leader"]
    for data in ({"comment": "thiếu token"}, {"comment": "sai token", "csrf_token": "forged"}):
        answer = leader.post(f"/drafts/{world.draft}/return", data, csrf=False)
        assert answer.status_code == 400, answer.text[-500:]
    # the draft is still waiting for its leader
    assert "Chờ ký" in leader.get(f"/drafts/{world.draft}").text
    stranger = Person(world.web.base)
    stranger.get("/login")
    refused = stranger.post(
        "/login", {"email": "ld.access@h41.vn", "password": NEW_PASSWORD}, csrf=False
    )
    assert refused.status_code == 400


def test_the_session_cookie_is_httponly_lax_and_rotated(world: World) -> None:
    person = Person(world.web.base)
    person.log_in("ld.access@h41.vn", NEW_PASSWORD)
    first = person.http.cookies.get("lt_session")
    raw = next(c for c in person.http.cookies if c.name == "lt_session")
    assert raw.has_nonstandard_attr("HttpOnly") and raw.get_nonstandard_attr("SameSite") == "Lax"
    person.log_in("ld.access@h41.vn", NEW_PASSWORD)
    second = person.http.cookies.get("lt_session")
    assert first and second and first != second
    # the old token no longer opens anything
    replay = Person(world.web.base)
    replay.http.cookies.set("lt_session", first)
    assert "/login" in replay.get("/waiting").url
    assert "/login" not in person.get("/waiting").url


def test_a_locked_user_stays_out(world: World) -> None:
    one_time = world.web.add_user("khoa@h41.vn", SENDER, "specialist", "Bị Khóa")
    person = Person(world.web.base)
    person.first_login("khoa@h41.vn", one_time)
    intruder = Person(world.web.base)
    for _ in range(5):
        assert intruder.log_in("khoa@h41.vn", "mật khẩu đoán sai").status_code == 401
    locked = Person(world.web.base).log_in("khoa@h41.vn", NEW_PASSWORD)
    assert locked.status_code == 401 and "15 phút" in locked.text


def test_a_disabled_user_stays_out_and_loses_their_session(world: World) -> None:
    one_time = world.web.add_user("tat@h41.vn", SENDER, "clerk", "Bị Tắt")
    person = Person(world.web.base)
    person.first_login("tat@h41.vn", one_time)
    assert person.get("/inbox").status_code == 200
    admin = world.people["admin"]
    users = admin.get("/admin/users").text
    user_id = re.search(r"tat@h41\.vn</td>.*?/admin/users/(\d+)", users, re.S)
    assert user_id, users[-3000:]
    answer = admin.post(f"/admin/users/{user_id.group(1)}", {"action": "disable"})
    assert answer.status_code == 200
    assert "/login" in person.get("/inbox").url  # their session ended at once
    again = Person(world.web.base).log_in("tat@h41.vn", NEW_PASSWORD)
    assert again.status_code == 401
