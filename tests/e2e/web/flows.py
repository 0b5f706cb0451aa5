"""What people do in the web app, as steps a test (or a bench) drives in Chromium."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from testkit.webclient import NEW_PASSWORD, PIN
from tests.e2e.web.browser import shot

__all__ = ["NEW_PASSWORD", "PIN"]


def log_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Mật khẩu", exact=True).fill(password)
    page.get_by_role("button", name="Đăng nhập").click()


def first_login(page: Page, base: str, email: str, one_time: str, *, pin: bool = False) -> None:
    """Log in with the one-time password; the app asks for a new one first."""
    log_in(page, base, email, one_time)
    expect(page).to_have_url(re.compile(r"/password$"))
    page.get_by_label("Mật khẩu hiện tại").fill(one_time)
    page.get_by_label("Mật khẩu mới (ít nhất 10 ký tự)").fill(NEW_PASSWORD)
    page.get_by_label("Nhập lại mật khẩu mới").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Lưu mật khẩu").click()
    expect(page).not_to_have_url(re.compile(r"/password$"))
    if pin:
        page.goto(f"{base}/pin")
        page.get_by_label("Mật khẩu đăng nhập").fill(NEW_PASSWORD)
        page.get_by_label("Mã PIN mới (6–12 chữ số)").fill(PIN)
        page.get_by_role("button", name="Lưu mã PIN").click()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Đăng xuất").click()


def add_user(page: Page, base: str, email: str, role: str, name: str, title: str = "") -> str:
    """An admin creates a person; returns the one-time password shown once."""
    page.goto(f"{base}/admin/users")
    form = page.locator("#add-user")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Họ tên").fill(name)
    form.get_by_label("Chức vụ").fill(title)
    form.get_by_label("Vai trò").select_option(role)
    form.get_by_role("button", name="Tạo người dùng").click()
    return page.locator("#otp").inner_text().strip()


def upload_draft(
    page: Page,
    base: str,
    pdf: Path,
    subject: str,
    *,
    priority: str = "0",
    due: str = "",
    leader: str = "Nguyễn Văn An — Chủ tịch",
) -> str:
    page.goto(f"{base}/drafts/new")
    page.get_by_label("Tệp PDF dự thảo").set_input_files(str(pdf))
    page.get_by_label("Trích yếu").fill(subject)
    page.get_by_label("Ký hiệu").fill("UBND-VP")
    page.get_by_label("Địa danh").fill("Nghệ An")
    page.get_by_label("Người ký").select_option(label=leader)
    page.get_by_label("Độ khẩn").select_option(priority)
    if due:
        page.get_by_label("Hạn ký").fill(due)
    page.get_by_role("button", name="Trình ký").click()
    expect(page.get_by_role("status")).to_contain_text("Đã tải lên dự thảo")
    found = re.search(r"/drafts/([0-9a-f-]{36})", page.url)
    assert found, page.url
    return found.group(1)


def sign_open_draft(page: Page, name: str | None = None) -> None:
    """On a draft's page, the leader drags the box a little and signs with the PIN."""
    box = page.locator(".sigbox")
    expect(box).to_be_visible()
    if name:
        shot(page, name)
    box.focus()
    page.keyboard.press("ArrowLeft")
    page.get_by_label("Mã PIN").fill(PIN)
    page.get_by_role("button", name="Ký số").click()
    expect(page.get_by_role("status")).to_contain_text("Đã ký số")


def seal_and_send(page: Page, base: str, draft: str, recipients: list[str], due: str) -> str:
    """The clerk sees the number and date, seals, picks recipients and sends.
    Returns the sent document's id at ingest."""
    page.goto(f"{base}/drafts/{draft}")
    seal = page.locator("#seal-form")
    expect(seal.locator("#proposed-number")).to_contain_text("/UBND-VP")
    shot(page, "seal")
    seal.get_by_label("Mã PIN").fill(PIN)
    seal.get_by_role("button", name="Cấp số và đóng dấu").click()
    expect(page.get_by_role("status")).to_contain_text("Đã cấp số và đóng dấu")
    send = page.locator("#send-form")
    for code in recipients:
        send.get_by_label("Tìm theo tên hoặc mã").fill(code)
        send.locator(f"input[value='{code}']").check()
    send.get_by_label("Tìm theo tên hoặc mã").fill("")
    send.get_by_label("Hạn xử lý").fill(due)
    shot(page, "send")
    send.get_by_role("button", name="Gửi").click()
    expect(page.get_by_role("status")).to_contain_text("Đã gửi văn bản")
    found = re.search(r"/sent/([0-9a-f-]{36})", page.url)
    assert found, page.url
    return found.group(1)


def open_incoming(page: Page, base: str, subject: str) -> None:
    """Find a document in the inbox (it may still be on its way) and open it."""
    for _attempt in range(60):
        page.goto(f"{base}/inbox?q={subject[:20]}")
        link = page.get_by_role("link", name=subject)
        if link.count():
            link.first.click()
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"{subject!r} never reached the inbox")


def register_incoming(page: Page) -> None:
    form = page.locator("#register-form")
    form.get_by_role("button", name="Vào sổ").click()
    expect(page.get_by_role("status")).to_contain_text("Đã vào sổ")


def assign_to(page: Page, person: str, due: str) -> None:
    form = page.locator("#assign-form")
    form.get_by_label(person).check()
    form.get_by_label("Hạn xử lý").fill(due)
    form.get_by_label("Ý kiến chỉ đạo").fill("Đề nghị nghiên cứu, tham mưu")
    form.get_by_role("button", name="Phân công").click()
    expect(page.get_by_role("status")).to_contain_text("Đã phân công")


def complete_work(page: Page, base: str, subject: str, note: str) -> None:
    page.goto(f"{base}/work")
    row = page.get_by_role("row").filter(has_text=subject)
    row.get_by_role("button", name="Bắt đầu xử lý").click()
    row = page.get_by_role("row").filter(has_text=subject)
    row.get_by_label("Kết quả").fill(note)
    row.get_by_role("button", name="Hoàn thành").click()
    expect(page.get_by_role("status")).to_contain_text("Đã hoàn thành")
