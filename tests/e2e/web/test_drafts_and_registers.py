"""A returned draft goes back to its leader corrected; the registers export as CSV."""

from __future__ import annotations

import re

import pytest

from testkit.official_doc import official_letter
from testkit.webclient import PIN, Person
from tests.e2e.web.conftest import FIRST, SENDER, WebStack

pytestmark = pytest.mark.e2e


def _person(web: WebStack, email: str, role: str, name: str, title: str = "") -> Person:
    one_time = web.add_user(email, SENDER, role, name, title)
    person = Person(web.base)
    person.first_login(email, one_time, pin=role in ("leader", "clerk"))
    return person


def test_return_resubmit_sign_seal_send_and_the_registers(web: WebStack) -> None:
    leader = _person(web, "ld.reg@h41.vn", "leader", "Nguyễn Văn An", "Phó Chủ tịch sổ")
    clerk = _person(web, "vt.reg@h41.vn", "clerk", "Văn Thư Sổ")
    leader_id = re.search(
        r'<option value="(\d+)">Nguyễn Văn An — Phó Chủ tịch sổ', clerk.get("/drafts/new").text
    )
    assert leader_id
    made = clerk.post(
        "/drafts",
        {"subject": "Về việc lập sổ", "notation": "UBND-VP", "leader_id": leader_id.group(1),
         "priority": "2", "due_date": "2026-01-02"},
        files={"file": ("d.pdf", official_letter(), "application/pdf")},
    )  # fmt: skip
    draft = re.search(r"/drafts/([0-9a-f-]{36})", made.url)
    assert draft
    path = f"/drafts/{draft.group(1)}"
    assert "Về việc lập sổ" in leader.get("/waiting").text
    returned = leader.post(f"{path}/return", {"comment": "Sửa lại trích yếu"})
    assert returned.status_code == 200
    assert "Về việc lập sổ" not in leader.get("/waiting").text
    page = clerk.get(path).text
    assert "Sửa lại trích yếu" in page and "resubmit-form" in page
    again = clerk.post(
        f"{path}/resubmit", files={"file": ("d.pdf", official_letter(), "application/pdf")}
    )
    assert again.status_code == 200
    waiting = leader.get("/waiting").text
    assert "Về việc lập sổ" in waiting
    assert 'class="due overdue"' in waiting  # due 2 January 2026: overdue, in red words
    assert leader.post(f"{path}/sign", {"pin": PIN}).status_code == 200
    assert clerk.post(f"{path}/seal", {"pin": PIN}).status_code == 200
    sent = clerk.post(f"{path}/send", {"to": [FIRST], "priority": "2", "paper": "1"})
    assert "/sent/" in sent.url
    register = clerk.get("/sent.csv")
    assert register.status_code == 200 and register.headers["Content-Type"].startswith("text/csv")
    text = register.content.decode("utf-8")
    assert text.startswith('\ufeff"Số, ký hiệu",Ngày ban hành')
    assert "Công văn: Về việc lập sổ" in text and "(kèm bản giấy)" in text
    incoming = clerk.get("/register/incoming.csv")
    assert incoming.status_code == 200
    assert incoming.content.decode("utf-8").startswith("\ufeffNgày đến,Số đến")
