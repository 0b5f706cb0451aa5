"""The whole story in Chromium: an admin creates the people; a clerk uploads a draft and
the leader signs it; the clerk numbers, seals and sends it to two agencies; a recipient
clerk registers and assigns it, the specialist completes it; the sender watches both
timelines; a verifier drops the signed PDF and reads that it is valid; ten drafts are
signed with one PIN entry while the progress bar moves. Every screen is saved."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from testkit.official_doc import official_letter
from testkit.stack import lienthong_command
from tests.e2e.web import flows
from tests.e2e.web.browser import ARTIFACTS, axe_violations, chromium, shot
from tests.e2e.web.conftest import FIRST, SECOND, WebStack

pytestmark = pytest.mark.e2e

SUBJECT = "Về việc triển khai gửi nhận văn bản điện tử liên thông"
LEADER, CLERK, SPECIALIST = "lanhdao@nghean.gov.vn", "vanthu@nghean.gov.vn", "cv@nghean.gov.vn"


def _no_serious_violations(page: Page, screen: str) -> None:
    found = axe_violations(page)
    assert not found, f"{screen}: {found}"


def test_the_whole_story(web: WebStack, tmp_path: Path) -> None:
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(official_letter())
    with chromium() as browser:
        page = browser.new_page(
            viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="vi-VN"
        )
        base = web.base

        # An admin creates the people of the agency.
        flows.first_login(page, base, web.admin_email, web.admin_password)
        leader_otp = flows.add_user(page, base, LEADER, "leader", "Nguyễn Văn An", "Chủ tịch")
        clerk_otp = flows.add_user(page, base, CLERK, "clerk", "Trần Thị Bình", "Văn thư")
        flows.add_user(page, base, SPECIALIST, "specialist", "Hoàng Văn Em", "Chuyên viên")
        shot(page, "admin-users")
        _no_serious_violations(page, "admin users")
        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("heading", name="Users")).to_be_visible()
        expect(page.get_by_role("button", name="Create user")).to_be_visible()
        shot(page, "admin-users-en")
        page.get_by_role("link", name="Tiếng Việt").click()
        expect(page.get_by_role("heading", name="Người dùng")).to_be_visible()
        page.goto(f"{base}/admin/images")
        shot(page, "admin-images")
        page.goto(f"{base}/admin/certificates")
        shot(page, "admin-certificates")
        _no_serious_violations(page, "admin certificates")
        page.goto(f"{base}/admin/activity")
        expect(page.get_by_role("cell", name="user.created").first).to_be_visible()
        shot(page, "admin-activity")
        flows.log_out(page)

        # A clerk uploads a draft; the leader signs it.
        flows.first_login(page, base, CLERK, clerk_otp, pin=True)
        page.goto(f"{base}/drafts/new")
        shot(page, "draft-new")
        _no_serious_violations(page, "new draft")
        draft = flows.upload_draft(page, base, letter, SUBJECT, priority="1")
        flows.log_out(page)
        flows.first_login(page, base, LEADER, leader_otp, pin=True)
        page.goto(f"{base}/waiting")
        expect(page.get_by_role("link", name=SUBJECT)).to_be_visible()
        shot(page, "waiting")
        _no_serious_violations(page, "waiting for me")
        page.get_by_role("link", name=SUBJECT).click()
        _no_serious_violations(page, "sign")
        flows.sign_open_draft(page, "sign")
        flows.log_out(page)

        # The clerk numbers, seals and sends it to two agencies.
        flows.log_in(page, base, CLERK, flows.NEW_PASSWORD)
        document = flows.seal_and_send(page, base, draft, [FIRST, SECOND], "2026-12-31")
        _no_serious_violations(page, "tracking")
        page.goto(f"{base}/drafts/{draft}")
        with page.expect_download() as download:
            page.get_by_role("link", name="Tải tệp PDF").click()
        signed = tmp_path / "signed.pdf"
        download.value.save_as(signed)
        flows.log_out(page)

        # Recipient clerks register it; one assigns it to a specialist, who completes it.
        first_clerk = web.add_user("vanthu@sonoivu.gov.vn", FIRST, "clerk", "Lê Văn Cường")
        first_specialist = web.add_user(
            "chuyenvien@sonoivu.gov.vn", FIRST, "specialist", "Phạm Thị Dung", "Chuyên viên"
        )
        second_clerk = web.add_user("vanthu@sotaichinh.gov.vn", SECOND, "clerk", "Đỗ Văn Giang")
        flows.first_login(page, base, "vanthu@sonoivu.gov.vn", first_clerk)
        page.goto(f"{base}/inbox")
        flows.open_incoming(page, base, SUBJECT)
        shot(page, "incoming")
        _no_serious_violations(page, "incoming document")
        flows.register_incoming(page)
        flows.assign_to(page, "Phạm Thị Dung", "2026-12-20")
        shot(page, "incoming-assigned")
        page.goto(f"{base}/inbox")
        shot(page, "inbox")
        _no_serious_violations(page, "inbox")
        flows.log_out(page)
        flows.first_login(page, base, "chuyenvien@sonoivu.gov.vn", first_specialist)
        expect(page.get_by_role("link", name=SUBJECT)).to_be_visible()
        shot(page, "my-work")
        _no_serious_violations(page, "my work")
        flows.complete_work(page, base, SUBJECT, "Đã tham mưu văn bản trả lời")
        flows.log_out(page)
        flows.first_login(page, base, "vanthu@sotaichinh.gov.vn", second_clerk)
        flows.open_incoming(page, base, SUBJECT)
        flows.register_incoming(page)
        flows.log_out(page)

        # The sender watches both timelines.
        flows.log_in(page, base, CLERK, flows.NEW_PASSWORD)
        page.goto(f"{base}/sent/{document}")
        timelines = page.locator("#timelines")
        expect(
            timelines.get_by_role("region", name="Sở Nội vụ tỉnh Nghệ An (demo)")
        ).to_contain_text("Hoàn thành", timeout=30_000)
        expect(
            timelines.get_by_role("region", name="Sở Tài chính tỉnh Nghệ An (demo)")
        ).to_contain_text("Đã vào sổ", timeout=30_000)
        shot(page, "tracking")
        page.goto(f"{base}/sent")
        shot(page, "outgoing-register")

        # A verifier drops the signed PDF and reads that it is valid.
        page.goto(f"{base}/verify")
        shot(page, "verify")
        _no_serious_violations(page, "verify")
        page.get_by_label("Kéo thả tệp PDF vào đây, hoặc chọn tệp").set_input_files(str(signed))
        page.get_by_role("button", name="Kiểm tra").click()
        expect(page.locator("#verdict")).to_contain_text("Hợp lệ")
        expect(page.locator("#verdict")).to_contain_text("2 chữ ký số")
        shot(page, "verify-report")
        _no_serious_violations(page, "verify report")
        with page.expect_download() as report:
            page.get_by_role("link", name="Tải báo cáo").click()
        assert "Hợp lệ" in Path(report.value.path()).read_text()
        flows.log_out(page)

        # Ten drafts signed with one PIN entry while the progress bar moves.
        flows.log_in(page, base, CLERK, flows.NEW_PASSWORD)
        for n in range(10):
            flows.upload_draft(page, base, letter, f"Dự thảo số {n + 1} ký cả lô")
        flows.log_out(page)
        flows.log_in(page, base, LEADER, flows.NEW_PASSWORD)
        page.goto(f"{base}/waiting")
        page.get_by_label("Chọn tất cả").check()
        page.get_by_label("Mã PIN").fill(flows.PIN)
        page.get_by_role("button", name="Ký các văn bản đã chọn").click()
        seen: list[int] = []
        bar = page.locator("#bar")
        while True:
            value = int(bar.get_attribute("value") or 0)
            if not seen or seen[-1] != value:
                seen.append(value)
            if value == 10:
                break
            page.wait_for_timeout(20)
        shot(page, "batch")
        assert seen == sorted(seen) and seen[0] < 10, seen
        assert page.locator("td.st.done").count() == 10
        page.goto(f"{base}/waiting")
        expect(page.get_by_text("Không có dự thảo nào chờ bạn ký.")).to_be_visible()

    # The document signed and sealed in the UI passes `lienthong verify` and pdfsig.
    verified = subprocess.run(
        [*lienthong_command(), "verify", str(signed)],
        env=web.stack.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    if shutil.which("pdfsig") is None:
        raise AssertionError("poppler's pdfsig is missing (poppler-utils)")
    pdfsig = subprocess.run(["pdfsig", str(signed)], capture_output=True, text=True, timeout=60)
    assert pdfsig.stdout.count("Signature Validation: Signature is Valid.") == 2, pdfsig.stdout
    assert (ARTIFACTS / "sign.png").exists()
